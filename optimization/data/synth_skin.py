"""Bare skin of the figure: torso, neck, arms, hands and legs, shaded as rounded forms under the key light.

Skin is lit like a matte surface with a little subsurface scattering: its shadows turn warmer and
more saturated rather than grey (each channel falls off with its own exponent), and a faint sheen
catches the key light. A low-frequency mottle in body coordinates keeps it from looking painted.
"""

from __future__ import annotations

import numpy as np

from optimization.data.synth_canvas import (
    ARM,
    SKIN,
    Layer,
    Sprite,
    View,
    polygons,
    smooth_curve,
    strokes,
)
from optimization.data.synth_figure import ArmBones, Figure
from optimization.data.synth_folds import height_field, slopes
from optimization.data.synth_light import Light, diffuse, glint
from optimization.data.synth_noise import fbm
from optimization.data.synth_person import Skin

_SUBSURFACE = np.array([0.88, 1.0, 1.1], np.float32)


def skin_colour(
    skin: Skin, light: Light, nx: np.ndarray, ny: np.ndarray, mottle: np.ndarray | None = None
) -> np.ndarray:
    """Lit skin (h, w, 3) float32 for surface normals (nx, ny)."""
    brightness = diffuse(light, nx, ny)
    if mottle is not None:
        brightness = brightness * (1.0 + np.float32(0.02) * mottle)
    albedo = np.asarray(skin.rgb, np.float32) * np.asarray(light.tint, np.float32)
    rgb = albedo * np.maximum(brightness[..., None], 1e-3) ** _SUBSURFACE
    shine = glint(light, nx, ny, 18.0) * np.float32(skin.shine * 38.0)
    return rgb + shine[..., None]


def _mottle(view: View, box, lattice: np.ndarray) -> np.ndarray:
    xs, ys = view.grid(box)
    return fbm(lattice, xs, ys, 4.0, 3, 1.0 / view.scale)


def torso(view: View, figure: Figure, light: Light, lattice: np.ndarray) -> Sprite:
    """The bare torso: shoulders, chest and belly (seen in necklines, armholes and crop tops)."""
    body = figure.body
    layer = polygons(view, [figure.torso_outline()])
    xs, ys = view.grid(layer.box)
    centre, half = figure.centre(ys), figure.half(ys)
    ratio = np.clip((xs - centre) / half, -1.2, 1.2)
    shoulder = body.level("shoulder")
    top = np.clip((shoulder + 2.0 - ys) / 6.0, 0, 1) * np.clip(
        (np.abs(xs - centre) - body.neck_half) / 4, 0, 1
    )
    clavicles = [
        (
            np.array(
                [[side * 1.8, 1.2], [side * 7.0, -0.2], [side * (body.shoulder_half - 3.5), -1.2]]
            ),
            0.2,
            0.7,
        )
        for side in (-1, 1)
    ]
    lines = clavicles + [(np.array([[0.0, 9.0], [0.0, 19.0]]), -0.5 * body.bust, 1.2)]
    relief = height_field(view, layer.box, lines)
    notch = np.exp(-((xs - centre) ** 2 + (ys - 0.3) ** 2) / 1.2)
    relief -= notch * np.float32(0.4)
    sx, sy = slopes(relief, view.scale)
    nx = ratio * np.float32(0.8) + sx
    ny = -np.float32(0.6) * top + sy
    rgb = skin_colour(figure.person.skin, light, nx, ny, _mottle(view, layer.box, lattice))
    return Sprite(layer, rgb, SKIN)


