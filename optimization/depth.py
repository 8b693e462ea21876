"""Depth pruning: remove whole residual blocks, nested levels or flow heads, not channels.

The generator (IGM, a ResUnet) has two residual blocks on each of its 9 paths (5 encoder
paths, 4 decoder stages) and 5 nested levels. Depth pruning (as in DC-AE's decoder pruning)
takes blocks away whole:

* A residual block of this generator reads a ReLU's output, so without it the path passes its
  input on unchanged: exactly the block with a zero residual branch. Its slot stays in the
  network as an identity (`RemovedBlock`; inner width 0 in `GenWidths`), so the other layers
  keep their state-dict keys. Within a path, the blocks that go are those whose removal
  changes the try-on least, measured on the data's pairs (`block_impact`).
* Removing levels drops the innermost nested blocks; the deepest one kept becomes the new
  innermost block. It starts from its old weights: its up-convolution keeps the input channels
  of its skip (its own encoder output) and loses those of the levels below, and the BatchNorm
  after its stride-2 convolution, which an innermost block does not have, is folded into that
  convolution's scale (its shift is lost).

In the warping module (CWM):

* Each of the 5 stages of both feature encoders has two residual blocks. AFWM's blocks are
  pre-activation with nothing after the sum, so a removed block is exactly the identity; its slot
  stays (`RemovedBlock`, inner width 0 in `WarpWidths`) and the blocks that go within a stage are
  those whose removal changes the warped garment least on the data's pairs (`warp_impact`).
* Each flow level ends with a refinement head (``netRefine[i]``) whose offsets are composed onto
  the main head's flow. Without it the level's flow is the main head's, still a valid normalised
  grid for the next level: what the head predicting zero offsets gives. Which heads go is the
  recipe's choice (their cost differs 4x per level, so it is not left to the measured impact).
  The main heads stay: they are the only readers of the cost volume.

The kept layers keep their weights and state-dict keys. The shallower network is then distilled
from the teacher (``optimize cwm|igm --depth``), by default with uncertainty-weighted loss terms
(``optimization/loss_weighting.py``) and optionally a PatchGAN discriminator
(``optimization/adversarial.py``). Its widths describe it completely, so checkpoints
(`optimization.checkpoints.load_models`), QAT and export rebuild it like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from optimization.archs.afwm import AFWM, ResBlock, encoder_paths, measure_warp_widths
from optimization.archs.generator import (
    ResidualBlock,
    ResUnetGenerator,
    ResUnetSkipConnectionBlock,
    measure_gen_widths,
    nested_blocks,
    residual_paths,
)
from optimization.archs.slots import RemovedBlock
from optimization.archs.tryon import render_tryon, tryon_forward
from optimization.archs.widths import GenWidths, WarpWidths
from optimization.recipes import WARP_REFINE_HEADS, DepthRecipe

log = logging.getLogger(__name__)

IMPACT_PAIRS = 8
"""Pairs the impact of every residual block is measured on."""


def residual_block_count(model: nn.Module) -> int:
    """Residual blocks a generator or warping module really runs (removed slots excluded)."""
    return sum(isinstance(m, (ResidualBlock, ResBlock)) for m in model.modules())


def refine_head_count(warp_model: AFWM) -> int:
    """Refinement heads the warping module really runs."""
    return sum(warp_model.aflow_net.refines(i) for i in range(len(warp_model.aflow_net.netRefine)))


def sample_pairs(
    data: str | Path | None, pairs: int = IMPACT_PAIRS
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(person, clothes, edge) of the first `pairs` pairs of `data`: (N, 3, 256, 192) images in
    [-1, 1] and the (N, 1, 256, 192) garment mask in [0, 1]; smooth random images when `data`
    is None."""
    from torch.utils.data import DataLoader

    if data is None:
        from optimization.graphs import sample_inputs

        batches = [sample_inputs(seed) for seed in range(min(pairs, 2))]
        person, clothes, edge = (torch.cat(parts) for parts in zip(*batches, strict=True))
        return person, clothes, edge
    from optimization.data.viton import VitonPairs

    batch = next(iter(DataLoader(VitonPairs(data), batch_size=pairs)))
    return tuple(batch[k] for k in ("person", "clothes", "edge"))


def generator_inputs(
    warp_model: AFWM, data: str | Path | None, pairs: int = IMPACT_PAIRS
) -> torch.Tensor:
    """(N, 7, 256, 192) generator inputs in [-1, 1] (person, warped garment, warped mask in
    [0, 1]) from the pairs `sample_pairs` reads, warped by `warp_model`."""
    person, clothes, edge = sample_pairs(data, pairs)
    warp_model.eval()
    with torch.no_grad():
        out = tryon_forward(warp_model, _NoGenerator(), person, clothes, edge)
    return torch.cat([person, out["warped_cloth"], out["warped_edge"]], dim=1)


