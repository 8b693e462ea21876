"""Depth pruning of the generator, its recipe, the dynamic loss weights and the discriminator,
on generators 1/16 of the official width."""

from __future__ import annotations

import copy

import pytest

pytestmark = pytest.mark.optimize
torch = pytest.importorskip("torch")

from optimization.adversarial import Adversary, PatchDiscriminator  # noqa: E402
from optimization.archs.generator import (  # noqa: E402
    RemovedBlock,
    ResidualBlock,
    ResUnetGenerator,
    measure_gen_widths,
    residual_paths,
)
from optimization.archs.tryon import build_models  # noqa: E402
from optimization.archs.widths import GenWidths, WarpWidths  # noqa: E402
from optimization.checkpoints import load_models, save_checkpoint  # noqa: E402
from optimization.depth import block_impact, remove_depth, residual_block_count  # noqa: E402
from optimization.loss_weighting import UncertaintyWeighting  # noqa: E402
from optimization.model_stats import count_parameters  # noqa: E402
from optimization.recipes import DepthRecipe  # noqa: E402

WIDTHS = GenWidths().scaled(0.0625)


@pytest.fixture
def generator():
    torch.manual_seed(0)
    return ResUnetGenerator(WIDTHS).eval()


@pytest.fixture
def inputs():
    # Any size divisible by 32 runs the five levels; small keeps the test fast.
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(2, 6, 64, 64, generator=generator) * 2 - 1
    mask = (torch.rand(2, 1, 64, 64, generator=generator) > 0.5).float()
    return torch.cat([images, mask], dim=1)


def _blocks(model) -> list[ResidualBlock]:
    return [m for m in model.modules() if isinstance(m, ResidualBlock)]


@pytest.mark.parametrize(
    ("spec", "blocks_left", "levels_left"),
    [
        ("blocks=1", 9, 5),  # one of the two blocks on each of the 9 paths
        ("levels=4", 14, 4),  # the innermost block's 2 encoder and 2 decoder blocks go
        ("levels=3,blocks=0", 0, 3),
        ("d0=0,u0=1", 15, 5),
    ],
)
def test_depth_removal_keeps_the_output_shape_and_removes_blocks(
    generator, inputs, spec, blocks_left, levels_left
):
    assert len(_blocks(generator)) == 18
    shallower, plan, _ = remove_depth(generator, DepthRecipe.parse(spec), inputs)
    assert len(_blocks(shallower)) == blocks_left == residual_block_count(shallower)
    assert plan.widths.levels == levels_left == measure_gen_widths(shallower).levels
    assert count_parameters(shallower) < count_parameters(generator)
    with torch.no_grad():
        assert shallower(inputs).shape == generator(inputs).shape == (2, 4, 64, 64)
    assert len(_blocks(generator)) == 18  # the original is left as it was


def test_removed_blocks_leave_the_kept_layers_computing_what_they_did(generator, inputs):
    shallower, plan, _ = remove_depth(generator, DepthRecipe.parse("blocks=1,u2=0"), inputs)
    assert len(plan.removed) == 10
    # The original with the same blocks skipped is the same function.
    paths = residual_paths(generator)
    handles = []
    for name in plan.removed:
        path, slot = name.split(".")
        handles.append(
            paths[path][int(slot)].register_forward_hook(lambda module, args, output: args[0])
        )
    with torch.no_grad():
        expected = generator(inputs)
    for handle in handles:
        handle.remove()
    with torch.no_grad():
        torch.testing.assert_close(shallower(inputs), expected, rtol=1e-5, atol=1e-5)
        assert not torch.allclose(generator(inputs), expected, atol=1e-4)


def test_the_block_whose_removal_changes_the_tryon_least_goes(generator, inputs):
    # A zero residual branch makes the second block of d1 an identity: removing it is free.
    second = residual_paths(generator)["d1"][1]
    with torch.no_grad():
        second.block[4].weight.zero_()
        second.block[4].bias.zero_()
    impact = block_impact(generator, inputs)
    assert impact["d1.1"] < 1e-7 < impact["d1.0"]
    shallower, plan, _ = remove_depth(generator, DepthRecipe.parse("d1=1"), inputs)
    assert plan.removed == ("d1.1",)
    assert isinstance(residual_paths(shallower)["d1"][1], RemovedBlock)
    with torch.no_grad():
        torch.testing.assert_close(shallower(inputs), generator(inputs), rtol=1e-5, atol=1e-5)


