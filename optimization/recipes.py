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
LOSS_WEIGHTINGS = ("static", "uncertainty")
"""How distillation weighs its loss terms: the recipe's fixed weights, or weights learned with
them as a start (uncertainty weighting, Kendall, Gal and Cipolla, CVPR 2018;
``optimization/loss_weighting.py``)."""
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


GEN_DOWN_PATHS = tuple(f"d{k}" for k in range(5))
GEN_UP_PATHS = tuple(f"u{k}" for k in range(4))
"""The generator's residual paths: ``dK`` ends nested block K's down path (K = 0 outermost),
``uK`` is the decoder stage after the up-convolution that outputs ``up[K]``; two blocks each."""
WARP_CLOTH_PATHS = tuple(f"c{k}" for k in range(5))
WARP_PERSON_PATHS = tuple(f"p{k}" for k in range(5))
WARP_REFINE_HEADS = tuple(f"r{k}" for k in range(5))
"""The warping module's depth cuts: ``cK`` / ``pK`` is stage K of the clothes / person encoder
(two residual blocks each; K = 0 finest), ``rK`` the refinement head of flow level K
(``netRefine[K]``, one each; K = 0 coarsest)."""
_DEPTH_KEYS = {
    "igm": {
        "blocks": GEN_DOWN_PATHS + GEN_UP_PATHS,
        "down": GEN_DOWN_PATHS,
        "up": GEN_UP_PATHS,
        **{path: (path,) for path in GEN_DOWN_PATHS + GEN_UP_PATHS},
    },
    "cwm": {
        "blocks": WARP_CLOTH_PATHS + WARP_PERSON_PATHS,
        "cloth": WARP_CLOTH_PATHS,
        "person": WARP_PERSON_PATHS,
        "refine": WARP_REFINE_HEADS,
        **{path: (path,) for path in WARP_CLOTH_PATHS + WARP_PERSON_PATHS + WARP_REFINE_HEADS},
    },
}
_DEPTH_FORMS = {
    "igm": "levels=L, blocks=N, down=N, up=N, dK=N, uK=N",
    "cwm": "blocks=N, cloth=N, person=N, cK=N, pK=N, refine=N, rK=N",
}
DEPTH_HELP = {
    "igm": (
        "comma-separated KEY=N items, later ones overriding earlier ones: levels=L keeps L of the "
        "generator's 5 nested blocks (2 to 5; the innermost go); blocks=N keeps N of the 2 "
        "residual blocks on every path, down=N / up=N on every encoder / decoder path, dK=N / "
        "uK=N on one (d0..d4 encoder paths outermost first, u0..u3 decoder stages, u0 at "
        "128x96). The blocks that go are those whose removal changes the generator's output "
        "least on the data. Example: blocks=1,d0=2 or levels=4"
    ),
    "cwm": (
        "comma-separated KEY=N items, later ones overriding earlier ones: blocks=N keeps N of "
        "the 2 residual blocks in every stage of both feature encoders, cloth=N / person=N in "
        "every stage of one encoder, cK=N / pK=N in stage K of one (c0..c4 clothes, p0..p4 "
        "person, K=0 the finest at 128x96); the blocks that go are those whose removal changes "
        "the warped garment least on the data. refine=0 removes the refinement head of every "
        "flow level, rK=0 that of level K (netRefine[K], r0 the coarsest at 8x6, r4 the finest "
        "at 128x96): the level's flow is then its main head's (=1 keeps a head, as in "
        "refine=0,r0=1). Almost all the heads' MACs are in r4 and r3, and the encoders' in "
        "stages 0 to 2. Example: r4=0,blocks=1"
    ),
}
"""The syntax of ``optimize cwm|igm --depth SPEC``, by module."""


