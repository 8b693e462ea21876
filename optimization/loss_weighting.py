"""Dynamic loss weights for distillation: uncertainty weighting (Kendall, Gal and Cipolla, 2018).

"Multi-Task Learning Using Uncertainty to Weigh Losses for Scene Geometry and Semantics" (CVPR
2018) gives every loss term ``L_i`` a learned log-variance ``s_i`` and minimises

    sum_i exp(-s_i) * L_i + s_i

For a fixed ``L_i`` the minimum is at ``s_i = log L_i``: each term's weight ``exp(-s_i)`` tends to
``1 / L_i``, so a term whose value is large (an L1 on images) cannot drown a small one (the
flow, a feature-matching ratio), and the balance follows the terms as they shrink during the
fine-tuning. The ``+ s_i`` keeps the weights from growing without bound.

Here the log-variances start at ``-log(w_i)`` for the recipe's static weights ``w_i``, so the
first steps are the static recipe's, and they learn with their own, larger learning rate: with
the student's (1e-4) Adam would move them by about 0.1 in a thousand steps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn


class UncertaintyWeighting(nn.Module):
    """Learned weights of some loss terms; the others keep their static weights.

    Args:
        initial: the static weight of every term this module balances (each > 0).
    """

    def __init__(self, initial: Mapping[str, float]):
        super().__init__()
        if not initial or not all(weight > 0 for weight in initial.values()):
            raise ValueError(f"uncertainty weighting needs positive weights, got {dict(initial)}")
        self.names = tuple(initial)
        start = [-math.log(initial[name]) for name in self.names]
        self.log_variances = nn.Parameter(torch.tensor(start, dtype=torch.float32))

    def forward(self, terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``sum exp(-s_i) * L_i + s_i`` over the balanced terms of `terms` (all must be there)."""
        values = torch.stack([terms[name].float() for name in self.names])
        return (torch.exp(-self.log_variances) * values + self.log_variances).sum()

    def weights(self) -> dict[str, torch.Tensor]:
        """The current weight ``exp(-s_i)`` of every balanced term (detached)."""
        current = torch.exp(-self.log_variances.detach())
        return {name: current[index] for index, name in enumerate(self.names)}
