"""Size and compute of PF-AFN models: parameters, MACs at 256x192, and artifact file sizes."""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from optimization.archs.afwm import AFWM
from optimization.archs.correlation import Correlation
from optimization.archs.generator import GEN_INPUT_CHANNELS, ResUnetGenerator
from optimization.archs.widths import GenWidths, WarpWidths
from tryon_app.core.artifact import INPUT_HEIGHT, INPUT_WIDTH

MEGABYTE = 1e6


@dataclass(frozen=True)
class ComputeStats:
    """Parameters and multiply-accumulates of one network for a single 256x192 try-on.

    Attributes:
        parameters: trainable and frozen parameters (buffers such as BN statistics excluded).
        conv_macs: output elements x (C_in / groups) x kh x kw summed over every Conv2d; bias
            additions are not counted (the convention of pfafn.md section 5 and FlopCounterMode).
        correlation_macs: H x W x 49 x C over the cost volumes (0 for the generator).
    """

    parameters: int
    conv_macs: int
    correlation_macs: int = 0

    @property
    def macs(self) -> int:
        return self.conv_macs + self.correlation_macs

    @property
    def gflops(self) -> float:
        """Two FLOPs per multiply-accumulate, in units of 1e9."""
        return 2 * self.macs / 1e9

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "macs": self.macs, "gflops": round(self.gflops, 3)}


@dataclass(frozen=True)
class ArtifactStats:
    """What an exported artifact folder weighs and computes.

    Attributes:
        warp_mb: CWM files of the split layout (``split/features.*`` and ``split/level_*.*``).
        gen_mb: IGM files of the split layout (``split/render.*``).
        split_mb: the whole split layout, the files the app runs on CPU.
        fused_mb: the fused layout (``fused.*``), None when the artifact has none.
        warp, gen: compute of the networks rebuilt from ``metadata["architecture"]``, None when
            the metadata has no architecture.
    """

    warp_mb: float
    gen_mb: float
    split_mb: float
    fused_mb: float | None
    warp: ComputeStats | None
    gen: ComputeStats | None

    @property
    def parameters(self) -> int | None:
        return (
            None
            if self.warp is None or self.gen is None
            else self.warp.parameters + self.gen.parameters
        )

    @property
    def gflops(self) -> float | None:
        return None if self.warp is None or self.gen is None else self.warp.gflops + self.gen.gflops

    def to_dict(self) -> dict[str, Any]:
        return {
            "size_mb": {
                "warp": round(self.warp_mb, 3),
                "gen": round(self.gen_mb, 3),
                "split_total": round(self.split_mb, 3),
                "fused": None if self.fused_mb is None else round(self.fused_mb, 3),
            },
            "warp": None if self.warp is None else self.warp.to_dict(),
            "gen": None if self.gen is None else self.gen.to_dict(),
            "parameters": self.parameters,
            "gflops": None if self.gflops is None else round(self.gflops, 3),
        }


def count_parameters(model: nn.Module) -> int:
    """Number of parameters of `model` (works on the meta device)."""
    return sum(parameter.numel() for parameter in model.parameters())


def count_macs(model: nn.Module, *inputs: torch.Tensor) -> tuple[int, int]:
    """Conv and correlation multiply-accumulates of one forward pass, per sample.

    Args:
        model: any module; every ``nn.Conv2d`` and ``Correlation`` inside it is counted.
        inputs: forward arguments (meta tensors are enough: only shapes are read).

    Returns:
        (conv MACs, correlation MACs), divided by the batch size.
    """
    totals = {"conv": 0, "correlation": 0}

    def on_conv(layer: nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        kernel_h, kernel_w = layer.kernel_size
        per_output = layer.in_channels // layer.groups * kernel_h * kernel_w
        totals["conv"] += output.numel() * per_output

    def on_correlation(layer: Correlation, layer_inputs, output: torch.Tensor) -> None:
        channels = layer_inputs[0].shape[1]
        totals["correlation"] += output.numel() * channels

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(on_conv))
        elif isinstance(module, Correlation):
            handles.append(module.register_forward_hook(on_correlation))
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    batch = inputs[0].shape[0]
    return totals["conv"] // batch, totals["correlation"] // batch


