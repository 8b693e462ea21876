"""The head and face: a rounded skull and jaw, features modelled as soft relief and soft colour.

Nothing here is an outline. The face is a smooth form (an ellipsoid) with a relief of brow ridge,
eye sockets, nose, cheekbones, lips and chin, lit by the scene's key light, so the nose throws its
shadow to the side away from the light and the eye sockets fall into shade as in a photograph.
Colour then adds the eyes (sclera, iris, pupil, lash line), brows, lips and a blush. Features are
placed in *head units* (the skull's half-width and half-height are 1), so the face keeps its
proportions at any size and is tilted and turned with the head.
"""

from __future__ import annotations

import math

import numpy as np

from optimization.data.synth_canvas import HEAD, Layer, Sprite, View, polygons, smooth_curve
from optimization.data.synth_figure import Figure
from optimization.data.synth_folds import slopes
from optimization.data.synth_light import Light
from optimization.data.synth_noise import fbm
from optimization.data.synth_skin import skin_colour

_OUTLINE = [
    (0.0, -1.0),
    (0.55, -0.92),
    (0.88, -0.62),
    (0.98, -0.22),
    (0.95, 0.1),
    (0.86, 0.4),
    (0.62, 0.76),
    (0.3, 0.95),
    (0.0, 0.99),
    (-0.3, 0.95),
    (-0.62, 0.76),
    (-0.86, 0.4),
    (-0.95, 0.1),
    (-0.98, -0.22),
    (-0.88, -0.62),
    (-0.55, -0.92),
]


