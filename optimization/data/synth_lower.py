"""Below the top: jeans, trousers, leggings or a skirt, bare legs under a skirt, and shoes.

The lower garment is one shape from the waistband down: the hips follow the body's profile, then
each trouser leg is a tapering tube along the leg's bones (a skirt flares to its hem instead). It
is shaded as rounded forms, with the details a camera picks up at catalogue framing: the
waistband and its seam, belt loops, the fly and front pockets, a button; for jeans the twill,
whiskers at the crotch and lighter thigh fronts; for trousers a pressed crease.
"""

from __future__ import annotations

import numpy as np

from optimization.data.synth_apparel import Fabric
from optimization.data.synth_canvas import (
    LOWER,
    Layer,
    Sprite,
    View,
    ellipse_points,
    polygons,
    smooth_curve,
    strokes,
)
from optimization.data.synth_fabric import fabric_albedo
from optimization.data.synth_figure import Figure
from optimization.data.synth_folds import height_field, slopes
from optimization.data.synth_light import Light, diffuse, glint


def _fabric(kind: str, rgb) -> Fabric:
    weave = {"jeans": "twill", "leggings": "jersey", "skirt": "poplin"}.get(kind, "poplin")
    sheen = {"leggings": 0.5, "skirt": 0.15}.get(kind, 0.05)
    return Fabric(
        weave=weave,
        rgb=tuple(rgb),
        second_rgb=tuple(rgb),
        pattern="solid",
        period=1.0,
        duty=0.5,
        angle=0.0,
        sheen=sheen,
        trim_rgb=tuple(rgb),
    )


def _leg_edges(figure: Figure, leg, widths, hem_y: float):
    """Outer and inner edges of one trouser leg, from the hip joint down to `hem_y`."""
    t = np.linspace(0.0, 1.0, 24)
    points = np.array([leg.hip, leg.knee, leg.ankle])
    axis = np.stack(
        [np.interp(t, [0, 0.45, 1], points[:, 0]), np.interp(t, [0, 0.45, 1], points[:, 1])], 1
    )
    keep = axis[:, 1] <= hem_y
    axis = axis[keep] if keep.sum() >= 2 else axis[:2]
    # Thighs keep their width to mid-thigh, then taper to the knee.
    half = np.interp(t[: len(axis)], [0, 0.22, 0.45, 1], [widths[0], widths[0] * 0.93, *widths[1:]])
    direction = np.gradient(axis, axis=0)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    normal = np.stack([direction[:, 1], -direction[:, 0]], axis=1) * leg.side
    return axis, axis + normal * half[:, None], axis - normal * half[:, None]


def _outline(figure: Figure) -> tuple[np.ndarray, list]:
    """World outline of the lower garment and the axes of its legs (empty for a skirt)."""
    body, lower = figure.body, figure.person.lower
    top = lower.rise
    leg_top = figure.legs[0].hip[1]
    ys = np.linspace(top, leg_top, 10)
    ease = {"leggings": 0.0, "jeans": 0.4}.get(lower.kind, 0.9)
    right_hip = np.stack([figure.centre(ys) + figure.half(ys) + ease, ys], 1)
    left_hip = np.stack([figure.centre(ys) - figure.half(ys) - ease, ys], 1)
    if lower.kind == "skirt":
        flare = 2.0 + lower.fit * 9.0
        hem = lower.hem
        right = smooth_curve(
            [
                right_hip[0],
                right_hip[-1],
                (figure.centre(np.array(hem)) + body.hip_half + flare, hem),
            ],
            24,
        )
        left = right[::-1] * np.array([-1.0, 1.0]) + np.array(
            [2 * float(figure.centre(np.array(hem))), 0.0]
        )
        hemline = np.array([[right[-1][0], hem], [0.0, hem + 1.0], [left[0][0], hem]])
        return np.concatenate([right, hemline[1:2], left]), []
    hem_y = body.level("ankle") + 2.0
    thigh = body.thigh_half + ease
    widths = [thigh, 5.6 + ease * 0.8 + lower.fit * 2.0, 3.8 + ease * 0.6 + lower.fit * 4.0]
    axes, pieces = [], []
    for leg in figure.legs:
        axis, outer, inner = _leg_edges(figure, leg, widths, hem_y)
        axes.append(
            (
                axis,
                np.interp(
                    np.linspace(0, 1, len(axis)),
                    [0, 0.22, 0.45, 1],
                    [widths[0], widths[0] * 0.93, *widths[1:]],
                ),
            )
        )
        pieces.append((outer, inner))
    (left_outer, left_inner), (right_outer, right_inner) = pieces
    crotch_y = body.level("crotch")
    crotch = np.array([[float(figure.centre(np.array(crotch_y))), crotch_y]])
    # The inseams start at the crotch: the legs' inner edges above it are inside the garment.
    right_inner = right_inner[right_inner[:, 1] > crotch_y + 0.5]
    left_inner = left_inner[left_inner[:, 1] > crotch_y + 0.5]
    outline = np.concatenate(
        [
            right_hip,
            right_outer[1:],
            right_inner[::-1],
            crotch,
            left_inner,
            left_outer[::-1][:-1],
            left_hip[::-1],
        ]
    )
    return outline, axes