class _NoGenerator(nn.Module):
    """Stands in for the generator when only the warp's outputs are wanted."""

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.new_zeros(inputs.shape[0], 4, *inputs.shape[2:])


def _tryon(gen_model: ResUnetGenerator, inputs: torch.Tensor) -> torch.Tensor:
    person, warped_cloth, warped_edge = inputs.split([3, 3, 1], dim=1)
    return render_tryon(gen_model, person, warped_cloth, warped_edge)["p_tryon"]


def _skip_impact(
    slots: dict[str, nn.Module], output: Callable[[], torch.Tensor], *, zero: bool = False
) -> dict[str, float]:
    """Mean absolute change of `output()` with each of `slots` skipped alone, by name.

    A skipped slot passes its input on (a residual block), or outputs zeros when `zero` (a flow
    head: zero offsets).
    """

    def skip(module, args, result):
        # A forward hook's return value replaces the module's output.
        return torch.zeros_like(result) if zero else args[0]

    impact = {}
    with torch.no_grad():
        reference = output()
        for name, slot in slots.items():
            handle = slot.register_forward_hook(skip)
            try:
                impact[name] = float((output() - reference).abs().mean())
            finally:
                handle.remove()
    return impact


def block_impact(gen_model: ResUnetGenerator, inputs: torch.Tensor) -> dict[str, float]:
    """How much the try-on changes without each residual block, the others kept.

    Args:
        gen_model: the generator.
        inputs: (N, 7, H, W) generator inputs (`generator_inputs`).

    Returns:
        Mean absolute change of the (N, 3, H, W) try-on in [-1, 1], by slot name ``<path>.<i>``
        (``d0.0``, ``d0.1``, ``u3.1``...); removed slots are not listed.
    """
    gen_model.eval()
    slots = {
        f"{path}.{index}": slot
        for path, pair in residual_paths(gen_model).items()
        for index, slot in enumerate(pair)
        if isinstance(slot, ResidualBlock)
    }
    return _skip_impact(slots, lambda: _tryon(gen_model, inputs))


def warp_impact(
    warp_model: AFWM, person: torch.Tensor, clothes: torch.Tensor, edge: torch.Tensor
) -> dict[str, float]:
    """How much the warped garment changes without each encoder block or refinement head.

    Args:
        warp_model: the warping module.
        person, clothes: (N, 3, H, W) in [-1, 1], H and W divisible by 32.
        edge: (N, 1, H, W) garment mask in [0, 1] (binarised at 0.5 and applied to `clothes`).

    Returns:
        Mean absolute change of the (N, 3, H, W) warped garment in [-1, 1], by slot name:
        ``cK.i`` / ``pK.i`` for block i of clothes / person encoder stage K, ``rK`` for the
        refinement head of flow level K; removed slots are not listed.
    """
    warp_model.eval()
    masked = clothes * (edge > 0.5).to(clothes.dtype)
    blocks = {
        f"{path}.{index}": slot
        for path, pair in encoder_paths(warp_model).items()
        for index, slot in enumerate(pair)
        if isinstance(slot, ResBlock)
    }
    heads = {
        name: warp_model.aflow_net.netRefine[level]
        for level, name in enumerate(WARP_REFINE_HEADS)
        if warp_model.aflow_net.refines(level)
    }

    def warped_garment() -> torch.Tensor:
        return warp_model(person, masked)[0]

    return {
        **_skip_impact(blocks, warped_garment),
        **_skip_impact(heads, warped_garment, zero=True),
    }


@dataclass(frozen=True)
class DepthPlan:
    """What depth pruning removes from one network.

    Attributes:
        widths: the shallower network's widths.
        removed: slot names of the blocks removed (from the levels kept): residual blocks
            ``<path>.<i>``, refinement heads ``rK``.
        levels_removed: nested levels removed (the generator's innermost; 0 for the warp).
    """

    widths: GenWidths | WarpWidths
    removed: tuple[str, ...]
    levels_removed: int


def _least_impact(path: str, pair: list[int], keep: int, impact: dict[str, float]) -> list[int]:
    """Slots of `path` (inner widths `pair`, 0 = already removed) to remove so that `keep` of
    its present blocks stay: those of least `impact`; ties go to the later slot."""
    present = [slot for slot, width in enumerate(pair) if width]
    keep = min(keep, len(present))
    ranked = sorted(present, key=lambda slot: (impact.get(f"{path}.{slot}", 0.0), -slot))
    return ranked[: len(present) - keep]