@dataclass(frozen=True)
class DepthRecipe:
    """How to make a network shallower (depth pruning, ``optimization/depth.py``).

    Attributes:
        levels: nested blocks of the ResUnet to keep, 2 to 5 (None: as many as it has); the
            innermost go. Generator only.
        blocks: blocks to keep by path name: residual blocks (0 to 2) of the generator's paths
            (`GEN_DOWN_PATHS`, `GEN_UP_PATHS`) or the warping module's encoder stages
            (`WARP_CLOTH_PATHS`, `WARP_PERSON_PATHS`), refinement heads (0 or 1) of its flow
            levels (`WARP_REFINE_HEADS`); a path not named keeps its blocks.
        spec: the text it was parsed from (see `DEPTH_HELP`).
        module: the network, ``igm`` (generator) or ``cwm`` (warping module).
    """

    levels: int | None = None
    blocks: Mapping[str, int] = field(default_factory=dict)
    spec: str = ""
    module: str = "igm"

    def __post_init__(self) -> None:
        if self.module not in _DEPTH_KEYS:
            raise ValueError(f"depth: module {self.module!r}, choose one of {tuple(_DEPTH_KEYS)}")
        if self.levels is not None and self.module != "igm":
            raise ValueError("depth: levels=L removes nested levels of the generator (igm) only")
        if self.levels is not None and not 2 <= self.levels <= 5:
            raise ValueError(f"depth: levels={self.levels}, must be 2 to 5")
        paths = {path for group in _DEPTH_KEYS[self.module].values() for path in group}
        unknown = sorted(set(self.blocks) - paths)
        if unknown:
            raise ValueError(f"depth: unknown paths {unknown}")
        heads = {path: kept for path, kept in self.blocks.items() if path in WARP_REFINE_HEADS}
        if not all(kept in (0, 1) for kept in heads.values()):
            raise ValueError(f"depth: a refinement head is kept (1) or removed (0), got {heads}")
        if not all(0 <= kept <= 2 for kept in self.blocks.values()):
            raise ValueError(f"depth: paths keep 0 to 2 residual blocks, got {dict(self.blocks)}")

    @classmethod
    def parse(cls, spec: str, module: str = "igm") -> DepthRecipe:
        """A recipe from `DEPTH_HELP`'s syntax for `module`, e.g. ``blocks=1,d0=2`` (igm) or
        ``r4=0,blocks=1`` (cwm).

        Raises:
            ValueError: an item that is not KEY=N, an unknown key or a count out of range.
        """
        groups = _DEPTH_KEYS.get(module)
        if groups is None:
            raise ValueError(f"depth: module {module!r}, choose one of {tuple(_DEPTH_KEYS)}")
        levels, blocks = None, {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key, _, value = item.partition("=")
            key = key.strip().lower()
            known = key in groups or (key == "levels" and module == "igm")
            if not value.strip().isdigit() or not known:
                raise ValueError(f"depth: {item!r} is not one of {_DEPTH_FORMS[module]}")
            if key == "levels":
                levels = int(value)
            else:
                blocks.update(dict.fromkeys(groups[key], int(value)))
        if levels is None and not blocks:
            raise ValueError(f"depth: {spec!r} removes nothing")
        return cls(levels=levels, blocks=blocks, spec=spec.replace(" ", ""), module=module)

    @property
    def label(self) -> str:
        """For artifact names: ``blocks=1,levels=4`` -> ``depth-blocks1-levels4``."""
        return "depth-" + self.spec.replace("=", "").replace(",", "-")


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
        loss_weighting: ``static`` (the weights above) or ``uncertainty``: the terms the
            trained networks influence get learned weights that start at the static ones
            (see `LOSS_WEIGHTINGS`); `weighting_lr` is their Adam learning rate.
        adversarial_weight: weight of a hinge-loss PatchGAN term on the try-on (0: none;
            ``optimization/adversarial.py``); its discriminator is `discriminator_width`
            channels wide at its first layer and learns at `discriminator_lr`.
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
    loss_weighting: str = "static"
    weighting_lr: float = 1e-2
    adversarial_weight: float = 0.0
    discriminator_width: int = 32
    discriminator_lr: float = 2e-4

    def __post_init__(self) -> None:
        if not self.train or not set(self.train) <= set(NETWORKS):
            raise ValueError(f"train must name networks from {NETWORKS}, got {self.train}")
        if self.loss_weighting not in LOSS_WEIGHTINGS:
            raise ValueError(
                f"loss weighting {self.loss_weighting!r}: choose one of {LOSS_WEIGHTINGS}"
            )
        if self.adversarial_weight < 0 or self.discriminator_width < 1:
            raise ValueError("adversarial_weight must be >= 0 and discriminator_width >= 1")


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
