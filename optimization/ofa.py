"""Once-for-all channel widths (GAN Compression): one full-width network run at many widths.

The network being searched keeps its full widths and its weights. A *width configuration*
gives each channel group torch-pruning finds (`optimization.prune.dependency_pruner`) a number
of channels to keep, from that group's choices (multiples of `round_to`). The channels of a
group are ranked once, by group L2 magnitude, when the search space is built; a configuration
keeps the first k of that ranking, so every configuration shares the weights of the channels it
keeps with every wider one. Coupled channels are one group and stay coupled: the clothes and
person pyramids of the warp (the correlation pairs them channel by channel), a residual stream
and every layer that adds to it, the generator's skips and what reads them.

`MaskedNetwork` runs a configuration by zeroing the dropped channels at the output of every
layer that produces them (the group's convolutions and BatchNorms). A zero channel adds nothing
to the layers that read it, so the masked network computes what the network pruned to that
configuration computes (`MaskedNetwork.extract`, with torch-pruning). One op sees the difference
and extraction corrects it: the cost volume is a mean over channels, and the masked network still
divides by the full pyramid width.
"""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from optimization.archs.afwm import AFWM
from optimization.archs.correlation import Correlation
from optimization.archs.generator import GEN_INPUT_CHANNELS
from optimization.archs.tryon import TorchTryOn
from tryon_app.core.artifact import INPUT_HEIGHT, INPUT_WIDTH

WidthConfig = dict[str, int]
"""Channels kept per group, by group name (the root layer's name in the network)."""


@dataclass(frozen=True)
class GroupMember:
    """One layer's share of a channel group.

    Attributes:
        module: the layer's name in the network.
        side: ``out`` (the layer produces the group's channels) or ``in`` (it reads them).
        channels: the layer's channel indices (on that side) that belong to the group.
        roots: for each entry of `channels`, the group channel it is (a layer that reads the
            two pyramids concatenated holds every group channel twice).
    """

    module: str
    side: str
    channels: tuple[int, ...]
    roots: tuple[int, ...]


@dataclass(frozen=True)
class WidthGroup:
    """Coupled channels that shrink together, and the widths they may shrink to.

    Attributes:
        name: the root layer (a convolution whose output channels are the group's).
        width: channels of the full network.
        choices: the widths a configuration may give the group, ascending; the last is `width`.
        ranking: the group's channels, most important first; width k keeps ``ranking[:k]``.
        members: every convolution, BatchNorm and correlation the group reaches.
    """

    name: str
    width: int
    choices: tuple[int, ...]
    ranking: tuple[int, ...]
    members: tuple[GroupMember, ...]

    def dropped(self, kept: int) -> list[int]:
        """Group channels a configuration keeping `kept` of them removes, ascending."""
        return sorted(self.ranking[kept:])


def width_choices(width: int, round_to: int, min_fraction: float) -> tuple[int, ...]:
    """Multiples of `round_to` from ``min_fraction * width`` up, and `width` itself.

    A group no wider than `round_to` keeps its width: it has nothing to round to.
    """
    smallest = min_fraction * width
    choices = [c for c in range(round_to, width + 1, round_to) if c >= smallest]
    if not choices or choices[-1] != width:
        choices.append(width)
    return tuple(choices)