def lower_garment(view: View, figure: Figure, light: Light, lattice_rng: np.random.Generator):
    """The lower garment's sprite and, under a skirt, the hem height (else None)."""
    lower, body = figure.person.lower, figure.body
    outline, axes = _outline(figure)
    layer = polygons(view, [outline])
    if layer.box.empty:
        return None
    xs, ys = view.grid(layer.box)
    pixel = 1.0 / view.scale
    albedo = fabric_albedo(_fabric(lower.kind, lower.rgb), xs, ys, pixel, lattice_rng)
    centre, half = figure.centre(ys), figure.half(ys)
    hip_ratio = np.clip((xs - centre) / (half + 1.0), -1.2, 1.2)
    if axes:
        distances = []
        for axis, widths in axes:
            along = np.interp(ys, axis[:, 1], np.arange(len(axis)))
            axis_x = np.interp(along, np.arange(len(axis)), axis[:, 0])
            width = np.interp(along, np.arange(len(axis)), widths)
            distances.append((xs - axis_x) / width)
        leg_ratio = np.where(
            np.abs(distances[0]) < np.abs(distances[1]), distances[0], distances[1]
        )
        blend = np.clip((ys - (figure.legs[0].hip[1] - 4.0)) / 6.0, 0, 1)
        ratio = hip_ratio * (1 - blend) + np.clip(leg_ratio, -1.2, 1.2) * blend
    else:
        ratio = hip_ratio
    top = lower.rise
    lines = [(np.array([[-30.0, top + 3.6], [30.0, top + 3.6]]), -0.2, 0.3)]
    waist_half = float(figure.half(np.array(top))) + 0.5
    marks = [np.array([[-30.0, top + 3.6], [30.0, top + 3.6]])]
    if lower.kind in ("jeans", "trousers"):
        fly = smooth_curve([(1.6, top + 3.6), (1.8, top + 13.0), (0.2, top + 17.0)], 16)
        marks.append(fly)
        lines.append((np.array([[0.0, top + 3.0], [0.0, top + 17.0]]), -0.3, 0.4))
        for side in (-1, 1):
            hip_at = float(figure.half(np.array(top + 9.0))) + 0.4
            pocket = smooth_curve(
                [
                    (side * waist_half * 0.45, top + 0.3),
                    (side * waist_half * 0.7, top + 6.0),
                    (side * hip_at, top + 9.0),
                ],
                12,
            )
            lines.append((pocket, -0.4, 0.5))
            marks.append(pocket)
            for offset in (0.42, 0.85):
                x = side * waist_half * offset
                lines.append((np.array([[x, top], [x, top + 4.0]]), 0.25, 0.5))
    if lower.kind == "jeans":
        for side in (-1, 1):
            for k in range(3):
                start = np.array([side * (1.5 + k * 1.2), body.level("crotch") - 3.0 + k])
                end = start + np.array([side * (7.0 - k), -3.0 - k * 1.5])
                lines.append((np.stack([start, end]), -0.25, 0.5))
    if lower.kind == "trousers":
        for axis, _ in axes:
            lines.append((axis[1:], 0.3, 0.35))
    if lower.kind == "skirt":
        for k in range(int(3 + lower.fit * 5)):
            x = (k / max(2 + lower.fit * 5, 1) - 0.5) * 2 * (body.hip_half + 2)
            lines.append(
                (
                    np.array([[x * 0.6, body.level("hip")], [x, lower.hem]]),
                    0.15 + 0.35 * lower.fit,
                    2.2,
                )
            )
    if axes:
        for axis, _ in axes:
            for fraction in (0.42, 0.47, 0.9, 0.94):
                y = float(np.interp(fraction, np.linspace(0, 1, len(axis)), axis[:, 1]))
                x = float(np.interp(y, axis[:, 1], axis[:, 0]))
                lines.append(
                    (np.array([[x - 5, y - 1.0], [x, y + 0.5], [x + 5, y - 1.0]]), 0.3, 0.7)
                )
    relief = height_field(view, layer.box, lines)
    sx, sy = slopes(relief, view.scale)
    nx = ratio * np.float32(0.8) + sx
    ny = sy
    brightness = diffuse(light, nx, ny)
    rgb = albedo * (brightness * np.float32(1.0))[..., None] * np.asarray(light.tint, np.float32)
    if lower.kind == "jeans" and lower.fade > 0:
        legs = np.exp(-((ratio / 0.5) ** 2)) * np.clip((ys - body.level("crotch") + 12) / 10, 0, 1)
        rgb *= (1.0 + np.float32(lower.fade * 0.5) * legs)[..., None]
        whiskers = height_field(view, layer.box, [(line, 1.0, 0.6) for line, _, _ in lines[-6:]])
        rgb *= (1.0 + np.float32(0.15 + lower.fade * 0.3) * np.clip(whiskers, 0, 1))[..., None]
    stitch = strokes(view, marks, 0.1).within(layer.box)
    thread = (
        np.array([200.0, 150.0, 80.0]) if lower.kind == "jeans" else np.asarray(lower.rgb) * 0.7
    )
    rgb += (np.asarray(thread, np.float32) * brightness[..., None] - rgb) * (stitch * 0.35)[
        ..., None
    ]
    if lower.kind == "jeans":
        button = polygons(view, [ellipse_points((0.0, top + 1.8), (0.7, 0.7), count=16)]).within(
            layer.box
        )
        metal = np.array([150.0, 140.0, 120.0], np.float32) * brightness[..., None]
        rgb += (metal - rgb) * button[..., None]
    sheen = _fabric(lower.kind, lower.rgb).sheen
    if sheen > 0.1:
        rgb += (glint(light, nx, ny, 12.0) * np.float32(sheen * 60))[..., None]
    return Sprite(Layer(layer.alpha, layer.box), np.clip(rgb, 0, 255), LOWER)


