"""From a MAC budget to each method's setting (`optimization.compare_methods`), on a 1/16-width
generator (and warping module, for depth): the chosen pruning ratio and depth spec meet the budget
once really applied."""

from __future__ import annotations

import copy

import pytest

pytestmark = [pytest.mark.optimize, pytest.mark.slow]
torch = pytest.importorskip("torch")
pytest.importorskip("torch_pruning")

from optimization.archs.afwm import AFWM, measure_warp_widths  # noqa: E402
from optimization.archs.generator import ResUnetGenerator, measure_gen_widths  # noqa: E402
from optimization.archs.widths import GenWidths, WarpWidths  # noqa: E402
from optimization.cli import main as optimize  # noqa: E402
from optimization.compare_methods import (  # noqa: E402
    budget_key,
    depth_for_budget,
    depth_specs,
    ratio_for_budget,
    warp_depth_specs,
)
from optimization.depth import plan_depth, remove_depth, remove_warp_depth  # noqa: E402
from optimization.model_stats import gen_compute, warp_compute  # noqa: E402
from optimization.prune import kept_channels, prunable_groups, prune_model  # noqa: E402
from optimization.recipes import DepthRecipe, PruneRecipe  # noqa: E402
from optimization.sensitivity import allocate_ratios  # noqa: E402

ROUND_TO = 2


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return ResUnetGenerator(GenWidths().scaled(0.0625)).eval()


def _pruned_macs(model, recipe: PruneRecipe) -> int:
    pruned = copy.deepcopy(model)
    prune_model(pruned, recipe)
    return gen_compute(pruned).macs


def test_the_ratio_meets_the_budget_when_pruned_and_is_the_smallest_that_does(generator):
    full = gen_compute(generator).macs
    budget = int(0.45 * full)
    ratio, planned = ratio_for_budget(generator, budget, round_to=ROUND_TO)
    assert _pruned_macs(generator, PruneRecipe(ratio=ratio, round_to=ROUND_TO)) == planned
    assert planned <= budget
    # A little less pruning no longer fits.
    assert _pruned_macs(generator, PruneRecipe(ratio=ratio - 0.02, round_to=ROUND_TO)) > budget


def test_a_sensitivity_guided_ratio_meets_the_budget_with_its_group_ratios(generator):
    groups = []
    for index, group in enumerate(prunable_groups(generator)):
        result = {"kept": kept_channels(group.width, 0.5, ROUND_TO), "ssim": 0.99 - 0.01 * index}
        groups.append({"name": group.name, "width": group.width, "results": {"0.5": result}})
    sensitivity = {"kind": "gen", "ratios": [0.5], "groups": groups}
    full = gen_compute(generator).macs
    budget = int(0.5 * full)
    ratio, planned = ratio_for_budget(generator, budget, round_to=ROUND_TO, sensitivity=sensitivity)
    recipe = PruneRecipe(
        ratio=ratio, round_to=ROUND_TO, group_ratios=allocate_ratios(sensitivity, ratio)
    )
    assert _pruned_macs(generator, recipe) == planned <= budget


def test_the_depth_spec_meets_the_budget_when_removed(generator):
    full = gen_compute(generator).macs
    budget = int(0.5 * full)
    spec, planned = depth_for_budget(generator, budget)
    inputs = torch.rand(2, 7, 64, 64) * 2 - 1
    shallower, _, _ = remove_depth(generator, DepthRecipe.parse(spec), inputs)
    assert gen_compute(shallower).macs == planned <= budget
    # The closest under the budget: no other spec costs more while still fitting.
    widths = measure_gen_widths(generator)
    costs = [
        gen_compute(plan_depth(widths, DepthRecipe.parse(other), {}).widths).macs
        for other in depth_specs(widths.levels)
    ]
    assert not [cost for cost in costs if planned < cost <= budget]


def test_the_warp_depth_spec_meets_the_budget_when_removed(monkeypatch):
    torch.manual_seed(0)
    warp_model = AFWM(WarpWidths().scaled(0.0625)).eval()
    full = warp_compute(warp_model).macs
    budget = int(0.7 * full)
    # A few of the specs: counting the warping module's MACs takes most of a second each.
    specs = ["r4=0", "blocks=1", "blocks=1,r4=0", "blocks=1,r3=0,r4=0", "blocks=0,refine=0"]
    assert set(specs) <= set(warp_depth_specs())
    monkeypatch.setattr("optimization.compare_methods.warp_depth_specs", lambda: specs)
    spec, planned = depth_for_budget(warp_model, budget)
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    pairs = (images[:1], images[1:], torch.ones(1, 1, 64, 64))
    shallower, _, _ = remove_warp_depth(warp_model, DepthRecipe.parse(spec, "cwm"), pairs)
    assert warp_compute(shallower).macs == planned <= budget
    widths = measure_warp_widths(warp_model)
    costs = [
        warp_compute(plan_depth(widths, DepthRecipe.parse(other, "cwm"), {}).widths).macs
        for other in specs
    ]
    assert not [cost for cost in costs if planned < cost <= budget]
    with pytest.raises(ValueError, match="warping module .* above the budget"):
        depth_for_budget(warp_model, min(costs) - 1)


def test_out_of_reach_budgets_are_refused(generator):
    tiny_budget = int(0.01 * gen_compute(generator).macs)
    with pytest.raises(ValueError, match="above the budget"):
        ratio_for_budget(generator, tiny_budget, round_to=ROUND_TO)
    with pytest.raises(ValueError, match="above the budget"):
        depth_for_budget(generator, tiny_budget)


def test_depth_specs_and_budget_names():
    specs = depth_specs(5)
    assert len(specs) == len(set(specs)) == 4 * 9 - 1  # all but "remove nothing"
    assert all(DepthRecipe.parse(spec).spec == spec for spec in specs)
    assert "levels=2,blocks=0" in specs and "blocks=1" in specs
    warp_specs = warp_depth_specs()
    assert len(warp_specs) == len(set(warp_specs)) == 3 * 6 - 1
    assert all(DepthRecipe.parse(spec, "cwm").spec == spec for spec in warp_specs)
    assert "r3=0,r4=0" in warp_specs and "blocks=0,refine=0" in warp_specs
    assert [budget_key(share) for share in (0.5, 0.3, 0.325)] == ["50", "30", "32.5"]


@pytest.mark.parametrize("budget", ["1.5", "0", "half"])
def test_a_budget_outside_0_and_1_is_a_usage_error(budget, tmp_path):
    with pytest.raises(SystemExit) as usage:
        optimize(["compare-methods", "igm", "--out", str(tmp_path), "--budgets", budget])
    assert usage.value.code == 2
