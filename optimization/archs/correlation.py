"""Traceable cost volume: PF-AFN's 7x7 correlation written as plain tensor ops.

Written as pad + 49 shifted products so that torch-pruning, NNCF and ``ov.convert_model`` see
ordinary Slice/Mul/ReduceMean ops. The runtime uses the numba twin in ``kernels`` instead.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kernels import MAX_DISPLACEMENT


def correlation(
    first: torch.Tensor, second: torch.Tensor, max_displacement: int = MAX_DISPLACEMENT
) -> torch.Tensor:
    """Mean over channels of ``first(y, x) * second(y + dy, x + dx)`` for every shift.

    Args:
        first: (N, C, H, W) features (the warped clothes features in PF-AFN).
        second: (N, C, H, W) features (the person features), zero outside the image.
        max_displacement: largest shift d; the output has (2d + 1)^2 channels.

    Returns:
        (N, (2d+1)^2, H, W), channel k = (dy + d) * (2d + 1) + (dx + d) (dy-major, as the official
        CUDA kernel orders them).
    """
    d = max_displacement
    height, width = first.shape[-2:]
    padded = F.pad(second, (d, d, d, d))
    shifted_products = [
        (first * padded[:, :, dy : dy + height, dx : dx + width]).mean(dim=1, keepdim=True)
        for dy in range(2 * d + 1)
        for dx in range(2 * d + 1)
    ]
    return torch.cat(shifted_products, dim=1)


class Correlation(nn.Module):
    """Parameter-free module around :func:`correlation`, so pruners can give it a custom rule."""

    def __init__(self, max_displacement: int = MAX_DISPLACEMENT):
        super().__init__()
        self.max_displacement = max_displacement

    @property
    def out_channels(self) -> int:
        return (2 * self.max_displacement + 1) ** 2

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return correlation(first, second, self.max_displacement)
