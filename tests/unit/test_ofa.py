"""Once-for-all widths: the search space follows torch-pruning's groups, a sampled configuration
really changes the network that runs, and the search stays under its MAC budget."""

from __future__ import annotations

import random

import pytest

from optimization.search_recipes import MacBudget, SearchRecipe

pytestmark = pytest.mark.optimize
torch = pytest.importorskip("torch")
pytest.importorskip("torch_pruning")

from optimization.archs.afwm import AFWM  # noqa: E402
from optimization.archs.generator import ResUnetGenerator  # noqa: E402
from optimization.archs.widths import GenWidths, WarpWidths  # noqa: E402
from optimization.model_stats import gen_compute, warp_compute  # noqa: E402
from optimization.ofa import MaskedNetwork, SearchSpace, build_search_space  # noqa: E402
from optimization.prune import example_inputs, measure_widths, rebuild  # noqa: E402
from optimization.search import search_widths  # noqa: E402

# 1/16 of the official widths, as tests/integration/test_train.py: groups of 4 to 32 channels.
FACTOR = 0.0625
ROUND_TO = 8


def _with_random_statistics(model: torch.nn.Module) -> torch.nn.Module:
    """Fresh BatchNorms are identities at zero shift; a dropped channel must be dropped even
    where BatchNorm would turn its zeros into something else."""
    generator = torch.Generator().manual_seed(1)
    for layer in model.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5, generator=generator)
            layer.running_var.uniform_(0.5, 2.0, generator=generator)
            layer.bias.data.uniform_(-0.5, 0.5, generator=generator)
    return model.eval()


@pytest.fixture(scope="module")
def warp_network() -> MaskedNetwork:
    torch.manual_seed(0)
    model = _with_random_statistics(AFWM(WarpWidths().scaled(FACTOR)))
    return MaskedNetwork(model, build_search_space(model, round_to=ROUND_TO))


@pytest.fixture(scope="module")
def gen_network() -> MaskedNetwork:
    torch.manual_seed(0)
    model = _with_random_statistics(ResUnetGenerator(GenWidths().scaled(FACTOR)))
    return MaskedNetwork(model, build_search_space(model, round_to=ROUND_TO))


@pytest.fixture(params=["warp", "gen"])
def network(request) -> MaskedNetwork:
    masked = request.getfixturevalue(f"{request.param}_network")
    masked.configure(masked.space.largest())
    yield masked
    masked.configure(masked.space.largest())


def _pyramid_group(space: SearchSpace):
    return next(g for g in space.groups if any(m.module == "image_FPN.smooth.0" for m in g.members))


def test_choices_are_multiples_of_8_where_the_width_allows(network):
    space = network.space
    assert space.searchable  # the tiny networks still have groups of 16 and 32 channels
    for group in space.groups:
        assert list(group.choices) == sorted(set(group.choices))
        assert group.choices[-1] == group.width
        assert all(c % ROUND_TO == 0 for c in group.choices[:-1]), group
        if group.width <= ROUND_TO:
            assert group.choices == (group.width,)
        else:
            assert ROUND_TO in group.choices or group.width * space.min_fraction > ROUND_TO
        assert sorted(group.ranking) == list(range(group.width))
    assert SearchSpace.from_dict(space.to_dict()) == space


def test_the_two_pyramids_are_one_group_and_keep_the_same_channels(warp_network):
    space = warp_network.space
    pyramid = _pyramid_group(space)
    produced = {m.module: m for m in pyramid.members if m.side == "out"}
    for level in range(5):
        cloth, person = produced[f"image_FPN.smooth.{level}"], produced[f"cond_FPN.smooth.{level}"]
        assert cloth.channels == person.channels and cloth.roots == person.roots
    assert any(m.module == "aflow_net.correlation" for m in pyramid.members)

    # Narrow that group alone: both pyramids lose the same channels at every level.
    config = {**space.largest(), pyramid.name: pyramid.choices[0]}
    warp_network.configure(config)
    person, clothes = example_inputs(warp_network.model, 64, 64)
    with torch.no_grad():
        cloth_pyramid, person_pyramid = warp_network.model.pyramids(person, clothes)
    warp_network.configure(space.largest())
    for cloth_level, person_level in zip(cloth_pyramid, person_pyramid, strict=True):
        cloth_zero = cloth_level.abs().amax(dim=(0, 2, 3)) == 0
        person_zero = person_level.abs().amax(dim=(0, 2, 3)) == 0
        assert int(cloth_zero.sum()) == pyramid.width - pyramid.choices[0]
        assert torch.equal(cloth_zero, person_zero)