def plan_depth(
    widths: GenWidths | WarpWidths, recipe: DepthRecipe, impact: dict[str, float]
) -> DepthPlan:
    """The widths after `recipe`, removing the blocks of least `impact` within each path.

    Raises:
        ValueError: the recipe is for the other network, or keeps more levels than the
            generator has.
    """
    network = "cwm" if isinstance(widths, WarpWidths) else "igm"
    if recipe.module != network:
        raise ValueError(f"depth: a recipe for the {recipe.module}, given the {network}'s widths")
    if isinstance(widths, WarpWidths):
        return _plan_warp_depth(widths, recipe, impact)
    levels = recipe.levels or widths.levels
    if levels > widths.levels:
        raise ValueError(f"depth: levels={levels}, but the generator has {widths.levels}")
    down_inner = [list(pair) for pair in widths.down_inner[:levels]]
    up_inner = [list(pair) for pair in widths.up_inner[: levels - 1]]
    removed = []
    for prefix, inner in (("d", down_inner), ("u", up_inner)):
        for index, pair in enumerate(inner):
            path = f"{prefix}{index}"
            for slot in _least_impact(path, pair, recipe.blocks.get(path, 2), impact):
                pair[slot] = 0
                removed.append(f"{path}.{slot}")
    shallower = GenWidths(
        down=widths.down[:levels],
        up=widths.up[: levels - 1],
        down_inner=tuple(tuple(pair) for pair in down_inner),
        up_inner=tuple(tuple(pair) for pair in up_inner),
    )
    return DepthPlan(shallower, tuple(sorted(removed)), widths.levels - levels)


def _plan_warp_depth(
    widths: WarpWidths, recipe: DepthRecipe, impact: dict[str, float]
) -> DepthPlan:
    removed = []
    inner = {}
    for prefix, side in (("c", "cloth"), ("p", "person")):
        pairs = [list(pair) for pair in getattr(widths, f"{side}_encoder_inner")]
        for index, pair in enumerate(pairs):
            path = f"{prefix}{index}"
            for slot in _least_impact(path, pair, recipe.blocks.get(path, 2), impact):
                pair[slot] = 0
                removed.append(f"{path}.{slot}")
        inner[f"{side}_encoder_inner"] = tuple(tuple(pair) for pair in pairs)
    refine = list(widths.flow_refine)
    for level, head in enumerate(WARP_REFINE_HEADS):
        if recipe.blocks.get(head) == 0 and any(refine[level]):
            refine[level] = (0, 0, 0)
            removed.append(head)
    shallower = replace(widths, **inner, flow_refine=tuple(refine))
    return DepthPlan(shallower, tuple(sorted(removed)), 0)


@dataclass(frozen=True)
class _BlockParts:
    downconv: nn.Conv2d
    down_norm: nn.BatchNorm2d | None
    down_slots: list[nn.Module]
    upconv: nn.Conv2d
    up_norm: nn.BatchNorm2d | None
    up_slots: list[nn.Module]


def _parts(block: ResUnetSkipConnectionBlock) -> _BlockParts:
    layers = list(block.model)
    split = layers.index(block.upconv)
    down, up = layers[:split], layers[split:]

    def slots(part):
        return [m for m in part if isinstance(m, (ResidualBlock, RemovedBlock))]

    def norm(part):
        return next((m for m in part if isinstance(m, nn.BatchNorm2d)), None)

    return _BlockParts(down[0], norm(down), slots(down), up[0], norm(up), slots(up))


def _copy_weights(source: ResUnetGenerator, target: ResUnetGenerator) -> None:
    """Fill `target` (a shallower copy of `source`'s structure) with `source`'s weights."""
    with torch.no_grad():
        for old, new in zip(nested_blocks(source), nested_blocks(target), strict=False):
            old_parts, new_parts = _parts(old), _parts(new)
            weight = old_parts.downconv.weight
            if old_parts.down_norm is not None and new_parts.down_norm is None:
                norm = old_parts.down_norm
                scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
                weight = weight * scale[:, None, None, None]
            new_parts.downconv.weight.copy_(weight)
            new_parts.upconv.weight.copy_(
                old_parts.upconv.weight[:, : new_parts.upconv.in_channels]
            )
            for old_norm, new_norm in (
                (old_parts.down_norm, new_parts.down_norm),
                (old_parts.up_norm, new_parts.up_norm),
            ):
                if new_norm is not None:
                    new_norm.load_state_dict(old_norm.state_dict())
            for old_slots, new_slots in (
                (old_parts.down_slots, new_parts.down_slots),
                (old_parts.up_slots, new_parts.up_slots),
            ):
                for old_slot, new_slot in zip(old_slots, new_slots, strict=True):
                    if isinstance(new_slot, ResidualBlock):
                        new_slot.load_state_dict(old_slot.state_dict())