def shoes(view: View, figure: Figure, light: Light) -> Sprite | None:
    """Shoes on the floor under the ankles (seen only in full-body scenes)."""
    person = figure.person
    floor = figure.body.level("floor")
    outlines = []
    for leg in figure.legs:
        x, y = leg.ankle
        side = leg.side
        if person.shoes == "boots":
            top = y - 12.0
        else:
            top = y + 1.5
        outlines.append(
            smooth_curve(
                [
                    (x - 3.6, top),
                    (x + 3.6, top),
                    (x + 4.4 + side * 0.8, floor - 2.5),
                    (x + side * 1.0 + 3.8, floor),
                    (x + side * 1.0 - 3.8, floor),
                    (x - 4.4 + side * 0.8, floor - 2.5),
                ],
                30,
                closed=True,
            )
        )
    layer = polygons(view, outlines)
    if layer.box.empty:
        return None
    xs, ys = view.grid(layer.box)
    nearest = np.where(xs < 0, figure.legs[0].ankle[0], figure.legs[1].ankle[0])
    ratio = np.clip((xs - nearest) / 4.5, -1, 1)
    brightness = diffuse(
        light, ratio * np.float32(0.7), np.float32(-0.3) * np.clip((floor - 2 - ys) / 4, 0, 1)
    )
    rgb = np.asarray(person.shoes_rgb, np.float32) * brightness[..., None]
    rgb += (glint(light, ratio * np.float32(0.7), np.zeros_like(ratio), 20.0) * 40.0)[..., None]
    sole = np.clip((ys - (floor - 1.0)) * np.float32(view.scale), 0, 1)
    rgb += (np.float32(225.0) - rgb) * (sole * (0.8 if person.shoes == "sneakers" else 0.0))[
        ..., None
    ]
    return Sprite(layer, np.clip(rgb, 0, 255), LOWER)
