"""Channel widths of PF-AFN's two networks: the official ones, scaled, pruned or tiny for tests.

A width description is all a network needs to be rebuilt: checkpoints and artifact metadata store
it beside the weights (`to_dict`, `from_dict`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from tryon_app.core.artifact import LEVELS

MIN_GEN_LEVELS = 2
"""The shallowest generator: the outermost block needs a nested block inside it."""


def _scale_width(width: int, factor: float) -> int:
    if width == 0:  # a residual block removed by depth pruning stays removed
        return 0
    return max(4, int(round(width * factor)))


def _check_widths(name: str, widths: Sequence[int], length: int) -> None:
    if len(widths) != length:
        raise ValueError(f"{name}: expected {length} widths, got {len(widths)}")
    if not all(isinstance(w, int) and w > 0 for w in widths):
        raise ValueError(f"{name}: widths must be positive integers, got {list(widths)}")


@dataclass(frozen=True)
class WarpWidths:
    """Channel widths of the warping module (AFWM). The defaults are the official ones.

    Depth pruning (``optimization/depth.py``) is described by the same fields: an encoder inner
    width of 0 is a residual block removed (the stage passes through that slot unchanged), and a
    refinement head of widths (0, 0, 0) is removed (the level keeps its main head's flow).

    Attributes:
        cloth_encoder: output width of each of the 5 clothes-encoder stages, finest first.
        person_encoder: the same for the person encoder.
        fpn: width of both feature pyramids (shared: the correlation multiplies them channel-wise
            and the refine heads take both concatenated).
        flow_main: hidden widths of the three inner convs of ``netMain[i]``, i = 0 coarsest.
        flow_refine: the same for ``netRefine[i]``; (0, 0, 0) for a removed head.
        cloth_encoder_inner: for each stage, the inner widths of its two ResBlocks (the output
            of their first conv; 0 for a removed block). Structured pruning narrows them on
            their own; None means the stage width, as in the official network.
        person_encoder_inner: the same for the person encoder.
        cloth_fpn_coarsest: output width of the coarsest lateral conv (``adaptive[0]``), which
            only ``smooth[0]`` reads, so it is free of the pyramid width; None means `fpn`.
        person_fpn_coarsest: the same for the person pyramid.
    """

    cloth_encoder: tuple[int, ...] = (64, 128, 256, 256, 256)
    person_encoder: tuple[int, ...] = (64, 128, 256, 256, 256)
    fpn: int = 256
    flow_main: tuple[tuple[int, int, int], ...] = ((128, 64, 32),) * LEVELS
    flow_refine: tuple[tuple[int, int, int], ...] = ((128, 64, 32),) * LEVELS
    cloth_encoder_inner: tuple[tuple[int, int], ...] | None = None
    person_encoder_inner: tuple[tuple[int, int], ...] | None = None
    cloth_fpn_coarsest: int | None = None
    person_fpn_coarsest: int | None = None

    def __post_init__(self) -> None:
        _check_widths("cloth_encoder", self.cloth_encoder, LEVELS)
        _check_widths("person_encoder", self.person_encoder, LEVELS)
        _check_widths("fpn", (self.fpn,), 1)
        for side in ("cloth", "person"):
            _resolve(self, f"{side}_encoder_inner", pairs_of(getattr(self, f"{side}_encoder")))
            _resolve(self, f"{side}_fpn_coarsest", self.fpn)
            _check_nested(
                f"{side}_encoder_inner",
                getattr(self, f"{side}_encoder_inner"),
                2,
                allow_zero=True,
            )
            _check_widths(f"{side}_fpn_coarsest", (getattr(self, f"{side}_fpn_coarsest"),), 1)
        _check_nested("flow_main", self.flow_main, 3)
        _check_nested("flow_refine", self.flow_refine, 3, allow_zero=True)
        for level, head in enumerate(self.flow_refine):
            if 0 in head and any(head):
                raise ValueError(
                    f"flow_refine[{level}]: a head is kept (all widths positive) or removed "
                    f"(all 0), got {list(head)}"
                )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (lists instead of tuples)."""
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WarpWidths:
        """Inverse of :meth:`to_dict`; missing entries take the official value."""
        return _from_dict(cls, data)

    def scaled(self, factor: float) -> WarpWidths:
        """Every width multiplied by `factor` and rounded (at least 4 channels)."""
        return _scaled(self, factor)


@dataclass(frozen=True)
class GenWidths:
    """Channel widths of the ResUnet generator. The defaults are the official ones (ngf=64).

    Depth pruning (``optimization/depth.py``) is described by the same fields: an inner width
    of 0 is a residual block removed (the path passes through that slot unchanged), and fewer
    than 5 `down` widths are a generator whose innermost nested blocks were removed.

    Attributes:
        down: width of the down path at each of the nested blocks, outermost first (the output
            of block k's stride-2 conv and its two residual blocks); 5 officially, at least 2.
        up: ``up[k]`` is the output width of the up-convolution of nested block k + 1, i.e. the
            features concatenated after the skip ``down[k]``. Officially ``up[k] == down[k]``.
        down_inner: for each block, the inner widths of its two down-path residual blocks (the
            output of their first conv; 0 for a removed block); None means ``down[k]``, as in
            the official network.
        up_inner: ``up_inner[k]``, the same for the two residual blocks after ``up[k]``.
    """

    down: tuple[int, ...] = (64, 128, 256, 512, 512)
    up: tuple[int, ...] = (64, 128, 256, 512)
    down_inner: tuple[tuple[int, int], ...] | None = None
    up_inner: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        if not MIN_GEN_LEVELS <= len(self.down) <= LEVELS:
            raise ValueError(
                f"down: expected {MIN_GEN_LEVELS} to {LEVELS} widths, got {len(self.down)}"
            )
        levels = len(self.down)
        _check_widths("down", self.down, levels)
        _check_widths("up", self.up, levels - 1)
        _resolve(self, "down_inner", pairs_of(self.down))
        _resolve(self, "up_inner", pairs_of(self.up))
        _check_nested("down_inner", self.down_inner, 2, levels, allow_zero=True)
        _check_nested("up_inner", self.up_inner, 2, levels - 1, allow_zero=True)

    @property
    def levels(self) -> int:
        """Nested blocks of the generator (5 officially)."""
        return len(self.down)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (lists instead of tuples)."""
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenWidths:
        """Inverse of :meth:`to_dict`; missing entries take the official value."""
        return _from_dict(cls, data)

    def scaled(self, factor: float) -> GenWidths:
        """Every width multiplied by `factor` and rounded (at least 4 channels)."""
        return _scaled(self, factor)


# Both width descriptions are frozen dataclasses whose fields are an int, a tuple of ints or a
# tuple of tuples of ints; these helpers convert, scale and check them by that shape alone.


def pairs_of(widths: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Each width twice: the inner widths of a stage's two residual blocks when unpruned."""
    return tuple((w, w) for w in widths)


def _resolve(widths: Any, name: str, default: Any) -> None:
    """Replace an unset optional width by its default (the dataclass is frozen)."""
    if getattr(widths, name) is None:
        object.__setattr__(widths, name, default)


def _check_nested(
    name: str,
    nested: Sequence[Sequence[int]],
    inner: int,
    length: int = LEVELS,
    allow_zero: bool = False,
):
    if len(nested) != length:
        raise ValueError(f"{name}: expected {length} levels, got {len(nested)}")
    for level, widths in enumerate(nested):
        checked = [w for w in widths if w != 0] if allow_zero else widths
        if allow_zero and len(widths) != inner:
            raise ValueError(f"{name}[{level}]: expected {inner} widths, got {len(widths)}")
        _check_widths(f"{name}[{level}]", checked, len(checked))


def _map_widths(value: Any, function) -> Any:
    if isinstance(value, int):
        return function(value)
    return tuple(_map_widths(item, function) for item in value)


def _to_dict(widths: Any) -> dict[str, Any]:
    def as_lists(value: Any) -> Any:
        return value if isinstance(value, int) else [as_lists(item) for item in value]

    return {f.name: as_lists(getattr(widths, f.name)) for f in fields(widths)}


def _from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown entries {unknown}")
    values = {}
    for name, value in data.items():
        if value is not None:
            values[name] = int(value) if isinstance(value, int) else _map_widths(value, int)
    return cls(**values)


def _scaled(widths: Any, factor: float) -> Any:
    values = {
        f.name: _map_widths(getattr(widths, f.name), lambda w: _scale_width(w, factor))
        for f in fields(widths)
    }
    return type(widths)(**values)


OFFICIAL_WARP_WIDTHS = WarpWidths()
OFFICIAL_GEN_WIDTHS = GenWidths()


def tiny_warp_widths() -> WarpWidths:
    """A few-channel AFWM for fast tests; same code path as the official widths."""
    return WarpWidths(
        cloth_encoder=(8, 8, 16, 16, 16),
        person_encoder=(8, 8, 16, 16, 16),
        fpn=16,
        flow_main=((16, 8, 8),) * LEVELS,
        flow_refine=((16, 8, 8),) * LEVELS,
    )


def tiny_gen_widths() -> GenWidths:
    """A few-channel generator for fast tests."""
    return GenWidths(down=(8, 16, 16, 16, 16), up=(8, 16, 16, 16))
