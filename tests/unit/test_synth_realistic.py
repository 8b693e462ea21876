"""The synthetic generator's styles: the realistic photos and their ground truth, sizes and scenes,
and the flat look kept bit for bit."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from optimization.data.synth_framing import ASPECTS
from optimization.data.synth_prints import FONT_NAMES, font_path, text_patch
from optimization.data.synthetic import (
    FOLDERS,
    pair_names,
    pair_params,
    render_pair,
    write_dataset,
)

# The generator needs tqdm and matplotlib's fonts: the optimize extra.
pytestmark = pytest.mark.optimize

# sha256 over the arrays of render_pair(1, 0) (person, cloth, edge, gt, gt_cloth_mask,
# person_cloth_mask, in that order), computed from the generator before the realistic style existed.
FLAT_SEED1_PAIR0_SHA256 = "55159d1e0a7bc8620cd29117d39ded0350212131212959f2051c4d8c322e1edd"
FLAT_KEYS = ("person", "cloth", "edge", "gt", "gt_cloth_mask", "person_cloth_mask")
SEED = 7


def _digest(pair: dict) -> str:
    digest = hashlib.sha256()
    for key in FLAT_KEYS:
        digest.update(pair[key].tobytes())
    return digest.hexdigest()


def _iou(first: np.ndarray, second: np.ndarray) -> float:
    first, second = first > 127, second > 127
    return float((first & second).sum() / max((first | second).sum(), 1))


@pytest.fixture(scope="module")
def pairs() -> list[dict]:
    return [render_pair(SEED, index, "realistic") for index in range(4)]


# --------------------------------------------------------------------------------------------------
# The flat style


def test_flat_style_renders_todays_pair_bit_for_bit():
    assert _digest(render_pair(1, 0)) == FLAT_SEED1_PAIR0_SHA256
    assert _digest(render_pair(1, 0, style="flat")) == FLAT_SEED1_PAIR0_SHA256


def test_flat_style_refuses_sizes_and_scenes():
    with pytest.raises(ValueError, match="flat style"):
        render_pair(1, 0, style="flat", size=(512, 384))
    with pytest.raises(ValueError, match="flat style"):
        render_pair(1, 0, style="flat", scene="full-body")
    with pytest.raises(ValueError, match="style"):
        render_pair(1, 0, style="oil")


# --------------------------------------------------------------------------------------------------
# Realistic pairs: determinism and ground truth


def test_realistic_pairs_are_deterministic_and_differ_between_pairs(pairs):
    again = render_pair(SEED, 1, "realistic")
    for key in ("person", "cloth", "edge", "gt", "gt_cloth_mask", "changed"):
        assert np.array_equal(again[key], pairs[1][key]), key
    assert again["params"] == pairs[1]["params"] == pair_params(SEED, 1, "realistic")
    assert not np.array_equal(pairs[0]["person"], pairs[1]["person"])
    other_seed = render_pair(SEED + 1, 1, "realistic")
    assert not np.array_equal(other_seed["person"], pairs[1]["person"])


def test_outside_the_garments_person_and_ground_truth_are_the_same_photo(pairs):
    for index, pair in enumerate(pairs):
        assert pair["person"].shape == pair["gt"].shape == (256, 192, 3)
        changed = np.any(pair["person"] != pair["gt"], axis=2)
        assert np.array_equal(changed, pair["changed"] > 0), index
        garments = ((pair["gt_cloth_mask"] > 0) | (pair["person_cloth_mask"] > 0)).astype(np.uint8)
        # Garments' soft shadows and the lens blur reach a few pixels past their edges, and the
        # soft edges of arms and hair lying over a garment change with it; beyond that nothing
        # differs, not even the sensor noise.
        near = cv2.dilate(garments, np.ones((17, 17), np.uint8)) > 0
        around = cv2.dilate(garments, np.ones((61, 61), np.uint8)) > 0
        assert changed[~around].sum() == 0, index
        assert changed[~near].sum() < 0.01 * changed.sum(), index
        assert changed.sum() > 1500, index


def test_masks_are_exact_and_the_worn_garment_is_the_product(pairs):
    for index, pair in enumerate(pairs):
        mask, edge = pair["gt_cloth_mask"], pair["edge"]
        assert set(np.unique(mask)) <= {0, 255} and set(np.unique(edge)) <= {0, 255}
        assert 0.08 < (mask > 0).mean() < 0.65, index
        # VITON product photos: the garment fills most of the frame.
        rows, columns = np.flatnonzero(edge.any(axis=1)), np.flatnonzero(edge.any(axis=0))
        assert np.ptp(rows) > 0.7 * 256 or np.ptp(columns) > 0.7 * 192, index
        product = pair["cloth"][edge > 0].astype(np.float32)
        worn = pair["gt"][mask > 0].astype(np.float32)
        assert np.abs(np.median(product, 0) - np.median(worn, 0)).max() < 70, index


def test_viton_framing_statistics():
    tops, spans = [], []
    for index in range(12):
        params = pair_params(SEED, index, "realistic")
        assert params["viton_box"] == [0.0, 0.0, 192.0, 256.0]
        body = params["subject"]["body"]
        framing = params["framing"]
        height = 256.0
        box_cm = (framing["bottom"] * body["stature"] + 34.0) / (1 - framing["top_margin"])
        tops.append(framing["top_margin"] * height)
        spans.append(2 * body["shoulder_half"] / (box_cm * 0.75))
    # The crown a few pixels under the top edge, the shoulders about half the width.
    assert max(tops) < 14 and min(tops) >= 1
    assert 0.38 < np.mean(spans) < 0.6


def test_variety_and_sleeve_swaps_both_ways():
    params = [pair_params(SEED, index, "realistic") for index in range(80)]
    kinds = Counter(p["garment"]["cut"]["kind"] for p in params)
    assert len(kinds) >= 7
    assert len({p["subject"]["pose"]["name"] for p in params}) >= 6
    assert len({p["subject"]["hair"]["style"] for p in params}) >= 6
    assert {p["subject"]["lower"]["kind"] for p in params} >= {"jeans", "trousers", "skirt"}
    assert {p["garment"]["product"]["style"] for p in params} == {"flat", "ghost"}
    tones = [p["subject"]["skin"]["tone"] for p in params]
    assert min(tones) < 0.2 and max(tones) > 0.75

    def sleeve(cut: dict) -> str:
        if cut["sleeve"] is None:
            return "none"
        return "short" if cut["sleeve"]["length"] < 26 else "long"

    swaps = Counter(
        (sleeve(p["person_garment"]["cut"]), sleeve(p["garment"]["cut"])) for p in params
    )
    assert swaps[("long", "short")] >= 3 and swaps[("short", "long")] >= 3
    qualities = {p["jpeg_quality"] for p in params}
    assert min(qualities) >= 70 and max(qualities) <= 95 and len(qualities) > 5


# --------------------------------------------------------------------------------------------------
# Sizes and scenes


def test_a_larger_render_downscaled_matches_the_small_one(pairs):
    large = render_pair(SEED, 0, "realistic", size=(384, 288))
    assert large["person"].shape == (384, 288, 3) and large["edge"].shape == (384, 288)
    small = pairs[0]
    for key in ("gt_cloth_mask", "edge"):
        shrunk = cv2.resize(large[key], (192, 256), interpolation=cv2.INTER_AREA)
        assert _iou(shrunk, small[key]) > 0.93, key
    for key in ("person", "gt", "cloth"):
        shrunk = cv2.resize(large[key], (192, 256), interpolation=cv2.INTER_AREA).astype(np.float32)
        assert np.abs(shrunk - small[key]).mean() < 10, key


@pytest.mark.parametrize("scene", ["full-body", "offset"])
def test_the_viton_box_of_a_wider_scene_crops_to_the_viton_framing(pairs, scene):
    viton = pairs[2]
    wide = render_pair(SEED, 2, "realistic", scene=scene)
    height, width = wide["person"].shape[:2]
    assert wide["gt_cloth_mask"].shape == wide["changed"].shape == (height, width)
    assert abs(height * width - 256 * 192) < 0.05 * 256 * 192
    assert any(abs(width / height - ratio) < 0.02 for ratio in ASPECTS.values())
    x, y, w, h = wide["viton_box"]
    assert abs(w / h - 0.75) < 1e-6
    assert x >= -0.5 and y >= -0.5 and x + w <= width + 0.5 and y + h <= height + 0.5
    assert h < 0.95 * height  # the person is inside a larger photo

    def crop(image):
        # Crop pixel i is centred at x + (i + 0.5) * w / 192 in edge coordinates, which is half a
        # pixel more than the photo's pixel-centre coordinates.
        sx, sy = w / 192, h / 256
        matrix = np.array([[sx, 0, x - 0.5 + sx / 2], [0, sy, y - 0.5 + sy / 2]], np.float64)
        return cv2.warpAffine(
            image, matrix, (192, 256), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        )

    assert _iou(crop(wide["gt_cloth_mask"]), viton["gt_cloth_mask"]) > 0.85
    # The same scene; the wider photo has fewer pixels on the person and its own sensor noise.
    difference = np.abs(crop(wide["gt"]).astype(np.float32) - viton["gt"]).mean()
    assert difference < 13
    # The crop of a different pair does not match: the test can fail.
    assert _iou(crop(wide["gt_cloth_mask"]), pairs[3]["gt_cloth_mask"]) < 0.85


# --------------------------------------------------------------------------------------------------
# Files


def test_default_realistic_dataset_keeps_the_viton_layout(tmp_path):
    out = write_dataset(tmp_path / "data", n_pairs=2, seed=SEED, progress=False, style="realistic")
    assert sorted(p.name for p in out.iterdir()) == sorted([*FOLDERS, "pairs.txt", "synth.json"])
    description = json.loads((out / "synth.json").read_text())
    assert description["style"] == "realistic" and description["complete"]
    assert description["pairs"][1]["person"] == "000001_0.jpg"
    assert description["pairs"][1]["subject"] == pair_params(SEED, 1, "realistic")["subject"]
    reference = render_pair(SEED, 1, "realistic")
    for key, name in pair_names(1).items():
        with Image.open(out / name) as image:
            assert image.size == (192, 256), name
            decoded = np.asarray(image)
        if key in ("edge", "gt_cloth_mask"):
            assert np.array_equal(decoded > 127, reference[key] > 127), key  # exact silhouettes
        else:
            assert np.abs(decoded.astype(np.float32) - reference[key]).mean() < 4, key


def test_other_scenes_write_changed_masks_and_framing(tmp_path):
    out = write_dataset(
        tmp_path / "data", n_pairs=1, seed=SEED, progress=False, style="realistic", scene="offset"
    )
    names = pair_names(0, extras=True)
    framing = json.loads((out / names["framing"]).read_text())
    pair = render_pair(SEED, 0, "realistic", scene="offset")
    assert framing["viton_box"] == [round(v, 3) for v in pair["viton_box"]]
    assert framing["size"] == [pair["person"].shape[1], pair["person"].shape[0]]
    changed = np.asarray(Image.open(out / names["changed"]))
    assert np.array_equal(changed, pair["changed"])
    again = write_dataset(
        tmp_path / "again", n_pairs=1, seed=SEED, progress=False, style="realistic", scene="offset"
    )
    assert (again / names["person"]).read_bytes() == (out / names["person"]).read_bytes()


def test_fonts_are_found_offline_and_set_text():
    for name in FONT_NAMES:
        assert font_path(name).is_file(), name
    patch = text_patch(
        "NOVA", FONT_NAMES[0], 80, (10, 10, 10), (200, 0, 0), "plain", (240, 240, 240)
    )
    assert patch.alpha.shape[1] == pytest.approx(80, abs=8) and patch.alpha.max() > 0.9


def test_cli_synth_flags(tmp_path):
    from optimization.cli import main

    assert (
        main(
            [
                "-q",
                "synth",
                "--out",
                str(tmp_path / "a"),
                "--n",
                "1",
                "--style",
                "flat",
                "--size",
                "512x384",
            ]
        )
        == 1
    )
    with pytest.raises(SystemExit) as error:
        main(["synth", "--out", str(tmp_path / "b"), "--size", "big"])
    assert error.value.code == 2
    assert (
        main(
            [
                "-q",
                "synth",
                "--out",
                str(tmp_path / "c"),
                "--n",
                "1",
                "--scene",
                "full-body",
                "--size",
                "128x96",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    framing = json.loads(Path(tmp_path / "c" / "framing" / "000000_0.json").read_text())
    assert framing["scene"] == "full-body"
    assert json.loads((tmp_path / "c" / "synth.json").read_text())["size"] == [96, 128]
