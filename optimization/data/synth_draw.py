"""Drawing primitives for the synthetic try-on generator: anti-aliased layers, a layered canvas, colours.

Coordinates are pixel centres, x to the right and y down, on the 192 x 256 (W x H) VITON frame.
Shapes are drawn by OpenCV with 1/16 px precision into a crop around the shape, so painting a small
shape costs a small crop rather than the whole frame.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

HEIGHT, WIDTH = 256, 192
_SHIFT = 4
_FIXED = float(1 << _SHIFT)

# Owners of the final pixels; the try-on ground-truth mask is `owner == GARMENT`.
BACKGROUND, HAIR, SKIN, TROUSERS, GARMENT, ARM = 0, 1, 2, 3, 4, 5

GRID_Y, GRID_X = (grid.astype(np.float32) for grid in np.mgrid[0:HEIGHT, 0:WIDTH])
GRID_X.setflags(write=False)
GRID_Y.setflags(write=False)

FULL_BOX = (slice(0, HEIGHT), slice(0, WIDTH))


@dataclass(frozen=True, eq=False)
class Layer:
    """Coverage of one shape: `alpha` (h, w) float32 in [0, 1] over the frame region `box`."""

    alpha: np.ndarray
    box: tuple[slice, slice]

    @property
    def empty(self) -> bool:
        return self.alpha.size == 0


def box_around(points: np.ndarray, margin: float = 2.0) -> tuple[slice, slice]:
    """Frame region (rows, columns) covering `points` (N, 2) plus `margin` px, clipped to the frame."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    x0 = int(np.clip(np.floor(points[:, 0].min() - margin), 0, WIDTH))
    x1 = int(np.clip(np.ceil(points[:, 0].max() + margin) + 1, 0, WIDTH))
    y0 = int(np.clip(np.floor(points[:, 1].min() - margin), 0, HEIGHT))
    y1 = int(np.clip(np.ceil(points[:, 1].max() + margin) + 1, 0, HEIGHT))
    return slice(y0, max(y0, y1)), slice(x0, max(x0, x1))


