"""Small helpers shared by the realistic generator's samplers: weighted choices, colours, JSON records."""

from __future__ import annotations

import colorsys
import dataclasses
from collections.abc import Sequence

import numpy as np


def pick(rng: np.random.Generator, options: Sequence, weights: Sequence[float] | None = None):
    """One of `options`, uniformly or with relative `weights`."""
    if weights is None:
        return options[int(rng.integers(len(options)))]
    p = np.asarray(weights, np.float64)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def hsv(hue: float, saturation: float, value: float) -> tuple[float, float, float]:
    """RGB in [0, 255] of an HSV colour (hue wraps around 1)."""
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return (255.0 * red, 255.0 * green, 255.0 * blue)


def jitter(rng: np.random.Generator, colour: Sequence[float], spread: float) -> tuple:
    """`colour` with each channel moved by up to `spread` (and a shared brightness change)."""
    shared = rng.normal(0.0, spread)
    return tuple(float(np.clip(c + shared + rng.normal(0.0, spread * 0.5), 0, 255)) for c in colour)


def luminance(colour: Sequence[float]) -> float:
    return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]


def jsonable(value):
    """A dataclass tree as plain JSON values: floats rounded to 3 decimals, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return round(float(value), 3)
    return value