def test_a_depth_pruned_generator_round_trips_through_its_checkpoint(generator, inputs, tmp_path):
    shallower, plan, _ = remove_depth(generator, DepthRecipe.parse("levels=4,up=1"), inputs)
    warp_widths = WarpWidths().scaled(0.0625)
    warp_model, _ = build_models(warp_widths, WIDTHS)
    save_checkpoint(tmp_path / "warp.pth", warp_model, warp_widths)
    save_checkpoint(tmp_path / "gen.pth", shallower, measure_gen_widths(shallower))
    _, loaded = load_models(tmp_path / "warp.pth", tmp_path / "gen.pth")
    assert measure_gen_widths(loaded) == plan.widths
    assert GenWidths.from_dict(plan.widths.to_dict()) == plan.widths
    with torch.no_grad():
        assert torch.equal(loaded(inputs), shallower(inputs))


def test_widths_keep_removed_blocks_removed_when_scaled():
    widths = GenWidths(
        down=(16, 32, 64, 64),
        up=(16, 32, 64),
        down_inner=((16, 0), (0, 32), (64, 64), (0, 0)),
        up_inner=((0, 16), (32, 32), (0, 0)),
    )
    half = widths.scaled(0.5)
    assert half.down_inner == ((8, 0), (0, 16), (32, 32), (0, 0))
    assert half.up_inner == ((0, 8), (16, 16), (0, 0))
    with pytest.raises(ValueError, match="2 to 5"):
        GenWidths(down=(16,), up=())
    with pytest.raises(ValueError, match="positive"):
        GenWidths(down=(16, 32), up=(16,), down_inner=((16, -1), (32, 32)))


def test_depth_recipe_parses_overrides_and_refuses_nonsense():
    recipe = DepthRecipe.parse("blocks=1, d0=2,levels=4")
    assert recipe.levels == 4
    assert recipe.blocks["d0"] == 2 and recipe.blocks["u3"] == 1 and recipe.blocks["d4"] == 1
    assert recipe.label == "depth-blocks1-d02-levels4"
    assert DepthRecipe.parse("up=0").blocks == {"u0": 0, "u1": 0, "u2": 0, "u3": 0}
    for bad in ("levels=1", "blocks=3", "d5=1", "blocks", "", "u0=x"):
        with pytest.raises(ValueError):
            DepthRecipe.parse(bad)


def test_depth_refuses_more_levels_than_the_generator_has(generator, inputs):
    shallower, _, _ = remove_depth(generator, DepthRecipe.parse("levels=3"), inputs)
    with pytest.raises(ValueError, match="has 3"):
        remove_depth(shallower, DepthRecipe.parse("levels=4"), inputs)


def test_uncertainty_weights_start_static_and_move_towards_the_inverse_losses():
    weighting = UncertaintyWeighting({"small": 2.0, "large": 0.5})
    start = weighting.weights()
    assert start["small"].item() == pytest.approx(2.0) and start["large"].item() == pytest.approx(
        0.5
    )
    optimizer = torch.optim.Adam(weighting.parameters(), lr=0.05)
    terms = {"small": torch.tensor(0.01), "large": torch.tensor(4.0)}
    for _ in range(400):
        optimizer.zero_grad()
        weighting(terms).backward()
        optimizer.step()
    moved = weighting.weights()
    # The minimum of exp(-s) * L + s is at exp(-s) = 1 / L.
    assert moved["small"].item() > 10 * start["small"].item()
    assert moved["large"].item() < start["large"].item()
    assert moved["large"].item() == pytest.approx(1 / 4.0, rel=0.1)


def test_the_discriminator_trains_and_its_term_reaches_only_the_student():
    torch.manual_seed(0)
    adversary = Adversary(width=8, lr=1e-3)
    before = copy.deepcopy(adversary.discriminator.state_dict())
    condition = torch.rand(2, 7, 64, 64) * 2 - 1
    real, fake = torch.rand(2, 3, 64, 64) * 2 - 1, torch.zeros(2, 3, 64, 64, requires_grad=True)
    losses = [adversary.step(condition, real, condition, fake) for _ in range(3)]
    assert all(torch.isfinite(loss) and loss >= 0 for loss in losses)
    after = adversary.discriminator.state_dict()
    assert any(
        not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point()
    )

    adversary.discriminator.zero_grad(set_to_none=True)
    student_loss = adversary.student_loss(condition, fake)
    student_loss.backward()
    assert torch.isfinite(student_loss)
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in adversary.discriminator.parameters())
    assert all(p.requires_grad for p in adversary.discriminator.parameters())


def test_patch_discriminator_scores_patches():
    scores = PatchDiscriminator(width=4)(torch.zeros(1, 7, 256, 192), torch.zeros(1, 3, 256, 192))
    assert scores.shape == (1, 1, 30, 22)
