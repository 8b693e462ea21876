"""Framing boxes: parsing, the letterbox and crop boxes, the cut to the canvas, auto-framing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tryon_app.core.bench import sample_person_photo
from tryon_app.core.errors import InputImageError
from tryon_app.core.framing import (
    CANVAS_SIZE,
    Box,
    choose_framing,
    crop_box,
    cut_to_canvas,
    letterbox_box,
    person_on_canvas,
    snapped,
    whole_factor,
)


def test_box_parses_prints_and_measures_overlap():
    box = Box.parse(" -10, 20,300 ,400")
    assert box == Box(-10, 20, 300, 400)
    assert str(box) == "-10,20,300,400"
    assert box.iou(box) == 1.0
    assert Box(0, 0, 10, 10).iou(Box(5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert Box(0, 0, 10, 10).iou(Box(20, 20, 5, 5)) == 0.0
    for bad in ("1,2,3", "a,b,c,d", "1,2,-3,4"):
        with pytest.raises(ValueError):
            Box.parse(bad)
    with pytest.raises(ValueError):
        Box(0, 0, 0, 10)


@pytest.mark.parametrize("height, width", [(256, 192), (400, 800), (1000, 300), (97, 61)])
def test_letterbox_holds_the_photo_and_crop_fits_inside(height, width):
    outer, inner = letterbox_box(height, width), crop_box(height, width)
    for box in (outer, inner):
        assert box.w / box.h == pytest.approx(0.75, abs=2 / box.h)
    assert outer.x <= 0 and outer.y <= 0 and outer.right >= width and outer.bottom >= height
    assert inner.inside(height, width)
    assert max(inner.w / width, inner.h / height) == pytest.approx(1.0, abs=0.02)


def test_cut_maps_box_edges_to_canvas_edges_and_pads_outside():
    photo = np.zeros((400, 300, 3), dtype=np.uint8)
    photo[100:140, 60:90] = 255  # one canvas pixel is 10x10 photo pixels below
    box = Box(20, 60, 1920 // 10, 2560 // 10)
    canvas = cut_to_canvas(photo, box, pad=(1, 2, 3))
    assert canvas.shape == (*CANVAS_SIZE, 3)
    # photo x 60..90 -> canvas (60 - 20) / 1 = 40..70 at 1 photo pixel per canvas pixel
    assert canvas[40:80, 40:70].min() == 255 and canvas[39, 40:70].max() == 0
    # Outside the photo: the pad colour.
    outside = cut_to_canvas(photo, Box(-50, 0, 192, 256), pad=(7, 8, 9))
    np.testing.assert_array_equal(outside[:, :50], np.broadcast_to([7, 8, 9], (256, 50, 3)))


def test_snapping_keeps_the_box_and_the_fast_cut_matches_a_direct_one():
    photo = np.full((2000, 1500, 3), 40, dtype=np.uint8)
    cv2.circle(photo, (700, 900), 60, (250, 200, 150), -1)
    box = snapped(Box(13, 21, 1437, 1917))
    assert whole_factor(box) > 1
    assert Box(13, 21, 1437, 1917).iou(box) > 0.99
    fast = cut_to_canvas(photo, box, pad=(0, 0, 0)).astype(float)
    region = photo[box.y : box.bottom, box.x : box.right]
    direct = cv2.resize(region, (192, 256), interpolation=cv2.INTER_AREA).astype(float)
    assert np.abs(fast - direct).mean() < 0.5  # the two area filters differ on edges only

    def centre(canvas):
        weight = canvas[..., 0] - 40
        ys, xs = np.mgrid[0:256, 0:192]
        return (xs * weight).sum() / weight.sum(), (ys * weight).sum() / weight.sum()

    # Where the disc lands: photo centre (700.5, 900.5) through the box's edge-to-edge map.
    expected = ((700.5 - box.x) * 192 / box.w - 0.5, (900.5 - box.y) * 256 / box.h - 0.5)
    np.testing.assert_allclose(centre(fast), expected, atol=0.05)


def test_a_given_box_must_touch_the_photo():
    photo = np.zeros((100, 80, 3), dtype=np.uint8)
    assert choose_framing(photo, Box(-10, -10, 30, 40)).how == "given"
    with pytest.raises(InputImageError, match="outside"):
        choose_framing(photo, Box(200, 0, 30, 40))


@pytest.mark.parametrize(
    "photo_size, box",
    [
        ((1600, 1200), Box(300, 100, 600, 800)),  # full body, centred
        ((1080, 1920), Box(1100, 60, 540, 720)),  # landscape, off-centre
        ((2000, 1000), Box(120, 300, 690, 920)),  # 1:2 portrait, to one side
    ],
)
def test_auto_framing_finds_the_viton_box_of_a_full_body(photo_size, box):
    photo = sample_person_photo(*photo_size, box)
    framing = choose_framing(photo, "auto")
    assert framing.how == "auto" and framing.note is None
    assert framing.box.iou(box) >= 0.8, framing.box


def lit(photo: np.ndarray, light: str, centre: tuple[float, float]) -> np.ndarray:
    """`photo` under a spotlight about `centre` (x, y), or darkened towards its corners."""
    height, width = photo.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if light == "spotlight":
        distance2 = ((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (0.3 * height) ** 2
        gain = np.clip(1.0 + 0.2 * (0.5 - distance2), 0.75, 1.1)
    else:
        distance2 = ((xs - width / 2) ** 2 + (ys - height / 2) ** 2) / ((width**2 + height**2) / 4)
        gain = 1.0 - 0.45 * distance2
    return np.clip(photo * gain[..., None], 0, 255).astype(np.uint8)


@pytest.mark.parametrize("light", ["spotlight", "vignette"])
@pytest.mark.parametrize(
    "photo_size, box",
    [
        ((1200, 1600), Box(150, 80, 330, 440)),  # landscape, to one side
        ((1000, 1400), Box(900, 100, 300, 400)),  # off-centre, the light beside the person
    ],
)
def test_auto_framing_is_not_misled_by_the_light_on_the_backdrop(light, photo_size, box):
    photo = lit(
        sample_person_photo(*photo_size, box), light, (box.x + box.w * 1.2, box.y + box.h * 0.4)
    )
    framing = choose_framing(photo, "auto")
    assert framing.how == "auto"
    # The backdrop's own model (border colour only) took the light for the person: IoU 0.2-0.7.
    assert framing.box.iou(box) >= 0.85, framing.box


def test_a_photo_already_framed_like_viton_is_taken_whole():
    box = Box(0, 0, 192, 256)
    photo = sample_person_photo(256, 192, box)
    assert choose_framing(photo, "auto").box == box


def test_no_person_falls_back_to_letterbox_and_says_so():
    rng = np.random.default_rng(0)
    busy = rng.integers(0, 255, (300, 500, 3), dtype=np.uint8)
    empty = np.full((300, 500, 3), 200, dtype=np.uint8)
    for photo in (busy, empty):
        framing = choose_framing(photo, "auto")
        assert framing.how == "letterbox"
        assert framing.box == snapped(letterbox_box(300, 500))
        assert "no person" in framing.note


@pytest.mark.optimize
def test_synthetic_viton_photos_keep_their_framing_and_full_bodies_find_theirs():
    pytest.importorskip("torch")
    from optimization.data.synthetic import render_pair

    # VITON-framed photos: the photo is the box.
    viton = [choose_framing(render_pair(8, i, "realistic")["person"]).box for i in range(6)]
    assert np.mean([box.iou(Box(0, 0, 192, 256)) for box in viton]) > 0.85
    # Full bodies in larger photos: the box the generator framed them by.
    ious = []
    for index in range(6):
        pair = render_pair(9, index, "realistic", (512, 384), "full-body")
        truth = Box(*(round(value) for value in pair["viton_box"]))
        ious.append(choose_framing(pair["person"]).box.iou(truth))
    assert np.mean(ious) > 0.7, ious


def test_the_neck_is_found_below_the_head_of_a_framed_person():
    canvas = sample_person_photo(256, 192, Box(0, 0, 192, 256))
    figure = person_on_canvas(canvas)
    # sample_person_photo's neck shows between the chin (row 61) and the shoulders (row 72).
    assert figure is not None and 55 <= figure.neck <= 74, figure.neck
    assert figure.silhouette[120, 96] and not figure.silhouette[120, 2]
    assert person_on_canvas(np.full((256, 192, 3), 200, dtype=np.uint8)) is None
