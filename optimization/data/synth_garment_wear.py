"""A synthetic garment worn: its texture mapped onto the torso through the body map and onto each
sleeve along its arm, with the drape's folds and sway (the flat style of `optimize synth`).
"""

from __future__ import annotations

import math

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
    GARMENT,
    GRID_X,
    GRID_Y,
    HEIGHT,
    WIDTH,
    Canvas,
    Layer,
    full_frame,
    gaussian_blur,
    lines_layer,
    quad_bezier,
)
from optimization.data.synth_garment import Drape
from optimization.data.synth_garment_build import Garment, sleeve_point


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
