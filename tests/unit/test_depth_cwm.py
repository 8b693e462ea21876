"""Depth pruning of the warping module (`optimize cwm --depth`): encoder residual blocks and flow
refinement heads removed, on AFWMs 1/16 of the official width. The generator's: test_depth.py."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.optimize
torch = pytest.importorskip("torch")

from optimization.archs.afwm import (  # noqa: E402
    AFWM,
    ResBlock,
    encoder_paths,
    measure_warp_widths,
)
from optimization.archs.generator import ResUnetGenerator  # noqa: E402
from optimization.archs.slots import RemovedBlock  # noqa: E402
from optimization.archs.widths import GenWidths, WarpWidths  # noqa: E402
from optimization.checkpoints import load_models, save_checkpoint  # noqa: E402
from optimization.depth import (  # noqa: E402
    plan_depth,
    refine_head_count,
    remove_warp_depth,
    residual_block_count,
    warp_impact,
)
from optimization.model_stats import count_parameters, warp_compute  # noqa: E402
from optimization.recipes import DepthRecipe  # noqa: E402

WIDTHS = WarpWidths().scaled(0.0625)


@pytest.fixture
def warp_model():
    torch.manual_seed(0)
    model = AFWM(WIDTHS).eval()
    with torch.no_grad():
        # Offsets of a few pixels, as a trained model's, so that a head's removal shows.
        for head in (*model.aflow_net.netMain, *model.aflow_net.netRefine):
            head[-1].weight.mul_(5)
    return model


@pytest.fixture(scope="module")
def full_macs() -> int:
    """MACs of the unpruned network (counting takes most of a second: once)."""
    return warp_compute(WIDTHS).macs


@pytest.fixture
def pairs():
    # Any size divisible by 32 runs the five levels; small keeps the test fast.
    generator = torch.Generator().manual_seed(1)
    person, clothes = (torch.rand(2, 3, 64, 64, generator=generator) * 2 - 1 for _ in range(2))
    edge = torch.zeros(2, 1, 64, 64)
    edge[:, :, 8:60, 12:52] = 1.0
    return person, clothes, edge


def _warp(model, pairs):
    person, clothes, edge = pairs
    with torch.no_grad():
        return model(person, clothes * edge)


def _executed_convs(model, pairs) -> int:
    """Convolutions that run in one forward pass (a removed slot runs none)."""
    ran = []
    handles = [
        m.register_forward_hook(lambda *_: ran.append(1))
        for m in model.modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    _warp(model, pairs)
    for handle in handles:
        handle.remove()
    return len(ran)


@pytest.mark.parametrize(
    ("spec", "blocks_left", "heads_left"),
    [
        ("blocks=1", 10, 5),  # one of the two blocks in each of the 2 x 5 encoder stages
        ("r4=0", 20, 4),  # the finest level's refinement head
        ("refine=0,cloth=0", 10, 0),
        ("c0=1,p2=0,r3=0,r4=0", 17, 3),
    ],
)
def test_depth_removal_keeps_the_warp_shapes_and_runs_less(
    warp_model, pairs, full_macs, spec, blocks_left, heads_left
):
    shallower, plan, _ = remove_warp_depth(warp_model, DepthRecipe.parse(spec, "cwm"), pairs)
    assert residual_block_count(shallower) == blocks_left
    assert refine_head_count(shallower) == heads_left
    assert measure_warp_widths(shallower) == plan.widths
    # Each removed block is 2 convolutions fewer, each removed head 4, in the executed network.
    removed_convs = 2 * (20 - blocks_left) + 4 * (5 - heads_left)
    assert _executed_convs(shallower, pairs) == _executed_convs(warp_model, pairs) - removed_convs
    assert warp_compute(shallower).macs < full_macs
    assert count_parameters(shallower) < count_parameters(warp_model)
    warped, flow = _warp(shallower, pairs)
    assert warped.shape == (2, 3, 64, 64) and flow.shape == (2, 2, 64, 64)
    assert torch.isfinite(flow).all()
    assert residual_block_count(warp_model) == 20  # the original is left as it was
    assert refine_head_count(warp_model) == 5


def test_removed_parts_leave_the_kept_layers_computing_what_they_did(warp_model, pairs):
    recipe = DepthRecipe.parse("blocks=1,p0=0,r3=0", "cwm")
    shallower, plan, _ = remove_warp_depth(warp_model, recipe, pairs)
    assert len(plan.removed) == 11 + 1
    # The original with the same blocks skipped and the same head predicting zero offsets is the
    # same function.
    paths = encoder_paths(warp_model)
    handles = []
    for name in plan.removed:
        if name == "r3":
            head = warp_model.aflow_net.netRefine[3]
            handles.append(head.register_forward_hook(lambda m, a, out: torch.zeros_like(out)))
            continue
        path, slot = name.split(".")
        handles.append(paths[path][int(slot)].register_forward_hook(lambda m, args, out: args[0]))
    expected = _warp(warp_model, pairs)
    for handle in handles:
        handle.remove()
    got = _warp(shallower, pairs)
    for got_tensor, expected_tensor in zip(got, expected, strict=True):
        torch.testing.assert_close(got_tensor, expected_tensor, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(_warp(warp_model, pairs)[1], expected[1], atol=1e-4)


def test_the_block_whose_removal_changes_the_warp_least_goes(warp_model, pairs):
    # A zero residual branch makes the first block of the person encoder's stage 1 an identity:
    # removing it is free. (Ties would take the later block: the first goes by its impact.)
    first = encoder_paths(warp_model)["p1"][0]
    with torch.no_grad():
        first.block[5].weight.zero_()
    impact = warp_impact(warp_model, *pairs)
    assert impact["p1.0"] < 1e-7 < impact["p1.1"]
    assert set(impact) == {f"{s}{k}.{i}" for s in "cp" for k in range(5) for i in (0, 1)} | {
        f"r{k}" for k in range(5)
    }
    assert impact["r4"] > 0
    shallower, plan, _ = remove_warp_depth(warp_model, DepthRecipe.parse("p1=1", "cwm"), pairs)
    assert plan.removed == ("p1.0",)
    assert isinstance(encoder_paths(shallower)["p1"][0], RemovedBlock)
    for got, expected in zip(_warp(shallower, pairs), _warp(warp_model, pairs), strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_a_depth_pruned_warp_keeps_the_other_keys_and_round_trips_through_its_checkpoint(
    warp_model, pairs, tmp_path
):
    recipe = DepthRecipe.parse("cloth=1,r4=0,r0=0", "cwm")
    shallower, plan, _ = remove_warp_depth(warp_model, recipe, pairs)
    full_keys, kept_keys = set(warp_model.state_dict()), set(shallower.state_dict())
    gone = {
        key
        for key in full_keys
        if key.startswith(("aflow_net.netRefine.4.", "aflow_net.netRefine.0."))
    }
    assert gone and kept_keys < full_keys and not kept_keys & gone
    cloth_paths = [pair for name, pair in encoder_paths(shallower).items() if name[0] == "c"]
    assert [sum(isinstance(slot, ResBlock) for slot in pair) for pair in cloth_paths] == [1] * 5

    gen_widths = GenWidths().scaled(0.0625)
    save_checkpoint(tmp_path / "warp.pth", shallower, measure_warp_widths(shallower))
    save_checkpoint(tmp_path / "gen.pth", ResUnetGenerator(gen_widths), gen_widths)
    loaded, _ = load_models(tmp_path / "warp.pth", tmp_path / "gen.pth")
    assert measure_warp_widths(loaded) == plan.widths
    assert WarpWidths.from_dict(plan.widths.to_dict()) == plan.widths
    assert refine_head_count(loaded) == 3 and residual_block_count(loaded) == 15
    for got, expected in zip(_warp(loaded, pairs), _warp(shallower, pairs), strict=True):
        assert torch.equal(got, expected)


def test_channel_pruning_after_depth_pruning_keeps_the_removed_parts_removed(warp_model, pairs):
    from optimization.prune import prune_model
    from optimization.recipes import PruneRecipe

    shallower, _, _ = remove_warp_depth(
        warp_model, DepthRecipe.parse("blocks=1,r4=0", "cwm"), pairs
    )
    widths = prune_model(shallower, PruneRecipe(ratio=0.25, round_to=2))
    assert widths.flow_refine[4] == (0, 0, 0) and widths.fpn < WIDTHS.fpn
    assert sum(w == 0 for pair in widths.cloth_encoder_inner for w in pair) == 5
    assert _warp(shallower, pairs)[1].shape == (2, 2, 64, 64)


def test_warp_widths_describe_removed_blocks_and_heads():
    widths = WarpWidths(
        cloth_encoder_inner=((64, 0), (0, 128), (256, 256), (256, 256), (256, 256)),
        flow_refine=((128, 64, 32),) * 4 + ((0, 0, 0),),
    )
    quarter = widths.scaled(0.25)
    assert quarter.cloth_encoder_inner[:2] == ((16, 0), (0, 32))
    assert quarter.flow_refine[4] == (0, 0, 0) and quarter.flow_refine[3] == (32, 16, 8)
    assert WarpWidths().to_dict()["flow_refine"][4] == [128, 64, 32]  # unpruned: as before
    with pytest.raises(ValueError, match="kept .* or removed"):
        WarpWidths(flow_refine=((128, 64, 0),) * 5)
    with pytest.raises(ValueError, match="positive"):
        WarpWidths(flow_main=((128, 64, 32),) * 4 + ((0, 0, 0),))
    with pytest.raises(ValueError, match="for the cwm, given the igm"):
        plan_depth(GenWidths(), DepthRecipe.parse("r4=0", "cwm"), {})


def test_cwm_depth_recipe_parses_overrides_and_refuses_nonsense():
    recipe = DepthRecipe.parse("blocks=1, c0=2, refine=0, r0=1", "cwm")
    assert recipe.module == "cwm" and recipe.levels is None
    assert recipe.blocks["c0"] == 2 and recipe.blocks["p0"] == 1 and recipe.blocks["c4"] == 1
    assert recipe.blocks["r0"] == 1 and recipe.blocks["r4"] == 0
    assert recipe.label == "depth-blocks1-c02-refine0-r01"
    assert DepthRecipe.parse("person=0", "cwm").blocks == dict.fromkeys(
        ("p0", "p1", "p2", "p3", "p4"), 0
    )
    for bad, message in (
        ("levels=4", "not one of"),  # the generator's
        ("d0=1", "not one of"),
        ("r4=2", "kept \\(1\\) or removed \\(0\\)"),
        ("blocks=3", "0 to 2"),
        ("c5=1", "not one of"),
        ("r4", "not one of"),
        ("", "removes nothing"),
    ):
        with pytest.raises(ValueError, match=message):
            DepthRecipe.parse(bad, "cwm")
    with pytest.raises(ValueError, match="not one of"):
        DepthRecipe.parse("r4=0")  # the generator has no refinement heads