def neck(view: View, figure: Figure, light: Light, lattice: np.ndarray) -> Sprite:
    """The neck, from under the jaw to where it widens into the shoulders, the jaw's shadow on it."""
    body = figure.body
    chin = -body.neck_length
    top = chin - 4.0
    half = body.neck_half
    outline = smooth_curve(
        [
            (-half - 2.8, -3.0),
            (-half - 0.5, -5.6),
            (-half, chin + 2),
            (-half + 0.3, top),
            (half - 0.3, top),
            (half, chin + 2),
            (half + 0.5, -5.6),
            (half + 2.8, -3.0),
            (0.0, -1.5),
        ],
        60,
        closed=True,
    )
    layer = polygons(view, [outline])
    xs, ys = view.grid(layer.box)
    ratio = np.clip(xs / np.float32(half + 1.0), -1.2, 1.2)
    muscles = [
        (np.array([[side * (half - 0.5), chin + 1.5], [side * 1.2, -1.0]]), 0.12, 0.9)
        for side in (-1, 1)
    ]
    relief = height_field(view, layer.box, muscles)
    sx, sy = slopes(relief, view.scale)
    rgb = skin_colour(
        figure.person.skin,
        light,
        ratio * np.float32(0.85) + sx,
        sy,
        _mottle(view, layer.box, lattice),
    )
    # The head shades the top of the neck; a higher key light throws a longer shadow.
    reach = 1.5 + 3.5 * (-light.direction[1])
    shade = 1.0 - 0.4 * np.clip((chin + reach - ys) / reach, 0, 1) ** 1.5
    shade *= 1.0 - 0.12 * np.clip(np.abs(ratio) - 0.5, 0, 1)
    return Sprite(layer, rgb * shade[..., None], SKIN)


def arm(view: View, figure: Figure, bones: ArmBones, light: Light, lattice: np.ndarray):
    """The bare arm from the shoulder to the wrist, a rounded tapering tube."""
    field = figure.arm_field(view, bones, bones.upper_half * 1.3 + 1.0)
    half = bones.half_width(field.u)
    # Above the shoulder joint the arm's end is a flattened dome that tucks under the shoulder.
    distance = np.where(
        field.u < 0, np.hypot(field.u * np.float32(2.2), field.across), field.distance
    )
    inside = np.clip((half - distance) * np.float32(view.scale) + 0.5, 0, 1)
    end = np.clip((bones.length + 0.5 - field.u) * np.float32(view.scale), 0, 1)
    layer = Layer((inside * end).astype(np.float32), field.box)
    roundness = np.clip(field.across / half, -1, 1)
    nx = roundness * field.inner_x * np.float32(0.9)
    ny = roundness * field.inner_y * np.float32(0.9)
    rgb = skin_colour(figure.person.skin, light, nx, ny, _mottle(view, field.box, lattice))
    elbow = np.exp(-((field.u - bones.upper_length) ** 2) / 3.0).astype(np.float32)
    bent = 0.12 if bones.mode != "down" else 0.06
    rgb *= (1.0 - bent * elbow * np.clip(roundness, 0, 1))[..., None]
    rgb *= (1.0 + 0.06 * elbow * np.clip(-roundness, 0, 1))[..., None]
    return Sprite(layer, rgb, ARM), field


def _hand_outline(bones: ArmBones) -> tuple[np.ndarray, list, float]:
    """World outline of the hand, finger lines and the visible length, by arm mode."""
    along = bones.hand_dir
    inner = -bones.side * np.array([along[1], -along[0]])
    w = bones.wrist_half
    length = bones.hand_length
    if bones.mode == "down":
        # Fingers a little curled: narrower than the palm, tips at different lengths.
        shape = [
            (0, -w),
            (0.3, -(w + 0.7)),
            (0.55, -(w + 0.45)),
            (0.8, -(w - 0.5)),
            (0.93, -(w - 1.4)),
            (1.0, -0.5),
            (0.98, 0.5),
            (0.88, w - 0.9),
            (0.6, w + 0.3),
            (0.3, w + 0.8),
            (0, w),
        ]
        visible = 0.82
    elif bones.mode == "hip":
        shape = [
            (0, -w),
            (0.35, -(w + 1.4)),
            (0.7, -(w + 1.0)),
            (0.95, -1.0),
            (1.0, 0.8),
            (0.8, w + 1.2),
            (0.35, w + 1.3),
            (0, w),
        ]
        visible = 0.5
    elif bones.mode == "pocket":
        shape = [
            (0, -w),
            (0.4, -(w + 0.8)),
            (0.85, -(w + 0.6)),
            (1.0, 0.0),
            (0.85, w + 0.8),
            (0.4, w + 1.0),
            (0, w),
        ]
        visible = 0.42
    else:  # crossed: fingers wrapped round the other arm
        shape = [
            (0, -w),
            (0.35, -(w + 1.2)),
            (0.75, -(w + 0.9)),
            (1.0, 0.0),
            (0.8, w + 1.1),
            (0.35, w + 1.2),
            (0, w),
        ]
        visible = 0.55
    reach = length * visible
    points = np.array([bones.wrist + along * (-0.8 + a * reach) + inner * c for a, c in shape])
    outline = smooth_curve(points, 40, closed=True)
    fingers = []
    if bones.mode in ("down", "crossed", "hip"):
        for offset in (-0.45, 0.1, 0.65):
            start = bones.wrist + along * reach * 0.62 + inner * offset * w
            fingers.append(np.stack([start, start + along * reach * 0.3]))
    return outline, fingers, reach