def remove_depth(
    gen_model: ResUnetGenerator, recipe: DepthRecipe, inputs: torch.Tensor
) -> tuple[ResUnetGenerator, DepthPlan, dict[str, float]]:
    """A shallower copy of `gen_model` with its weights (the original is left as it is).

    Args:
        gen_model: the generator (any widths, already depth-pruned or not).
        recipe: what to remove.
        inputs: (N, 7, H, W) generator inputs the blocks' impact is measured on.

    Returns:
        The new generator in eval mode, the plan it follows and every block's impact.
    """
    impact = block_impact(gen_model, inputs)
    plan = plan_depth(measure_gen_widths(gen_model), recipe, impact)
    shallower = ResUnetGenerator(plan.widths).eval()
    _copy_weights(gen_model, shallower)
    return shallower, plan, impact


def remove_warp_depth(
    warp_model: AFWM,
    recipe: DepthRecipe,
    pairs: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> tuple[AFWM, DepthPlan, dict[str, float]]:
    """A shallower copy of `warp_model` with its weights (the original is left as it is).

    Args:
        warp_model: the warping module (any widths, already depth-pruned or not).
        recipe: what to remove (a ``cwm`` recipe).
        pairs: (person, clothes, edge) the blocks' impact is measured on (`sample_pairs`).

    Returns:
        The new warping module in eval mode, the plan it follows and every block's and
        refinement head's impact.
    """
    impact = warp_impact(warp_model, *pairs)
    plan = plan_depth(measure_warp_widths(warp_model), recipe, impact)
    shallower = AFWM(plan.widths).eval()
    # Removed slots hold no weights: every key the shallower network has, the original has too.
    state = warp_model.state_dict()
    shallower.load_state_dict({key: state[key] for key in shallower.state_dict()})
    return shallower, plan, impact


def depth_stage(run, recipe: DepthRecipe, *, data: Path | None = None) -> dict[str, Any]:
    """Depth-prune one network (`recipe.module`) of a run's student, no fine-tuning; save it.

    Args:
        run: a `optimization.compress.CompressionRun`.
        recipe: what to remove.
        data: pairs to measure the blocks' impact on (smooth random images when None).

    Returns:
        The stage record, also written to ``RUN/stages/depth_<module>.json``.
    """
    from optimization.model_stats import gen_compute, warp_compute

    module = recipe.module
    warp_model, gen_model = run.student()
    if module == "cwm":
        model, compute, network = warp_model, warp_compute, "warp"
        shallower, plan, impact = remove_warp_depth(warp_model, recipe, sample_pairs(data))
    else:
        model, compute, network = gen_model, gen_compute, "gen"
        inputs = generator_inputs(warp_model, data)
        shallower, plan, impact = remove_depth(gen_model, recipe, inputs)
    before, after = compute(model), compute(shallower)
    run.save_student(network, shallower, stage=f"depth {module}", depth=recipe.spec)
    record = {
        "stage": "depth",
        "module": module,
        "label": f"{module}{recipe.label}",
        "recipe": asdict(recipe),
        "removed_blocks": list(plan.removed),
        "levels_removed": plan.levels_removed,
        "residual_blocks_before": residual_block_count(model),
        "residual_blocks_after": residual_block_count(shallower),
        "impact": impact,
        "parameters_before": before.parameters,
        "parameters_after": after.parameters,
        "gmacs_before": before.macs / 1e9,
        "gmacs_after": after.macs / 1e9,
        "widths": plan.widths.to_dict(),
    }
    if module == "cwm":
        record["refine_heads_before"] = refine_head_count(model)
        record["refine_heads_after"] = refine_head_count(shallower)
    run.write_stage(f"depth_{module}", record)
    log.info(
        "depth %s: %d -> %d residual blocks, %s removed, %.3f -> %.3f GMACs",
        module,
        record["residual_blocks_before"],
        record["residual_blocks_after"],
        ", ".join(plan.removed) or "nothing",
        record["gmacs_before"],
        record["gmacs_after"],
    )
    return record
