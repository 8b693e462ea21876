"""The flat pattern of a garment: outlines of its pieces in canonical centimetres, from its `Cut`.

The pattern is the garment as it lies in the product photo: the front panel, the inside of the
back seen through the neck opening (or the hood behind it), the collar, and each sleeve as a
trapezoid from the armhole seam to the cuff. A sleeve point is addressed by (t, s): t from the
seam (0) to the cuff (1), s from its outer edge (0) to its under edge (1); the worn sleeve looks
its texture up through the same (t, s), so flat and worn garment correspond point for point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimization.data.synth_apparel import Cut
from optimization.data.synth_canvas import smooth_curve

NECK_SIDE_Y = -4.0  # the garment's side neck point (the body's is at -4.5)
_SHOULDER_SLOPE = 0.32  # in flat widths (see synth_apparel.FLAT_WIDTH)
_SHOULDER_TIP_Y = 1.6


@dataclass(frozen=True, eq=False)
class SleevePiece:
    side: int
    seam_outer: np.ndarray  # (t, s) = (0, 0), at the shoulder
    seam_inner: np.ndarray  # (0, 1), at the armpit
    cuff_outer: np.ndarray  # (1, 0)
    cuff_inner: np.ndarray  # (1, 1)
    length: float
    cuff_band: float

    def point(self, t: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Canonical (x, y) of sleeve coordinates (t, s) (bilinear), float32."""
        t = np.asarray(t, np.float32)
        s = np.asarray(s, np.float32)
        a, b, c, d = (
            np.asarray(p, np.float32)
            for p in (self.seam_outer, self.seam_inner, self.cuff_outer, self.cuff_inner)
        )
        x = (1 - t) * ((1 - s) * a[0] + s * b[0]) + t * ((1 - s) * c[0] + s * d[0])
        y = (1 - t) * ((1 - s) * a[1] + s * b[1]) + t * ((1 - s) * c[1] + s * d[1])
        return x, y

    def outline(self, overlap: float = 1.5) -> np.ndarray:
        """Closed outline; the seam edge is pushed `overlap` cm into the body to leave no crack."""
        inward = np.array([-self.side * overlap, 0.0])
        return np.stack(
            [self.seam_outer + inward, self.cuff_outer, self.cuff_inner, self.seam_inner + inward]
        )


@dataclass(frozen=True, eq=False)
class Pattern:
    front: np.ndarray  # closed outline of the front panel
    neckline: np.ndarray  # front neckline, image right to left
    back_inside: np.ndarray  # the inside of the back seen through the neck opening
    hood: np.ndarray | None
    collar: tuple[np.ndarray, ...]  # collar wings lying on the front
    sleeves: tuple[SleevePiece | None, SleevePiece | None]
    hemline: np.ndarray  # image left to right
    placket: tuple[float, float] | None  # y range of the button placket
    buttons: tuple[tuple[float, float], ...]
    pocket: np.ndarray | None
    drawstrings: tuple[np.ndarray, ...]
    shoulder_points: tuple[np.ndarray, np.ndarray]

    def silhouette(self) -> list[np.ndarray]:
        """The outlines whose union is the product photo's silhouette (the edge image)."""
        pieces = [self.front, self.back_inside, *self.collar]
        if self.hood is not None:
            pieces.append(self.hood)
        pieces += [s.outline() for s in self.sleeves if s is not None]
        return pieces

    def bounds(self) -> tuple[float, float, float, float]:
        points = np.concatenate(self.silhouette() + list(self.drawstrings))
        return (
            float(points[:, 0].min()),
            float(points[:, 1].min()),
            float(points[:, 0].max()),
            float(points[:, 1].max()),
        )


def _neckline(cut: Cut) -> np.ndarray:
    """Front neckline from the image-right side neck point to the image-left one."""
    half, depth = cut.neck_half, cut.neck_depth
    if cut.neck in ("v", "hood"):
        t = np.linspace(0.0, 1.0, 9)
        right = np.stack([half * (1 - t), NECK_SIDE_Y + (depth - NECK_SIDE_Y) * t**0.9], axis=1)
        right[:, 0] += np.sin(t * math.pi) * 0.6  # a slight outward bow
        return np.concatenate([right, right[-2::-1] * np.array([-1.0, 1.0])])
    t = np.linspace(0.0, math.pi, 21)
    power = {"scoop": 0.6, "boat": 1.4}.get(cut.neck, 1.0)
    x = half * np.sign(np.cos(t)) * np.abs(np.cos(t)) ** power
    y = NECK_SIDE_Y + (depth - NECK_SIDE_Y) * np.sin(t) ** (1.0 / power)
    return np.stack([x, y], axis=1)


