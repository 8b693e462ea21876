"""Pruning sensitivity: how much each channel group (or single filter) matters to the try-on.

Every prunable group is pruned alone, at several ratios and without fine-tuning, and the
try-on is compared with the unpruned teacher's (MSE and SSIM on p_tryon, with the other network
left intact). The "key-player filters" analysis removes the filters of one named group one at
a time. :func:`allocate_ratios` turns the result into per-group ratios for a global target:
robust groups are pruned more, fragile ones less, at about the same overall reduction of
multiply-accumulates (what CPU time follows).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from optimization.archs.afwm import AFWM
from optimization.archs.generator import ResUnetGenerator
from optimization.archs.tryon import tryon_forward
from optimization.metrics import ssim
from optimization.model_stats import ComputeStats, gen_compute, warp_compute
from optimization.prune import TRACE_SIZE, example_inputs, prunable_groups, prune_model
from optimization.recipes import PruneRecipe

log = logging.getLogger(__name__)

DEFAULT_RATIOS = (0.25, 0.5, 0.75)


def _tryon(warp_model, gen_model, samples) -> torch.Tensor:
    with torch.no_grad():
        return tryon_forward(warp_model, gen_model, *samples)["p_tryon"]


def _quality(candidate: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    return {
        "mse": float((candidate - reference).pow(2).mean()),
        "ssim": float(ssim(candidate, reference)),
    }


def _with(kind: str, model: nn.Module, warp_model: AFWM, gen_model: ResUnetGenerator):
    return (model, gen_model) if kind == "warp" else (warp_model, model)


def group_sensitivity(
    warp_model: AFWM,
    gen_model: ResUnetGenerator,
    kind: str,
    samples: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    *,
    ratios: Sequence[float] = DEFAULT_RATIOS,
    round_to: int = 8,
    progress: bool = True,
) -> dict[str, Any]:
    """Prune each group of the `kind` network ("warp" or "gen") alone at each ratio.

    Args:
        samples: (person, clothes, edge) batch in the official model space.

    Returns:
        ``{"kind", "ratios", "groups": [{"name", "width", "results": {ratio: {"kept",
        "parameters_removed", "macs_removed", "mse", "ssim"}}}]}`` with ratios as strings
        (JSON keys); MACs are those of one 256x192 try-on.
    """
    from tqdm import tqdm

    model = warp_model if kind == "warp" else gen_model
    reference = _tryon(warp_model, gen_model, samples)
    check = example_inputs(model, *TRACE_SIZE)
    groups = [g for g in prunable_groups(model) if g.width > round_to]
    before = _compute(model)
    results = []
    for group in tqdm(groups, desc=f"sensitivity {kind}", disable=not progress, leave=False):
        entry: dict[str, Any] = {"name": group.name, "width": group.width, "results": {}}
        for ratio in ratios:
            candidate = copy.deepcopy(model)
            prune_model(
                candidate,
                PruneRecipe(ratio=0.0, round_to=round_to, group_ratios={group.name: ratio}),
                inputs=check,
            )
            kept = _kept_width(candidate, group.name)
            output = _tryon(*_with(kind, candidate, warp_model, gen_model), samples)
            after = _compute(candidate)
            entry["results"][f"{ratio:g}"] = {
                "kept": kept,
                "parameters_removed": before.parameters - after.parameters,
                "macs_removed": before.macs - after.macs,
                **_quality(output, reference),
            }
        results.append(entry)
    return {"kind": kind, "ratios": [f"{r:g}" for r in ratios], "groups": results}


def _compute(model: nn.Module) -> ComputeStats:
    return (warp_compute if isinstance(model, AFWM) else gen_compute)(model)


def _kept_width(pruned: nn.Module, group_name: str) -> int:
    # Groups are rooted at a convolution's output channels.
    return dict(pruned.named_modules())[group_name].out_channels


def filter_sensitivity(
    warp_model: AFWM,
    gen_model: ResUnetGenerator,
    kind: str,
    group_name: str,
    samples: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Remove each filter of one group alone ("key-player filters"): the SSIM loss per filter.

    Returns:
        ``{"kind", "group", "filters": [{"index", "mse", "ssim"}]}`` sorted by the harm done,
        largest first.
    """
    from tqdm import tqdm

    from optimization.prune import prune_channels

    model = warp_model if kind == "warp" else gen_model
    reference = _tryon(warp_model, gen_model, samples)
    width = {g.name: g.width for g in prunable_groups(model)}.get(group_name)
    if width is None:
        raise ValueError(f"{group_name!r} is not a prunable group of the {kind} network")
    filters = []
    for index in tqdm(
        range(width), desc=f"filters {group_name}", disable=not progress, leave=False
    ):
        candidate = copy.deepcopy(model)
        prune_channels(candidate, group_name, [index])
        output = _tryon(*_with(kind, candidate, warp_model, gen_model), samples)
        filters.append({"index": index, **_quality(output, reference)})
    filters.sort(key=lambda item: item["ssim"])
    return {"kind": kind, "group": group_name, "filters": filters}


