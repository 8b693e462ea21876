"""Parameter and MAC counts match the official model (pfafn.md section 5); artifact sizes add up."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.optimize
torch = pytest.importorskip("torch")

from optimization.archs.tryon import build_models  # noqa: E402
from optimization.archs.widths import GenWidths, WarpWidths, tiny_gen_widths, tiny_warp_widths  # noqa: E402
from optimization.model_stats import (  # noqa: E402
    artifact_stats,
    count_macs,
    gen_compute,
    warp_compute,
)


def test_official_warp_module_counts():
    stats = warp_compute(WarpWidths())
    assert stats.parameters == 29_304_416
    assert stats.conv_macs / 1e9 == pytest.approx(46.894, abs=5e-4)
    # 0.602 M + 2.408 M + 9.634 M + 38.535 M + 154.141 M over the five levels.
    assert stats.correlation_macs / 1e6 == pytest.approx(205.32, abs=0.01)


def test_official_generator_counts():
    stats = gen_compute(GenWidths())
    assert stats.parameters == 43_899_968
    assert stats.conv_macs / 1e9 == pytest.approx(21.906, abs=5e-4)
    assert stats.correlation_macs == 0
    assert stats.gflops == pytest.approx(2 * 21.906, abs=1e-3)


def test_a_real_model_counts_like_its_widths():
    warp_model, gen_model = build_models(tiny_warp_widths(), tiny_gen_widths())
    assert warp_compute(warp_model) == warp_compute(tiny_warp_widths())
    assert gen_compute(gen_model) == gen_compute(tiny_gen_widths())


def test_macs_follow_the_formula_for_a_strided_grouped_conv():
    conv = torch.nn.Conv2d(8, 6, kernel_size=(3, 5), stride=2, padding=1, groups=2)
    conv_macs, correlation_macs = count_macs(conv, torch.zeros(2, 8, 20, 30))
    height, width = (20 + 2 - 3) // 2 + 1, (30 + 2 - 5) // 2 + 1
    assert conv_macs == 6 * height * width * (8 // 2) * 3 * 5
    assert correlation_macs == 0


def test_hooks_are_removed_after_counting():
    conv = torch.nn.Conv2d(3, 4, 3)
    count_macs(conv, torch.zeros(1, 3, 8, 8))
    assert not conv._forward_hooks


def _fake_artifact(folder, sizes, architecture=None):
    folder.mkdir()
    for relative, size in sizes.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * size)
    metadata = {
        "files": dict.fromkeys(sizes, "hash"),
        "layouts": {"split": {}, "fused": "fused.xml"},
    }
    if architecture:
        metadata["architecture"] = architecture
    (folder / "metadata.json").write_text(json.dumps(metadata))
    return folder


def test_artifact_sizes_are_split_by_module(tmp_path):
    sizes = {
        "split/features.xml": 1_000,
        "split/features.bin": 2_000_000,
        "split/level_0.bin": 500_000,
        "split/level_4.xml": 1_000,
        "split/render.xml": 3_000,
        "split/render.bin": 4_000_000,
        "fused.xml": 5_000,
        "fused.bin": 6_500_000,
    }
    stats = artifact_stats(_fake_artifact(tmp_path / "model", sizes), compute=False)
    assert stats.warp_mb == pytest.approx(2.502)
    assert stats.gen_mb == pytest.approx(4.003)
    assert stats.split_mb == pytest.approx(6.505)
    assert stats.fused_mb == pytest.approx(6.505)
    assert stats.warp is None and stats.parameters is None and stats.gflops is None


def test_artifact_compute_comes_from_its_metadata_architecture(tmp_path):
    architecture = {"warp": tiny_warp_widths().to_dict(), "gen": tiny_gen_widths().to_dict()}
    folder = _fake_artifact(tmp_path / "model", {"split/render.bin": 10}, architecture)
    stats = artifact_stats(folder)
    expected_warp, expected_gen = warp_compute(tiny_warp_widths()), gen_compute(tiny_gen_widths())
    assert stats.parameters == expected_warp.parameters + expected_gen.parameters
    assert stats.gflops == pytest.approx(expected_warp.gflops + expected_gen.gflops)
    document = stats.to_dict()
    assert document["size_mb"]["gen"] == pytest.approx(1e-5, abs=1e-3)
    assert document["warp"]["parameters"] == expected_warp.parameters


def test_a_folder_without_metadata_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="metadata.json"):
        artifact_stats(tmp_path)