def warp_compute(model_or_widths: AFWM | WarpWidths) -> ComputeStats:
    """Parameters and MACs of the warping module (CWM) at 256x192.

    Counting runs on the meta device (a model is copied there first), so even the official size
    costs no memory and about a second.
    """
    model = _meta_model(model_or_widths, AFWM, WarpWidths)
    device = next(model.parameters()).device
    image = torch.zeros(1, 3, INPUT_HEIGHT, INPUT_WIDTH, device=device)
    conv_macs, correlation_macs = count_macs(model, image, image)
    return ComputeStats(count_parameters(model), conv_macs, correlation_macs)


def gen_compute(model_or_widths: ResUnetGenerator | GenWidths) -> ComputeStats:
    """Parameters and MACs of the generator (IGM) at 256x192, counted on the meta device."""
    model = _meta_model(model_or_widths, ResUnetGenerator, GenWidths)
    device = next(model.parameters()).device
    conv_macs, _ = count_macs(
        model, torch.zeros(1, GEN_INPUT_CHANNELS, INPUT_HEIGHT, INPUT_WIDTH, device=device)
    )
    return ComputeStats(count_parameters(model), conv_macs)


def _meta_model(model_or_widths: Any, model_class: type, widths_class: type) -> nn.Module:
    if isinstance(model_or_widths, model_class):
        # Only shapes matter: a meta copy counts a pruned model without computing anything.
        return copy.deepcopy(model_or_widths).to("meta").eval()
    if not isinstance(model_or_widths, widths_class):
        raise TypeError(
            f"expected {model_class.__name__} or {widths_class.__name__}, "
            f"got {type(model_or_widths).__name__}"
        )
    with torch.device("meta"):
        return model_class(model_or_widths).eval()


def _module_of(relative_path: str) -> str:
    """Which part of the model an artifact file belongs to: warp, gen, fused or other."""
    if relative_path.startswith("split/"):
        stem = Path(relative_path).stem
        if stem == "render":
            return "gen"
        if stem == "features" or stem.startswith("level_"):
            return "warp"
        return "split_other"
    if Path(relative_path).stem == "fused":
        return "fused"
    return "other"


def artifact_stats(folder: str | Path, *, compute: bool = True) -> ArtifactStats:
    """File sizes per module of an artifact folder, and the compute of its architecture.

    Args:
        folder: an artifact folder (``metadata.json`` lists its files).
        compute: also rebuild the networks from ``metadata["architecture"]`` (on the meta device)
            to count parameters and MACs.

    Raises:
        FileNotFoundError: no ``metadata.json`` in `folder`.
        ValueError: unreadable metadata or architecture.
    """
    folder = Path(folder)
    meta_path = folder / "metadata.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path}: missing (not a model artifact folder)")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{meta_path}: unreadable metadata ({error})") from None
    sizes = {"warp": 0, "gen": 0, "split_other": 0, "fused": 0, "other": 0}
    for relative in metadata.get("files", {}):
        path = folder / relative
        if path.is_file():
            sizes[_module_of(relative)] += path.stat().st_size
    has_fused = "fused" in metadata.get("layouts", {})
    warp = gen = None
    architecture = metadata.get("architecture")
    if compute and architecture:
        warp = warp_compute(WarpWidths.from_dict(architecture["warp"]))
        gen = gen_compute(GenWidths.from_dict(architecture["gen"]))
    return ArtifactStats(
        warp_mb=sizes["warp"] / MEGABYTE,
        gen_mb=sizes["gen"] / MEGABYTE,
        split_mb=(sizes["warp"] + sizes["gen"] + sizes["split_other"]) / MEGABYTE,
        fused_mb=sizes["fused"] / MEGABYTE if has_fused else None,
        warp=warp,
        gen=gen,
    )
