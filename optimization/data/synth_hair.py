"""Hair: the cap on the skull with its hairline, hair hanging behind the shoulders or over them.

Hair is painted as strands: a brightness that varies across the strands and little along them,
following the way the hair falls (radiating from the parting on the skull, hanging and waving
below it), with a sheen band and soft, uneven edges. Shapes are built in head units (see
`synth_face`) and centimetres, so they scale with the scene.
"""

from __future__ import annotations

import math

import numpy as np

from optimization.data.synth_canvas import (
    HAIR,
    Box,
    Layer,
    Sprite,
    View,
    blur,
    polygons,
    smooth_curve,
    soften,
)
from optimization.data.synth_face import HeadFrame
from optimization.data.synth_figure import Figure
from optimization.data.synth_light import Light, diffuse
from optimization.data.synth_noise import band_limit, field

_LONG = ("long_back", "long_front")


def _strands(
    view: View, lattice: np.ndarray, across: np.ndarray, along: np.ndarray, curly: bool
) -> np.ndarray:
    """Brightness factor (h, w) of hair strands at strand coordinates (across, along) in cm."""
    pixel = 1.0 / view.scale
    if curly:
        coarse = field(lattice, across, along, 0.9)
        fine = field(lattice, across, along, 0.35, (11.0, 7.0)) * np.float32(
            band_limit(0.35, pixel)
        )
        return 1.0 + np.float32(0.16) * coarse + np.float32(0.14) * fine
    clumps = field(lattice, across, along, (0.8, 9.0))
    strands = field(lattice, across, along, (0.22, 5.0), (13.0, 3.0))
    return 1.0 + np.float32(0.13) * clumps + np.float32(0.12 * band_limit(0.22, pixel)) * strands


def _lumpy(outline: np.ndarray, centre, amount: float, seed: int) -> np.ndarray:
    """`outline` pushed in and out round `centre` by smooth random lumps (`amount` of its radius)."""
    rng = np.random.default_rng(seed)
    offset = outline - np.asarray(centre, np.float64)
    angle = np.arctan2(offset[:, 1], offset[:, 0])
    bumps = np.zeros_like(angle)
    for frequency in (2, 3, 5, 8, 13):
        bumps += rng.normal(0, 1.0 / frequency**0.8) * np.sin(
            frequency * angle + rng.uniform(0, 6.3)
        )
    return np.asarray(centre) + offset * (1.0 + amount * bumps)[:, None]


def _colour(figure: Figure, light: Light, shade: np.ndarray, nx: np.ndarray, ny: np.ndarray):
    base = np.asarray(figure.person.hair.rgb, np.float32) * np.asarray(light.tint, np.float32)
    brightness = diffuse(light, nx, ny) * shade
    # Dark hair lifts a little in the light (specular sheen is not colour), fair hair less so.
    return base * brightness[..., None] + np.float32(10.0) * (brightness - 0.6)[..., None]


def _cap_outline(frame: HeadFrame, hair) -> tuple[np.ndarray, np.ndarray]:
    """World outlines of the hair's outer boundary and of the bare face below the hairline."""
    volume = hair.volume / frame.half_width
    grow = 1.0 + volume
    side_drop = {"short": 0.1, "ponytail": 0.05, "bun": 0.05}.get(hair.style, 0.9)
    if hair.style == "curly":
        side_drop = 0.7
    outer = [
        (0.0, -1.0 - volume * 0.9),
        (0.62 * grow, -0.9 - volume * 0.6),
        (0.95 * grow, -0.55),
        (1.04 * grow, -0.05),
        (1.02 * grow, side_drop * 0.6),
        (0.95 + volume * 0.8, side_drop),
    ]
    outer = outer + [(-x, y) for x, y in outer[::-1]]
    part = hair.parting * 0.35
    fringe = hair.fringe and hair.style not in ("short",)
    top = -0.32 if fringe else -0.56
    hairline = [
        (0.84, side_drop + 0.1),
        (0.84, 0.02),
        (0.86, -0.22),
        (0.68, -0.44),
        (0.36, top + 0.02),
        (part, top - 0.02),
        (-0.36, top + 0.02),
        (-0.68, -0.44),
        (-0.86, -0.22),
        (-0.84, 0.02),
        (-0.84, side_drop + 0.1),
    ]
    if hair.style in ("short", "ponytail", "bun"):
        hairline[0] = (1.0, 0.15)
        hairline[-1] = (-1.0, 0.15)
        hairline[1] = (0.96, 0.02)
        hairline[-2] = (-0.96, 0.02)
    face = np.array(hairline + [(-0.84, 1.2), (0.84, 1.2)])
    return (
        frame.to_world(smooth_curve(np.array(outer), 72, closed=True)),
        frame.to_world(smooth_curve(face, 72, closed=True)),
    )


