"""Full-resolution composition: the garment photo's own pixels, and the photo kept bit for bit."""

from __future__ import annotations

import cv2
import numpy as np

from tryon_app.core.compose import (
    GarmentSource,
    changed_region,
    compose,
    paste_canvas,
)
from tryon_app.core.framing import Box, CanvasPerson

H, W = 256, 192


def identity_flow() -> np.ndarray:
    """PF-AFN's grid that samples every canvas pixel at itself (align_corners=True)."""
    ys, xs = np.meshgrid(np.linspace(-1, 1, H), np.linspace(-1, 1, W), indexing="ij")
    return np.stack([xs, ys])[None].astype(np.float32)


def textured(height: int, width: int, seed: int) -> np.ndarray:
    """Fine stripes and noise: detail that a 192x256 canvas cannot hold."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    stripes = (np.sin(xs / 1.7) * np.cos(ys / 2.3) * 100 + 128)[..., None]
    return np.clip(stripes + rng.normal(0, 20, (height, width, 3)), 0, 255).astype(np.uint8)


def model_outputs(weights_box=(slice(60, 200), slice(40, 150))):
    """Canvas-space outputs of a model that puts the whole garment where its mask is."""
    p_rendered = np.zeros((1, 3, H, W), dtype=np.float32)
    warped_edge = np.zeros((1, 1, H, W), dtype=np.float32)
    warped_edge[0, 0][weights_box] = 1.0
    return p_rendered, warped_edge.copy(), warped_edge  # m_composite = the edge: all garment


def test_the_garment_keeps_its_full_resolution_detail():
    scale = 4
    photo = np.full((H * scale, W * scale, 3), 90, dtype=np.uint8)
    garment_rgb = textured(H * scale, W * scale, seed=1)
    garment = GarmentSource(
        garment_rgb,
        np.full((H, W), 255, np.uint8),
        (0, 0, H, W),
        np.full((H * scale, W * scale), 255, np.uint8),
    )
    p_rendered, m_composite, warped_edge = model_outputs()
    weights = np.zeros((H, W), dtype=np.float32)
    weights[70:190, 50:140] = 1.0
    result = compose(
        photo,
        Box(0, 0, W * scale, H * scale),
        weights,
        p_rendered,
        m_composite,
        warped_edge,
        identity_flow(),
        garment,
    )
    inside = (slice(75 * scale, 185 * scale), slice(55 * scale, 135 * scale))
    # The identity flow samples the garment photo at each photo pixel itself: its fine stripes
    # come through (up to fixed-point sampling), which a scaled-up canvas could not give.
    error = np.abs(result.image[inside].astype(int) - garment_rgb[inside].astype(int))
    assert error.mean() < 1.0 and error.max() <= 3
    canvas = cv2.resize(garment_rgb, (W, H), interpolation=cv2.INTER_AREA)
    upscaled = cv2.resize(canvas, (W * scale, H * scale), interpolation=cv2.INTER_LINEAR)
    assert np.abs(upscaled[inside].astype(int) - garment_rgb[inside].astype(int)).mean() > 10
    np.testing.assert_array_equal(result.warped_garment_image()[inside], result.image[inside])


def test_outside_the_changed_region_the_photo_is_kept_bit_for_bit():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (1000, 700, 3), dtype=np.uint8)
    box = Box(50, 20, 600, 800)
    garment = GarmentSource(textured(512, 384, 2), np.full((H, W), 255, np.uint8), (0, 0, H, W))
    p_rendered, m_composite, warped_edge = model_outputs()
    p_rendered[:] = 0.3
    weights = np.zeros((H, W), dtype=np.float32)
    weights[80:180, 60:130] = 1.0
    weights = cv2.GaussianBlur(weights, (0, 0), 1.0)
    weights[weights < 1 / 512] = 0
    result = compose(
        photo, box, weights, p_rendered, m_composite, warped_edge, identity_flow(), garment
    )
    untouched = result.changed_mask() == 0
    assert untouched.mean() > 0.8
    np.testing.assert_array_equal(result.image[untouched], photo[untouched])
    assert (result.image[~untouched] != photo[~untouched]).any(axis=1).mean() > 0.9
    # The changed region sits where the weights do: canvas rows 80..180 of a box 800/256 high.
    rows = np.flatnonzero(result.changed_mask().any(axis=1))
    assert abs(rows[0] - (20 + 78 * 800 / 256)) < 10 and abs(rows[-1] - (20 + 182 * 800 / 256)) < 10


def test_the_garment_is_resized_once_per_landing_scale(monkeypatch):
    """A live view composes the same garment frame after frame: it is scaled down once."""
    garment_rgb = textured(1024, 768, seed=3)

    def garment_source() -> GarmentSource:
        return GarmentSource(garment_rgb, np.full((H, W), 255, np.uint8), (0, 0, H, W))

    resized = []
    real_resize = cv2.resize

    def counting_resize(image, *args, **kwargs):
        if image is garment_rgb:
            resized.append(image.shape)
        return real_resize(image, *args, **kwargs)

    monkeypatch.setattr(cv2, "resize", counting_resize)
    photo = np.full((600, 450, 3), 90, dtype=np.uint8)
    p_rendered, m_composite, warped_edge = model_outputs()
    weights = np.zeros((H, W), dtype=np.float32)
    weights[70:190, 50:140] = 1.0

    def composed(garment: GarmentSource, box: Box) -> np.ndarray:
        outputs = (p_rendered, m_composite, warped_edge, identity_flow(), garment)
        return compose(photo, box, weights, *outputs).image

    garment = garment_source()
    first = composed(garment, Box(0, 0, 450, 600))
    again = composed(garment, Box(2, 1, 448, 597))  # a box that barely moved
    assert len(resized) == 1
    np.testing.assert_array_equal(again, composed(garment_source(), Box(2, 1, 448, 597)))
    assert len(resized) == 2  # the fresh source resized for itself
    smaller = composed(garment, Box(100, 150, 225, 300))  # half the scale: resized again
    assert len(resized) == 3
    np.testing.assert_array_equal(smaller, composed(garment_source(), Box(100, 150, 225, 300)))
    assert first.shape == smaller.shape


def test_changed_region_follows_the_garment_and_what_touches_it_but_not_the_head():
    person = np.full((H, W, 3), 128, dtype=np.uint8)
    warped_edge = np.zeros((1, 1, H, W), dtype=np.float32)
    warped_edge[0, 0, 80:200, 50:142] = 1.0
    rendered = np.zeros((1, 3, H, W), dtype=np.float32)  # 128 grey = 0.0 in [-1, 1]
    rendered += 128 / 127.5 - 1
    rendered[0, :, 100:180, 20:50] = 0.9  # an old sleeve turned into an arm, beside the garment
    rendered[0, :, 200:240, 150:180] = -0.9  # a re-rendered patch away from the garment
    rendered[0, :, 10:60, 70:120] = 0.9  # the face, re-rendered
    weights = changed_region(person, rendered, warped_edge)
    assert weights[120:160, 60:130].min() == 1.0  # the garment
    assert weights[110:170, 25:45].min() > 0.9  # the arm that touches it
    assert weights[210:230, 160:175].max() == 0.0  # a departure that does not
    assert weights[:70].max() == 0.0  # above the neckline
    assert changed_region(person, rendered, 0 * warped_edge).max() == 0.0
    # The arm's departure is on the person; off the person it is the background, re-rendered.
    silhouette = np.zeros((H, W), dtype=bool)
    silhouette[:, 40:160] = True
    weights = changed_region(person, rendered, warped_edge, CanvasPerson(silhouette, 70))
    assert weights[110:170, 42:48].min() > 0.9 and weights[110:170, 20:36].max() == 0.0


def test_a_garment_spilling_off_the_person_leaves_the_backdrop_as_it_was():
    person = np.full((H, W, 3), 128, dtype=np.uint8)
    m_composite = np.zeros((1, 1, H, W), dtype=np.float32)
    m_composite[0, 0, 80:200, 30:162] = 1.0  # wider than the person
    rendered = np.full((1, 3, H, W), 128 / 127.5 - 1, dtype=np.float32)
    silhouette = np.zeros((H, W), dtype=bool)
    silhouette[:, 50:142] = True
    weights = changed_region(person, rendered, m_composite, CanvasPerson(silhouette, 40))
    assert weights[90:190, 52:140].min() == 1.0
    # A canvas pixel of margin; the seam is feathered inwards, so not a pixel beyond it changes.
    assert weights[:, :49].max() == 0.0 and weights[:, 143:].max() == 0.0
    assert weights[90:190, 49].min() >= 0.5
    # Without a person found there is nothing to clip to: the garment counts as drawn.
    assert changed_region(person, rendered, m_composite)[90:190, 33:159].min() == 1.0


def test_a_garment_warped_over_the_head_leaves_the_head_as_it_was():
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (H * 2, W * 2, 3), dtype=np.uint8)
    person = cv2.resize(photo, (W, H), interpolation=cv2.INTER_AREA)
    # A poor warp: garment and composition mask from the top of the canvas down.
    p_rendered, m_composite, warped_edge = model_outputs((slice(0, 200), slice(40, 150)))
    garment = GarmentSource(textured(H, W, 4), np.full((H, W), 255, np.uint8), (0, 0, H, W))
    figure = CanvasPerson(np.ones((H, W), dtype=bool), neck=64)
    weights = changed_region(person, p_rendered, m_composite, figure)
    assert weights[:64].max() == 0.0 and weights[70:190, 50:140].min() == 1.0
    result = compose(
        photo,
        Box(0, 0, W * 2, H * 2),
        weights,
        p_rendered,
        m_composite,
        warped_edge,
        identity_flow(),
        garment,
    )
    # Not the feathered weights, nor the garment's sharp full-resolution outline, reach the head.
    np.testing.assert_array_equal(result.image[: 2 * 62], photo[: 2 * 62])
    assert (result.image[2 * 80 : 2 * 180, 2 * 60 : 2 * 130] != photo[160:360, 120:260]).any()


def test_paste_canvas_scales_the_model_result_into_its_box():
    photo = np.zeros((600, 400, 3), dtype=np.uint8)
    canvas = np.full((H, W, 3), 200, dtype=np.uint8)
    pasted = paste_canvas(photo, Box(100, 50, 192, 256), canvas)
    assert pasted[50:306, 100:292].min() == 200
    assert pasted[:50].max() == 0 and pasted[:, :100].max() == 0 and pasted[306:].max() == 0
