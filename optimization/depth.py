"""Depth pruning of the generator: remove residual blocks or whole nested levels, not channels.

The ResUnet has two residual blocks on each of its 9 paths (5 encoder paths, 4 decoder stages)
and 5 nested levels. Depth pruning (as in DC-AE's decoder pruning) takes blocks away whole:

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

The shallower network is then distilled from the teacher (``optimize igm --depth``), by default
with uncertainty-weighted loss terms (``optimization/loss_weighting.py``) and optionally a
PatchGAN discriminator (``optimization/adversarial.py``). Its widths describe it completely, so
checkpoints (`optimization.checkpoints.load_models`), QAT and export rebuild it like any other.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from optimization.archs.afwm import AFWM
from optimization.archs.generator import (
    RemovedBlock,
    ResidualBlock,
    ResUnetGenerator,
    ResUnetSkipConnectionBlock,
    measure_gen_widths,
    nested_blocks,
    residual_paths,
)
from optimization.archs.tryon import render_tryon, tryon_forward
from optimization.archs.widths import GenWidths
from optimization.recipes import DepthRecipe

log = logging.getLogger(__name__)

IMPACT_PAIRS = 8
"""Pairs the impact of every residual block is measured on."""


def residual_block_count(model: ResUnetGenerator) -> int:
    """Residual blocks the generator really runs (removed slots excluded)."""
    return sum(isinstance(m, ResidualBlock) for m in model.modules())


def generator_inputs(
    warp_model: AFWM, data: str | Path | None, pairs: int = IMPACT_PAIRS
) -> torch.Tensor:
    """(N, 7, 256, 192) generator inputs in [-1, 1] (person, warped garment, warped mask in
    [0, 1]) from the first `pairs` pairs of `data` warped by `warp_model`; smooth random images
    warped the same way when `data` is None."""
    from torch.utils.data import DataLoader

    if data is None:
        from optimization.graphs import sample_inputs

        batches = [sample_inputs(seed) for seed in range(min(pairs, 2))]
        person, clothes, edge = (torch.cat(parts) for parts in zip(*batches, strict=True))
    else:
        from optimization.data.viton import VitonPairs

        batch = next(iter(DataLoader(VitonPairs(data), batch_size=pairs)))
        person, clothes, edge = (batch[k] for k in ("person", "clothes", "edge"))
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
    impact = {}
    with torch.no_grad():
        reference = _tryon(gen_model, inputs)
        for path, slots in residual_paths(gen_model).items():
            for index, slot in enumerate(slots):
                if not isinstance(slot, ResidualBlock):
                    continue
                # A forward hook's return value replaces the output: the block is skipped.
                handle = slot.register_forward_hook(lambda module, args, output: args[0])
                try:
                    impact[f"{path}.{index}"] = float(
                        (_tryon(gen_model, inputs) - reference).abs().mean()
                    )
                finally:
                    handle.remove()
    return impact


@dataclass(frozen=True)
class DepthPlan:
    """What depth pruning removes from one generator.

    Attributes:
        widths: the shallower generator's widths.
        removed: slot names of the residual blocks removed from the levels kept.
        levels_removed: nested levels removed (the innermost).
    """

    widths: GenWidths
    removed: tuple[str, ...]
    levels_removed: int


def plan_depth(widths: GenWidths, recipe: DepthRecipe, impact: dict[str, float]) -> DepthPlan:
    """The widths after `recipe`, removing the blocks of least `impact` within each path.

    Raises:
        ValueError: the recipe keeps more levels than the generator has.
    """
    levels = recipe.levels or widths.levels
    if levels > widths.levels:
        raise ValueError(f"depth: levels={levels}, but the generator has {widths.levels}")
    down_inner = [list(pair) for pair in widths.down_inner[:levels]]
    up_inner = [list(pair) for pair in widths.up_inner[: levels - 1]]
    removed = []
    for prefix, inner in (("d", down_inner), ("u", up_inner)):
        for index, pair in enumerate(inner):
            path = f"{prefix}{index}"
            present = [slot for slot, width in enumerate(pair) if width]
            keep = min(recipe.blocks.get(path, len(present)), len(present))
            # Least impact first; ties go to the later slot.
            ranked = sorted(
                present, key=lambda slot, path=path: (impact.get(f"{path}.{slot}", 0.0), -slot)
            )
            for slot in ranked[: len(present) - keep]:
                pair[slot] = 0
                removed.append(f"{path}.{slot}")
    shallower = GenWidths(
        down=widths.down[:levels],
        up=widths.up[: levels - 1],
        down_inner=tuple(tuple(pair) for pair in down_inner),
        up_inner=tuple(tuple(pair) for pair in up_inner),
    )
    return DepthPlan(shallower, tuple(sorted(removed)), widths.levels - levels)


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


def depth_stage(run, recipe: DepthRecipe, *, data: Path | None = None) -> dict[str, Any]:
    """Depth-prune the generator of a run's student (no fine-tuning) and save it.

    Args:
        run: a `optimization.compress.CompressionRun`.
        recipe: what to remove.
        data: pairs to measure the blocks' impact on (smooth random images when None).

    Returns:
        The stage record, also written to ``RUN/stages/depth_igm.json``.
    """
    from optimization.model_stats import gen_compute

    warp_model, gen_model = run.student()
    before = gen_compute(gen_model)
    blocks_before = residual_block_count(gen_model)
    shallower, plan, impact = remove_depth(gen_model, recipe, generator_inputs(warp_model, data))
    after = gen_compute(shallower)
    run.save_student("gen", shallower, stage="depth igm", depth=recipe.spec)
    record = {
        "stage": "depth",
        "module": "igm",
        "label": f"igm{recipe.label}",
        "recipe": asdict(recipe),
        "removed_blocks": list(plan.removed),
        "levels_removed": plan.levels_removed,
        "residual_blocks_before": blocks_before,
        "residual_blocks_after": residual_block_count(shallower),
        "impact": impact,
        "parameters_before": before.parameters,
        "parameters_after": after.parameters,
        "gmacs_before": before.macs / 1e9,
        "gmacs_after": after.macs / 1e9,
        "widths": plan.widths.to_dict(),
    }
    run.write_stage("depth_igm", record)
    log.info(
        "depth igm: %d -> %d residual blocks, %d levels removed, %.3f -> %.3f GMACs",
        blocks_before,
        record["residual_blocks_after"],
        plan.levels_removed,
        record["gmacs_before"],
        record["gmacs_after"],
    )
    return record
