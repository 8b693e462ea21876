"""The studio backdrop: a light grey or white seamless paper with a soft gradient, a floor, a contact shadow.

The backdrop is defined in the scene's centimetres, so the VITON crop of a full-body photo shows
the same gradient as a VITON-framed render of the same scene. The paper curves into the floor
about the person's feet, where it turns a little darker and the feet cast a soft shadow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimization.data.synth_canvas import Canvas, View, blur, ellipse_points, polygons
from optimization.data.synth_figure import Figure


@dataclass(frozen=True)
class Backdrop:
    rgb: tuple[float, float, float]
    falloff: float  # how much darker the paper gets away from the light spot
    spot: tuple[float, float]  # light spot centre (cm)
    spot_size: float  # cm
    floor_shade: float


def sample_backdrop(rng: np.random.Generator) -> Backdrop:
    grey = rng.uniform(214, 246) if rng.random() < 0.8 else rng.uniform(190, 214)
    tint = rng.normal(0.0, 0.008)
    return Backdrop(
        rgb=(grey * (1 - tint), grey, grey * (1 + tint)),
        falloff=rng.uniform(0.03, 0.14),
        spot=(rng.uniform(-40, 40), rng.uniform(-30, 40)),
        spot_size=rng.uniform(60, 140),
        floor_shade=rng.uniform(0.04, 0.14),
    )


def paint_backdrop(view: View, figure: Figure, backdrop: Backdrop) -> Canvas:
    """A canvas holding the backdrop (and the feet's contact shadow)."""
    xs, ys = view.grid(view.frame)
    distance2 = (xs - np.float32(backdrop.spot[0])) ** 2 + (ys - np.float32(backdrop.spot[1])) ** 2
    light = 1.0 + np.float32(backdrop.falloff) * (
        0.5 - distance2 / np.float32(backdrop.spot_size**2)
    )
    light = np.clip(light, 0.75, 1.08)
    floor = figure.body.level("floor")
    # Wall curving into the floor: darker below, through a soft 25 cm bend.
    bend = np.clip((ys - np.float32(floor - 20.0)) / 25.0, 0, 1)
    light = light * (1.0 - np.float32(backdrop.floor_shade) * bend * bend * (3 - 2 * bend))
    canvas = Canvas(np.asarray(backdrop.rgb, np.float32) * light[..., None])
    contacts = [ellipse_points((leg.ankle[0], floor - 0.3), (9.0, 1.8)) for leg in figure.legs]
    contact = polygons(view, contacts)
    if not contact.box.empty:
        soft = blur(contact.within(view.frame), view.px(1.5))
        canvas.rgb *= (1.0 - 0.45 * soft)[..., None]
    return canvas
