"""Sensitivity analysis: measured per group and per filter, and turned into per-group ratios."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.optimize
torch = pytest.importorskip("torch")
pytest.importorskip("torch_pruning")

from optimization.archs.tryon import build_models  # noqa: E402
from optimization.archs.widths import tiny_gen_widths, tiny_warp_widths  # noqa: E402
from optimization.model_stats import gen_compute  # noqa: E402
from optimization.sensitivity import (  # noqa: E402
    allocate_ratios,
    filter_sensitivity,
    group_sensitivity,
    write_report,
)


def _fake_result(drops: dict[str, float], widths: dict[str, int] | None = None) -> dict:
    """A sensitivity result where group g loses `drops[g]` SSIM at ratio 0.5 (linear in ratio)."""
    widths = widths or dict.fromkeys(drops, 64)
    return {
        "kind": "gen",
        "ratios": ["0.25", "0.5"],
        "groups": [
            {
                "name": name,
                "width": widths[name],
                "results": {
                    "0.25": {"kept": 48, "mse": 0.0, "ssim": 1 - drop / 2},
                    "0.5": {"kept": 32, "mse": 0.0, "ssim": 1 - drop},
                },
            }
            for name, drop in drops.items()
        ],
    }


def test_allocation_prunes_robust_groups_more_at_the_same_mean():
    result = _fake_result({"fragile": 0.2, "middle": 0.02, "robust": 0.002})
    ratios = allocate_ratios(result, 0.4)
    assert ratios["fragile"] < ratios["middle"] < ratios["robust"]
    assert sum(ratios.values()) / 3 == pytest.approx(0.4, abs=1e-3)


def test_allocation_respects_the_ceiling_and_widths():
    result = _fake_result({"a": 0.5, "b": 1e-6}, widths={"a": 192, "b": 64})
    ratios = allocate_ratios(result, 0.5, ceiling=0.8)
    assert ratios["b"] == pytest.approx(0.8)
    assert (192 * ratios["a"] + 64 * ratios["b"]) / 256 == pytest.approx(0.5, abs=1e-3)


def test_allocation_sees_through_ratios_that_rounding_made_free():
    # At 0.25 the 16-wide group keeps all 16 channels (round_to 8), so it measured no loss; at
    # 0.5 it lost 8 channels and 0.1 SSIM. It is the fragile one, not a free one to prune hard.
    result = _fake_result({"narrow": 0.1, "wide": 0.02}, widths={"narrow": 16, "wide": 64})
    narrow = result["groups"][0]["results"]
    narrow["0.25"].update(kept=16, ssim=1.0)
    narrow["0.5"].update(kept=8)
    ratios = allocate_ratios(result, 0.25)
    assert ratios["narrow"] < 0.25 < ratios["wide"]


def test_allocation_keeps_the_mean_by_compute_not_parameters():
    # Equal widths; "costly" holds 9x the MACs per channel of "cheap" but a thousandth of its
    # parameters. The mean is weighted by MACs (what the CPU pays), the parameters ignored.
    result = _fake_result({"costly": 0.2, "cheap": 0.002})
    for group, macs, parameters in zip(result["groups"], (9e6, 1e6), (1e3, 1e6), strict=True):
        for measured in group["results"].values():
            removed = 64 - measured["kept"]
            measured.update(macs_removed=macs * removed, parameters_removed=parameters * removed)
    ratios = allocate_ratios(result, 0.3)
    assert ratios["costly"] < ratios["cheap"]
    assert (9 * ratios["costly"] + ratios["cheap"]) / 10 == pytest.approx(0.3, abs=1e-3)


@pytest.fixture
def tiny_setup():
    torch.manual_seed(0)
    warp_model, gen_model = build_models(tiny_warp_widths(), tiny_gen_widths())
    generator = torch.Generator().manual_seed(3)
    person = torch.rand(2, 3, 64, 64, generator=generator) * 2 - 1
    clothes = torch.rand(2, 3, 64, 64, generator=generator) * 2 - 1
    edge = torch.ones(2, 1, 64, 64)
    return warp_model, gen_model, (person, clothes, edge)


@pytest.mark.slow
def test_group_sensitivity_measures_every_prunable_group(tiny_setup, tmp_path):
    warp_model, gen_model, samples = tiny_setup
    total_macs = gen_compute(gen_model).macs
    result = group_sensitivity(
        warp_model, gen_model, "gen", samples, ratios=(0.5,), round_to=4, progress=False
    )
    assert result["kind"] == "gen" and result["groups"]
    for group in result["groups"]:
        measured = group["results"]["0.5"]
        assert measured["kept"] < group["width"]
        assert 0 < measured["macs_removed"] < total_macs
        assert measured["ssim"] <= 1.0 + 1e-6 and measured["mse"] >= 0.0
    # Removing half of some group must change the try-on somewhere.
    assert max(g["results"]["0.5"]["mse"] for g in result["groups"]) > 0
    json_path, png_path = write_report(result, tmp_path, "gen")
    assert json.loads(json_path.read_text())["groups"] == result["groups"]
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_filter_sensitivity_ranks_single_filters(tiny_setup, tmp_path):
    warp_model, gen_model, samples = tiny_setup
    group = "model.model.4.model.7"  # the 8-wide up-path BN group of the second level
    result = filter_sensitivity(warp_model, gen_model, "gen", group, samples, progress=False)
    losses = [1 - f["ssim"] for f in result["filters"]]
    assert len(losses) == 8 and losses == sorted(losses, reverse=True)
    assert sorted(f["index"] for f in result["filters"]) == list(range(8))
    assert write_report(result, tmp_path, "filters")[1].is_file()
    with pytest.raises(ValueError, match="not a prunable group"):
        filter_sensitivity(warp_model, gen_model, "gen", "nope", samples, progress=False)
