"""Garment masks: OpenCV cut-out quality on the VITON demo garments, alpha, and the rembg fallback."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tryon_app.core import masks
from tryon_app.core.errors import TryOnError
from tryon_app.core.masks import (
    find_rembg_model,
    garment_mask,
    opencv_garment_mask,
    rembg_model_candidates,
)

VITON_DEMO = Path(__file__).resolve().parents[2].parent / "shared" / "viton_demo"
DEMO_GARMENTS = (
    sorted(p.name for p in (VITON_DEMO / "test_clothes").glob("*.jpg"))
    if VITON_DEMO.is_dir()
    else []
)


def iou(mask: np.ndarray, reference: np.ndarray) -> float:
    mask, reference = mask > 0, reference > 0
    return float((mask & reference).sum() / max((mask | reference).sum(), 1))


def jpeg(rgb: np.ndarray, quality: int = 90) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def garment_photo(
    background, colour, *, sleeves: str = "short", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A 192x256 product shot of a top with soft edges, folds and a pale print, as JPEG.

    Returns the photo and the true silhouette (bool). The neckline is open at the top; long
    sleeves hang beside the body with a narrow wedge of background between them, the place
    where closing before filling holes would wrongly fill.
    """
    scale = 4  # draw large and shrink, for anti-aliased edges
    if sleeves == "short":
        parts = [
            [
                (66, 28),
                (126, 28),
                (160, 44),
                (186, 100),
                (160, 112),
                (142, 86),
                (144, 238),
                (48, 238),
                (50, 86),
                (32, 112),
                (6, 100),
                (32, 44),
            ]
        ]
    else:
        parts = [
            [(66, 28), (126, 28), (144, 40), (144, 238), (48, 238), (48, 40)],
            [(52, 34), (34, 48), (22, 200), (40, 200), (47, 60)],
            [(140, 34), (158, 48), (170, 200), (152, 200), (145, 60)],
        ]
    big = np.zeros((256 * scale, 192 * scale), dtype=np.uint8)
    cv2.fillPoly(big, [np.array(part, dtype=np.int32) * scale for part in parts], 255)
    cv2.ellipse(big, (96 * scale, 28 * scale), (20 * scale, 12 * scale), 0, 0, 360, 0, -1)
    coverage = cv2.resize(big, (192, 256), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    rng = np.random.default_rng(seed)
    folds = cv2.resize(
        rng.normal(0, 1, (8, 6)).astype(np.float32), (192, 256), interpolation=cv2.INTER_CUBIC
    )
    fabric = np.asarray(colour, np.float32) * (1 + 0.08 * folds[..., None])
    fabric[120:150, 80:112] = (245, 245, 240)  # a pale print, enclosed by the fabric
    photo = fabric * coverage[..., None] + np.asarray(background, np.float32) * (
        1 - coverage[..., None]
    )
    return jpeg(np.clip(photo, 0, 255).round().astype(np.uint8)), coverage >= 0.5


# --------------------------------------------------------------------------- OpenCV quality


@pytest.mark.skipif(not DEMO_GARMENTS, reason=f"{VITON_DEMO} not present")
@pytest.mark.parametrize("name", DEMO_GARMENTS or ["none"])
def test_opencv_mask_matches_the_official_edge(name):
    cloth = np.asarray(Image.open(VITON_DEMO / "test_clothes" / name).convert("RGB"))
    official = np.asarray(Image.open(VITON_DEMO / "test_edge" / name).convert("L")) >= 128
    mask = garment_mask(cloth, method="opencv")
    assert mask.dtype == np.uint8 and mask.shape == official.shape
    assert set(np.unique(mask)) <= {0, 255}
    assert iou(mask, official) >= 0.90, f"{name}: IoU {iou(mask, official):.3f}"


@pytest.mark.parametrize("sleeves", ["short", "long"])
@pytest.mark.parametrize(
    ("background", "colour", "min_iou"),
    [
        ((255, 255, 255), (20, 30, 90), 0.95),  # dark garment on white
        # Off-white on white: where folds brighten the fabric to 255 nothing tells it from the
        # background, so part of a sleeve is lost.
        ((255, 255, 255), (238, 236, 232), 0.85),
        ((70, 130, 180), (200, 40, 40), 0.95),  # coloured background
        ((128, 128, 128), (20, 20, 20), 0.95),  # grey background
    ],
)
def test_opencv_mask_on_synthetic_product_shots(background, colour, min_iou, sleeves):
    photo, truth = garment_photo(background, colour, sleeves=sleeves)
    mask = opencv_garment_mask(photo)
    assert iou(mask, truth) >= min_iou
    assert mask[135, 96] == 255  # the enclosed print is filled
    assert mask[30, 96] == 0  # the open neckline is not
    if sleeves == "long":  # nor the wedges between the sleeves and the body
        assert mask[170, 45] == 0 and mask[170, 147] == 0


def test_opencv_mask_of_a_large_photo_is_computed_small_and_scaled_back():
    photo, truth = garment_photo((255, 255, 255), (150, 20, 60))
    big = cv2.resize(photo, (960, 1280), interpolation=cv2.INTER_CUBIC)
    mask = opencv_garment_mask(big)
    assert mask.shape == (1280, 960)
    assert iou(cv2.resize(mask, (192, 256), interpolation=cv2.INTER_AREA), truth) >= 0.95


@pytest.mark.parametrize(
    ("shape", "value", "expected"),
    [
        ((256, 192), 255, 0),  # a blank white frame: no garment
        ((256, 192), 250, 0),
        ((256, 192), 90, 255),  # a flat colour: a close-up of fabric, all garment
        ((1, 1), 255, 0),
        ((2, 3), 30, 255),
        ((7, 5), 255, 0),
    ],
)
def test_uniform_images(shape, value, expected):
    mask = garment_mask(np.full((*shape, 3), value, dtype=np.uint8), method="opencv")
    assert mask.shape == shape and (mask == expected).all()


def test_nearly_uniform_noise_is_not_a_garment():
    noisy_white = np.random.default_rng(0).integers(248, 256, size=(256, 192, 3), dtype=np.uint8)
    assert (opencv_garment_mask(noisy_white) == 0).all()


# --------------------------------------------------------------------------- alpha


def test_alpha_is_used_directly():
    alpha = np.zeros((64, 48), dtype=np.uint8)
    cv2.circle(alpha, (24, 32), 15, 255, -1)
    alpha[0, 0] = 127  # just under half: background
    alpha[0, 1] = 128
    black = np.zeros((64, 48, 3), dtype=np.uint8)  # colour alone would say "all garment"
    mask = garment_mask(black, alpha=alpha)
    np.testing.assert_array_equal(mask, np.where(alpha >= 128, 255, 0))
    rgba = np.dstack([black, alpha])
    np.testing.assert_array_equal(garment_mask(rgba), mask)


def test_opaque_alpha_is_ignored():
    photo, truth = garment_photo((255, 255, 255), (20, 30, 90))
    opaque = np.full(photo.shape[:2], 255, dtype=np.uint8)
    np.testing.assert_array_equal(
        garment_mask(photo, alpha=opaque, method="opencv"), opencv_garment_mask(photo)
    )


def test_bad_arguments():
    photo = np.zeros((8, 8, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="method"):
        garment_mask(photo, method="grabcut")
    with pytest.raises(ValueError):
        garment_mask(photo.astype(np.float32))
    with pytest.raises(ValueError):
        garment_mask(photo, alpha=np.zeros((4, 4), dtype=np.uint8))


# --------------------------------------------------------------------------- rembg


@pytest.fixture
def empty_rembg_homes(tmp_path, monkeypatch):
    """Every place rembg reads models from points into an empty folder."""
    home = tmp_path / "home"
    home.mkdir()
    for variable in ("U2NET_HOME", "REMBG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    masks._rembg_session.cache_clear()
    return home


def test_model_candidates_follow_rembg(empty_rembg_homes, monkeypatch, tmp_path):
    home = empty_rembg_homes
    assert rembg_model_candidates("u2net") == [
        home / ".rembg" / "models" / "u2net" / "u2net.onnx",
        home / ".u2net" / "u2net.onnx",
    ]
    monkeypatch.setenv("REMBG_HOME", str(tmp_path / "r"))
    assert (
        rembg_model_candidates("u2netp")[0] == tmp_path / "r" / "models" / "u2netp" / "u2netp.onnx"
    )
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "u"))  # wins over REMBG_HOME, as in rembg
    assert rembg_model_candidates("u2net") == [
        tmp_path / "u" / "models" / "u2net" / "u2net.onnx",
        tmp_path / "u" / "u2net.onnx",
    ]


def test_find_model_prefers_u2net_and_ignores_empty_files(empty_rembg_homes):
    legacy = empty_rembg_homes / ".u2net"
    legacy.mkdir()
    assert find_rembg_model() is None
    (legacy / "u2net.onnx").write_bytes(b"")  # an interrupted download
    assert find_rembg_model() is None
    (legacy / "u2net_cloth_seg.onnx").write_bytes(b"onnx")
    assert find_rembg_model() == ("u2net_cloth_seg", legacy / "u2net_cloth_seg.onnx")
    (legacy / "u2net.onnx").write_bytes(b"onnx")
    assert find_rembg_model() == ("u2net", legacy / "u2net.onnx")


def test_auto_falls_back_to_opencv_without_a_model_file(empty_rembg_homes, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("rembg must not run without a model file")

    monkeypatch.setattr(masks, "rembg_garment_mask", must_not_run)
    photo, _ = garment_photo((255, 255, 255), (20, 30, 90))
    np.testing.assert_array_equal(garment_mask(photo), opencv_garment_mask(photo))


def test_auto_falls_back_to_opencv_when_rembg_fails(empty_rembg_homes, monkeypatch):
    legacy = empty_rembg_homes / ".u2net"
    legacy.mkdir()
    (legacy / "u2net.onnx").write_bytes(b"not really a model")
    monkeypatch.setattr(masks, "rembg_installed", lambda: True)
    calls = []

    def broken(rgb, model):
        calls.append(model)
        raise RuntimeError("bad model file")

    monkeypatch.setattr(masks, "rembg_garment_mask", broken)
    photo, _ = garment_photo((255, 255, 255), (20, 30, 90))
    np.testing.assert_array_equal(garment_mask(photo), opencv_garment_mask(photo))
    assert calls == [("u2net", legacy / "u2net.onnx")]


def test_forced_rembg_without_a_model_says_where_to_put_it(empty_rembg_homes, monkeypatch):
    monkeypatch.setattr(masks, "rembg_installed", lambda: True)
    with pytest.raises(TryOnError) as caught:
        garment_mask(np.zeros((8, 8, 3), dtype=np.uint8), method="rembg")
    message = str(caught.value)
    expected = empty_rembg_homes / ".rembg" / "models" / "u2net" / "u2net.onnx"
    assert message.startswith(f"{expected}: rembg model not found") and "u2net.onnx" in message


def test_forced_rembg_when_not_installed(monkeypatch):
    monkeypatch.setattr(masks, "rembg_installed", lambda: False)
    with pytest.raises(TryOnError, match="rembg: not installed"):
        garment_mask(np.zeros((8, 8, 3), dtype=np.uint8), method="rembg")


def write_stand_in_u2net(path: Path) -> None:
    """An ONNX file with u2net's interface (1x3x320x320 -> 1x1x320x320): darkness as saliency."""
    onnx = pytest.importorskip("onnx")
    helper = onnx.helper
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1], keepdims=1),
            helper.make_node("Neg", ["mean"], ["saliency"]),
        ],
        "stand_in_u2net",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1, 3, 320, 320])],
        [helper.make_tensor_value_info("saliency", onnx.TensorProto.FLOAT, [1, 1, 320, 320])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


@pytest.mark.slow
def test_rembg_runs_offline_on_a_local_model_file(empty_rembg_homes, monkeypatch, tmp_path):
    pytest.importorskip("rembg")
    models_dir = tmp_path / "u2net_home"
    write_stand_in_u2net(models_dir / "u2net.onnx")
    monkeypatch.setenv("U2NET_HOME", str(models_dir))
    photo, truth = garment_photo((255, 255, 255), (20, 30, 90))
    mask = garment_mask(photo, method="rembg")
    assert mask.shape == truth.shape and set(np.unique(mask)) <= {0, 255}
    assert iou(mask, truth) >= 0.85
    assert sorted(p.name for p in models_dir.rglob("*")) == ["u2net.onnx"]  # nothing downloaded
