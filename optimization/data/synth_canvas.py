"""Raster primitives of the realistic generator: a camera view of world centimetres, boxes, layers, a canvas.

The realistic scenes are modelled in centimetres (x right, y down, origin at the base of the
person's neck) and photographed by a `View` that maps them to the pixels of a frame of any size.
Every shape is drawn from its world outline at the view's scale, so the same scene renders at
256x192 or 1024x768 alike; widths of strokes and blurs are given in centimetres too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

_SHIFT = 4  # OpenCV's sub-pixel bits: shapes land on 1/16 px
_FIXED = float(1 << _SHIFT)

# Owners of the final pixels; the try-on ground-truth mask is `owner == GARMENT`.
BACKGROUND, HAIR, SKIN, LOWER, GARMENT, ARM, HEAD = 0, 1, 2, 3, 4, 5, 6


@dataclass(frozen=True)
class Box:
    """A pixel rectangle: rows `y0:y1`, columns `x0:x1` (may be empty)."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0

    @property
    def empty(self) -> bool:
        return self.y1 <= self.y0 or self.x1 <= self.x0

    def intersect(self, other: Box) -> Box:
        y0, x0 = max(self.y0, other.y0), max(self.x0, other.x0)
        return Box(y0, max(y0, min(self.y1, other.y1)), x0, max(x0, min(self.x1, other.x1)))

    def grow(self, pixels: int, limit: Box) -> Box:
        grown = Box(self.y0 - pixels, self.y1 + pixels, self.x0 - pixels, self.x1 + pixels)
        return grown.intersect(limit)

    def inner(self, outer: Box) -> tuple[slice, slice]:
        """Where this box lies inside the array of `outer` (this box must lie within it)."""
        return (
            slice(self.y0 - outer.y0, self.y1 - outer.y0),
            slice(self.x0 - outer.x0, self.x1 - outer.x0),
        )


@dataclass(frozen=True)
class View:
    """A camera looking at world centimetres: pixel = (world - (left, top)) * scale.

    Pixel coordinates are pixel centres: pixel (0, 0) sees the world point (left, top).
    """

    height: int
    width: int
    scale: float  # pixels per centimetre
    left: float
    top: float

    @property
    def frame(self) -> Box:
        return Box(0, self.height, 0, self.width)

    def to_pixels(self, points) -> np.ndarray:
        """World points (N, 2) in cm -> pixel coordinates (N, 2)."""
        points = np.asarray(points, np.float64).reshape(-1, 2)
        return (points - np.array([self.left, self.top])) * self.scale

    def px(self, centimetres: float) -> float:
        return float(centimetres) * self.scale

    def box(self, points, margin_cm: float = 0.0) -> Box:
        """The frame pixels within `margin_cm` of the bounding box of world `points`."""
        pixels = self.to_pixels(points)
        margin = margin_cm * self.scale + 2.0
        x0 = int(np.floor(pixels[:, 0].min() - margin))
        x1 = int(np.ceil(pixels[:, 0].max() + margin)) + 1
        y0 = int(np.floor(pixels[:, 1].min() - margin))
        y1 = int(np.ceil(pixels[:, 1].max() + margin)) + 1
        return Box(y0, y1, x0, x1).intersect(self.frame)

    def grid(self, box: Box) -> tuple[np.ndarray, np.ndarray]:
        """World coordinates (x, y) in cm of the pixel centres of `box`, each (h, w) float32."""
        xs = (np.arange(box.x0, box.x1, dtype=np.float32) / np.float32(self.scale)) + np.float32(
            self.left
        )
        ys = (np.arange(box.y0, box.y1, dtype=np.float32) / np.float32(self.scale)) + np.float32(
            self.top
        )
        return np.broadcast_to(xs[None, :], box.shape), np.broadcast_to(ys[:, None], box.shape)


@dataclass(frozen=True, eq=False)
class Layer:
    """Coverage of a shape: `alpha` (h, w) float32 in [0, 1] over the frame pixels `box`."""

    alpha: np.ndarray
    box: Box

    @property
    def empty(self) -> bool:
        return self.box.empty or not self.alpha.any()

    def within(self, box: Box) -> np.ndarray:
        """This coverage re-cut to `box` (zero where it has none)."""
        out = np.zeros(box.shape, np.float32)
        common = self.box.intersect(box)
        if not common.empty:
            out[common.inner(box)] = self.alpha[common.inner(self.box)]
        return out

    def times(self, factor: np.ndarray | float) -> Layer:
        return Layer((self.alpha * factor).astype(np.float32), self.box)


@dataclass(frozen=True, eq=False)
class Sprite:
    """A painted piece of the picture: colour (h, w, 3) float32 in [0, 255] under `layer`."""

    layer: Layer
    rgb: np.ndarray
    owner: int


def _fixed(pixels: np.ndarray, box: Box) -> np.ndarray:
    shifted = (pixels - np.array([box.x0, box.y0], np.float64)) * _FIXED
    return np.round(shifted).astype(np.int32)


