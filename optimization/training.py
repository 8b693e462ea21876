"""What the training loops share: supervised training (``train.py``) and distillation
(``distill.py``) take the same step and keep the same records.

PF-AFN's supervised losses, bf16 autocast where the hardware has it, Adam's cosine schedule, one
optimizer step with gradient clipping, the running means of an epoch's loss terms, its line in the
history file, and the wall-time budget.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from optimization.metrics import ssim

log = logging.getLogger(__name__)

GRADIENT_CLIP = 5.0
"""Largest gradient norm of a step (the flow heads' gradients spike on hard pairs)."""


def flow_in_pixels(flow: torch.Tensor) -> torch.Tensor:
    """A normalised (N, 2, H, W) sampling grid in pixels of its own size."""
    height, width = flow.shape[-2:]
    return flow * flow.new_tensor([(width - 1) / 2, (height - 1) / 2]).view(1, 2, 1, 1)


def flow_smoothness(flow: torch.Tensor) -> torch.Tensor:
    """Second-order smoothness of a normalised (N, 2, H, W) grid, measured in pixels."""
    pixels = flow_in_pixels(flow)
    d2x = pixels[..., :, 2:] - 2 * pixels[..., :, 1:-1] + pixels[..., :, :-2]
    d2y = pixels[..., 2:, :] - 2 * pixels[..., 1:-1, :] + pixels[..., :-2, :]
    return d2x.abs().mean() + d2y.abs().mean()


def training_losses(
    out: dict[str, torch.Tensor], gt: torch.Tensor, gt_mask: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Loss terms for one batch of `tryon_forward` outputs against ground truth.

    The composition-mask term needs ``m_composite``; outputs without it (the split graphs the
    app runs) get the other terms.
    """
    terms = {
        "warp_l1": F.l1_loss(out["warped_cloth"] * gt_mask, gt * gt_mask),
        "warp_mask": F.l1_loss(out["warped_edge"], gt_mask),
        "smooth": flow_smoothness(out["last_flow"]),
        "tryon_l1": F.l1_loss(out["p_tryon"], gt),
        "tryon_ssim": 1 - ssim(out["p_tryon"], gt),
    }
    if "m_composite" in out:
        terms["composite"] = F.l1_loss(out["m_composite"], gt_mask)
    return terms


def bf16_autocast(device: torch.device, requested: bool) -> bool:
    """Whether to run bf16 autocast: only where the hardware computes in bf16.

    Without AVX512-BF16 or AMX, oneDNN emulates bf16 on the CPU; a training step was measured
    70x slower than float32 on an AVX2 machine, so the request falls back to float32.
    """
    if requested and device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        log.warning("--bf16 ignored: this CPU has no native bf16 (AVX512-BF16 or AMX)")
        return False
    return requested


def cosine_schedule(
    optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning rate decays from its start to 0 along half a cosine over `total_steps`."""
    total = max(total_steps, 1)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0)))
    )


def optimizer_step(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    parameters: Iterable[torch.Tensor],
) -> None:
    """Back-propagate `loss`, clip the gradients of `parameters`, step the optimizer and schedule."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, GRADIENT_CLIP)
    optimizer.step()
    scheduler.step()


class EpochMeans:
    """The running means of an epoch's loss terms, one `add` per step."""

    def __init__(self) -> None:
        self.steps = 0
        self._sums: dict[str, float] = {}

    def add(self, terms: Mapping[str, torch.Tensor]) -> None:
        self.steps += 1
        for name, value in terms.items():
            self._sums[name] = self._sums.get(name, 0.0) + float(value.detach())

    def mean(self, name: str) -> float:
        return self._sums[name] / self.steps

    def means(self) -> dict[str, float]:
        """Every term's mean (0 for an epoch without steps)."""
        return {name: value / max(self.steps, 1) for name, value in self._sums.items()}

    def record(self, history: Path, epoch: int) -> None:
        """Append the epoch's line to a ``*.jsonl`` history: epoch (from 1), steps, the means."""
        with open(history, "a") as stream:
            stream.write(json.dumps({"epoch": epoch, "steps": self.steps, **self.means()}) + "\n")


def set_training(module: nn.Module, *, frozen_batchnorm: bool) -> None:
    """`module` in training mode; with `frozen_batchnorm`, its BatchNorm layers run on (and keep)
    their running statistics while their scale and shift still learn."""
    module.train()
    if frozen_batchnorm:
        for layer in module.modules():
            if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                layer.eval()


class Deadline:
    """A wall-time budget in minutes (None: no budget), counted from its creation."""

    def __init__(self, minutes: float | None):
        self._end = time.monotonic() + minutes * 60 if minutes else None

    def passed(self) -> bool:
        return self._end is not None and time.monotonic() > self._end
