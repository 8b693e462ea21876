"""The recipes of the compression stages: what decides a pruning, a distillation, a QAT run.

Frozen dataclasses without torch: every stage saves the recipe it ran beside its outputs, and
`optimize` offers their defaults on its flags (`default`) without importing torch for `--help`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

NETWORKS = ("warp", "gen")
"""Our names of PF-AFN's networks: the warping module (AFWM) and the generator (ResUnet)."""
MODULES = {"cwm": "warp", "igm": "gen"}
"""The paper's module names (`optimize cwm|igm`) -> our network names."""
IMPORTANCES = ("magnitude", "taylor")
SSIM_TERMS = ("warped_cloth_ssim", "p_tryon_ssim")
OUTPUT_WEIGHTS = {
    "warped_cloth": 1.0,
    "flow": 0.1,
    "warped_edge": 1.0,
    "p_tryon": 2.0,
    **dict.fromkeys(SSIM_TERMS, 0.0),
}


@dataclass(frozen=True)
class PruneRecipe:
    """How to prune one network.

    Attributes:
        ratio: fraction of the channels to remove from every prunable group, in (0, 0.9).
            Parameters and MACs shrink by about ``1 - (1 - ratio)^2``.
        importance: ``magnitude`` (group L2 norm of the weights) or ``taylor`` (first-order
            Taylor expansion of the loss; needs a loss callback).
        iterative_steps: reach `ratio` in this many equal steps, rebuilding the dependency
            graph (and optionally fine-tuning) between them.
        round_to: kept channel counts are multiples of this (groups narrower stay as they are).
        group_ratios: per-group ratios by group name (see `optimization.prune.prunable_groups`),
            `ratio`; typically derived from the sensitivity analysis.
    """

    ratio: float
    importance: str = "magnitude"
    iterative_steps: int = 1
    round_to: int = 8
    group_ratios: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ratios = [self.ratio, *self.group_ratios.values()]
        if not all(0.0 <= r < 0.9 for r in ratios):
            raise ValueError(f"pruning ratios must be in [0, 0.9), got {ratios}")
        if self.importance not in IMPORTANCES:
            raise ValueError(f"importance {self.importance!r}: choose one of {IMPORTANCES}")
        if self.iterative_steps < 1 or self.round_to < 1:
            raise ValueError("iterative_steps and round_to must be at least 1")


@dataclass(frozen=True)
class DistillRecipe:
    """Everything that decides a distillation run; saved beside its checkpoints.

    Attributes:
        data: VITON-layout folder (ground truth optional).
        train: the networks whose weights learn (``warp``, ``gen`` or both); the others stay
            frozen. The teacher is always frozen.
        epochs, batch_size, lr: Adam with cosine decay.
        feature_weight: weight of the feature-matching term (0 disables the adapters).
        supervised_weight: weight of PF-AFN's supervised losses where ground truth exists.
        output_weights: weights of the teacher-output terms. ``warped_cloth_ssim`` and
            ``p_tryon_ssim`` (1 - SSIM against the teacher's image, the metric the report ranks
            students by) are computed only when weighted: L1 alone lets a student blur
            the patterns the teacher keeps, which costs little L1 and much SSIM.
        max_minutes: stop after this much wall time (the schedule still ends at `epochs`).
        autocast_bf16: bf16 autocast of the convolutions (CPU with AVX512-BF16, or GPU).
        frozen_batchnorm: BatchNorm of the trained networks runs on its running statistics
            (its scale and shift still learn), so the loss sees the function that is
            exported. PF-AFN's warp is very sensitive to them: moving the running mean of
            the first BatchNorm (on the clothes' RGB) by 0.01 changes the teacher's try-on by
            0.09 mean absolute, and the running averages that batch statistics leave after a
            fine-tuning differ from the teacher's by more than that.
    """

    data: str
    train: tuple[str, ...] = ("warp",)
    epochs: int = 2
    batch_size: int = 8
    lr: float = 1e-4
    feature_weight: float = 1.0
    supervised_weight: float = 0.5
    output_weights: dict[str, float] = field(default_factory=lambda: dict(OUTPUT_WEIGHTS))
    max_minutes: float | None = None
    seed: int = 0
    threads: int | None = None
    device: str = "cpu"
    autocast_bf16: bool = False
    frozen_batchnorm: bool = True

    def __post_init__(self) -> None:
        if not self.train or not set(self.train) <= set(NETWORKS):
            raise ValueError(f"train must name networks from {NETWORKS}, got {self.train}")


@dataclass(frozen=True)
class QatRecipe:
    """Quantization-aware training: calibration, then distillation of the quantized graphs.

    `modules` are quantized and fine-tuned (``cwm``, ``igm`` or both); the other stays float and
    frozen. `float_graphs` (split graph roles: ``features``, ``levels``, ``render``) of those
    modules stay float but are fine-tuned with the rest.
    """

    calibration_pairs: int = 32
    distill: DistillRecipe | None = None
    modules: tuple[str, ...] = ("cwm", "igm")
    float_graphs: tuple[str, ...] = ()


def default(recipe: type, name: str) -> Any:
    """The default of field `name` of a recipe class (a fresh copy where it is built per recipe).

    Raises:
        KeyError: the recipe has no such field, or no default for it.
    """
    for item in fields(recipe):
        if item.name == name and item.default_factory is not MISSING:
            return item.default_factory()
        if item.name == name and item.default is not MISSING:
            return item.default
    raise KeyError(f"{recipe.__name__}.{name}: no such field with a default")
