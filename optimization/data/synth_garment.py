"""Synthetic garments: cuts and prints in canonical garment space, the flat product photo, the worn garment.

A garment is a front panel polygon plus two sleeves, each sleeve a strip of two bilinear quads
(armhole seam -> bend -> cuff), all in canonical garment space (see `synth_body`). Its texture lives
in *template* space, the pixels of the product photo, which is the canonical garment scaled and
centred to fill the 192 x 256 frame like a VITON product shot. The worn garment samples that same
texture through the body map (torso) and through arm-following coordinates (sleeves), so the flat
and the worn garment correspond pixel for pixel up to the deformation and the shading.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import cv2
import numpy as np

from optimization.data.synth_body import (
    CANONICAL_ARM_LENGTH,
    CANONICAL_HALF_WIDTHS,
    CANONICAL_LEVELS,
    Arm,
    ArmField,
    Body,
)
from optimization.data.synth_draw import (
    FULL_BOX,
    GARMENT,
    GRID_X,
    GRID_Y,
    HEIGHT,
    WIDTH,
    Canvas,
    Layer,
    full_frame,
    gaussian_blur,
    hsv_colour,
    lines_layer,
    luminance,
    polygon_layer,
    quad_bezier,
    scaled,
)

CUTS = ("tshirt", "long_sleeve", "tank", "blouse", "vneck")
TEXTURES = ("solid", "stripes", "checks", "dots", "logo", "gradient")
_WORDS = (
    "NOVA",
    "ORBIT",
    "LUMA",
    "KITE",
    "ZEST",
    "ECHO",
    "PIXEL",
    "TERRA",
    "VELA",
    "SOLAR",
    "MOSS",
    "AURA",
    "FLUX",
    "JUNO",
    "BLOOM",
    "WAVE",
    "88",
    "07",
    "CITY",
    "NORTH",
    "HELLO",
    "PEAK",
    "RIO",
    "OAK",
)
_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC,
)
_EMBLEMS = ("none", "none", "disc", "box", "band")


@dataclass(frozen=True)
class SleeveShape:
    """A sleeve in canonical units: a strip from the armhole seam to a bend, then to the cuff.

    Attributes:
        angle: degrees from straight down of the part below the bend.
        bend_angle: degrees from straight down of the part above it.
        bend_fraction: where along the sleeve the bend is (0 armhole .. 1 cuff).
        length: from the middle of the armhole seam to the cuff.
        cuff_half, bend_half: half-widths at the cuff and at the bend.
    """

    angle: float
    bend_angle: float
    bend_fraction: float
    length: float
    cuff_half: float
    bend_half: float


@dataclass(frozen=True)
class Geometry:
    """A garment's cut in canonical garment space (x from the centre line, y down from the neck).

    Attributes:
        neck_half, neck_depth: the front neck opening's half-width and depth.
        neck_shape: "round" or "v".
        back_depth: how far the inside of the back shows below the neck corners.
        shoulder_half, shoulder_drop: the shoulder point (outer end of the armhole seam).
        armpit_half, armpit_y: the armpit (inner end of the armhole seam).
        waist_half, waist_y, hem_half, hem_y: the side seam's waist and hem points.
        hem_curve: how far the hem dips at the centre (half the Bezier's control offset).
        sleeve: the sleeves' shape; None for a sleeveless cut.
        buttons: buttons down a front placket, 0 for none.
    """

    neck_half: float
    neck_depth: float
    neck_shape: str
    back_depth: float
    shoulder_half: float
    shoulder_drop: float
    armpit_half: float
    armpit_y: float
    waist_half: float
    waist_y: float
    hem_half: float
    hem_y: float
    hem_curve: float
    sleeve: SleeveShape | None
    buttons: int

    @classmethod
    def from_json(cls, document: dict) -> Geometry:
        """The geometry of `sample_garment`'s params (``params["geometry"]``)."""
        sleeve = document["sleeve"]
        return cls(**{**document, "sleeve": None if sleeve is None else SleeveShape(**sleeve)})


@dataclass(frozen=True)
class Drape:
    """How a garment sits on the body (`sample_drape`'s params, typed).

    Attributes:
        cylinder: how strongly the front panel wraps round the torso (0 flat).
        wobble_x, wobble_y: (amplitude px, wavelength px, phase rad) of the hanging cloth's waves.
        side_shade, vertical_shade: darkening towards the sides and from top to bottom.
        folds: canonical (start, middle, end) points of quadratic fold lines.
        fold_depth: how dark a fold line is.
        sleeve_cap: extra height of a sleeve's dome over the shoulder joint.
        sleeve_ease: extra half-width at the sleeve's top, at a short cuff and at a long cuff.
    """

    cylinder: float
    wobble_x: tuple[float, float, float]
    wobble_y: tuple[float, float, float]
    side_shade: float
    vertical_shade: float
    folds: list
    fold_depth: float
    sleeve_cap: float
    sleeve_ease: tuple[float, float, float]

    @classmethod
    def from_json(cls, document: dict) -> Drape:
        return cls(**document)


def _r(value: float) -> float:
    return round(float(value), 3)


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


# ---------------------------------------------------------------------------------------------------
# Sampling (every random choice ends up in the JSON-ready params; building from params is deterministic)


def _sample_colour(rng: np.random.Generator) -> list[int]:
    family = rng.random()
    if family < 0.12:
        return hsv_colour(rng.random(), rng.uniform(0, 0.15), rng.uniform(0.08, 0.25))
    if family < 0.24:
        return hsv_colour(rng.random(), rng.uniform(0, 0.08), rng.uniform(0.86, 0.97))
    if family < 0.32:
        return hsv_colour(rng.random(), rng.uniform(0, 0.1), rng.uniform(0.4, 0.7))
    return hsv_colour(rng.random(), rng.uniform(0.35, 0.9), rng.uniform(0.35, 0.93))


def _contrasting(rng: np.random.Generator, colour: list[int], minimum: float = 60.0) -> list[int]:
    for _ in range(12):
        other = _sample_colour(rng)
        if abs(luminance(other) - luminance(colour)) >= minimum:
            return other
    return [245, 245, 242] if luminance(colour) < 128 else [25, 25, 30]


def _short_sleeve(rng: np.random.Generator, puffy: bool = False) -> SleeveShape:
    angle = rng.uniform(48, 62)
    return SleeveShape(
        angle=_r(angle),
        bend_angle=_r(angle),
        bend_fraction=0.5,
        length=_r(rng.uniform(18, 26) if puffy else rng.uniform(20, 30)),
        cuff_half=_r(rng.uniform(11, 13) if puffy else rng.uniform(9.5, 12)),
        bend_half=_r(rng.uniform(14, 17)),
    )


def _long_sleeve(rng: np.random.Generator, loose: bool = False) -> SleeveShape:
    return SleeveShape(
        angle=_r(rng.uniform(6, 14)),
        bend_angle=_r(rng.uniform(28, 38)),
        bend_fraction=_r(rng.uniform(0.18, 0.26)),
        length=_r(rng.uniform(75, 106) if loose else rng.uniform(96, 106)),
        cuff_half=_r(rng.uniform(8, 10) if loose else rng.uniform(6.5, 8.5)),
        bend_half=_r(rng.uniform(9.5, 11.5)),
    )


def _sample_geometry(rng: np.random.Generator, cut: str) -> Geometry:
    u = rng.uniform
    # Keyword arguments are evaluated in order: the draws keep the order of the generator's
    # first version, so a seed gives the same garments.
    geometry = Geometry(
        neck_half=u(12, 16),
        neck_depth=u(6, 10),
        neck_shape="round",
        back_depth=u(1.5, 3.5),
        shoulder_half=u(43, 47),
        shoulder_drop=u(6, 9),
        armpit_half=u(38, 41),
        armpit_y=u(42, 48),
        waist_half=u(35, 39),
        waist_y=90.0,
        hem_half=u(37, 42),
        hem_y=u(112, 128),
        hem_curve=u(0, 3),
        sleeve=None,
        buttons=0,
    )
    if cut == "tshirt":
        geometry = replace(geometry, sleeve=_short_sleeve(rng))
    elif cut == "vneck":
        geometry = replace(geometry, neck_shape="v", neck_half=u(12, 15), neck_depth=u(24, 36))
        sleeve = _short_sleeve(rng) if rng.random() < 0.7 else _long_sleeve(rng)
        geometry = replace(geometry, sleeve=sleeve)
    elif cut == "long_sleeve":
        geometry = replace(geometry, waist_half=u(34, 37), sleeve=_long_sleeve(rng))
    elif cut == "tank":
        neck_half = u(13, 17)
        geometry = replace(
            geometry,
            neck_half=neck_half,
            neck_depth=u(14, 24),
            shoulder_half=neck_half + u(7, 12),
            shoulder_drop=u(1, 3),
            armpit_half=u(37, 40),
            armpit_y=u(50, 58),
            hem_y=u(110, 124),
        )
    elif cut == "blouse":
        geometry = replace(
            geometry,
            neck_shape="v",
            neck_half=u(11, 14),
            neck_depth=u(14, 22),
            hem_half=u(41, 47),
            hem_y=u(122, 138),
            hem_curve=u(3, 7),
            waist_half=u(33, 37),
            buttons=int(rng.integers(4, 7)),
        )
        sleeve = (
            _long_sleeve(rng, loose=True) if rng.random() < 0.5 else _short_sleeve(rng, puffy=True)
        )
        geometry = replace(geometry, sleeve=sleeve)
    else:
        raise ValueError(f"unknown cut {cut!r}")
    rounded = {
        field.name: _r(value)
        for field in fields(geometry)
        if isinstance(value := getattr(geometry, field.name), float)
    }
    return replace(geometry, **rounded)


def _sample_texture(rng: np.random.Generator, kind: str) -> dict:
    u = rng.uniform
    base = _sample_colour(rng)
    texture: dict = {"kind": kind, "colours": [base]}
    if kind == "stripes":
        angle = _pick(rng, (0.0, 90.0)) if rng.random() < 0.5 else u(0, 180)
        texture.update(
            angle=_r(angle), period=_r(u(6, 22)), duty=_r(u(0.25, 0.6)), phase=_r(u(0, 30))
        )
    elif kind == "checks":
        texture.update(
            angle=0.0 if rng.random() < 0.75 else 45.0,
            period=_r(u(10, 26)),
            duty=_r(u(0.35, 0.55)),
            phase=[_r(u(0, 30)), _r(u(0, 30))],
        )
    elif kind == "dots":
        spacing = u(10, 24)
        texture.update(
            spacing=_r(spacing),
            radius=_r(spacing * u(0.14, 0.32)),
            stagger=bool(rng.random() < 0.6),
            angle=_r(u(-20, 20)),
        )
    elif kind == "logo":
        placement = "chest" if rng.random() < 0.75 else "left_chest"
        emblem = _pick(rng, _EMBLEMS)
        texture.update(
            text=_pick(rng, _WORDS),
            font=int(rng.integers(len(_FONTS))),
            thickness=_r(u(1.0, 2.6)),
            placement=placement,
            width_ratio=_r(u(0.35, 0.7)),
            height=_r(u(0.28, 0.42)),
            emblem=emblem if placement == "chest" else "none",
        )
    elif kind == "gradient":
        texture.update(angle=_r(90 + u(-35, 35)))
    elif kind != "solid":
        raise ValueError(f"unknown texture {kind!r}")
    if kind != "solid":
        texture["colours"].append(_contrasting(rng, base, 45.0 if kind == "gradient" else 60.0))
    return texture


def sample_garment(
    rng: np.random.Generator, avoid_cut: str | None = None, avoid_texture: str | None = None
) -> dict:
    """Random garment params (cut, geometry, texture, trims, product-photo layout), JSON-ready."""
    cut = _pick(rng, [c for c in CUTS if c != avoid_cut])
    geometry = _sample_geometry(rng, cut)
    texture = _sample_texture(rng, _pick(rng, [t for t in TEXTURES if t != avoid_texture]))
    base = texture["colours"][0]
    trim = _contrasting(rng, base) if rng.random() < 0.25 else [int(v) for v in scaled(base, 0.82)]
    white = rng.uniform(238, 255)
    layout = {
        "margin": [_r(rng.uniform(5, 12)), _r(rng.uniform(6, 18))],
        "max_stretch": _r(rng.uniform(1.0, 1.15)),
        "shift": [_r(rng.uniform(-2, 2)), _r(rng.uniform(-3, 3))],
        "background": [int(round(np.clip(white + rng.normal(0, 1.5), 0, 255))) for _ in range(3)],
        "shadow": _r(rng.uniform(0, 0.08)),
    }
    buttons = [int(v) for v in (_contrasting(rng, base, 40.0) if geometry.buttons else base)]
    return {
        "cut": cut,
        "geometry": asdict(geometry),
        "texture": texture,
        "trim": trim,
        "buttons_rgb": buttons,
        "layout": layout,
    }


def sample_drape(rng: np.random.Generator, geometry: dict) -> dict:
    """How a garment sits on the body: cylinder wrap, wobble, fold lines, shading, sleeve ease."""
    u = rng.uniform
    g = Geometry.from_json(geometry)
    folds = []
    for _ in range(int(rng.integers(2, 6))):
        kind = _pick(rng, ("armpit", "armpit", "waist", "drape"))
        side = _pick(rng, (-1, 1))
        if kind == "armpit":
            start = [side * g.armpit_half * 0.95, g.armpit_y + u(0, 6)]
            end = [side * g.armpit_half * u(0.3, 0.6), g.armpit_y + u(14, 34)]
        elif kind == "waist":
            y = g.waist_y + u(-12, 12)
            start = [-g.waist_half * u(0.4, 0.9), y]
            end = [g.waist_half * u(0.4, 0.9), y + u(-5, 5)]
        else:
            x = u(-0.6, 0.6) * g.waist_half
            start = [x, g.armpit_y + u(5, 25)]
            end = [x + u(-6, 6), g.hem_y - u(2, 12)]
        bulge = u(-0.25, 0.25)
        middle = [
            (start[0] + end[0]) / 2 - bulge * (end[1] - start[1]),
            (start[1] + end[1]) / 2 + bulge * (end[0] - start[0]),
        ]
        folds.append([[_r(v) for v in start], [_r(v) for v in middle], [_r(v) for v in end]])
    return {
        "cylinder": _r(u(0.4, 0.85)),
        "wobble_x": [_r(u(0.5, 2.0)), _r(u(28, 64)), _r(u(0, 2 * math.pi))],
        "wobble_y": [_r(u(0.3, 1.4)), _r(u(30, 70)), _r(u(0, 2 * math.pi))],
        "side_shade": _r(u(0.1, 0.25)),
        "vertical_shade": _r(u(-0.02, 0.1)),
        "folds": folds,
        "fold_depth": _r(u(0.1, 0.3)),
        "sleeve_cap": _r(u(-0.5, 1.5)),
        "sleeve_ease": [
            _r(u(1.5, 3.2)),
            _r(u(2.0, 4.0)),
            _r(u(1.2, 2.4)),
        ],  # top; short cuff; long cuff
    }


# ---------------------------------------------------------------------------------------------------
# Building


@dataclass(frozen=True, eq=False)
class SleeveQuads:
    """One sleeve placed on the garment: the canonical corners of its two quads, (2,) each.

    Attributes:
        seam_outer, seam_inner: the armhole seam's ends (shoulder, armpit).
        bend_outer, bend_inner: the bend's top and underarm edges.
        cuff_outer, cuff_inner: the cuff's.
        bend_fraction, length: as in its `SleeveShape`.
    """

    seam_outer: np.ndarray
    seam_inner: np.ndarray
    bend_outer: np.ndarray
    bend_inner: np.ndarray
    cuff_outer: np.ndarray
    cuff_inner: np.ndarray
    bend_fraction: float
    length: float


@dataclass(frozen=True, eq=False)
class Garment:
    """A garment ready to photograph or wear; arrays in template space are (256, 192)."""

    params: dict
    geometry: Geometry  # params["geometry"], typed
    scale: np.ndarray  # template px per canonical unit, (x, y)
    offset: np.ndarray  # template px of the canonical origin
    front: np.ndarray  # canonical polygon of the front panel (N, 2)
    back_neck: np.ndarray  # canonical polygon of the inside back seen through the neck opening
    sleeves: tuple[SleeveQuads | None, SleeveQuads | None]  # image-left and image-right sleeve
    texture: np.ndarray  # (H, W, 3) float32 RGB in [0, 255], print and trims included
    worn_texture: np.ndarray  # the texture slightly blurred, for sampling at a smaller scale
    front_alpha: np.ndarray  # (H, W) float32 coverage of the front panel

    def to_template(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (
            x * np.float32(self.scale[0]) + np.float32(self.offset[0]),
            y * np.float32(self.scale[1]) + np.float32(self.offset[1]),
        )

    def points(self, canonical: np.ndarray) -> np.ndarray:
        """Canonical points (N, 2) -> template px."""
        return np.asarray(canonical, np.float64) * self.scale + self.offset


def _neckline(g: Geometry) -> np.ndarray:
    """Front neckline from the right neck corner to the left one."""
    half, depth = g.neck_half, g.neck_depth
    if g.neck_shape == "v":
        return np.array(
            [
                [half, 0],
                [half * 0.5, depth * 0.53],
                [0, depth],
                [-half * 0.5, depth * 0.53],
                [-half, 0],
            ]
        )
    t = np.linspace(0, np.pi, 15)
    return np.stack([half * np.cos(t), depth * np.sin(t)], axis=1)


def _hem(g: Geometry) -> np.ndarray:
    """Hem from left to right."""
    return quad_bezier(
        (-g.hem_half, g.hem_y), (0, g.hem_y + 2 * g.hem_curve), (g.hem_half, g.hem_y), 13
    )


def _round_corner(outline: np.ndarray, index: int, before: float, after: float) -> np.ndarray:
    """`outline` with the corner at `index` replaced by a curve starting `before` units ahead of it
    and ending `after` units past it."""
    corner = outline[index]
    incoming = outline[index - 1] - corner
    outgoing = outline[index + 1] - corner
    start = corner + incoming * min(before / np.hypot(*incoming), 0.45)
    end = corner + outgoing * min(after / np.hypot(*outgoing), 0.45)
    curve = quad_bezier(start, corner, end, 6)
    return np.concatenate([outline[:index], curve, outline[index + 1 :]])


def _front_polygon(g: Geometry) -> np.ndarray:
    seam_outer = np.array([-g.shoulder_half, g.shoulder_drop])
    armpit = np.array([-g.armpit_half, g.armpit_y])
    left = [np.array([[-g.neck_half, 0.0]]), seam_outer[None]]
    if g.sleeve is None:  # a scooped armhole
        control = (-(g.shoulder_half + 1.5), g.armpit_y * 0.82)
        left.append(quad_bezier(seam_outer, control, armpit, 10)[1:-1])
    left += [armpit[None], np.array([[-g.waist_half, g.waist_y]])]
    left = _round_corner(np.concatenate(left), 1, 6.0, 7.0)  # the shoulder point
    right = left[::-1] * np.array([-1.0, 1.0])
    return np.concatenate([left, _hem(g), right, _neckline(g)[1:-1]])


def _back_neck_polygon(g: Geometry) -> np.ndarray:
    back = quad_bezier((-g.neck_half, 0), (0, 2 * g.back_depth), (g.neck_half, 0), 9)
    # Reach 1.5 units under the front neckline so the union with the front has no crack.
    return np.concatenate([back, _neckline(g) + np.array([0.0, 1.5])])


def _sleeve_quads(g: Geometry, side: int) -> SleeveQuads | None:
    sleeve = g.sleeve
    if sleeve is None:
        return None
    seam_outer = np.array([side * g.shoulder_half, g.shoulder_drop])
    seam_inner = np.array([side * g.armpit_half, g.armpit_y])

    def direction(angle_deg: float) -> np.ndarray:
        angle = math.radians(angle_deg)
        return np.array([side * math.sin(angle), math.cos(angle)])

    def outward(angle_deg: float) -> np.ndarray:
        angle = math.radians(angle_deg)
        return np.array([side * math.cos(angle), -math.sin(angle)])

    bend_length = sleeve.length * sleeve.bend_fraction
    bend = (seam_outer + seam_inner) / 2 + bend_length * direction(sleeve.bend_angle)
    cuff = bend + (sleeve.length - bend_length) * direction(sleeve.angle)
    return SleeveQuads(
        seam_outer=seam_outer,
        seam_inner=seam_inner,
        bend_outer=bend + sleeve.bend_half * outward(sleeve.bend_angle),
        bend_inner=bend - sleeve.bend_half * outward(sleeve.bend_angle),
        cuff_outer=cuff + sleeve.cuff_half * outward(sleeve.angle),
        cuff_inner=cuff - sleeve.cuff_half * outward(sleeve.angle),
        bend_fraction=sleeve.bend_fraction,
        length=sleeve.length,
    )


def sleeve_point(
    quads: SleeveQuads, along: np.ndarray, outer: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Canonical point of a sleeve at `along` (0 armhole .. 1 cuff) and `outer` (0 underarm .. 1 top)."""
    fraction = quads.bend_fraction
    first = along < fraction
    t = np.where(first, along / fraction, (along - fraction) / (1.0 - fraction))
    coords = []
    for axis in (0, 1):
        top_inner = np.where(first, quads.seam_inner[axis], quads.bend_inner[axis])
        top_outer = np.where(first, quads.seam_outer[axis], quads.bend_outer[axis])
        low_inner = np.where(first, quads.bend_inner[axis], quads.cuff_inner[axis])
        low_outer = np.where(first, quads.bend_outer[axis], quads.cuff_outer[axis])
        top = top_inner + (top_outer - top_inner) * outer
        low = low_inner + (low_outer - low_inner) * outer
        coords.append((top + (low - top) * t).astype(np.float32))
    return coords[0], coords[1]


def _sleeve_polygon(quads: SleeveQuads, extend: float = 0.0) -> np.ndarray:
    """Canonical outline of a sleeve; `extend` pushes the armhole edge into the body panel."""
    seam_outer, seam_inner = quads.seam_outer, quads.seam_inner
    if extend:
        into_outer = seam_outer - quads.bend_outer
        into_inner = seam_inner - quads.bend_inner
        seam_outer = seam_outer + extend * into_outer / np.hypot(*into_outer)
        seam_inner = seam_inner + extend * into_inner / np.hypot(*into_inner)
    return np.array(
        [
            seam_outer,
            quads.bend_outer,
            quads.cuff_outer,
            quads.cuff_inner,
            quads.bend_inner,
            seam_inner,
        ]
    )


def _fit(points: np.ndarray, layout: dict) -> tuple[np.ndarray, np.ndarray]:
    """Scale and offset that centre the garment's canonical outline in the frame, VITON-style."""
    low, high = points.min(axis=0), points.max(axis=0)
    span = high - low
    scale_x = (WIDTH - 2 * layout["margin"][0]) / span[0]
    scale_y = (HEIGHT - 2 * layout["margin"][1]) / span[1]
    scale_y = min(scale_y, scale_x * layout["max_stretch"])
    if scale_y < scale_x * 0.95:
        scale_x = scale_y / 0.95
    scale = np.array([scale_x, scale_y])
    offset = (
        np.array([WIDTH / 2, HEIGHT / 2]) - (low + high) / 2 * scale + np.array(layout["shift"])
    )
    return scale, offset


def _band(angle_deg: float, period: float, duty: float, phase: float) -> np.ndarray:
    """Anti-aliased parallel stripes (coverage in [0, 1]) across the template frame."""
    angle = math.radians(angle_deg)
    position = np.mod(
        GRID_X * np.float32(math.cos(angle)) + GRID_Y * np.float32(math.sin(angle)) + phase, period
    )
    width = duty * period
    signed = np.where(
        position < width,
        np.minimum(position, width - position),
        -np.minimum(position - width, period - position),
    )
    return np.clip(signed + 0.5, 0, 1)


def _blend(image: np.ndarray, coverage: np.ndarray, colour) -> np.ndarray:
    return image + (np.asarray(colour, np.float32) - image) * coverage[..., None]


def _blend_layer(image: np.ndarray, layer: Layer, colour, strength: float = 1.0) -> np.ndarray:
    """`image` with `colour` blended in over `layer` (in place, only inside the layer's box)."""
    if not layer.empty:
        region = image[layer.box]
        region += (np.asarray(colour, np.float32) - region) * (layer.alpha * np.float32(strength))[
            ..., None
        ]
    return image


def _print_logo(
    image: np.ndarray,
    texture: dict,
    garment_centre: np.ndarray,
    garment_width: float,
    chest_y: float,
    scale: float,
) -> np.ndarray:
    base, ink = (np.asarray(c, np.float32) for c in texture["colours"])
    font = _FONTS[texture["font"]]
    thickness = max(1, int(round(texture["thickness"] * scale)))
    if texture["placement"] == "left_chest":
        target_width = garment_width * 0.2
        centre = (garment_centre[0] + garment_width * 0.22, chest_y - 4 * scale)
    else:
        target_width = garment_width * texture["width_ratio"]
        centre = (garment_centre[0], chest_y)
    (unit_width, _), _ = cv2.getTextSize(texture["text"], font, 1.0, thickness)
    font_scale = target_width / max(unit_width, 1)
    (text_width, text_height), _ = cv2.getTextSize(texture["text"], font, font_scale, thickness)
    emblem = texture["emblem"]
    shape = np.zeros((HEIGHT, WIDTH), np.uint8)
    text_colour = ink
    if emblem == "disc":
        cv2.circle(
            shape,
            (int(round(centre[0])), int(round(centre[1]))),
            int(round(text_width * 0.62)),
            255,
            -1,
            cv2.LINE_AA,
        )
        text_colour = base
    elif emblem == "box":
        pad = 4 * scale
        top_left = (
            int(round(centre[0] - text_width / 2 - pad)),
            int(round(centre[1] - text_height / 2 - pad)),
        )
        bottom_right = (
            int(round(centre[0] + text_width / 2 + pad)),
            int(round(centre[1] + text_height / 2 + pad)),
        )
        cv2.rectangle(
            shape, top_left, bottom_right, 255, max(1, int(round(1.5 * scale))), cv2.LINE_AA
        )
    elif emblem == "band":
        shape[int(round(centre[1] - text_height)) : int(round(centre[1] + text_height)), :] = 255
        text_colour = base
    image = _blend(image, shape.astype(np.float32) / 255, ink)
    letters = np.zeros((HEIGHT, WIDTH), np.uint8)
    origin = (int(round(centre[0] - text_width / 2)), int(round(centre[1] + text_height / 2)))
    cv2.putText(letters, texture["text"], origin, font, font_scale, 255, thickness, cv2.LINE_AA)
    return _blend(image, letters.astype(np.float32) / 255, text_colour)


def _texture(
    params: dict,
    g: Geometry,
    scale: np.ndarray,
    offset: np.ndarray,
    silhouette_box: tuple[slice, slice],
) -> np.ndarray:
    texture = params["texture"]
    kind = texture["kind"]
    base = np.asarray(texture["colours"][0], np.float32)
    image = np.empty((HEIGHT, WIDTH, 3), np.float32)
    image[:] = base
    if kind == "stripes":
        image = _blend(
            image,
            _band(texture["angle"], texture["period"], texture["duty"], texture["phase"]),
            texture["colours"][1],
        )
    elif kind == "checks":
        across = _band(texture["angle"], texture["period"], texture["duty"], texture["phase"][0])
        down = _band(texture["angle"] + 90, texture["period"], texture["duty"], texture["phase"][1])
        image = _blend(image, 0.5 * across + 0.5 * down, texture["colours"][1])
    elif kind == "dots":
        angle = math.radians(texture["angle"])
        spacing = texture["spacing"]
        along = GRID_X * np.float32(math.cos(angle)) + GRID_Y * np.float32(math.sin(angle))
        across = -GRID_X * np.float32(math.sin(angle)) + GRID_Y * np.float32(math.cos(angle))
        if texture["stagger"]:
            along = along + np.mod(np.floor(across / spacing), 2) * (spacing / 2)
        dx = np.mod(along, spacing) - spacing / 2
        dy = np.mod(across, spacing) - spacing / 2
        image = _blend(
            image, np.clip(texture["radius"] - np.hypot(dx, dy) + 0.5, 0, 1), texture["colours"][1]
        )
    elif kind == "gradient":
        angle = math.radians(texture["angle"])
        projection = GRID_X * np.float32(math.cos(angle)) + GRID_Y * np.float32(math.sin(angle))
        inside = projection[silhouette_box]
        low, high = float(inside.min()), float(inside.max())
        image = _blend(
            image, np.clip((projection - low) / max(high - low, 1.0), 0, 1), texture["colours"][1]
        )
    elif kind == "logo":
        width = 2 * g.armpit_half * scale[0]
        chest_y = offset[1] + scale[1] * (
            g.armpit_y + (g.hem_y - g.armpit_y) * (texture["height"] - 0.2)
        )
        image = _print_logo(image, texture, offset, width, chest_y, float(scale[0]))
    return image


def _trims(image: np.ndarray, garment: Garment) -> np.ndarray:
    """Neck rib, hem stitching, cuff bands, placket and buttons, drawn into the texture."""
    params, g = garment.params, garment.geometry
    base = np.asarray(params["texture"]["colours"][0], np.float32)
    rib = lines_layer([garment.points(_neckline(g))], max(2, int(round(3 * garment.scale[0]))))
    image = _blend_layer(image, rib, params["trim"])
    stitch = lines_layer([garment.points(_hem(g) - np.array([0.0, 3.5]))], 1)
    image = _blend_layer(image, stitch, scaled(base, 0.6), 0.55)
    for quads in garment.sleeves:
        if quads is not None:
            ends = [
                sleeve_point(quads, np.array([0.92]), np.array([value])) for value in (-0.05, 1.05)
            ]
            cuff_line = np.array([[float(x[0]), float(y[0])] for x, y in ends])
            band = lines_layer(
                [garment.points(cuff_line)], max(1, int(round(1.5 * garment.scale[0])))
            )
            image = _blend_layer(image, band, scaled(base, 0.72), 0.6)
    if g.buttons:
        top, bottom = g.neck_depth + 4, g.hem_y - 6
        for x in (-2.5, 2.5):
            placket = lines_layer([garment.points(np.array([[x, top - 3], [x, bottom + 4]]))], 1)
            image = _blend_layer(image, placket, scaled(base, 0.65), 0.45)
        buttons = np.zeros((HEIGHT, WIDTH), np.uint8)
        for y in np.linspace(top, bottom - 10, g.buttons):
            centre = garment.points(np.array([[0.0, y]]))[0]
            cv2.circle(
                buttons,
                (int(round(centre[0] * 16)), int(round(centre[1] * 16))),
                int(round(1.8 * garment.scale[0] * 16)),
                255,
                -1,
                cv2.LINE_AA,
                4,
            )
        image = _blend(image, buttons.astype(np.float32) / 255, params["buttons_rgb"])
    return image


def build_garment(params: dict) -> Garment:
    """Geometry, template fit and texture of a garment described by `sample_garment` params."""
    g = Geometry.from_json(params["geometry"])
    front = _front_polygon(g)
    back_neck = _back_neck_polygon(g)
    sleeves = (_sleeve_quads(g, -1), _sleeve_quads(g, 1))
    outline = [front, back_neck] + [_sleeve_polygon(q) for q in sleeves if q is not None]
    scale, offset = _fit(np.concatenate(outline), params["layout"])
    draft = Garment(
        params, g, scale, offset, front, back_neck, sleeves, np.zeros(0), np.zeros(0), np.zeros(0)
    )
    front_layer = polygon_layer(draft.points(front))
    texture = _texture(params, g, scale, offset, front_layer.box)
    texture = _trims(texture, draft)
    return Garment(
        params,
        g,
        scale,
        offset,
        front,
        back_neck,
        sleeves,
        texture,
        gaussian_blur(texture, 0.6),
        full_frame(front_layer),
    )


# ---------------------------------------------------------------------------------------------------
# The flat product photo


def product_photo(garment: Garment) -> tuple[np.ndarray, np.ndarray]:
    """The garment laid flat on a near-white background, and its filled silhouette.

    Returns:
        (256, 192, 3) uint8 RGB photo and (256, 192) uint8 silhouette, 255 on the garment, 0 elsewhere.
    """
    params = garment.params
    layout = params["layout"]
    base = np.asarray(params["texture"]["colours"][0], np.float32)
    canvas = Canvas(np.asarray(layout["background"], np.float32))
    sleeve_outlines = [
        garment.points(_sleeve_polygon(q, extend=2.0)) for q in garment.sleeves if q is not None
    ]
    front = garment.points(garment.front)
    back_neck = garment.points(garment.back_neck)
    silhouette = full_frame(polygon_layer(front, back_neck, *sleeve_outlines))
    shadow = np.roll(gaussian_blur(silhouette, 4.0), (3, 2), axis=(0, 1))
    canvas.rgb *= (1.0 - layout["shadow"] * shadow * (1.0 - silhouette))[..., None]
    edge_light = (
        1.0 - 0.12 * (1.0 - gaussian_blur(silhouette, 2.5)) + 0.03 * (0.5 - GRID_Y / HEIGHT)
    )
    flat = garment.texture * edge_light[..., None]
    canvas.paint(polygon_layer(back_neck), scaled(base, 0.6), GARMENT)
    for outline in sleeve_outlines:
        canvas.paint(polygon_layer(outline), flat, GARMENT)
    canvas.paint(Layer(garment.front_alpha, FULL_BOX), flat, GARMENT)
    seams = [
        garment.points(np.array([q.seam_outer, q.seam_inner]))
        for q in garment.sleeves
        if q is not None
    ]
    if seams:
        seam_layer = lines_layer(seams, 1)
        canvas.paint(Layer(seam_layer.alpha * 0.35, seam_layer.box), scaled(base, 0.55), GARMENT)
    edge = np.where(silhouette >= 0.5, 255, 0).astype(np.uint8)
    return canvas.to_uint8(), edge


# ---------------------------------------------------------------------------------------------------
# The worn garment


def _remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, border: int) -> np.ndarray:
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=border, borderValue=0)


def paint_torso(canvas: Canvas, body: Body, garment: Garment, drape: dict) -> None:
    """The front panel mapped onto the torso, wobbled, wrapped round a cylinder and shaded with folds."""
    g, drape = garment.geometry, Drape.from_json(drape)
    cylinder = drape.cylinder
    top = max(int(body.levels[0] - 30), 0)
    lowest_hem = np.array([g.hem_y + 2 * max(g.hem_curve, 0.0) + 12.0])
    bottom = min(int(body.to_body(np.zeros(1), lowest_hem, cylinder)[1][0]) + 8, HEIGHT)
    box = (slice(top, max(bottom, top + 1)), slice(0, WIDTH))
    xs, ys = GRID_X[box], GRID_Y[box]
    # Cloth hangs from the shoulders: the wobble grows from there down to the hips.
    hang = np.clip(
        (ys - np.float32(body.levels[1])) / np.float32(body.levels[4] - body.levels[1]), 0.1, 1.0
    )
    amplitude, wavelength, phase = drape.wobble_x
    wobbled_x = xs + np.float32(amplitude) * hang * np.sin(
        ys * np.float32(2 * math.pi / wavelength) + np.float32(phase)
    )
    amplitude, wavelength, phase = drape.wobble_y
    wobbled_y = ys + np.float32(amplitude) * hang * np.sin(
        xs * np.float32(2 * math.pi / wavelength) + np.float32(phase)
    )
    canonical_x, canonical_y = body.to_canonical(wobbled_x, wobbled_y, cylinder)
    map_x, map_y = garment.to_template(canonical_x, canonical_y)
    alpha = _remap(garment.front_alpha, map_x, map_y, cv2.BORDER_CONSTANT)
    colour = _remap(garment.worn_texture, map_x, map_y, cv2.BORDER_REFLECT)

    across = np.clip(
        canonical_x
        / np.interp(canonical_y, CANONICAL_LEVELS, CANONICAL_HALF_WIDTHS).astype(np.float32),
        -1.3,
        1.3,
    )
    down = canonical_y / np.float32(g.hem_y)
    shading = (1.0 - drape.side_shade * across**2) * (1.0 + drape.vertical_shade * (0.35 - down))
    fold_lines = []
    for start, middle, end in drape.folds:
        points = quad_bezier(start, middle, end, 9)
        body_x, body_y = body.to_body(points[:, 0], points[:, 1], cylinder)
        fold_lines.append(np.stack([body_x, body_y], axis=1))
    folds = gaussian_blur(full_frame(lines_layer(fold_lines, 2, margin=6)), 2.2)[box]
    lit = np.zeros_like(folds)
    lit[:-2] = folds[2:]
    shading = shading * (1.0 - drape.fold_depth * folds + 0.5 * drape.fold_depth * lit)
    canvas.paint(Layer(alpha, box), colour * shading[..., None], GARMENT)


def paint_sleeve(canvas: Canvas, arm: Arm, field: ArmField, garment: Garment, drape: dict) -> None:
    """The garment's sleeve on `arm`, following its bones, with a rounded shading and an elbow crease."""
    quads = garment.sleeves[0 if arm.side < 0 else 1]
    if quads is None:
        return
    drape = Drape.from_json(drape)
    short = quads.length < 60
    end = min(quads.length * arm.length / CANONICAL_ARM_LENGTH, arm.length + 1.0)
    # Above the shoulder joint the sleeve closes in a dome as tall as the arm's own rounded top.
    cap = arm.upper_half + drape.sleeve_cap
    start = -cap
    along = np.clip((field.u - start) / (end - start), 0, 1)
    ease_top, ease_short, ease_long = drape.sleeve_ease
    top_half = arm.upper_half + ease_top
    cuff_half = float(arm.half_width(np.array(end))) + (ease_short if short else ease_long)
    half = np.float32(top_half) + np.float32(cuff_half - top_half) * along
    outer = np.clip(-field.across / half, -1, 1)
    above_joint = np.minimum(field.u, 0) * (half / np.float32(cap))
    distance = np.sqrt(above_joint**2 + field.across**2)
    alpha = np.clip(half - distance + 0.5, 0, 1) * np.clip(end - field.u + 0.5, 0, 1)
    canonical_x, canonical_y = sleeve_point(quads, along, (outer + 1) / 2)
    map_x, map_y = garment.to_template(canonical_x, canonical_y)
    colour = _remap(garment.worn_texture, map_x, map_y, cv2.BORDER_REFLECT)
    shading = 1.0 - 0.22 * outer**2 + 0.05 * outer
    if end > arm.upper_length:
        shading = shading * (1.0 - 0.14 * np.exp(-(((field.u - arm.upper_length) / 3.5) ** 2)))
    canvas.paint(Layer(alpha.astype(np.float32), field.box), colour * shading[..., None], GARMENT)