@dataclass(frozen=True)
class SearchSpace:
    """Every channel group of one network and the widths each may take.

    Attributes:
        kind: ``warp`` or ``gen``.
        groups: in torch-pruning's order.
        round_to, min_fraction: how the choices were made (see `width_choices`).
    """

    kind: str
    groups: tuple[WidthGroup, ...]
    round_to: int
    min_fraction: float

    @property
    def searchable(self) -> tuple[WidthGroup, ...]:
        """The groups with more than one choice."""
        return tuple(group for group in self.groups if len(group.choices) > 1)

    def largest(self) -> WidthConfig:
        return {group.name: group.width for group in self.groups}

    def smallest(self) -> WidthConfig:
        return {group.name: group.choices[0] for group in self.groups}

    def sample(self, rng: random.Random) -> WidthConfig:
        """Every group's width drawn uniformly from its choices."""
        return {group.name: rng.choice(group.choices) for group in self.groups}

    def check(self, config: Mapping[str, int]) -> WidthConfig:
        """`config` as a plain dict, after checking it gives every group one of its choices.

        Raises:
            ValueError: a missing or unknown group, or a width that is not a choice.
        """
        names = {group.name for group in self.groups}
        if set(config) != names:
            missing, unknown = sorted(names - set(config)), sorted(set(config) - names)
            raise ValueError(f"width configuration: missing {missing}, unknown {unknown}")
        for group in self.groups:
            if config[group.name] not in group.choices:
                raise ValueError(
                    f"width configuration: {group.name} cannot keep {config[group.name]} "
                    f"channels (choices {list(group.choices)})"
                )
        return {group.name: int(config[group.name]) for group in self.groups}

    def key(self, config: Mapping[str, int]) -> tuple[int, ...]:
        """The widths in group order: a hashable form of a configuration."""
        return tuple(config[group.name] for group in self.groups)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``RUN/search_<module>/space.json``)."""
        return {
            "kind": self.kind,
            "round_to": self.round_to,
            "min_fraction": self.min_fraction,
            "groups": [
                {
                    "name": group.name,
                    "width": group.width,
                    "choices": list(group.choices),
                    "ranking": list(group.ranking),
                    "members": [
                        [m.module, m.side, list(m.channels), list(m.roots)] for m in group.members
                    ],
                }
                for group in self.groups
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchSpace:
        """Inverse of :meth:`to_dict`."""
        groups = tuple(
            WidthGroup(
                name=group["name"],
                width=int(group["width"]),
                choices=tuple(group["choices"]),
                ranking=tuple(group["ranking"]),
                members=tuple(
                    GroupMember(module, side, tuple(channels), tuple(roots))
                    for module, side, channels, roots in group["members"]
                ),
            )
            for group in data["groups"]
        )
        return cls(data["kind"], groups, int(data["round_to"]), float(data["min_fraction"]))


def build_search_space(
    model: nn.Module, *, round_to: int = 8, min_fraction: float = 0.25
) -> SearchSpace:
    """The search space of `model` (an AFWM or a ResUnetGenerator) at its current widths.

    Channels are ranked by torch-pruning's group L2 magnitude, once: the ranking is what the
    once-for-all training then shares weights along.
    """
    import torch_pruning as tp

    from optimization.prune import dependency_pruner

    pruner = dependency_pruner(model)
    graph = pruner.DG
    names = {module: name for name, module in model.named_modules()}
    importance = tp.importance.GroupMagnitudeImportance(p=2)
    groups = []
    for group in graph.get_all_groups(
        ignored_layers=pruner.ignored_layers, root_module_types=pruner.root_module_types
    ):
        root = group[0].dep.target.module
        width = len(group[0].idxs)
        with torch.no_grad():
            scores = importance(group)
        if scores is None:
            ranking = tuple(range(width))
        else:
            ranking = tuple(int(i) for i in torch.argsort(scores, descending=True, stable=True))
        members = []
        for item in group.items:
            layer = item.dep.target.module
            if not isinstance(layer, (nn.Conv2d, nn.BatchNorm2d, Correlation)):
                continue  # element-wise and concatenation nodes hold no channels of their own
            # BatchNorm works channel by channel: what it lets through must be masked.
            produces = isinstance(layer, nn.BatchNorm2d) or graph.is_out_channel_pruning_fn(
                item.dep.handler
            )
            members.append(
                GroupMember(
                    names[layer],
                    "out" if produces else "in",
                    tuple(int(i) for i in item.idxs),
                    tuple(int(i) for i in item.root_idxs),
                )
            )
        groups.append(
            WidthGroup(
                names[root],
                width,
                width_choices(width, round_to, min_fraction),
                ranking,
                tuple(members),
            )
        )
    kind = "warp" if isinstance(model, AFWM) else "gen"
    return SearchSpace(kind, tuple(groups), round_to, min_fraction)


@dataclass(frozen=True)
class _LayerCost:
    """MACs of one layer per pair of (input, output) channels; `outputs` None for the
    correlation, whose 49 outputs do not shrink."""

    per_channel: int
    inputs: int
    outputs: int | None


class _ChannelMask:
    """Forward hook that zeroes the dropped output channels of a layer."""

    def __init__(self, mask: torch.Tensor):
        self.mask = mask.view(1, -1, 1, 1)

    def __call__(self, module: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor:
        return output * self.mask.to(device=output.device, dtype=output.dtype)


class MaskedNetwork:
    """A full-width network run at a width configuration (see the module docstring).

    Args:
        model: the full-width AFWM or ResUnetGenerator; its weights are shared, not copied.
        space: its search space (`build_search_space`, or one read back from JSON).
    """

    def __init__(self, model: nn.Module, space: SearchSpace):
        self.model = model
        self.space = space
        self.config = space.largest()
        self._layers = dict(model.named_modules())
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._costs = _layer_costs(model)

    def configure(self, config: Mapping[str, int]) -> None:
        """Run the network at `config` from now on (the largest one masks nothing)."""
        config = self.space.check(config)
        self._remove_masks()
        self.config = config
        for (name, side), channels in self._dropped_channels(config).items():
            if side != "out" or not channels:
                continue
            layer = self._layers[name]
            width = layer.num_features if isinstance(layer, nn.BatchNorm2d) else layer.out_channels
            mask = torch.ones(width)
            mask[sorted(channels)] = 0.0
            self._handles.append(layer.register_forward_hook(_ChannelMask(mask)))

    @contextlib.contextmanager
    def unmasked(self) -> Iterator[nn.Module]:
        """The full network without masks for the duration (to copy it, or save it)."""
        config = self.config
        self._remove_masks()
        try:
            yield self.model
        finally:
            self.configure(config)

    def macs(self, config: Mapping[str, int]) -> int:
        """Multiply-accumulates of one 256x192 forward at `config`, counted as
        `optimization.model_stats` counts them (convolutions and the cost volume)."""
        dropped = self._dropped_channels(self.space.check(config))
        total = 0
        for name, cost in self._costs.items():
            inputs = cost.inputs - len(dropped.get((name, "in"), ()))
            if cost.outputs is None:
                total += cost.per_channel * inputs
            else:
                outputs = cost.outputs - len(dropped.get((name, "out"), ()))
                total += cost.per_channel * inputs * outputs
        return total

    def extract(self, config: Mapping[str, int]) -> nn.Module:
        """A copy of the network pruned to `config` with torch-pruning, in eval mode.

        Its forward gives what the masked network gives at `config` (to float rounding).
        """
        from optimization.prune import dependency_pruner

        config = self.space.check(config)
        with self.unmasked():
            model = copy.deepcopy(self.model)
        pruner = dependency_pruner(model)
        layers = dict(model.named_modules())
        pyramid_width = model.image_FPN.smooth[0].out_channels if isinstance(model, AFWM) else 0
        for group in self.space.groups:
            dropped = group.dropped(config[group.name])
            if dropped:
                root = layers[group.name]
                handler = pruner.DG.get_pruner_of_module(root).prune_out_channels
                pruner.DG.get_pruning_group(root, handler, dropped).prune()
        if isinstance(model, AFWM):
            _rescale_cost_volume(model, pyramid_width)
        return model.eval()

    def _dropped_channels(self, config: WidthConfig) -> dict[tuple[str, str], set[int]]:
        """(layer name, side) -> the layer's channels on that side that `config` removes."""
        dropped: dict[tuple[str, str], set[int]] = {}
        for group in self.space.groups:
            removed = set(group.dropped(config[group.name]))
            if not removed:
                continue
            for member in group.members:
                channels = dropped.setdefault((member.module, member.side), set())
                channels.update(
                    c
                    for c, root in zip(member.channels, member.roots, strict=True)
                    if root in removed
                )
        return dropped

    def _remove_masks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def _rescale_cost_volume(model: AFWM, full_width: int) -> None:
    # The masked network's cost volume sums the kept channels' products over the full width; the
    # pruned one divides by the kept width. The main flow heads read it through a LeakyReLU,
    # which commutes with a positive scale, so scaling their first layer restores the masked
    # network's function exactly.
    kept = model.image_FPN.smooth[0].out_channels
    if kept != full_width:
        with torch.no_grad():
            for head in model.aflow_net.netMain:
                head[0].weight.mul_(kept / full_width)