def _fixed(points: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
    origin = np.array([box[1].start, box[0].start], np.float64)
    shifted = (np.asarray(points, np.float64).reshape(-1, 2) - origin) * _FIXED
    return np.round(shifted).astype(np.int32)


def _blank(box: tuple[slice, slice]) -> np.ndarray:
    return np.zeros((box[0].stop - box[0].start, box[1].stop - box[1].start), np.uint8)


def polygon_layer(*polygons: np.ndarray) -> Layer:
    """Union of filled polygons (each (N, 2) in frame pixels), anti-aliased."""
    box = box_around(np.concatenate([np.asarray(p, np.float64).reshape(-1, 2) for p in polygons]))
    canvas = _blank(box)
    if canvas.size:
        for polygon in polygons:
            cv2.fillPoly(canvas, [_fixed(polygon, box)], 255, lineType=cv2.LINE_AA, shift=_SHIFT)
    return Layer(canvas.astype(np.float32) * (1.0 / 255.0), box)


def ellipse_layer(centre: Sequence[float], axes: Sequence[float], angle_deg: float = 0.0) -> Layer:
    """Filled, anti-aliased ellipse with semi-axes `axes` (along, across) rotated by `angle_deg`."""
    reach = max(axes)
    corners = np.array(
        [[centre[0] - reach, centre[1] - reach], [centre[0] + reach, centre[1] + reach]]
    )
    box = box_around(corners)
    canvas = _blank(box)
    if canvas.size:
        centre_fixed = tuple(int(v) for v in _fixed(np.array(centre), box)[0])
        axes_fixed = (int(round(axes[0] * _FIXED)), int(round(axes[1] * _FIXED)))
        cv2.ellipse(
            canvas, centre_fixed, axes_fixed, float(angle_deg), 0, 360, 255, -1, cv2.LINE_AA, _SHIFT
        )
    return Layer(canvas.astype(np.float32) * (1.0 / 255.0), box)


def lines_layer(polylines: Sequence[np.ndarray], thickness: int, margin: float = 0.0) -> Layer:
    """Anti-aliased open polylines of `thickness` px; `margin` widens the crop (room for a blur)."""
    box = box_around(
        np.concatenate([np.asarray(p, np.float64).reshape(-1, 2) for p in polylines]),
        margin=thickness + 2 + margin,
    )
    canvas = _blank(box)
    if canvas.size:
        cv2.polylines(
            canvas,
            [_fixed(p, box) for p in polylines],
            False,
            255,
            int(thickness),
            cv2.LINE_AA,
            _SHIFT,
        )
    return Layer(canvas.astype(np.float32) * (1.0 / 255.0), box)


def full_frame(layer: Layer) -> np.ndarray:
    """The layer's coverage as a (H, W) float32 frame."""
    frame = np.zeros((HEIGHT, WIDTH), np.float32)
    frame[layer.box] = layer.alpha
    return frame


class Canvas:
    """An RGB float32 frame in [0, 255] painted back to front, remembering who owns each pixel."""

    def __init__(self, rgb: np.ndarray):
        self.rgb = np.array(np.broadcast_to(rgb, (HEIGHT, WIDTH, 3)), np.float32)
        self.owner = np.zeros((HEIGHT, WIDTH), np.uint8)

    def copy(self) -> Canvas:
        twin = Canvas.__new__(Canvas)
        twin.rgb = self.rgb.copy()
        twin.owner = self.owner.copy()
        return twin

    def paint(self, layer: Layer, paint: np.ndarray | Sequence[float], owner: int) -> None:
        """Blend `paint` (an RGB colour, a full frame or an array the size of the layer) over the layer.

        A pixel changes owner when the layer covers at least half of it.
        """
        if layer.empty:
            return
        paint = np.asarray(paint, np.float32)
        if (
            paint.ndim == 3
            and paint.shape[:2] == (HEIGHT, WIDTH)
            and layer.alpha.shape != (HEIGHT, WIDTH)
        ):
            paint = paint[layer.box]
        region = self.rgb[layer.box]
        region += (paint - region) * layer.alpha[..., None]
        self.owner[layer.box][layer.alpha >= 0.5] = owner

    def shade(
        self, factor: np.ndarray, box: tuple[slice, slice], skip_owner: int = BACKGROUND
    ) -> None:
        """Multiply the region `box` by `factor` (h, w), leaving pixels owned by `skip_owner` alone."""
        keep = self.owner[box] == skip_owner
        self.rgb[box] *= np.where(keep, 1.0, factor)[..., None]

    def to_uint8(self) -> np.ndarray:
        return np.clip(self.rgb + 0.5, 0, 255).astype(np.uint8)


def hsv_colour(hue: float, saturation: float, value: float) -> list[int]:
    """RGB 0..255 ints of an HSV colour (hue wraps around 1)."""
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return [int(round(255 * red)), int(round(255 * green)), int(round(255 * blue))]


def luminance(colour: Sequence[float]) -> float:
    return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]


def scaled(colour: Sequence[float], factor: float) -> np.ndarray:
    """A colour darkened (factor < 1) or lightened, as float32 RGB."""
    return np.clip(np.asarray(colour, np.float32) * factor, 0, 255)


def mix(first: Sequence[float], second: Sequence[float], weight: float) -> np.ndarray:
    """`first` moved towards `second` by `weight`, as float32 RGB."""
    first, second = np.asarray(first, np.float32), np.asarray(second, np.float32)
    return first + (second - first) * weight


def quad_bezier(
    start: Sequence[float], control: Sequence[float], end: Sequence[float], count: int = 12
) -> np.ndarray:
    """`count` points (count, 2) of the quadratic Bezier curve from `start` to `end`."""
    t = np.linspace(0.0, 1.0, count)[:, None]
    start, control, end = (np.asarray(p, np.float64) for p in (start, control, end))
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end


def interp_linear(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation through (xp, fp), extended linearly beyond both ends."""
    xp = np.asarray(xp, np.float64)
    fp = np.asarray(fp, np.float64)
    inside = np.interp(x, xp, fp)
    low_slope = (fp[1] - fp[0]) / (xp[1] - xp[0])
    high_slope = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    below = fp[0] + (x - xp[0]) * low_slope
    above = fp[-1] + (x - xp[-1]) * high_slope
    return np.where(x < xp[0], below, np.where(x > xp[-1], above, inside))


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma), borderType=cv2.BORDER_REPLICATE)
