"""Framing: VITON's crop of the person, and the larger photos (`--scene`) that contain it.

VITON frames a person head to mid-thigh in a 3:4 box: the crown a few pixels below the top edge,
the face about a sixth of the width, the shoulders over half of it. `Framing` samples that box
(with VITON's variation) in the scene's centimetres. A scene then chooses the photo around it:

- `viton`: the photo is the box (padded to the frame's aspect if the frame is not 3:4);
- `full-body`: head to feet with a margin, in a random aspect ratio (3:4, 2:3, 9:16, 1:1, 4:3);
- `offset`: a wider shot with the person off-centre and small, also in a random aspect ratio.

Whatever the scene, the VITON box is returned in the photo's pixels: cropping it and scaling the
crop to 192x256 gives the VITON framing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimization.data.synth_canvas import View
from optimization.data.synth_figure import Figure

SCENES = ("viton", "full-body", "offset")
ASPECTS = {"3:4": 0.75, "2:3": 2 / 3, "9:16": 9 / 16, "1:1": 1.0, "4:3": 4 / 3}
REFERENCE_HEIGHT = 256  # the VITON frame the camera's grain and blur are specified for


@dataclass(frozen=True)
class Framing:
    top_margin: float  # share of the box height above the crown
    bottom: float  # box bottom, in body levels (70 is mid-thigh)
    offset: float  # box centre right of the body centre, share of the box width
    eye_level: float  # camera height (cm, body levels)
    distance: float  # camera distance (cm)


@dataclass(frozen=True)
class Shot:
    scene: str
    view: View
    aspect: str
    box: tuple[float, float, float, float]  # VITON box (x, y, w, h), photo pixel edges
    reference_scale: float  # photo pixels per pixel of a 256-high VITON frame


def sample_framing(rng: np.random.Generator) -> Framing:
    return Framing(
        top_margin=rng.uniform(0.008, 0.045),
        bottom=rng.uniform(62.0, 80.0),
        offset=rng.normal(0.0, 0.035),
        eye_level=rng.uniform(5.0, 30.0),
        distance=rng.uniform(250.0, 450.0),
    )


def viton_box(figure: Figure, framing: Framing) -> tuple[float, float, float, float]:
    """The VITON box (x, y, w, h) in centimetres."""
    crown = figure.crown
    bottom = framing.bottom * figure.body.stature
    height = (bottom - crown) / (1.0 - framing.top_margin)
    width = height * 0.75
    centre = float(figure.centre(np.array(figure.body.level("armpit"))))
    return (
        centre - width / 2 + framing.offset * width,
        crown - framing.top_margin * height,
        width,
        height,
    )


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def frame_shot(
    scene: str, figure: Figure, box_cm, size: tuple[int, int], rng: np.random.Generator
) -> Shot:
    """The photo of `scene` around the VITON box `box_cm`, about `size` (height, width) pixels."""
    if scene not in SCENES:
        raise ValueError(f"unknown scene {scene!r}; choose from {', '.join(SCENES)}")
    bx, by, bw, bh = box_cm
    height, width = size
    if scene == "viton":
        aspect = "3:4" if abs(width / height - 0.75) < 1e-6 else f"{width}:{height}"
        scale = min(height / bh, width / bw)
        left = bx + bw / 2 - (width - 1) / 2 / scale
        top = by + bh / 2 - (height - 1) / 2 / scale
    else:
        aspect = list(ASPECTS)[int(rng.integers(len(ASPECTS)))]
        ratio = ASPECTS[aspect]
        height = _even(math.sqrt(size[0] * size[1] / ratio))
        width = _even(height * ratio)
        floor = figure.body.level("floor")
        crown = figure.crown
        if scene == "full-body":
            span = (floor - crown) * (1.0 + rng.uniform(0.06, 0.22))
            region_h = max(span, bh * 1.05, bw / ratio * 1.05)
        else:
            region_h = max((floor - crown) * rng.uniform(1.1, 2.2), bh * 1.3, bw / ratio * 1.3)
        scale = min(height / region_h, width / (bw * 1.02))
        region_h, region_w = height / scale, width / scale
        if scene == "full-body":
            body_top = crown - (region_h - (floor - crown)) * rng.uniform(0.3, 0.6)
            top = min(body_top, by)
            top = max(top, by + bh - region_h)
            slack = region_w - bw
            left = bx - slack * rng.uniform(0.35, 0.65)
        else:
            top = by - (region_h - bh) * rng.uniform(0.0, 1.0)
            left = bx - (region_w - bw) * rng.choice(
                [rng.uniform(0.0, 0.25), rng.uniform(0.75, 1.0)]
            )
    view = View(height, width, scale, left, top)
    # Pixel centres sit at integer coordinates; the box is given in edge coordinates, where the
    # frame spans (0, 0) to (width, height).
    pixels = ((bx - left) * scale + 0.5, (by - top) * scale + 0.5, bw * scale, bh * scale)
    return Shot(scene, view, aspect, pixels, scale * bh / REFERENCE_HEIGHT)
