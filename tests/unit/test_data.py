"""Try-on data: the VITON-layout reader on the demo pairs, and the procedural synthetic generator."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from optimization.data.synth_body import POSES
from optimization.data.synth_garment import CUTS, TEXTURES
from optimization.data.synthetic import (
    FOLDERS,
    pair_names,
    pair_params,
    render_pair,
    write_dataset,
    write_samples,
)

# The reader needs torch and the generator tqdm and matplotlib's fonts: the optimize extra.
pytestmark = pytest.mark.optimize

VITON_DEMO = Path(__file__).resolve().parents[2].parent / "shared" / "viton_demo"
needs_demo = pytest.mark.skipif(not VITON_DEMO.is_dir(), reason="VITON demo pairs not available")


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def synth_dataset(tmp_path_factory) -> Path:
    return write_dataset(
        tmp_path_factory.mktemp("synth") / "data", n_pairs=8, seed=3, progress=False
    )


@pytest.fixture
def demo_copy(tmp_path) -> Path:
    root = tmp_path / "viton"
    shutil.copytree(VITON_DEMO, root, ignore=shutil.ignore_patterns("official_results"))
    return root


# --------------------------------------------------------------------------------------------------
# VITON reader


@needs_demo
def test_demo_items_have_official_shapes_ranges_and_names():
    pytest.importorskip("torch")
    from optimization.data.viton import VitonPairs

    dataset = VitonPairs(VITON_DEMO)
    assert len(dataset) == 4 and not dataset.has_ground_truth
    pairs = [
        line.split() for line in (VITON_DEMO / "pairs.txt").read_text().splitlines() if line.strip()
    ]
    for index, (person_name, cloth_name) in enumerate(pairs):
        item = dataset[index]
        assert (item["person_name"], item["cloth_name"]) == (person_name, cloth_name)
        for key in ("person", "clothes"):
            assert item[key].shape == (3, 256, 192) and str(item[key].dtype) == "torch.float32"
            assert -1.0 <= float(item[key].min()) and float(item[key].max()) <= 1.0
        edge = item["edge"]
        assert edge.shape == (1, 256, 192) and 0.0 <= float(edge.min()) and float(edge.max()) <= 1.0
        # The JPEG silhouette keeps its grey levels: binarising is the model's job.
        assert len(np.unique(edge.numpy())) > 2
        assert 0.4 < float((edge > 0.5).float().mean()) < 0.8
        assert "gt" not in item and "gt_cloth_mask" not in item


@needs_demo
def test_demo_values_match_pil_to_tensor_in_rgb_order():
    pytest.importorskip("torch")
    from optimization.data.viton import VitonPairs, read_rgb

    dataset = VitonPairs(VITON_DEMO)
    item = dataset[2]  # the red polo shirt
    path = VITON_DEMO / "test_clothes" / item["cloth_name"]
    pil = np.array(Image.open(path).convert("RGB"))
    assert read_rgb(path).dtype == np.uint8 and np.array_equal(read_rgb(path), pil)
    as_uint8 = np.round((item["clothes"].numpy().transpose(1, 2, 0) + 1) / 2 * 255).astype(np.uint8)
    assert np.array_equal(as_uint8, pil)
    expected = (pil[100, 96].astype(np.float32) / 255 - 0.5) / 0.5
    assert np.allclose(item["clothes"][:, 100, 96].numpy(), expected, atol=1e-6)
    # Channel order: OpenCV reads BGR; flipped, it agrees with the item up to decoder rounding.
    opencv_rgb = cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1].astype(np.int16)
    assert np.abs(opencv_rgb - as_uint8).mean() < 1.5
    assert np.abs(opencv_rgb[..., ::-1] - as_uint8).mean() > 20
    shirt = as_uint8[80:180, 60:130].reshape(-1, 3).mean(axis=0)
    assert shirt[0] > shirt[2] + 80  # red, not blue
    edge_pil = np.array(Image.open(VITON_DEMO / "test_edge" / item["cloth_name"]).convert("L"))
    assert np.allclose(item["edge"][0].numpy(), edge_pil / 255.0, atol=1e-6)


@needs_demo
@pytest.mark.parametrize("name", ["test_pairs.txt", "demo.txt"])
def test_viton_pairs_file_names_are_found(demo_copy, name):
    pytest.importorskip("torch")
    from optimization.data.viton import VitonPairs

    (demo_copy / "pairs.txt").rename(demo_copy / name)
    dataset = VitonPairs(demo_copy)
    assert dataset.pairs_file.name == name and len(dataset) == 4


@needs_demo
def test_pairs_file_skips_blank_lines_and_comments(demo_copy):
    pytest.importorskip("torch")
    from optimization.data.viton import VitonPairs

    (demo_copy / "mine.txt").write_text(
        "# person cloth\n\n000066_0.jpg 017575_1.jpg  # first\n   \n016962_0.jpg\t003434_1.jpg\n"
    )
    dataset = VitonPairs(demo_copy, pairs_file="mine.txt")
    assert dataset.pairs == [("000066_0.jpg", "017575_1.jpg"), ("016962_0.jpg", "003434_1.jpg")]


@needs_demo
def test_malformed_pairs_line_names_file_and_line(demo_copy):
    pytest.importorskip("torch")
    from optimization.data.viton import VitonPairs

    (demo_copy / "pairs.txt").write_text("000066_0.jpg 017575_1.jpg\n\n016962_0.jpg\n")
    with pytest.raises(ValueError, match=r"pairs\.txt:3"):
        VitonPairs(demo_copy)
    (demo_copy / "pairs.txt").write_text("# nothing here\n")
    with pytest.raises(ValueError, match="no pairs"):
        VitonPairs(demo_copy)


@needs_demo
def test_missing_files_and_folders_are_named(demo_copy):
    pytest.importorskip("torch")
    from optimization.data.viton import VitonPairs

    (demo_copy / "test_edge" / "003434_1.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"test_edge.003434_1\.jpg"):
        VitonPairs(demo_copy)
    shutil.rmtree(demo_copy / "test_edge")
    with pytest.raises(FileNotFoundError, match="test_edge"):
        VitonPairs(demo_copy)
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        VitonPairs(demo_copy / "no-such-folder")


@needs_demo
def test_wrong_size_and_unreadable_images_are_named(demo_copy):
    pytest.importorskip("torch")
    from optimization.data.viton import VitonPairs

    person = demo_copy / "test_img" / "016962_0.jpg"
    Image.open(person).convert("RGB").resize((384, 512)).save(person, quality=90)
    dataset = VitonPairs(demo_copy)
    dataset[0]
    with pytest.raises(ValueError, match=r"016962_0\.jpg.*384x512"):
        dataset[1]
    (demo_copy / "test_clothes" / "014396_1.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(ValueError, match=r"014396_1\.jpg"):
        dataset[2]


def test_synthetic_ground_truth_items_and_batches(synth_dataset):
    torch = pytest.importorskip("torch")
    from optimization.data.viton import VitonPairs

    dataset = VitonPairs(synth_dataset)
    assert dataset.has_ground_truth and len(dataset) == 8
    item = dataset[1]
    assert (
        item["gt"].shape == (3, 256, 192)
        and -1.0 <= float(item["gt"].min()) <= float(item["gt"].max()) <= 1.0
    )
    mask = item["gt_cloth_mask"]
    assert mask.shape == (1, 256, 192) and set(np.unique(mask.numpy())) == {0.0, 1.0}
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=4)))
    assert batch["person"].shape == (4, 3, 256, 192) and batch["gt_cloth_mask"].shape == (
        4,
        1,
        256,
        192,
    )
    assert batch["person_name"][:2] == ["000000_0.jpg", "000001_0.jpg"]
    assert "gt" not in VitonPairs(synth_dataset, with_ground_truth=False)[0]


@needs_demo
def test_ground_truth_flag_is_checked():
    pytest.importorskip("torch")
    from optimization.data.viton import VitonPairs

    with pytest.raises(FileNotFoundError, match="ground truth"):
        VitonPairs(VITON_DEMO, with_ground_truth=True)
    with pytest.raises(ValueError, match="with_ground_truth"):
        VitonPairs(VITON_DEMO, with_ground_truth="yes")


# --------------------------------------------------------------------------------------------------
# Synthetic generator: files


def test_dataset_layout_sizes_and_description(synth_dataset):
    lines = (synth_dataset / "pairs.txt").read_text().splitlines()
    assert lines == [f"{i:06d}_0.jpg {i:06d}_1.jpg" for i in range(8)]
    for index in range(8):
        for key, name in pair_names(index).items():
            path = synth_dataset / name
            low = 200 if key == "gt_cloth_mask" else 1_000
            assert low < path.stat().st_size < 60_000, path
            with Image.open(path) as image:
                assert image.size == (192, 256)
                assert image.format == ("PNG" if key == "gt_cloth_mask" else "JPEG")
                assert image.mode == ("RGB" if key in ("person", "cloth", "gt") else "L")
    edge = np.array(Image.open(synth_dataset / pair_names(0)["edge"]))
    assert ((edge < 40) | (edge > 215)).mean() > 0.97  # a silhouette, not a photo
    assert 0.3 < (edge > 127).mean() < 0.85  # the product fills the frame like VITON's
    mask = np.array(Image.open(synth_dataset / pair_names(0)["gt_cloth_mask"]))
    assert set(np.unique(mask)) == {0, 255}
    description = json.loads((synth_dataset / "synth.json").read_text())
    assert description["seed"] == 3 and description["n_pairs"] == 8 and description["complete"]
    assert [pair["person"] for pair in description["pairs"]] == [f"{i:06d}_0.jpg" for i in range(8)]
    first = description["pairs"][0]
    assert first["garment"]["cut"] in CUTS and first["garment"]["texture"]["kind"] in TEXTURES
    assert first["body"]["pose"] in POSES
    assert first == json.loads(
        json.dumps({"person": "000000_0.jpg", "cloth": "000000_1.jpg", **pair_params(3, 0)})
    )


def test_same_seed_gives_identical_bytes_and_other_seeds_differ(synth_dataset, tmp_path):
    again = write_dataset(tmp_path / "again", n_pairs=8, seed=3, progress=False)
    assert _files(again) == _files(synth_dataset)
    other = _files(write_dataset(tmp_path / "other", n_pairs=8, seed=4, progress=False))
    reference = _files(synth_dataset)
    for index in range(8):
        for name in pair_names(index).values():
            assert other[name] != reference[name], name


def test_pair_does_not_depend_on_dataset_size(synth_dataset, tmp_path):
    small = _files(write_dataset(tmp_path / "small", n_pairs=3, seed=3, progress=False))
    reference = _files(synth_dataset)
    for index in range(3):
        for name in pair_names(index).values():
            assert small[name] == reference[name], name
    person = np.array(Image.open(synth_dataset / pair_names(5)["person"]).convert("RGB")).astype(
        np.int16
    )
    rendered = render_pair(3, 5)["person"].astype(np.int16)
    assert np.abs(person - rendered).mean() < 3  # the same image, through JPEG


def test_bad_arguments_and_foreign_folders_are_refused(tmp_path):
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="number of pairs"):
            write_dataset(tmp_path / "a", n_pairs=bad, seed=0, progress=False)
    with pytest.raises(ValueError, match="seed"):
        write_dataset(tmp_path / "a", n_pairs=1, seed=-1, progress=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        write_dataset(tmp_path / "file", n_pairs=1, seed=0, progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        write_dataset(foreign, n_pairs=1, seed=0, progress=False)
    assert (foreign / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="seed"):
        render_pair(-1, 0)


def test_rewriting_our_own_folder_leaves_no_stale_pairs(tmp_path):
    out = write_dataset(tmp_path / "data", n_pairs=3, seed=0, progress=False)
    write_dataset(out, n_pairs=1, seed=0, progress=False)
    assert sorted(p.name for p in (out / "test_img").iterdir()) == ["000000_0.jpg"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*FOLDERS, "pairs.txt", "synth.json"])
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="notes.txt"):
        write_dataset(out, n_pairs=1, seed=0, progress=False)


# --------------------------------------------------------------------------------------------------
# Synthetic generator: content


def test_ground_truth_differs_from_person_only_where_the_garments_are():
    for index in range(8):
        pair = render_pair(11, index)
        changed = np.any(pair["person"] != pair["gt"], axis=2)
        garments = (pair["gt_cloth_mask"] > 0) | (pair["person_cloth_mask"] > 0)
        distance = cv2.distanceTransform((~garments).astype(np.uint8), cv2.DIST_L2, 5)[changed]
        assert changed.sum() > 2000, index  # a different garment is visibly different
        # Beyond the garments' edges only the soft rims of arms lying over hidden garment change.
        assert distance.max() < 20, index
        assert (distance > 3).sum() < 50, index
        unchanged = cv2.dilate(garments.astype(np.uint8), np.ones((41, 41), np.uint8)) == 0
        assert np.array_equal(pair["person"][unchanged], pair["gt"][unchanged]), index


def test_garment_masks_are_plausible_and_match_the_product():
    for index in range(6):
        pair = render_pair(12, index)
        mask = pair["gt_cloth_mask"] > 0
        assert 0.08 < mask.mean() < 0.6, index
        rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        assert rows.min() > 45 and rows.max() < 250 and columns.min() > 0 and columns.max() < 191, (
            index
        )
        # The worn garment is the product's garment: same dominant colours, under shading.
        product = pair["cloth"][pair["edge"] > 127].astype(np.float32)
        worn = pair["gt"][mask].astype(np.float32)
        assert np.abs(np.median(product, axis=0) - np.median(worn, axis=0)).max() < 60, index
        before = pair["person"][pair["person_cloth_mask"] > 0].astype(np.float32)
        assert len(before) > 0.05 * mask.size, index


def test_requested_variety_appears_over_sixty_pairs():
    params = [pair_params(5, index) for index in range(60)]
    assert {p["garment"]["cut"] for p in params} == set(CUTS)
    assert {p["garment"]["texture"]["kind"] for p in params} == set(TEXTURES)
    assert {p["body"]["pose"] for p in params} == set(POSES)
    crossed = sum(p["body"]["pose"] == "crossed" for p in params) / len(params)
    assert 0.15 <= crossed <= 0.5
    for p in params:
        assert p["person_garment"]["cut"] != p["garment"]["cut"]
        assert p["person_garment"]["texture"]["kind"] != p["garment"]["texture"]["kind"]
    assert len(Counter(tuple(p["body"]["skin"]) for p in params)) == 60
    assert len({p["body"]["hair"]["style"] for p in params}) >= 4


def _centre_column_gap(mask: np.ndarray, centre_x: float) -> int:
    """Longest run of non-garment rows between the first and last garment rows near the centre."""
    column = mask[:, int(round(centre_x)) - 2 : int(round(centre_x)) + 3].all(axis=1)
    rows = np.flatnonzero(column)
    if len(rows) < 2:
        return 0
    return int((np.diff(rows) - 1).max())


def test_crossed_arms_occlude_the_garment_and_others_do_not():
    chosen = {"crossed": [], "other": []}
    for index in range(120):
        params = pair_params(8, index)
        sleeve = params["garment"]["geometry"]["sleeve"]
        if sleeve is not None and sleeve["length"] > 40:
            continue  # long sleeves cover the crossed forearms with the garment itself
        pose = params["body"]["pose"]
        group = (
            "crossed" if pose == "crossed" else ("other" if pose in ("sides", "raised") else None)
        )
        if group and len(chosen[group]) < 4:
            chosen[group].append(index)
    for group, indices in chosen.items():
        assert len(indices) == 4
        for index in indices:
            pair = render_pair(8, index)
            gap = _centre_column_gap(pair["gt_cloth_mask"] > 0, pair["params"]["body"]["centre_x"])
            assert (gap >= 6) == (group == "crossed"), (group, index, gap)


def test_sleeves_follow_the_arms():
    checked = Counter()
    for index in range(120):
        params = pair_params(9, index)
        cut = params["garment"]["cut"]
        sleeve = params["garment"]["geometry"]["sleeve"]
        if params["body"]["pose"] not in ("sides", "raised"):
            continue
        if cut == "tank" or (sleeve and sleeve["length"] >= 96):
            kind = "bare" if cut == "tank" else "long"
            if checked[kind] >= 3:
                continue
            pair = render_pair(9, index)
            for arm in pair["params"]["body"]["arms"]:
                elbow, wrist = np.array(arm["elbow"]), np.array(arm["wrist"])
                x, y = np.round(elbow + 0.6 * (wrist - elbow)).astype(int)
                if 0 <= x < 192 and 0 <= y < 256:
                    assert (pair["gt_cloth_mask"][y, x] > 0) == (kind == "long"), (index, kind)
            checked[kind] += 1
    assert checked == {"bare": 3, "long": 3}


def test_render_pair_accepts_a_generator():
    first = render_pair(np.random.default_rng(42))
    second = render_pair(np.random.default_rng(42))
    for key in ("person", "cloth", "edge", "gt", "gt_cloth_mask"):
        assert np.array_equal(first[key], second[key])
        assert first[key].dtype == np.uint8 and first[key].shape[:2] == (256, 192)
    assert first["person"].shape == (256, 192, 3) and first["edge"].shape == (256, 192)


def test_samples_pair_each_person_with_another_garment_and_keep_other_files(tmp_path):
    (tmp_path / "icons").mkdir()
    (tmp_path / "icons" / "app.svg").write_text("<svg/>")
    written = write_samples(tmp_path, 3, seed=5)

    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        f"{folder}/{stem}_{i:02d}.jpg"
        for folder, stem in (("garments", "garment"), ("persons", "person"))
        for i in (1, 2, 3)
    ]
    assert (tmp_path / "icons" / "app.svg").read_text() == "<svg/>"
    first = Image.open(tmp_path / "persons" / "person_01.jpg")
    assert first.size == (192, 256) and first.mode == "RGB"
    again = write_samples(tmp_path / "again", 3, seed=5)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in written]
    pair = render_pair(5, 0)
    decoded = np.asarray(Image.open(tmp_path / "garments" / "garment_01.jpg"), dtype=float)
    assert np.abs(decoded - pair["cloth"]).mean() < 3  # JPEG of the pair's requested garment
    with pytest.raises(ValueError, match="positive"):
        write_samples(tmp_path, 0, seed=5)


def test_the_mixed_style_draws_every_fourth_pair_flat():
    from optimization.data.synthetic import pair_style, render_pair

    assert [pair_style("mixed", index) for index in range(8)] == ["realistic"] * 3 + ["flat"] + [
        "realistic"
    ] * 3 + ["flat"]
    for index, style in ((3, "flat"), (4, "realistic")):
        mixed, alone = render_pair(5, index, "mixed"), render_pair(5, index, style)
        np.testing.assert_array_equal(mixed["person"], alone["person"])
        np.testing.assert_array_equal(mixed["gt"], alone["gt"])
