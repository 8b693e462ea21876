"""What decides an `optimize search` run: the MAC budget and the search's settings (no torch).

Kept apart from ``optimization/search.py`` so that the command line offers the defaults and
checks a budget without importing torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

STRATEGIES = ("evolution", "random")
_SUFFIXES = {"K": 1e3, "M": 1e6, "G": 1e9}


@dataclass(frozen=True)
class MacBudget:
    """The multiply-accumulates a searched network may cost, for one 256x192 try-on.

    Exactly one of the attributes is set.

    Attributes:
        share: a share of the teacher network's MACs, in (0, 1].
        macs: an absolute count.
    """

    share: float | None = None
    macs: int | None = None

    def __post_init__(self) -> None:
        if (self.share is None) == (self.macs is None):
            raise ValueError("a MAC budget is a share or a count, not both or neither")
        if self.share is not None and not 0.0 < self.share <= 1.0:
            raise ValueError(f"a MAC share must be in (0, 1], got {self.share:g}")
        if self.macs is not None and self.macs <= 0:
            raise ValueError(f"a MAC budget must be positive, got {self.macs}")

    @classmethod
    def parse(cls, text: str) -> MacBudget:
        """``0.5`` or ``50%``: a share of the teacher's MACs; ``1.2G``, ``800M``, ``350000000``:
        a count (a plain number above 1 is a count).

        Raises:
            ValueError: anything else, or a share outside (0, 1].
        """
        value = text.strip()
        try:
            if value.endswith("%"):
                return cls(share=float(value[:-1]) / 100.0)
            if value[-1:].upper() in _SUFFIXES:
                return cls(macs=int(float(value[:-1]) * _SUFFIXES[value[-1].upper()]))
            number = float(value)
        except (ValueError, IndexError):
            raise ValueError(
                f"--macs {text!r}: expected a share (0.5, 50%) or a count (1.2G, 800M)"
            ) from None
        if not math.isfinite(number):
            raise ValueError(f"--macs {text!r}: not a finite number")
        return cls(share=number) if number <= 1.0 else cls(macs=int(number))

    def resolve(self, teacher_macs: int) -> int:
        """The budget in MACs, given the teacher network's."""
        return self.macs if self.macs is not None else int(self.share * teacher_macs)

    def __str__(self) -> str:
        return f"{self.share:.0%}" if self.share is not None else f"{self.macs / 1e9:.3g} GMACs"


@dataclass(frozen=True)
class SearchRecipe:
    """The width search of `optimize search` (the once-for-all training is a `DistillRecipe`).

    Attributes:
        budget: the MACs the chosen widths may cost.
        strategy: ``evolution`` (mutation and crossover of the best candidates) or ``random``
            (independent candidates); both draw candidates that fit the budget.
        population: candidates per generation (``random``: candidates per round).
        generations: rounds; at most ``population * generations`` candidates are scored.
        mutation: probability that a child draws a new width for a group.
        pairs: held-out synthetic pairs the candidates are ranked on (SSIM of the try-on
            against the teacher's).
        round_to: kept channel counts are multiples of this (narrower groups keep their width).
        min_fraction: the narrowest a group may become, as a share of its width.
        seed: seeds the candidates and the widths sampled during training.
    """

    budget: MacBudget = field(default_factory=lambda: MacBudget(share=0.5))
    strategy: str = "evolution"
    population: int = 16
    generations: int = 6
    mutation: float = 0.2
    pairs: int = 16
    round_to: int = 8
    min_fraction: float = 0.25
    seed: int = 0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy {self.strategy!r}: choose one of {STRATEGIES}")
        if self.population < 2 or self.generations < 1 or self.pairs < 1:
            raise ValueError("population must be at least 2, generations and pairs at least 1")
        if not 0.0 <= self.mutation <= 1.0:
            raise ValueError(f"mutation must be in [0, 1], got {self.mutation:g}")
        if self.round_to < 1 or not 0.0 < self.min_fraction <= 1.0:
            raise ValueError("round_to must be at least 1 and min_fraction in (0, 1]")
