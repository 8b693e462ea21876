"""Smooth random fields evaluated at world or garment coordinates, so they look the same at any size.

A field is a small tileable lattice of random values looked up (bicubic, wrapping) at coordinates
divided by its cell size. Because it is a function of centimetres, not of pixels, a scene rendered
at 1024x768 shows the same blotches as at 256x192; features smaller than a pixel are faded out
(`band_limit`) rather than aliased.
"""

from __future__ import annotations

import cv2
import numpy as np

_LATTICE = 64


def lattice(rng: np.random.Generator) -> np.ndarray:
    """A (64, 64) float32 lattice of zero-mean, unit-variance random values."""
    values = rng.standard_normal((_LATTICE, _LATTICE)).astype(np.float32)
    return (values - values.mean()) / max(float(values.std()), 1e-6)


def band_limit(cell_cm: float, pixel_cm: float) -> float:
    """Amplitude kept for features `cell_cm` wide when a pixel spans `pixel_cm`: 1 well above the
    pixel size, 0 below about one pixel."""
    return float(np.clip((cell_cm / max(pixel_cm, 1e-6) - 1.0) / 1.5, 0.0, 1.0))


def field(
    values: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    cell_cm: float | tuple[float, float],
    offset: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """The lattice `values` sampled at (x, y) cm with cells `cell_cm` wide (or (wide, high)).

    Returns (h, w) float32, about zero mean and unit variance.
    """
    cell_x, cell_y = (cell_cm, cell_cm) if np.isscalar(cell_cm) else cell_cm
    map_x = np.mod(x / np.float32(cell_x) + np.float32(offset[0]), _LATTICE).astype(np.float32)
    map_y = np.mod(y / np.float32(cell_y) + np.float32(offset[1]), _LATTICE).astype(np.float32)
    return cv2.remap(values, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_WRAP)


def fbm(
    values: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    cell_cm: float,
    octaves: int,
    pixel_cm: float,
    gain: float = 0.5,
) -> np.ndarray:
    """Fractal sum of `octaves` fields, each half the cell of the last, band-limited to the pixel."""
    total = np.zeros(np.shape(x), np.float32)
    amplitude, cell, norm = 1.0, cell_cm, 0.0
    for octave in range(octaves):
        keep = band_limit(cell, pixel_cm)
        if keep > 0:
            offset = (17.31 * octave, 5.77 * octave)
            total += np.float32(amplitude * keep) * field(values, x, y, cell, offset)
        norm += amplitude**2
        amplitude *= gain
        cell /= 2.0
    return total / np.float32(np.sqrt(norm))
