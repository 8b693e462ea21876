"""numpy <-> QImage conversions and the pictures made for the screen."""

from __future__ import annotations

import numpy as np
import pytest

from tryon_app.gui.imaging import (
    Picture,
    display_image,
    mask_overlay_image,
    qimage_to_rgb,
    rgb_to_qimage,
    thumbnail,
)

pytestmark = pytest.mark.gui


def test_round_trip_keeps_every_pixel():
    rgb = np.random.default_rng(0).integers(0, 256, (37, 51, 3), dtype=np.uint8)  # odd row stride
    np.testing.assert_array_equal(qimage_to_rgb(rgb_to_qimage(rgb)), rgb)
    grey = rgb[..., 0]
    assert rgb_to_qimage(grey).width() == 51
    with pytest.raises(ValueError, match="expected"):
        rgb_to_qimage(np.zeros((4, 4, 2), dtype=np.uint8))


def test_display_image_shrinks_only_large_photos():
    small = np.zeros((300, 200, 3), dtype=np.uint8)
    assert (display_image(small).width(), display_image(small).height()) == (200, 300)
    large = np.zeros((4000, 3000, 3), dtype=np.uint8)
    shown = display_image(large, max_side=1000)
    assert (shown.width(), shown.height()) == (750, 1000)


def test_a_picture_keeps_full_resolution_and_halving_copies():
    rgb = np.random.default_rng(1).integers(0, 256, (4032, 3024, 3), dtype=np.uint8)
    picture = Picture.from_rgb(rgb)
    np.testing.assert_array_equal(qimage_to_rgb(picture.full), rgb)
    sizes = [(copy.width(), copy.height()) for copy in picture.copies]
    assert sizes == [(1512, 2016), (756, 1008)]
    # Each copy is the photo area-averaged (whole factors: the fast path, no resampling).
    shown = qimage_to_rgb(picture.copies[1]).astype(int)
    averaged = rgb[40:44, 80:84].reshape(-1, 3).mean(0)
    assert np.abs(shown[10, 20] - averaged).max() <= 1
    assert picture.copy_for(700) is picture.copies[1]
    assert picture.copy_for(1000) is picture.copies[0]
    assert picture.copy_for(2000) is None  # only the full image has that many pixels

    small = Picture.from_rgb(rgb[:300, :200])
    assert small.copies[0] is small.full and len(small.copies) == 1


def test_mask_overlay_veils_the_background_and_outlines_the_garment():
    mask = np.zeros((120, 90), dtype=np.uint8)
    mask[30:90, 20:70] = 255
    rgba = qimage_to_rgba(mask_overlay_image(mask))
    assert rgba[5, 5, 3] > 100  # background veiled
    assert rgba[60, 45, 3] == 0  # garment left clear
    assert tuple(rgba[30, 45, :3]) == (255, 255, 255)  # white outline on the edge


def qimage_to_rgba(image):
    from PySide6.QtGui import QImage

    converted = image.convertToFormat(QImage.Format.Format_RGBA8888)
    buffer = np.frombuffer(converted.constBits(), dtype=np.uint8, count=converted.sizeInBytes())
    return buffer.reshape(converted.height(), converted.bytesPerLine())[
        :, : converted.width() * 4
    ].reshape(converted.height(), converted.width(), 4)


def test_thumbnail_keeps_the_aspect_on_white():
    tall = np.zeros((200, 50, 3), dtype=np.uint8)
    small = thumbnail(tall, 66, 88)
    assert small.shape == (88, 66, 3)
    assert small[44, 0].tolist() == [255, 255, 255]
    assert small[44, 33].tolist() == [0, 0, 0]