def _shoulder_point(cut: Cut) -> np.ndarray:
    """Where the shoulder seam ends: at the canonical body's shoulder tip, or on a strap."""
    if cut.strap_half:
        reach = cut.neck_half + cut.strap_half
        return np.array([reach, NECK_SIDE_Y + (reach - cut.neck_half) * _SHOULDER_SLOPE])
    return np.array([cut.shoulder_half, _SHOULDER_TIP_Y])


def _armpit(cut: Cut, shoulder: np.ndarray) -> np.ndarray:
    if cut.sleeve is None:
        return np.array([cut.chest_half, cut.armpit_y])
    across = shoulder[0] - cut.chest_half
    drop = math.sqrt(max((2 * cut.sleeve.top_half) ** 2 - across**2, 16.0))
    return np.array([cut.chest_half, shoulder[1] + drop])


def _hemline(cut: Cut) -> np.ndarray:
    x = np.linspace(-cut.hem_half, cut.hem_half, 17)
    rise = cut.hem_curve * (x / cut.hem_half) ** 4
    sag = 0.6 * (1 - (x / cut.hem_half) ** 2)  # a hem hangs a little lower at the centre
    return np.stack([x, cut.hem_y - rise + sag], axis=1)


def _right_side(cut: Cut, shoulder: np.ndarray, armpit: np.ndarray) -> np.ndarray:
    """From the side neck point over the shoulder and down the side to the hem (image right)."""
    points = [np.array([[cut.neck_half, NECK_SIDE_Y]])]
    if cut.strap_half:
        points.append(shoulder[None])
    elif cut.sleeve is None:
        # The shoulder rounds over into the armhole instead of ending in a corner.
        inward = shoulder + np.array([-3.0, -3.0 * _SHOULDER_SLOPE * 0.8])
        downward = shoulder + (armpit - shoulder) * (3.0 / np.hypot(*(armpit - shoulder)))
        t = np.linspace(0, 1, 7)[:, None]
        points.append((1 - t) ** 2 * inward + 2 * (1 - t) * t * shoulder + t**2 * downward)
    else:
        # Under a sleeve the panel reaches a little past the armhole seam, rounded over the
        # shoulder, so the worn sleeve and panel leave no gap between them.
        inward = shoulder + np.array([-3.0, -3.0 * _SHOULDER_SLOPE * 0.8])
        # Along the flat sleeve's outer edge, so the product photo's outline does not change.
        angle = math.radians(cut.sleeve.flat_angle)
        outward = shoulder + 3.8 * np.array([math.sin(angle), math.cos(angle)])
        t = np.linspace(0, 1, 7)[:, None]
        points.append((1 - t) ** 2 * inward + 2 * (1 - t) * t * shoulder + t**2 * outward)
        points.append((armpit + np.array([1.4, -4.0]))[None])
    if cut.sleeve is None:
        # A scooped armhole: out of the strap, round under the arm.
        control = np.array([shoulder[0] + 0.5, armpit[1] - 2.0])
        t = np.linspace(0, 1, 10)[1:-1, None]
        points.append((1 - t) ** 2 * shoulder + 2 * (1 - t) * t * control + t**2 * armpit)
    points.append(armpit[None])
    waist_y = 31.0
    if cut.hem_y > waist_y + 4:
        side = smooth_curve(
            [armpit, (cut.waist_half, waist_y), (cut.hem_half, cut.hem_y - cut.hem_curve)], 12
        )
        points.append(side[1:])
    else:
        points.append(np.array([[cut.hem_half, cut.hem_y - cut.hem_curve]]))
    return np.concatenate(points)


def _sleeve(cut: Cut, side: int, shoulder: np.ndarray, armpit: np.ndarray) -> SleevePiece | None:
    sleeve = cut.sleeve
    if sleeve is None:
        return None
    mirror = np.array([side, 1.0])
    outer, inner = shoulder * mirror, armpit * mirror
    angle = math.radians(sleeve.flat_angle)
    axis = np.array([side * math.sin(angle), math.cos(angle)])
    across = np.array([side * math.cos(angle), -math.sin(angle)])  # towards the outer edge
    cuff = (outer + inner) / 2 + axis * sleeve.length
    return SleevePiece(
        side=side,
        seam_outer=outer,
        seam_inner=inner,
        cuff_outer=cuff + across * sleeve.cuff_half,
        cuff_inner=cuff - across * sleeve.cuff_half,
        length=sleeve.length,
        cuff_band=sleeve.cuff_band,
    )


