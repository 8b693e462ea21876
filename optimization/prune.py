"""Structured channel pruning of PF-AFN's two networks with torch-pruning.

torch-pruning follows channels through the autograd graph. Two PF-AFN ops mislead it:

* the cost volume (a mean over channels of shifted products) looks element-wise, so its 49
  output channels get tied to the 256 feature channels; and the product must keep the *same*
  channels of the clothes and person pyramids, or the pruned correlation pairs unrelated
  features. While the dependency graph is traced, the correlation runs as one opaque autograd
  node and a custom pruner declares it a leaf whose inputs are coupled.
* ``grid_sample(features, grid)`` ties the 2-channel flow to the features it samples, which would
  make the whole pyramid unprunable (the flow heads must keep their 2 outputs). While tracing,
  every grid is detached from the sampled tensor and returned as an extra output instead, so the
  flow heads stay reachable but in groups of their own.

The 2-channel flow-head outputs, the generator's 4-channel output and the RGB input stems (the
first convolution of each encoder and of the generator) are never pruned. Kept channel counts are
rounded to multiples of `round_to` (to the nearest, not down), so CPU kernels stay vectorised.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torch_pruning as tp
from torch import nn

import optimization.archs.correlation as correlation_module
from optimization.archs.afwm import AFWM, measure_warp_widths
from optimization.archs.correlation import Correlation
from optimization.archs.generator import ResUnetGenerator, measure_gen_widths
from optimization.archs.slots import RemovedBlock
from optimization.archs.widths import GenWidths, WarpWidths
from optimization.recipes import PruneRecipe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelGroup:
    """Channels that must be pruned together, named after the layer torch-pruning roots them at."""

    name: str
    width: int


# ---------------------------------------------------------------------------------------------
# Tracing helpers


class _CorrelationPruner(tp.pruner.function.BasePruningFunc):
    """The correlation has no parameters: pruning its inputs changes nothing inside it, and its
    49 displacement channels are never pruned. Declaring it a leaf with coupled inputs makes
    torch-pruning remove the same channels from both pyramids."""

    TARGET_MODULES = Correlation

    def prune_out_channels(self, layer: nn.Module, idxs) -> nn.Module:
        return layer

    def prune_in_channels(self, layer: nn.Module, idxs) -> nn.Module:
        return layer

    def get_out_channels(self, layer: Correlation) -> int:
        return layer.out_channels

    def get_in_channels(self, layer: Correlation) -> None:
        return None


class _OpaqueCorrelation(torch.autograd.Function):
    """One autograd node for the whole cost volume, so the trace sees (first, second) -> out."""

    @staticmethod
    def forward(ctx, first, second, max_displacement):
        with torch.no_grad():
            return _plain_correlation(first, second, max_displacement)

    @staticmethod
    def backward(ctx, grad_output):
        raise RuntimeError("the opaque correlation exists only to trace dependencies")


_plain_correlation = correlation_module.correlation


@contextlib.contextmanager
def _traceable(grids: list[torch.Tensor]) -> Iterator[None]:
    """Patch the correlation and grid_sample for dependency tracing; grids are collected."""
    original_grid_sample = F.grid_sample

    def grid_sample(input, grid, *args, **kwargs):
        grids.append(grid)
        return original_grid_sample(input, grid.detach(), *args, **kwargs)

    def correlation(first, second, max_displacement=correlation_module.MAX_DISPLACEMENT):
        return _OpaqueCorrelation.apply(first, second, max_displacement)

    F.grid_sample = grid_sample
    correlation_module.correlation = correlation
    try:
        yield
    finally:
        F.grid_sample = original_grid_sample
        correlation_module.correlation = _plain_correlation


def _forward_with_grids(grids: list[torch.Tensor]) -> Callable:
    def forward(model: nn.Module, inputs: tuple[torch.Tensor, ...]):
        grids.clear()
        outputs = model(*inputs)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        return (*outputs, *grids)

    return forward


def _never_pruned(model: nn.Module) -> list[nn.Module]:
    if isinstance(model, AFWM):
        flow = model.aflow_net
        heads = [
            head[-1]
            for head in (*flow.netMain, *flow.netRefine)
            if not isinstance(head, RemovedBlock)
        ]
        stems = [
            encoder.encoders[0][0].block[2]
            for encoder in (model.image_features, model.cond_features)
        ]
        return heads + stems
    if isinstance(model, ResUnetGenerator):
        return [model.model.downconv, model.model.upconv]
    raise TypeError(f"cannot prune a {type(model).__name__}")


def _importance(name: str) -> tp.importance.Importance:
    if name == "taylor":
        return tp.importance.GroupTaylorImportance()
    return tp.importance.GroupMagnitudeImportance(p=2)


def _pruner(
    model: nn.Module,
    example_inputs: tuple[torch.Tensor, ...],
    importance: str,
    ratios: Mapping[nn.Module, float] | None = None,
) -> tp.pruner.BasePruner:
    grids: list[torch.Tensor] = []
    # torch-pruning traces the autograd graph: callers inside no_grad still get one.
    with _traceable(grids), torch.enable_grad():
        return tp.pruner.BasePruner(
            model,
            example_inputs=example_inputs,
            forward_fn=_forward_with_grids(grids),
            importance=_importance(importance),
            pruning_ratio=0.0,
            pruning_ratio_dict=dict(ratios or {}),
            ignored_layers=_never_pruned(model),
            customized_pruners={Correlation: _CorrelationPruner()},
            round_to=None,
        )


def _groups_by_name(
    pruner: tp.pruner.BasePruner, model: nn.Module
) -> dict[str, tuple[nn.Module, int]]:
    names = {module: name for name, module in model.named_modules()}
    found = {}
    for group in pruner.DG.get_all_groups(
        ignored_layers=pruner.ignored_layers, root_module_types=pruner.root_module_types
    ):
        dependency, indices = group[0]
        root = dependency.target.module
        found[names[root]] = (root, len(indices))
    return found


# ---------------------------------------------------------------------------------------------
# Public API


# The dependency graph depends only on the structure: trace at the smallest size the five
# pyramid levels allow (the coarsest becomes 2x2), 16x cheaper than 256x192.
TRACE_SIZE = (64, 64)


def example_inputs(
    model: nn.Module, height: int = 256, width: int = 192
) -> tuple[torch.Tensor, ...]:
    """Deterministic inputs of the right kind for `model` (tracing and forward checks)."""
    generator = torch.Generator().manual_seed(0)
    if isinstance(model, AFWM):
        return tuple(torch.rand(1, 3, height, width, generator=generator) * 2 - 1 for _ in range(2))
    return (torch.rand(1, 7, height, width, generator=generator) * 2 - 1,)


def dependency_pruner(model: nn.Module) -> tp.pruner.BasePruner:
    """torch-pruning's pruner of `model` under the tracing rules above (magnitude importance).

    Its dependency graph (``.DG``) knows every coupled group and prunes any chosen channels of
    one; ``optimization/ofa.py`` builds its width search space from it. The trace runs in eval
    mode, so it leaves BatchNorm's running statistics as they are.
    """
    was_training = model.training
    model.eval()
    try:
        return _pruner(model, example_inputs(model, *TRACE_SIZE), "magnitude")
    finally:
        model.train(was_training)


def prunable_groups(model: nn.Module) -> list[ChannelGroup]:
    """Every group of coupled channels torch-pruning may narrow, in dependency-graph order."""
    pruner = _pruner(model, example_inputs(model, *TRACE_SIZE), "magnitude")
    return [
        ChannelGroup(name, width) for name, (_, width) in _groups_by_name(pruner, model).items()
    ]


def kept_channels(width: int, ratio: float, round_to: int) -> int:
    """Channels left after removing `ratio` of `width`, rounded to the nearest multiple."""
    if width <= round_to or ratio <= 0:
        return width
    kept = round(width * (1 - ratio) / round_to) * round_to
    return int(min(width, max(round_to, kept)))


def prune_model(
    model: nn.Module,
    recipe: PruneRecipe,
    *,
    inputs: tuple[torch.Tensor, ...] | None = None,
    loss_fn: Callable[[nn.Module], torch.Tensor] | None = None,
    between_steps: Callable[[nn.Module, int], None] | None = None,
) -> WarpWidths | GenWidths:
    """Prune `model` (an AFWM or a ResUnetGenerator) in place and return its new widths.

    Args:
        recipe: ratios, importance, steps and rounding.
        inputs: example inputs for the forward check after every step (default: 256x192).
        loss_fn: ``loss_fn(model) -> scalar`` for Taylor importance (gradients of this loss).
        between_steps: called after every step but the last, e.g. to fine-tune.

    Raises:
        ValueError: Taylor importance without `loss_fn`, or a group name in
            `recipe.group_ratios` that the model does not have.
        RuntimeError: a pruning step broke the forward pass (shapes or non-finite values).
    """
    if recipe.importance == "taylor" and loss_fn is None:
        raise ValueError("taylor importance needs a loss (pass loss_fn)")
    inputs = inputs or example_inputs(model)
    trace = example_inputs(model, *TRACE_SIZE)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        reference = _as_tuple(model(*inputs))

    original: dict[str, int] = {}
    for step in range(1, recipe.iterative_steps + 1):
        fraction = step / recipe.iterative_steps
        # Build once to learn the current widths of the groups, then again with their ratios.
        current = _groups_by_name(_pruner(model, trace, recipe.importance), model)
        if step == 1:
            original = {name: width for name, (_, width) in current.items()}
            unknown = sorted(set(recipe.group_ratios) - set(original))
            if unknown:
                raise ValueError(f"unknown group names in group_ratios: {unknown}")
        ratios = {}
        for name, (root, width) in current.items():
            target_ratio = recipe.group_ratios.get(name, recipe.ratio) * fraction
            target = kept_channels(original.get(name, width), target_ratio, recipe.round_to)
            if target < width:
                # torch-pruning keeps int(width * (1 - ratio)) channels; the half channel
                # keeps float rounding from truncating `target` to `target - 1`.
                ratios[root] = 1.0 - (target + 0.5) / width
        fpn_before = model.image_FPN.smooth[0].out_channels if isinstance(model, AFWM) else None
        pruner = _pruner(model, trace, recipe.importance, ratios)
        if recipe.importance == "taylor":
            model.zero_grad(set_to_none=True)
            loss_fn(model).backward()
        for group in pruner.step(interactive=True):
            group.prune()
        model.zero_grad(set_to_none=True)
        if fpn_before is not None:
            _rescale_cost_volume(model, fpn_before)
        _check_forward(model, inputs, reference, step)
        log.info("pruning step %d/%d: %s", step, recipe.iterative_steps, measure_widths(model))
        if between_steps is not None and step < recipe.iterative_steps:
            between_steps(model, step)
            model.eval()
    model.train(was_training)
    return measure_widths(model)


def prune_channels(model: nn.Module, group_name: str, indices: list[int]) -> None:
    """Remove the given channels of one named group (see :func:`prunable_groups`) in place."""
    pruner = _pruner(model, example_inputs(model, *TRACE_SIZE), "magnitude")
    names = {module: name for name, module in model.named_modules()}
    for group in pruner.DG.get_all_groups(
        ignored_layers=pruner.ignored_layers, root_module_types=pruner.root_module_types
    ):
        dependency = group[0].dep
        if names[dependency.target.module] == group_name:
            pruner.DG.get_pruning_group(
                dependency.target.module, dependency.handler, indices
            ).prune()
            return
    raise ValueError(f"{group_name!r} is not a prunable group of this {type(model).__name__}")


def measure_widths(model: nn.Module) -> WarpWidths | GenWidths:
    """The widths a (possibly pruned) network has."""
    if isinstance(model, AFWM):
        return measure_warp_widths(model)
    return measure_gen_widths(model)


def rebuild(model: nn.Module) -> nn.Module:
    """A fresh network of the same class built from `model`'s widths, with its weights.

    This is what loading a checkpoint does; doing it right after pruning proves the widths
    describe the pruned network completely.
    """
    widths = measure_widths(model)
    fresh = AFWM(widths) if isinstance(model, AFWM) else ResUnetGenerator(widths)
    fresh.load_state_dict(model.state_dict(), strict=True)
    return fresh.train(model.training)


def _rescale_cost_volume(model: AFWM, channels_before: int) -> None:
    # The cost volume is a mean over channels. The channels pruned away are the least important
    # ones, whose products are close to zero, so the sum over the kept ones stays about the same
    # while the divisor shrinks. Scaling the first layer of every main flow head by the ratio
    # keeps its input where it was (LeakyReLU commutes with a positive scale).
    channels_after = model.image_FPN.smooth[0].out_channels
    if channels_after == channels_before:
        return
    with torch.no_grad():
        for head in model.aflow_net.netMain:
            head[0].weight.mul_(channels_after / channels_before)


def _as_tuple(outputs) -> tuple[torch.Tensor, ...]:
    return outputs if isinstance(outputs, tuple) else (outputs,)


def _check_forward(
    model: nn.Module, inputs, reference: tuple[torch.Tensor, ...], step: int
) -> None:
    with torch.no_grad():
        outputs = _as_tuple(model(*inputs))
    for index, (got, expected) in enumerate(zip(outputs, reference, strict=True)):
        if got.shape != expected.shape or not torch.isfinite(got).all():
            raise RuntimeError(
                f"pruning step {step} broke output {index}: shape {tuple(got.shape)} "
                f"(expected {tuple(expected.shape)}), finite={bool(torch.isfinite(got).all())}"
            )