class HeadFrame:
    """World <-> head units for the figure's head (tilted by the face's roll)."""

    def __init__(self, figure: Figure):
        self.centre = figure.head_centre
        self.half_width, self.half_height = figure.head_axes
        self.roll = math.radians(figure.person.face.roll)
        self.yaw = figure.person.face.yaw

    def to_world(self, points) -> np.ndarray:
        points = np.asarray(points, np.float64) * np.array([self.half_width, self.half_height])
        c, s = math.cos(self.roll), math.sin(self.roll)
        rotated = np.stack(
            [points[:, 0] * c - points[:, 1] * s, points[:, 0] * s + points[:, 1] * c], 1
        )
        return rotated + self.centre

    def to_head(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx, dy = xs - np.float32(self.centre[0]), ys - np.float32(self.centre[1])
        c, s = np.float32(math.cos(self.roll)), np.float32(math.sin(self.roll))
        return (dx * c + dy * s) / np.float32(self.half_width), (-dx * s + dy * c) / np.float32(
            self.half_height
        )

    def outline(self) -> np.ndarray:
        points = np.array(_OUTLINE) * np.array([0.93, 1.0])  # the face is narrower than the skull
        # A turned head shows more of one cheek: squeeze the side it turns towards.
        points[:, 0] += self.yaw * 0.06 * (1 - points[:, 1] ** 2)
        return self.to_world(smooth_curve(points, 64, closed=True))


def _blob(x, y, cx, cy, sx, sy) -> np.ndarray:
    return np.exp(-(((x - cx) / sx) ** 2) - ((y - cy) / sy) ** 2).astype(np.float32)


def _thin(x, y, cx, cy, sx, width: float, pixel: float) -> np.ndarray:
    """A soft line `width` head units thick: thinner than a pixel it gets fainter, not wider."""
    drawn = max(width, pixel * 0.7)
    return _blob(x, y, cx, cy, sx, drawn) * np.float32(width / drawn)


def _soft(distance: np.ndarray, edge: float) -> np.ndarray:
    """Coverage of the inside (negative distance) with an edge `edge` wide."""
    return np.clip(0.5 - distance / np.float32(edge), 0, 1).astype(np.float32)


def head(view: View, figure: Figure, light: Light, noise: np.ndarray) -> Sprite:
    """The face and ears, lit; the hair is painted over it by `synth_hair`."""
    frame = HeadFrame(figure)
    person = figure.person
    face, skin = person.face, person.skin
    ears = [
        frame.to_world(
            smooth_curve(
                [(side * 0.9, -0.05), (side * 1.12, 0.0), (side * 1.1, 0.3), (side * 0.92, 0.4)], 20
            )
        )
        for side in (-1, 1)
    ]
    layer = polygons(view, [frame.outline(), *ears])
    xs, ys = view.grid(layer.box)
    hx, hy = frame.to_head(xs, ys)
    turn = np.float32(face.yaw * 0.17)
    fx = hx - turn  # feature coordinates follow the turn of the face
    nose_x = turn * np.float32(0.6)
    pixel = 1.0 / (view.scale * frame.half_width)  # one pixel in head units
    unit = np.float32(frame.half_width)

    relief = (
        0.7 * _blob(fx, hy, nose_x, 0.14, 0.13, 0.22) * np.clip((0.36 - hy) * 8, 0, 1)
        + 0.35 * _blob(fx, hy, nose_x, 0.3, 0.13, 0.07)
        + 0.25 * _blob(fx, hy, nose_x, -0.16, 0.5, 0.06)
        - 0.8 * (_blob(fx, hy, -0.37, 0.0, 0.2, 0.11) + _blob(fx, hy, 0.37, 0.0, 0.2, 0.11))
        + 0.3 * (_blob(fx, hy, -0.55, 0.16, 0.2, 0.15) + _blob(fx, hy, 0.55, 0.16, 0.2, 0.15))
        + 0.35 * _blob(fx, hy, nose_x * 0.6, 0.53, 0.22, 0.06)
        - 0.28 * _blob(fx, hy, nose_x * 0.5, 0.665, 0.18, 0.035)
        + 0.45 * _blob(fx, hy, nose_x * 0.4, 0.86, 0.25, 0.1)
    ).astype(np.float32)
    sx, sy = slopes(relief, view.scale)
    nx = np.clip(hx * np.float32(0.92), -0.95, 0.95) + sx
    ny = np.clip(hy * np.float32(0.45) - np.float32(0.08), -0.9, 0.9) + sy

    mottle = fbm(noise, xs, ys, 2.5, 3, 1.0 / view.scale)
    rgb = skin_colour(skin, light, np.clip(nx, -0.98, 0.98), np.clip(ny, -0.98, 0.98), mottle)
    base = np.asarray(skin.rgb, np.float32)

    def blend(colour, coverage):
        nonlocal rgb
        rgb += (np.asarray(colour, np.float32) - rgb) * coverage[..., None]

    lit = rgb.mean() / max(float(base.mean()), 1.0)
    # Blush and the warmer, darker lips.
    cheeks = _blob(fx, hy, -0.52, 0.3, 0.2, 0.14) + _blob(fx, hy, 0.52, 0.3, 0.2, 0.14)
    rgb *= 1.0 + np.float32(0.08 * skin.blush) * cheeks[..., None] * np.array(
        [0.2, -0.5, -0.45], np.float32
    )
    mouth_x = nose_x * 0.55
    smile = np.float32(face.smile * 0.04) * ((fx - mouth_x) / 0.24) ** 2
    upper = ((fx - mouth_x) / 0.25) ** 2 + ((hy + smile - 0.5) / 0.034) ** 2 - 1
    lower = ((fx - mouth_x) / 0.22) ** 2 + ((hy + smile * 0.5 - 0.565) / 0.048) ** 2 - 1
    lips = np.maximum(_soft(upper, 2 * pixel / 0.03), _soft(lower, 2 * pixel / 0.045))
    lip_colour = np.asarray(face.lips_rgb, np.float32) * rgb / np.maximum(base, 1.0)
    blend(lip_colour * np.float32(0.95), lips * 0.85)
    line = _thin(fx, hy + smile, mouth_x, 0.528, 0.22, 0.016, pixel)
    rgb *= (1.0 - 0.45 * line)[..., None]
    rgb *= (1.0 + 0.12 * _blob(fx, hy, mouth_x, 0.575, 0.08, 0.02))[..., None]  # lower lip sheen
    # Nostrils.
    for side in (-1, 1):
        nostril = _thin(fx, hy, nose_x + side * 0.07, 0.365, max(0.035, pixel), 0.018, pixel)
        rgb *= (1.0 - 0.25 * nostril)[..., None]
    # Eyes: sclera, iris and pupil inside an almond, the upper lash line and the lid crease.
    gaze = np.float32(face.yaw * 0.04)
    for side in (-1, 1):
        ex, ey = side * 0.37, 0.0
        half_w = 0.19
        opening = 0.055 * np.clip(1 - ((fx - ex) / half_w) ** 2, 0, 1) ** 0.7
        within = (np.abs(fx - ex) < half_w).astype(np.float32)
        inside = _soft(np.abs(hy - ey + 0.008) - opening, max(pixel * 2.2, 0.01)) * within
        socket = _blob(fx, hy, ex, ey - 0.02, 0.24, 0.12)
        rgb *= (1.0 - 0.08 * socket)[..., None]
        sclera = np.array([200.0, 192.0, 186.0], np.float32) * np.float32(lit)
        blend(sclera, inside * 0.4)
        iris_r = 0.078
        iris_d = np.hypot(
            (fx - ex - gaze) / iris_r, (hy - ey) * (unit / frame.half_height) / iris_r
        )
        iris = _soft(iris_d - 1, 2 * pixel / iris_r) * inside
        blend(np.asarray(face.eye_rgb, np.float32) * lit, iris)
        blend(
            np.array([12.0, 10.0, 10.0], np.float32),
            _soft(iris_d - 0.42, 2 * pixel / iris_r) * inside,
        )
        lash = _thin(fx, hy, ex + side * 0.02, ey - 0.045, 0.2, 0.018 * (1 + face.makeup), pixel)
        lash *= np.clip(1.3 - ((fx - ex) / 0.22) ** 2, 0, 1)
        rgb *= (1.0 - (0.35 + 0.3 * face.makeup) * lash)[..., None]
        crease = _thin(fx, hy, ex, ey - 0.1, 0.18, 0.02, pixel)
        rgb *= (1.0 - 0.12 * crease)[..., None]
        lower_lid = _thin(fx, hy, ex, ey + 0.06, 0.17, 0.012, pixel)
        rgb *= (1.0 - 0.12 * lower_lid)[..., None]
    # Brows: tapered arcs in a darker hair colour.
    hair = np.asarray(person.hair.rgb, np.float32)
    brow_colour = np.minimum(hair * 0.75, np.float32(150)) if hair.mean() > 120 else hair * 0.9
    for side in (-1, 1):
        t = np.clip((fx * side - 0.1) / 0.55, 0, 1)
        centre_y = -0.185 - 0.05 * np.sin(t * math.pi * 0.85)
        thickness = np.float32(0.026 * face.brow) * (1.1 - 0.7 * t)
        inside_x = _soft(np.abs(fx * side - 0.39) - 0.28, 2 * pixel)
        brow = _soft(np.abs(hy - centre_y) - thickness, max(pixel * 1.5, 0.012)) * inside_x
        blend(brow_colour * lit, brow * 0.7)
    alpha = layer.alpha
    return Sprite(Layer(alpha, layer.box), np.clip(rgb, 0, 255), HEAD)