def hand(view: View, figure: Figure, bones: ArmBones, light: Light) -> Sprite | None:
    """The hand at the wrist of `bones`; in a pocket only its top shows."""
    outline, fingers, reach = _hand_outline(bones)
    layer = polygons(view, [outline])
    if layer.box.empty:
        return None
    xs, ys = view.grid(layer.box)
    along = bones.hand_dir
    inner = -bones.side * np.array([along[1], -along[0]])
    dx, dy = xs - np.float32(bones.wrist[0]), ys - np.float32(bones.wrist[1])
    across = (dx * np.float32(inner[0]) + dy * np.float32(inner[1])) / np.float32(
        bones.wrist_half + 1.0
    )
    ahead = (dx * np.float32(along[0]) + dy * np.float32(along[1])) / np.float32(reach)
    nx = np.clip(across, -1, 1) * np.float32(0.7 * inner[0]) + np.float32(0.25 * along[0]) * ahead
    ny = np.clip(across, -1, 1) * np.float32(0.7 * inner[1]) + np.float32(0.25 * along[1]) * ahead
    rgb = skin_colour(figure.person.skin, light, nx * np.float32(0.7), ny * np.float32(0.7))
    # Hands are a little ruddier than arms; knuckles and the gaps between fingers are darker.
    rgb *= np.array([1.0, 0.96, 0.95], np.float32)
    knuckles = np.exp(-(((ahead - 0.55) / 0.08) ** 2)).astype(np.float32)
    rgb *= (1.0 - 0.1 * knuckles)[..., None]
    if fingers:
        gaps = strokes(view, fingers, 0.18).within(layer.box)
        rgb *= (1.0 - 0.35 * gaps)[..., None]
    alpha = layer.alpha
    if bones.mode == "pocket":
        # Inside the pocket below its opening: only the back of the hand above it shows.
        opening = bones.wrist[1] + reach * 0.35 + (xs - bones.wrist[0]) * 0.35 * bones.side
        alpha = alpha * np.clip((opening - ys) * np.float32(view.scale) + 0.5, 0, 1)
    return Sprite(Layer(alpha.astype(np.float32), layer.box), rgb, ARM)


def legs(
    view: View, figure: Figure, light: Light, lattice: np.ndarray, top_y: float
) -> Sprite | None:
    """Bare legs below `top_y` (a skirt's hem) down to the ankles."""
    outlines = []
    for leg in figure.legs:
        body = figure.body
        points = [leg.hip, leg.knee, leg.ankle]
        halves = [body.thigh_half, 5.2, 3.2]
        t = np.linspace(0, 1, 24)
        axis = np.stack(
            [
                np.interp(t, [0, 0.45, 1], [p[0] for p in points]),
                np.interp(t, [0, 0.45, 1], [p[1] for p in points]),
            ],
            axis=1,
        )
        widths = np.interp(
            t, [0, 0.45, 0.62, 1], [halves[0], halves[1], halves[1] + 0.5, halves[2]]
        )
        direction = np.gradient(axis, axis=0)
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        normal = np.stack([direction[:, 1], -direction[:, 0]], axis=1)
        outlines.append(
            np.concatenate(
                [axis + normal * widths[:, None], (axis - normal * widths[:, None])[::-1]]
            )
        )
    layer = polygons(view, outlines)
    if layer.box.empty:
        return None
    xs, ys = view.grid(layer.box)
    alpha = layer.alpha * np.clip((ys - np.float32(top_y)) * np.float32(view.scale) + 0.5, 0, 1)
    nearest = np.where(xs < 0, figure.legs[0].knee[0], figure.legs[1].knee[0])
    ratio = np.clip((xs - nearest) / np.float32(6.0), -1, 1)
    rgb = skin_colour(
        figure.person.skin,
        light,
        ratio * np.float32(0.8),
        np.zeros_like(ratio),
        _mottle(view, layer.box, lattice),
    )
    return Sprite(Layer(alpha.astype(np.float32), layer.box), rgb, SKIN)