def polygons(view: View, outlines: Sequence[np.ndarray], margin_cm: float = 0.0) -> Layer:
    """Union of filled world polygons (each (N, 2) cm), anti-aliased."""
    box = view.box(np.concatenate([np.asarray(o).reshape(-1, 2) for o in outlines]), margin_cm)
    canvas = np.zeros(box.shape, np.uint8)
    if not box.empty:
        # One fillPoly call would fill overlaps even-odd (holes); each outline gets its own.
        piece = np.zeros_like(canvas) if len(outlines) > 1 else canvas
        for outline in outlines:
            if piece is not canvas:
                piece[:] = 0
            fixed = _fixed(view.to_pixels(outline), box)
            cv2.fillPoly(piece, [fixed], 255, lineType=cv2.LINE_AA, shift=_SHIFT)
            if piece is not canvas:
                cv2.max(canvas, piece, dst=canvas)
    return Layer(canvas.astype(np.float32) * np.float32(1 / 255), box)


def strokes(
    view: View, polylines: Sequence[np.ndarray], width_cm: float, closed: bool = False
) -> Layer:
    """Anti-aliased world polylines `width_cm` wide (at least one pixel)."""
    box = view.box(np.concatenate([np.asarray(p).reshape(-1, 2) for p in polylines]), width_cm)
    canvas = np.zeros(box.shape, np.uint8)
    if not box.empty:
        thickness = max(1, int(round(view.px(width_cm))))
        fixed = [_fixed(view.to_pixels(line), box) for line in polylines]
        cv2.polylines(canvas, fixed, closed, 255, thickness, cv2.LINE_AA, _SHIFT)
    strength = min(1.0, view.px(width_cm))  # thinner than a pixel: fainter, not wider
    return Layer(canvas.astype(np.float32) * np.float32(strength / 255), box)


def ellipse_points(centre, axes, angle_deg: float = 0.0, count: int = 40) -> np.ndarray:
    """(count, 2) points of an ellipse with semi-axes `axes` rotated by `angle_deg`."""
    t = np.linspace(0.0, 2 * np.pi, count, endpoint=False)
    angle = np.radians(angle_deg)
    x, y = axes[0] * np.cos(t), axes[1] * np.sin(t)
    return np.stack(
        [
            centre[0] + x * np.cos(angle) - y * np.sin(angle),
            centre[1] + x * np.sin(angle) + y * np.cos(angle),
        ],
        axis=1,
    )


def blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur (edges replicated); a no-op below a tenth of a pixel."""
    if sigma_px < 0.1 or image.size == 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), float(sigma_px), borderType=cv2.BORDER_REPLICATE)


def soften(view: View, layer: Layer, sigma_cm: float) -> Layer:
    """The layer blurred by `sigma_cm`, over a box grown to hold the blur."""
    sigma = view.px(sigma_cm)
    box = layer.box.grow(int(np.ceil(3 * sigma)) + 1, view.frame)
    return Layer(blur(layer.within(box), sigma), box)


def smooth_curve(points, count: int = 48, closed: bool = False) -> np.ndarray:
    """A Catmull-Rom curve through `points` (N, 2), resampled to about `count` points."""
    points = np.asarray(points, np.float64)
    if closed:
        padded = np.concatenate([points[-1:], points, points[:2]])
    else:
        padded = np.concatenate(
            [2 * points[:1] - points[1:2], points, 2 * points[-1:] - points[-2:-1]]
        )
    segments = len(padded) - 3
    per = max(2, count // max(segments, 1))
    t = np.linspace(0.0, 1.0, per, endpoint=False)[:, None]
    pieces = []
    for i in range(segments):
        p0, p1, p2, p3 = padded[i : i + 4]
        pieces.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (3 * p1 - p0 - 3 * p2 + p3) * t**3
            )
        )
    if not closed:
        pieces.append(points[-1:])
    return np.concatenate(pieces)


class Canvas:
    """An RGB float32 frame in [0, 255] painted back to front, remembering who owns each pixel."""

    def __init__(self, rgb: np.ndarray):
        self.rgb = np.ascontiguousarray(rgb, np.float32)
        self.owner = np.zeros(self.rgb.shape[:2], np.uint8)

    def copy(self) -> Canvas:
        twin = Canvas.__new__(Canvas)
        twin.rgb = self.rgb.copy()
        twin.owner = self.owner.copy()
        return twin

    def paint(self, sprite: Sprite) -> None:
        """Blend the sprite over the canvas; a pixel changes owner where it covers half of it."""
        layer = sprite.layer
        if layer.box.empty:
            return
        region = self.rgb[layer.box.slices]
        alpha = layer.alpha[..., None]
        region += (sprite.rgb - region) * alpha
        self.owner[layer.box.slices][layer.alpha >= 0.5] = sprite.owner

    def darken(self, shadow: Layer, strength: float | np.ndarray) -> None:
        """Multiply the canvas by 1 - strength * shadow (a soft cast shadow)."""
        if shadow.box.empty:
            return
        self.rgb[shadow.box.slices] *= (1.0 - shadow.alpha * strength)[..., None]


def shadow_of(view: View, layer: Layer, offset_cm: tuple[float, float], sigma_cm: float) -> Layer:
    """A soft shadow of `layer` cast `offset_cm` away, blurred by `sigma_cm`."""
    dx, dy = (int(round(view.px(v))) for v in offset_cm)
    sigma = view.px(sigma_cm)
    grow = int(np.ceil(3 * sigma)) + 1
    moved = Box(layer.box.y0 + dy, layer.box.y1 + dy, layer.box.x0 + dx, layer.box.x1 + dx)
    box = Box(moved.y0 - grow, moved.y1 + grow, moved.x0 - grow, moved.x1 + grow).intersect(
        view.frame
    )
    shifted = Layer(layer.alpha, moved)
    return Layer(blur(shifted.within(box), sigma), box)