def _back_inside(cut: Cut, neckline: np.ndarray) -> np.ndarray:
    half = cut.neck_half
    t = np.linspace(math.pi, 0.0, 15)
    back = np.stack([half * np.cos(t) * 1.02, NECK_SIDE_Y - 0.6 + 1.8 * np.sin(t)], axis=1)
    # Reach a little under the front neckline so the union has no crack.
    return np.concatenate([back, neckline + np.array([0.0, 1.0])])


def _hood(cut: Cut) -> np.ndarray:
    half = cut.neck_half
    return smooth_curve(
        [
            (half + 5.5, 1.5),
            (half + 5.0, -6.0),
            (half * 0.6, -12.5),
            (0.0, -13.5),
            (-half * 0.6, -12.5),
            (-half - 5.0, -6.0),
            (-half - 5.5, 1.5),
            (0.0, 2.0),
        ],
        60,
        closed=True,
    )


def _collar(cut: Cut) -> tuple[np.ndarray, ...]:
    if not cut.collar:
        return ()
    half, depth, length = cut.neck_half, cut.neck_depth, cut.collar
    right = np.array(
        [
            (half * 0.55, NECK_SIDE_Y - 1.6),
            (half + 0.8, NECK_SIDE_Y - 0.4),
            (half + 1.2, NECK_SIDE_Y + 2.0),
            (1.6 + 0.35 * length, depth + length * 0.6),
            (0.3, depth + 0.6),
            (half * 0.35, NECK_SIDE_Y + 1.5),
        ]
    )
    return right, right * np.array([-1.0, 1.0])


def build_pattern(cut: Cut) -> Pattern:
    """The flat pattern of `cut`."""
    neckline = _neckline(cut)
    shoulder = _shoulder_point(cut)
    armpit = _armpit(cut, shoulder)
    right = _right_side(cut, shoulder, armpit)
    hemline = _hemline(cut)
    left = right[::-1] * np.array([-1.0, 1.0])
    # Clockwise from the image-right side neck point: down the right side, along the hem from
    # right to left, up the left side, then the neckline back to the start.
    front = np.concatenate([right, hemline[::-1][1:-1], left, neckline[::-1][1:-1]])
    buttons: tuple = ()
    placket = None
    if cut.buttons:
        top = cut.neck_depth + 1.2
        bottom = top + cut.placket_length if cut.placket_length else cut.hem_y - 4.0
        placket = (cut.neck_depth, bottom + (0 if cut.placket_length else 4.0))
        ys = np.linspace(top + (1.0 if cut.collar else 0.0), bottom - 1.0, cut.buttons)
        buttons = tuple((0.0, float(y)) for y in ys)
    pocket = None
    if cut.pocket == "chest":
        pocket = np.array([[6.0, 9.0], [13.5, 9.0], [13.5, 15.5], [9.7, 16.5], [6.0, 15.5]])
    elif cut.pocket == "kangaroo":
        bottom = cut.hem_y - cut.hem_band - 0.5
        top = bottom - 17.0
        pocket = np.array(
            [
                [-9.5, top],
                [9.5, top],
                [16.0, top + 9.0],
                [15.5, bottom],
                [-15.5, bottom],
                [-16.0, top + 9.0],
            ]
        )
    drawstrings: tuple = ()
    if cut.drawstrings:
        y0 = cut.neck_depth - 0.5
        drawstrings = tuple(
            smooth_curve([(side * 2.6, y0), (side * 3.0, y0 + 8.0), (side * 2.7, y0 + 17.0)], 12)
            for side in (-1, 1)
        )
    return Pattern(
        front=front,
        neckline=neckline,
        back_inside=_back_inside(cut, neckline),
        hood=_hood(cut) if cut.neck == "hood" else None,
        collar=_collar(cut),
        sleeves=(_sleeve(cut, -1, shoulder, armpit), _sleeve(cut, 1, shoulder, armpit)),
        hemline=hemline,
        placket=placket,
        buttons=buttons,
        pocket=pocket,
        drawstrings=drawstrings,
        shoulder_points=(shoulder * np.array([-1.0, 1.0]), shoulder),
    )
