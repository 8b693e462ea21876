"""numpy images to QImages (safe on any thread: QImage, unlike QPixmap, is not tied to the GUI)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtGui import QImage

VEIL_RGBA = (15, 23, 42, 150)


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """uint8 (H, W, 3) RGB or (H, W) grey to a QImage that owns a copy of the pixels."""
    pixels = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = pixels.shape[:2]
    if pixels.ndim == 2:
        image = QImage(
            pixels.data, width, height, pixels.strides[0], QImage.Format.Format_Grayscale8
        )
    elif pixels.ndim == 3 and pixels.shape[2] == 3:
        image = QImage(pixels.data, width, height, pixels.strides[0], QImage.Format.Format_RGB888)
    elif pixels.ndim == 3 and pixels.shape[2] == 4:
        image = QImage(pixels.data, width, height, pixels.strides[0], QImage.Format.Format_RGBA8888)
    else:
        raise ValueError(f"expected (H, W), (H, W, 3) or (H, W, 4) uint8, got {pixels.shape}")
    # The QImage above only borrows numpy's buffer; copy so it outlives the array.
    return image.copy()


DISPLAY_MAX_SIDE = 2048
"""Longest side of the copies made for fitted views; zooming in uses the full resolution."""


def display_factor(height: int, width: int, max_side: int = DISPLAY_MAX_SIDE) -> int:
    """The whole factor a photo is shrunk by for the screen (1: shown as it is)."""
    return max(1, -(-max(height, width) // max_side))


def display_image(rgb: np.ndarray, max_side: int = DISPLAY_MAX_SIDE) -> QImage:
    """A QImage for showing `rgb`, shrunk first when larger than `max_side` (a 24 MP photo would
    otherwise be rescaled on the GUI thread at every resize)."""
    return rgb_to_qimage(shrunk(rgb, display_factor(*rgb.shape[:2], max_side)))


def shrunk(rgb: np.ndarray, factor: int) -> np.ndarray:
    """`rgb` shrunk by a whole factor by area averaging (the last few rows and columns that do
    not fill a step are dropped): OpenCV's fast path, 10 ms instead of 130 ms for a 12-megapixel
    photo brought to 2048 pixels."""
    if factor <= 1:
        return rgb
    import cv2

    height, width = rgb.shape[:2]
    cut = rgb[: height - height % factor, : width - width % factor]
    return cv2.resize(cut, (width // factor, height // factor), interpolation=cv2.INTER_AREA)


SMALLEST_COPY_SIDE = 1024
"""A `Picture`'s copies halve down to this length: the fitted view of a phone photo rescales
a 1000-pixel copy rather than a 2000-pixel one (10 ms rather than 30 on the GUI thread)."""


def _rgb32(rgb: np.ndarray) -> tuple[QImage, np.ndarray]:
    """A QImage reading an RGB32 copy of `rgb` in place (Qt paints RGB32 fastest), and that copy."""
    import cv2

    # Little-endian RGB32 is B, G, R, 255 in memory.
    pixels = cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2BGRA)
    height, width = pixels.shape[:2]
    image = QImage(pixels.data, width, height, pixels.strides[0], QImage.Format.Format_RGB32)
    return image, pixels


@dataclass(frozen=True, eq=False)
class Picture:
    """An image ready for the screen: full resolution for zooming in, smaller copies for views
    that show less.

    Make one with `Picture.from_rgb` on a worker thread: every conversion happens once per image,
    never while painting.

    Attributes:
        full: the image at full resolution.
        copies: smaller copies covering the same area, largest first, each half the one before:
            the first at most `DISPLAY_MAX_SIDE` long (`full` itself when that is small enough),
            the last at most `SMALLEST_COPY_SIDE`.
        pixels: the arrays the images read their pixels from, kept alive with them.
    """

    full: QImage
    copies: tuple[QImage, ...]
    pixels: tuple[np.ndarray, ...] = field(default=(), repr=False)

    @classmethod
    def from_rgb(cls, rgb: np.ndarray, max_side: int = DISPLAY_MAX_SIDE) -> Picture:
        """From uint8 (H, W, 3) RGB: about 30 ms and 5.3 bytes a pixel for a 12-megapixel
        photo."""
        full, full_pixels = _rgb32(rgb)
        factor = display_factor(*rgb.shape[:2], max_side)
        copies, pixels = [full], [full_pixels]
        if factor > 1:
            rgb = shrunk(rgb, factor)
            copies, pixels = [], []
            image, copy = _rgb32(rgb)
            copies.append(image)
            pixels.append(copy)
        while max(rgb.shape[:2]) > SMALLEST_COPY_SIDE:
            rgb = shrunk(rgb, 2)
            image, copy = _rgb32(rgb)
            copies.append(image)
            pixels.append(copy)
        return cls(full, tuple(copies), (full_pixels, *pixels))

    @classmethod
    def from_qimage(cls, image: QImage) -> Picture:
        """An image shown as it is, at every size."""
        return cls(image, (image,))

    @property
    def display(self) -> QImage:
        """The largest copy: what a fitted view shows at most."""
        return self.copies[0]

    @property
    def width(self) -> int:
        return self.full.width()

    @property
    def height(self) -> int:
        return self.full.height()

    def copy_for(self, pixels_wide: float) -> QImage | None:
        """The smallest copy with at least `pixels_wide` pixels across; None when only `full`
        has enough."""
        for copy in reversed(self.copies):
            if copy.width() >= pixels_wide:
                return copy
        return None

    def copy_full(self) -> QImage:
        """`full` with its own pixels (for the clipboard, which may outlive this picture)."""
        return self.full.copy()


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """QImage to uint8 (H, W, 3) RGB (tests and the clipboard round trip)."""
    converted = image.convertToFormat(QImage.Format.Format_RGB888)
    height, width = converted.height(), converted.width()
    buffer = np.frombuffer(converted.constBits(), dtype=np.uint8, count=converted.sizeInBytes())
    rows = buffer.reshape(height, converted.bytesPerLine())
    return rows[:, : width * 3].reshape(height, width, 3).copy()


def mask_overlay_image(mask: np.ndarray) -> QImage:
    """A veil over everything that is not garment, and a white outline around it.

    Works on garments of any colour (a tint in one colour vanishes on a garment of that colour).

    Args:
        mask: uint8 (H, W), garment where >= 128.
    """
    import cv2

    garment = np.asarray(mask) >= 128
    rgba = np.zeros((*garment.shape, 4), dtype=np.uint8)
    rgba[~garment] = VEIL_RGBA
    contours, _ = cv2.findContours(
        garment.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    thickness = max(1, round(max(garment.shape) / 200))
    outline = np.zeros(garment.shape, dtype=np.uint8)
    cv2.drawContours(outline, contours, -1, 255, thickness, lineType=cv2.LINE_AA)
    edge = outline > 0
    rgba[edge, :3] = 255
    rgba[edge, 3] = np.maximum(rgba[edge, 3], outline[edge])
    return rgb_to_qimage(rgba)


def thumbnail(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Photo shrunk to fit (width, height) with its aspect kept, centred on white."""
    import cv2

    photo_h, photo_w = rgb.shape[:2]
    scale = min(width / photo_w, height / photo_h)
    new_w, new_h = max(1, round(photo_w * scale)), max(1, round(photo_h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = small
    return canvas