def _layer_costs(model: nn.Module) -> dict[str, _LayerCost]:
    """Per-channel-pair MACs of every convolution and correlation at 256x192, measured by one
    forward of a copy on the meta device (shapes only)."""
    meta = copy.deepcopy(model).to("meta").eval()
    names = {module: name for name, module in meta.named_modules()}
    costs: dict[str, _LayerCost] = {}

    def on_conv(layer: nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        kernel_h, kernel_w = layer.kernel_size
        # in/groups x kh x kw per output element; only plain (groups=1) convolutions here.
        per_pair = output[0, 0].numel() * kernel_h * kernel_w // layer.groups
        costs[names[layer]] = _LayerCost(per_pair, layer.in_channels, layer.out_channels)

    handles = []
    for module in meta.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(on_conv))
        elif isinstance(module, Correlation):
            handles.append(module.register_forward_hook(_accumulating(costs, names)))
    try:
        with torch.no_grad():
            if isinstance(model, AFWM):
                image = torch.zeros(1, 3, INPUT_HEIGHT, INPUT_WIDTH, device="meta")
                meta(image, image)
            else:
                meta(torch.zeros(1, GEN_INPUT_CHANNELS, INPUT_HEIGHT, INPUT_WIDTH, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return costs


def _accumulating(costs: dict[str, _LayerCost], names: dict[nn.Module, str]):
    """Hook for the correlation, one module that runs at all five levels: its sizes add up."""

    def hook(layer: nn.Module, inputs, output: torch.Tensor) -> None:
        name = names[layer]
        previous = costs.get(name)
        per_channel = output[0].numel() + (previous.per_channel if previous else 0)
        costs[name] = _LayerCost(per_channel, inputs[0].shape[1], None)

    return hook


class OnceForAllTryOn(nn.Module):
    """The try-on whose searched network runs at a newly sampled width configuration on every
    forward while that network trains (GAN Compression's once-for-all step), and at the
    configuration last set otherwise.

    The draw depends only on `seed` and the number of draws so far, a buffer saved with the
    distillation state, so a resumed training draws what an uninterrupted one would have.

    Args:
        network: the masked network being trained.
        warp_model, gen_model: the try-on's two networks; one of them is ``network.model``.
        seed: seeds the draws.
    """

    def __init__(
        self, network: MaskedNetwork, warp_model: nn.Module, gen_model: nn.Module, seed: int = 0
    ):
        super().__init__()
        if network.model is not warp_model and network.model is not gen_model:
            raise ValueError("the masked network must be one of the try-on's networks")
        self.tryon = TorchTryOn(warp_model, gen_model)
        self.network = network
        self.seed = seed
        self.register_buffer("draws", torch.zeros((), dtype=torch.long))

    def forward(self, person, clothes, edge) -> dict[str, torch.Tensor]:
        if self.network.model.training:
            rng = random.Random(self.seed * 1_000_003 + int(self.draws))
            self.network.configure(self.network.space.sample(rng))
            self.draws += 1
        return self.tryon(person, clothes, edge)