def _silent_channels(network: MaskedNetwork, layer_name: str, config) -> int:
    """How many output channels of one layer are zero everywhere at `config`."""
    network.configure(config)
    layer = dict(network.model.named_modules())[layer_name]
    seen = []
    # Registered after the masks, this hook sees what the layer hands on.
    handle = layer.register_forward_hook(lambda _m, _i, output: seen.append(output))
    try:
        with torch.no_grad():
            network.model(*example_inputs(network.model, 64, 64))
    finally:
        handle.remove()
    return int((seen[0].abs().amax(dim=(0, 2, 3)) == 0).sum())


@pytest.mark.slow
def test_sampled_widths_change_the_executed_network(network):
    space = network.space
    compute = warp_compute if network.space.kind == "warp" else gen_compute
    narrow, wide = space.smallest(), space.sample(random.Random(3))
    assert space.key(narrow) != space.key(wide)
    inputs = example_inputs(network.model, 64, 64)

    outputs = {}
    for name, config in (("narrow", narrow), ("wide", wide), ("full", space.largest())):
        network.configure(config)
        with torch.no_grad():
            result = network.model(*inputs)
        outputs[name] = result if isinstance(result, tuple) else (result,)
    assert network.macs(narrow) < network.macs(wide) < network.macs(space.largest())
    assert network.macs(space.largest()) == compute(network.model).macs
    assert any(
        not torch.equal(a, b) for a, b in zip(outputs["narrow"], outputs["full"], strict=True)
    )

    # The group narrowed most: its root layer runs with fewer live channels.
    group = max(space.searchable, key=lambda g: g.width - g.choices[0])
    assert _silent_channels(network, group.name, narrow) == group.width - group.choices[0]
    assert _silent_channels(network, group.name, space.largest()) == 0

    # The sub-network torch-pruning cuts out is that network: narrower layers, same output,
    # the MACs the search counted, and widths that describe it completely.
    extracted = network.extract(narrow)
    layers = dict(extracted.named_modules())
    assert layers[group.name].out_channels == group.choices[0]
    with torch.no_grad():
        result = extracted(*inputs)
    result = result if isinstance(result, tuple) else (result,)
    for got, expected in zip(result, outputs["narrow"], strict=True):
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-4)
    assert compute(extracted).macs == network.macs(narrow)
    assert measure_widths(rebuild(extracted)) == measure_widths(extracted)


def _width_sum(config) -> float:
    return float(sum(config.values()))


@pytest.mark.parametrize("strategy", ["evolution", "random"])
def test_search_stays_under_the_budget(gen_network, strategy):
    full = gen_network.macs(gen_network.space.largest())
    narrowest = gen_network.macs(gen_network.space.smallest())
    budget = (full + narrowest) // 2
    recipe = SearchRecipe(strategy=strategy, population=6, generations=3, seed=2)
    candidates, uniform = search_widths(gen_network, budget, _width_sum, recipe, progress=False)

    assert len(candidates) > 3
    assert all(c.macs == gen_network.macs(c.config) <= budget for c in candidates)
    assert uniform in candidates
    assert candidates[0].score == max(c.score for c in candidates)
    assert candidates[0].score >= uniform.score
    assert candidates[0].score == _width_sum(candidates[0].config)

    with pytest.raises(ValueError, match="below the narrowest"):
        search_widths(gen_network, narrowest - 1, _width_sum, recipe, progress=False)


def test_mac_budgets_read_as_shares_or_counts():
    assert MacBudget.parse("0.5") == MacBudget(share=0.5)
    assert MacBudget.parse("30%") == MacBudget(share=0.3)
    assert MacBudget.parse("1.5G") == MacBudget(macs=1_500_000_000)
    assert MacBudget.parse("800m") == MacBudget(macs=800_000_000)
    assert MacBudget.parse("350000000") == MacBudget(macs=350_000_000)
    assert MacBudget(share=0.25).resolve(1000) == 250
    for bad in ("", "half", "150%", "-1", "0"):
        with pytest.raises(ValueError):
            MacBudget.parse(bad)