def cap(view: View, figure: Figure, light: Light, lattice: np.ndarray) -> Sprite | None:
    """Hair on the skull and framing the face, in front of the face."""
    hair = figure.person.hair
    frame = HeadFrame(figure)
    outer, face = _cap_outline(frame, hair)
    pieces = [outer]
    if hair.style == "bun":
        pieces.append(
            frame.to_world(
                smooth_curve(
                    [(0.0, -1.65), (0.4, -1.45), (0.4, -1.05), (-0.4, -1.05), (-0.4, -1.45)],
                    30,
                    closed=True,
                )
            )
        )
    layer = polygons(view, pieces)
    if layer.box.empty:
        return None
    bare = polygons(view, [face]).within(layer.box)
    layer = Layer((layer.alpha * (1.0 - bare)).astype(np.float32), layer.box)
    soft = soften(view, layer, 0.12)
    xs, ys = view.grid(soft.box)
    hx, hy = frame.to_head(xs, ys)
    crown = np.array([hair.parting * 0.35, -0.95])
    angle = np.arctan2(hy - crown[1], (hx - crown[0]) * 1.3)
    radius = np.hypot(hx - crown[0], hy - crown[1])
    across = angle * np.float32(frame.half_width * 1.2)
    along = radius * np.float32(frame.half_width)
    if hair.wave > 0.4:
        across = across + np.float32(hair.wave * 0.6) * np.sin(along * np.float32(1.4))
    shade = _strands(view, lattice, across, along, hair.style == "curly")
    sheen = np.exp(-(((hy + 0.62 + 0.1 * hx * hx) / 0.12) ** 2)).astype(np.float32)
    shade = shade * (1.0 + np.float32(0.35) * sheen)
    # Hair near the parting and at the hairline is thinner and lets the scalp shadow through less.
    nx = np.clip(hx * np.float32(0.8), -0.95, 0.95)
    ny = np.clip(hy * np.float32(0.6) - np.float32(0.2), -0.95, 0.95)
    # The hair's underside next to the face is in its own shadow.
    near_face = blur(polygons(view, [face]).within(soft.box), view.px(0.8))
    shade = shade * (1.0 - np.float32(0.35) * near_face)
    rgb = _colour(figure, light, shade, nx, ny)
    edge = np.clip(shade * 1.6 - 0.45, 0, 1)  # stray strands thin the soft edge unevenly
    alpha = soft.alpha * np.where(soft.alpha < 0.98, edge, 1.0)
    return Sprite(Layer(alpha.astype(np.float32), soft.box), rgb, HAIR)


def _hanging(view, figure, light, lattice, outline, shade_factor: float) -> Sprite | None:
    hair = figure.person.hair
    centre = outline.mean(axis=0)
    outline = _lumpy(smooth_curve(outline, 120, closed=True), centre, 0.05, hair.seed + 1)
    layer = soften(view, polygons(view, [outline]), 0.15)
    if layer.box.empty:
        return None
    xs, ys = view.grid(layer.box)
    wave = np.float32(hair.wave * 1.4) * np.sin(ys * np.float32(2 * math.pi / 9.0))
    across = xs + wave
    shade = _strands(view, lattice, across, ys, hair.style == "curly") * np.float32(shade_factor)
    sheen = np.exp(-(((ys - figure.body.level("shoulder") + 6.0) / 3.0) ** 2)).astype(np.float32)
    shade = shade * (1.0 + np.float32(0.2) * sheen)
    # Strands end at different lengths, and thin out towards the soft edge.
    bottom = float(outline[:, 1].max())
    lengths = field(lattice, across, np.zeros_like(across), (0.6, 1.0), (31.0, 0.0))
    taper = np.clip((np.float32(bottom) - ys) / np.float32(3.0) + np.float32(0.35) * lengths, 0, 1)
    ends = np.clip(shade * 1.6 - 0.45, 0, 1)
    alpha = layer.alpha * np.where(layer.alpha < 0.98, ends, 1.0) * taper
    mass = blur(layer.alpha, view.px(1.5))
    shade = shade * (np.float32(0.8) + np.float32(0.25) * mass)
    centre = np.float32(figure.head_centre[0])
    nx = np.clip((xs - centre) / np.float32(14.0), -0.8, 0.8)
    rgb = _colour(figure, light, shade, nx, np.full_like(nx, 0.1))
    return Sprite(Layer(alpha.astype(np.float32), layer.box), rgb, HAIR)