def allocate_ratios(
    sensitivity: dict[str, Any], global_ratio: float, *, ceiling: float = 0.7
) -> dict[str, float]:
    """Per-group ratios that average `global_ratio`, fragile groups less.

    A group's fragility is its SSIM loss when pruned alone at `global_ratio`, interpolated
    between the measurements by the fraction of channels each really removed. Ratios scale
    with the inverse square root of it, then are rescaled to the target mean and clipped to
    ``[0, ceiling]``. The mean is weighted by the multiply-accumulates a group accounts for,
    so the network gets about as much faster as with `global_ratio` everywhere. Weighting by
    parameters would aim at the wrong layers: in PF-AFN's generator a channel at 16x12 holds 8
    times the parameters of one at 128x96 but an eighth of its compute. Analyses that did not
    record MACs are weighted by parameters, then by widths.
    """
    groups = sensitivity["groups"]
    if not groups:
        return {}
    weights = np.array([_weight(g) for g in groups], dtype=float)
    losses = [_loss_at(group, global_ratio) for group in groups]
    fragility = np.maximum(np.array(losses), 1e-4)
    shape = fragility**-0.5
    ratios = np.zeros_like(shape)
    scale = global_ratio / np.average(shape, weights=weights)
    # Clipping moves the mean; a few fixed-point rounds bring it back to the target.
    for _ in range(20):
        ratios = np.clip(shape * scale, 0.0, ceiling)
        mean = np.average(ratios, weights=weights)
        if abs(mean - global_ratio) < 1e-4 or mean == 0:
            break
        scale *= global_ratio / mean
    return {group["name"]: round(float(r), 4) for group, r in zip(groups, ratios, strict=True)}


def _loss_at(group: dict[str, Any], ratio: float) -> float:
    """SSIM loss of pruning `ratio` of a group, interpolated over the fractions actually removed.

    Rounding to `round_to` can make a nominal ratio remove nothing (16 channels at 0.25 keep 16),
    and such a "free" measurement must not pass for robustness: a narrow group would then get
    the ceiling ratio and lose half its channels at once.
    """
    points = {0.0: 0.0}
    for result in group["results"].values():
        removed = 1.0 - result["kept"] / group["width"]
        if removed > 0:
            points[removed] = max(points.get(removed, 0.0), 1.0 - result["ssim"])
    removed_fractions = sorted(points)
    return float(np.interp(ratio, removed_fractions, [points[x] for x in removed_fractions]))


def _weight(group: dict[str, Any]) -> float:
    """What a group costs: MACs (else parameters) removed per channel, times its width."""
    for measure in ("macs_removed", "parameters_removed"):
        per_channel = [
            result[measure] / (group["width"] - result["kept"])
            for result in group["results"].values()
            if measure in result and result["kept"] < group["width"]
        ]
        if per_channel:
            return float(np.mean(per_channel)) * group["width"]
    return float(group["width"])


def write_report(result: dict[str, Any], out_dir: str | Path, stem: str) -> tuple[Path, Path]:
    """Write ``stem.json`` and a readable ``stem.png`` bar chart; returns both paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out_dir / f"{stem}.json", out_dir / f"{stem}.png"
    json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    if "filters" in result:
        filters = result["filters"]
        labels = [str(f["index"]) for f in filters]
        values = [[1.0 - f["ssim"] for f in filters]]
        legend = ["single filter removed"]
        title = f"Key-player filters of {result['group']} ({result['kind']}): SSIM loss per filter"
    else:
        groups = sorted(
            result["groups"], key=lambda g: -(1.0 - g["results"][result["ratios"][-1]]["ssim"])
        )
        labels = [f"{_short(g['name'])} ({g['width']})" for g in groups]
        values = [[1.0 - g["results"][key]["ssim"] for g in groups] for key in result["ratios"]]
        legend = [f"pruned {float(key):.0%}" for key in result["ratios"]]
        title = f"Pruning sensitivity of the {result['kind']} network: try-on SSIM loss, one group at a time"

    height = max(3.0, 0.28 * len(labels) * max(1, len(values)) ** 0.5 + 1.5)
    figure, axes = plt.subplots(figsize=(10, height))
    positions = np.arange(len(labels))
    bar = 0.8 / len(values)
    for index, (series, name) in enumerate(zip(values, legend, strict=True)):
        axes.barh(positions + index * bar, series, height=bar, label=name)
    axes.set_yticks(positions + bar * (len(values) - 1) / 2, labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("1 - SSIM of the try-on against the unpruned teacher (higher hurts more)")
    axes.set_title(title, fontsize=10)
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(png_path, dpi=110)
    plt.close(figure)
    return json_path, png_path


def _short(name: str) -> str:
    """Readable group names: generator nesting ``model.model.4.model.5...`` becomes depth."""
    if name.startswith("model.model"):
        depth = name.count(".model.") - 1
        return f"gen level {depth}: {name.rsplit('.model.', 1)[-1]}"
    return name.replace("aflow_net.", "").replace("_features.encoders", "_enc")
