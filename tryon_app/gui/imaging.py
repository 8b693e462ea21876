"""numpy images to QImages (safe on any thread: QImage, unlike QPixmap, is not tied to the GUI)."""

from __future__ import annotations

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
"""Longest side of the pictures made for the screen; files and the clipboard get full size."""


def display_image(rgb: np.ndarray, max_side: int = DISPLAY_MAX_SIDE) -> QImage:
    """A QImage for showing `rgb`, shrunk first when larger than `max_side` (a 24 MP photo would
    otherwise be rescaled on the GUI thread at every resize)."""
    height, width = rgb.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1:
        import cv2

        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(np.ascontiguousarray(rgb), size, interpolation=cv2.INTER_AREA)
    return rgb_to_qimage(rgb)


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