def back(view: View, figure: Figure, light: Light, lattice: np.ndarray) -> Sprite | None:
    """Hair hanging behind the neck and shoulders (long hair, a bob, curls, a ponytail)."""
    hair = figure.person.hair
    if hair.style in ("short", "bun"):
        return None
    frame = HeadFrame(figure)
    cx, cy = frame.centre
    half = frame.half_width + hair.volume
    shoulder = figure.body.level("shoulder")
    if hair.style == "ponytail":
        side = 1 if hair.parting >= 0 else -1
        bottom = shoulder + hair.length * 0.6
        outline = smooth_curve(
            [
                (cx + side * 2.0, cy),
                (cx + side * 5.5, cy + 6.0),
                (cx + side * 5.0, bottom),
                (cx + side * 2.0, bottom + 2.0),
                (cx + side * 1.0, cy + 8.0),
            ],
            40,
            closed=True,
        )
    elif hair.style == "bob":
        bottom = cy + frame.half_height * 1.05 + hair.length * 0.08
        outline = smooth_curve(
            [
                (cx - half * 1.05, cy - 4.0),
                (cx - half * 1.12, bottom - 2.0),
                (cx - half * 0.9, bottom),
                (cx + half * 0.9, bottom),
                (cx + half * 1.12, bottom - 2.0),
                (cx + half * 1.05, cy - 4.0),
            ],
            40,
            closed=True,
        )
    else:
        reach = max(hair.length, 6.0) if hair.style != "curly" else hair.length * 0.4 + 3.0
        bottom = shoulder + reach
        spread = half + 1.5 + min(reach, 25.0) * 0.12
        outline = smooth_curve(
            [
                (cx - half * 1.05, cy - 5.0),
                (cx - spread, shoulder - 2.0),
                (cx - spread + 1.0, bottom - 3.0),
                (cx - spread * 0.6, bottom),
                (cx + spread * 0.6, bottom),
                (cx + spread - 1.0, bottom - 3.0),
                (cx + spread, shoulder - 2.0),
                (cx + half * 1.05, cy - 5.0),
            ],
            60,
            closed=True,
        )
    return _hanging(view, figure, light, lattice, outline, 0.72)


def front(view: View, figure: Figure, light: Light, lattice: np.ndarray) -> Sprite | None:
    """Long hair falling over one or both shoulders in front of the garment."""
    hair = figure.person.hair
    if hair.style != "long_front":
        return None
    frame = HeadFrame(figure)
    cx, cy = frame.centre
    shoulder = figure.body.level("shoulder")
    bottom = shoulder + max(hair.length, 8.0)
    neck = figure.body.neck_half
    outlines = []
    for index, side in enumerate((-1, 1)):
        if not hair.front_sides[index]:
            continue
        inner = cx + side * (frame.half_width * 0.8)
        width = 4.0 + hair.volume * 2.0
        outlines.append(
            smooth_curve(
                [
                    (inner, cy + 2.0),
                    (cx + side * (frame.half_width + hair.volume), cy + 1.0),
                    (cx + side * (neck + width + 2.0), shoulder - 1.0),
                    (cx + side * (neck + width + 1.0), bottom - 4.0),
                    (cx + side * (neck + width * 0.5 + 1.5), bottom),
                    (cx + side * (neck + 1.2), bottom - 6.0),
                    (cx + side * (neck + 0.5), shoulder - 3.0),
                    (inner - side * 0.5, cy + 6.0),
                ],
                60,
                closed=True,
            )
        )
    return _merge([_hanging(view, figure, light, lattice, outline, 1.0) for outline in outlines])


def _merge(sprites) -> Sprite | None:
    sprites = [s for s in sprites if s is not None]
    if not sprites:
        return None
    if len(sprites) == 1:
        return sprites[0]
    box = sprites[0].layer.box
    for sprite in sprites[1:]:
        other = sprite.layer.box
        box = Box(
            min(box.y0, other.y0),
            max(box.y1, other.y1),
            min(box.x0, other.x0),
            max(box.x1, other.x1),
        )
    alpha = np.zeros(box.shape, np.float32)
    rgb = np.zeros((*box.shape, 3), np.float32)
    for sprite in sprites:
        inner = sprite.layer.box.inner(box)
        a = sprite.layer.alpha
        rgb[inner] += (sprite.rgb - rgb[inner]) * a[..., None]
        alpha[inner] = np.maximum(alpha[inner], a)
    return Sprite(Layer(alpha, box), rgb, HAIR)
