"""Structured pruning keeps PF-AFN's couplings and leaves a network its widths fully describe."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.optimize
torch = pytest.importorskip("torch")
pytest.importorskip("torch_pruning")

from optimization.archs.afwm import AFWM  # noqa: E402
from optimization.archs.generator import ResUnetGenerator  # noqa: E402
from optimization.archs.widths import GenWidths, WarpWidths  # noqa: E402
from optimization.model_stats import count_parameters  # noqa: E402
from optimization.prune import (  # noqa: E402
    example_inputs,
    kept_channels,
    prunable_groups,
    prune_channels,
    prune_model,
    rebuild,
)
from optimization.recipes import PruneRecipe  # noqa: E402

# An eighth of the official widths: every group is wide enough to prune at round_to=8.
WARP_WIDTHS = WarpWidths().scaled(0.125)
GEN_WIDTHS = GenWidths().scaled(0.125)


@pytest.fixture
def warp_model():
    torch.manual_seed(0)
    return AFWM(WARP_WIDTHS).eval()


@pytest.fixture
def gen_model():
    torch.manual_seed(0)
    return ResUnetGenerator(GEN_WIDTHS).eval()


def _kept_indices(original: torch.Tensor, pruned: torch.Tensor) -> list[int]:
    """Which entries of `original` survive in `pruned` (values are distinct random floats)."""
    return [int((original == value).nonzero()[0]) for value in pruned]


def test_both_pyramids_keep_the_same_channels(warp_model):
    original = {
        name: module.bias.clone()
        for name, module in warp_model.named_modules()
        if "smooth." in name
    }
    prune_model(warp_model, PruneRecipe(ratio=0.5), inputs=example_inputs(warp_model, 64, 64))
    for level in range(5):
        cloth = _kept_indices(
            original[f"image_FPN.smooth.{level}"], warp_model.image_FPN.smooth[level].bias
        )
        person = _kept_indices(
            original[f"cond_FPN.smooth.{level}"], warp_model.cond_FPN.smooth[level].bias
        )
        # The correlation multiplies channel c of one pyramid with channel c of the other.
        assert cloth == person
        assert len(cloth) == 16


def test_flow_outputs_stems_and_generator_output_are_never_pruned(warp_model, gen_model):
    prune_model(warp_model, PruneRecipe(ratio=0.6), inputs=example_inputs(warp_model, 64, 64))
    prune_model(gen_model, PruneRecipe(ratio=0.6), inputs=example_inputs(gen_model, 64, 64))
    heads = [*warp_model.aflow_net.netMain, *warp_model.aflow_net.netRefine]
    assert all(head[-1].out_channels == 2 for head in heads)
    assert all(head[0].in_channels == 49 for head in warp_model.aflow_net.netMain)
    for encoder, width in (
        (warp_model.image_features, WARP_WIDTHS.cloth_encoder[0]),
        (warp_model.cond_features, WARP_WIDTHS.person_encoder[0]),
    ):
        stem = encoder.encoders[0][0].block[2]
        assert (stem.in_channels, stem.out_channels) == (3, width)
    assert gen_model.model.downconv.in_channels == 7
    assert gen_model.model.downconv.out_channels == GEN_WIDTHS.down[0]
    assert gen_model.model.upconv.out_channels == 4


@pytest.mark.parametrize("kind", ["warp", "gen"])
def test_widths_rebuild_the_pruned_network_exactly(kind, warp_model, gen_model):
    model = warp_model if kind == "warp" else gen_model
    inputs = example_inputs(model, 64, 64)
    widths = prune_model(model, PruneRecipe(ratio=0.4), inputs=inputs)
    fresh = rebuild(model).eval()
    with torch.no_grad():
        expected, got = model(*inputs), fresh(*inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    for a, b in zip(expected, got, strict=True):
        assert torch.equal(a, b)
    assert widths == type(widths).from_dict(widths.to_dict())


@pytest.mark.parametrize("ratio", [0.25, 0.4])
def test_parameters_shrink_about_quadratically(ratio, gen_model):
    before = count_parameters(gen_model)
    prune_model(gen_model, PruneRecipe(ratio=ratio), inputs=example_inputs(gen_model, 64, 64))
    remaining = count_parameters(gen_model) / before
    assert remaining == pytest.approx((1 - ratio) ** 2, abs=0.08)


def test_kept_channels_round_to_the_nearest_multiple():
    assert kept_channels(64, 0.4, 8) == 40  # 38.4 -> 40, not down to 32
    assert kept_channels(32, 0.4, 8) == 16  # 19.2 -> 16
    assert kept_channels(16, 0.75, 8) == 8  # never below one multiple
    assert kept_channels(8, 0.5, 8) == 8  # too narrow to prune
    assert kept_channels(64, 0.0, 8) == 64


def test_pruning_keeps_the_correlation_mean_in_scale(warp_model):
    # Removing channels shrinks the divisor of the channel mean; the main flow heads' first layer
    # is scaled by kept/total so that it sees cost volumes of the same size.
    before = warp_model.aflow_net.netMain[4][0].weight.detach().clone()
    prune_model(
        warp_model,
        PruneRecipe(ratio=0.5, group_ratios={}),
        inputs=example_inputs(warp_model, 64, 64),
    )
    kept_rows = _kept_indices(
        before[:, 0, 0, 0], warp_model.aflow_net.netMain[4][0].weight[:, 0, 0, 0] * 2
    )
    after = warp_model.aflow_net.netMain[4][0].weight
    assert torch.allclose(after * 2, before[kept_rows][:, :, :, :])


def test_group_ratios_prune_only_the_named_group(gen_model):
    groups = {g.name: g.width for g in prunable_groups(gen_model)}
    name = max(groups, key=groups.get)
    prune_model(
        gen_model,
        PruneRecipe(ratio=0.0, group_ratios={name: 0.5}),
        inputs=example_inputs(gen_model, 64, 64),
    )
    after = {g.name: g.width for g in prunable_groups(gen_model)}
    changed = {n for n in groups if after.get(n) != groups[n]}
    assert changed == {name}
    assert after[name] == kept_channels(groups[name], 0.5, 8)


def test_iterative_pruning_reaches_the_same_widths_and_calls_back(gen_model):
    calls = []
    one_shot = ResUnetGenerator(GEN_WIDTHS).eval()
    inputs = example_inputs(gen_model, 64, 64)
    widths = prune_model(
        gen_model,
        PruneRecipe(ratio=0.5, iterative_steps=2),
        inputs=inputs,
        between_steps=lambda m, step: calls.append(step),
    )
    assert calls == [1]
    assert widths == prune_model(one_shot, PruneRecipe(ratio=0.5), inputs=inputs)


def test_prune_channels_removes_exactly_those(gen_model):
    groups = {g.name: g.width for g in prunable_groups(gen_model)}
    name = next(iter(groups))
    prune_channels(gen_model, name, [0, 3])
    assert {g.name: g.width for g in prunable_groups(gen_model)}[name] == groups[name] - 2


def test_bad_recipes_are_refused(gen_model):
    with pytest.raises(ValueError, match="ratios"):
        PruneRecipe(ratio=0.95)
    with pytest.raises(ValueError, match="importance"):
        PruneRecipe(ratio=0.3, importance="random")
    with pytest.raises(ValueError, match="unknown group"):
        prune_model(
            gen_model,
            PruneRecipe(ratio=0.3, group_ratios={"nope": 0.5}),
            inputs=example_inputs(gen_model, 64, 64),
        )
    with pytest.raises(ValueError, match="loss"):
        prune_model(gen_model, PruneRecipe(ratio=0.3, importance="taylor"))


def test_taylor_importance_uses_the_loss_gradients(gen_model):
    inputs = example_inputs(gen_model, 64, 64)
    losses = []

    def loss_fn(model):
        loss = model(*inputs).abs().mean()
        losses.append(float(loss.detach()))
        return loss

    prune_model(
        gen_model, PruneRecipe(ratio=0.25, importance="taylor"), inputs=inputs, loss_fn=loss_fn
    )
    assert len(losses) == 1
    assert count_parameters(gen_model) < count_parameters(ResUnetGenerator(GEN_WIDTHS))
