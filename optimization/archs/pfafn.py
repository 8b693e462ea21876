"""PF-AFN's inference networks (AFWM warping module and ResUnet generator), width-configurable.

With the default widths the modules reproduce the official ``PF-AFN_test`` classes key for key, so
the released checkpoints load strictly. Resampling follows the authors' torch 1.1 behaviour:
``align_corners=True`` in every ``grid_sample`` and ``align_corners=False`` in the bilinear x2 flow
upsamplings. Do not "fix" this mix; the trained weights compensate for it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from optimization.archs.correlation import Correlation
from tryon_app.core.artifact import LEVELS

logger = logging.getLogger(__name__)

GEN_INPUT_CHANNELS = 7  # person RGB, warped cloth RGB, warped edge
GEN_OUTPUT_CHANNELS = 4  # rendered person RGB, composition mask
LEAKY_SLOPE = 0.1
# Keys a checkpoint may carry that are not part of the inference model: the released training
# code registers a smoothness filter as a parameter of AFlowNet on every forward.
IGNORED_CHECKPOINT_KEYS = ("aflow_net.weight",)
_KEYS_SHOWN = 10


def _scale_width(width: int, factor: float) -> int:
    return max(4, int(round(width * factor)))


def _check_widths(name: str, widths: Sequence[int], length: int) -> None:
    if len(widths) != length:
        raise ValueError(f"{name}: expected {length} widths, got {len(widths)}")
    if not all(isinstance(w, int) and w > 0 for w in widths):
        raise ValueError(f"{name}: widths must be positive integers, got {list(widths)}")


@dataclass(frozen=True)
class WarpWidths:
    """Channel widths of the warping module (AFWM). The defaults are the official ones.

    Attributes:
        cloth_encoder: output width of each of the 5 clothes-encoder stages, finest first.
        person_encoder: the same for the person encoder.
        fpn: width of both feature pyramids (shared: the correlation multiplies them channel-wise
            and the refine heads take both concatenated).
        flow_main: hidden widths of the three inner convs of ``netMain[i]``, i = 0 coarsest.
        flow_refine: the same for ``netRefine[i]``.
        cloth_encoder_inner: for each stage, the inner widths of its two ResBlocks (the output
            of their first conv). Structured pruning narrows them on their own; None means the
            stage width, as in the official network.
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
            _resolve(self, f"{side}_encoder_inner", _pairs_of(getattr(self, f"{side}_encoder")))
            _resolve(self, f"{side}_fpn_coarsest", self.fpn)
            _check_nested(f"{side}_encoder_inner", getattr(self, f"{side}_encoder_inner"), 2)
            _check_widths(f"{side}_fpn_coarsest", (getattr(self, f"{side}_fpn_coarsest"),), 1)
        for name in ("flow_main", "flow_refine"):
            _check_nested(name, getattr(self, name), 3)

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

    Attributes:
        down: width of the down path at each of the 5 nested blocks, outermost first (the output
            of block k's stride-2 conv and its two residual blocks).
        up: ``up[k]`` is the output width of the up-convolution of nested block k + 1, i.e. the
            features concatenated after the skip ``down[k]``. Officially ``up[k] == down[k]``.
        down_inner: for each block, the inner widths of its two down-path residual blocks (the
            output of their first conv); None means ``down[k]``, as in the official network.
        up_inner: ``up_inner[k]``, the same for the two residual blocks after ``up[k]``.
    """

    down: tuple[int, ...] = (64, 128, 256, 512, 512)
    up: tuple[int, ...] = (64, 128, 256, 512)
    down_inner: tuple[tuple[int, int], ...] | None = None
    up_inner: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        _check_widths("down", self.down, LEVELS)
        _check_widths("up", self.up, LEVELS - 1)
        _resolve(self, "down_inner", _pairs_of(self.down))
        _resolve(self, "up_inner", _pairs_of(self.up))
        _check_nested("down_inner", self.down_inner, 2, LEVELS)
        _check_nested("up_inner", self.up_inner, 2, LEVELS - 1)

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


def _pairs_of(widths: Sequence[int]) -> tuple[tuple[int, int], ...]:
    return tuple((w, w) for w in widths)


def _resolve(widths: Any, name: str, default: Any) -> None:
    """Replace an unset optional width by its default (the dataclass is frozen)."""
    if getattr(widths, name) is None:
        object.__setattr__(widths, name, default)


def _check_nested(name: str, nested: Sequence[Sequence[int]], inner: int, length: int = LEVELS):
    if len(nested) != length:
        raise ValueError(f"{name}: expected {length} levels, got {len(nested)}")
    for level, widths in enumerate(nested):
        _check_widths(f"{name}[{level}]", widths, inner)


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


# ---------------------------------------------------------------------------------------------
# Resampling helpers


def warp(image: torch.Tensor, flow: torch.Tensor, padding_mode: str = "border") -> torch.Tensor:
    """Sample `image` at the normalised grid `flow`.

    Args:
        image: (N, C, H_in, W_in) tensor.
        flow: (N, 2, H, W) sampling grid, channel 0 = x, channel 1 = y, in [-1, 1] with the
            corner pixel centres at -1 and 1 (align_corners=True, as in torch 1.1).
        padding_mode: "border" for the warps inside AFWM, "zeros" for the edge warp.

    Returns:
        (N, C, H, W) tensor.
    """
    return F.grid_sample(
        image,
        flow.permute(0, 2, 3, 1),
        mode="bilinear",
        padding_mode=padding_mode,
        align_corners=True,
    )


def apply_offset(offset: torch.Tensor) -> torch.Tensor:
    """Turn per-pixel offsets into a normalised sampling grid.

    Args:
        offset: (N, 2, H, W) offsets in pixels of this level; channel 0 moves x (columns),
            channel 1 moves y (rows). H and W must be at least 2.

    Returns:
        (N, H, W, 2) grid in (x, y) order, normalised so that pixel 0 maps to -1 and the last
        pixel to 1 (align_corners=True).
    """
    height, width = offset.shape[-2:]
    # The base grid depends only on the (static) size, so tracing folds it to a constant.
    columns = torch.arange(width, dtype=offset.dtype, device=offset.device).view(1, 1, width)
    rows = torch.arange(height, dtype=offset.dtype, device=offset.device).view(1, height, 1)
    x = columns + offset[:, 0]
    y = rows + offset[:, 1]
    x = x / ((width - 1) / 2) - 1
    y = y / ((height - 1) / 2) - 1
    return torch.stack([x, y], dim=-1)


def _compose(flow: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Resample the grid `flow` (N, 2, H, W) at `grid` (N, H, W, 2): the composed mapping."""
    return F.grid_sample(flow, grid, mode="bilinear", padding_mode="border", align_corners=True)


# ---------------------------------------------------------------------------------------------
# AFWM


class DownSample(nn.Module):
    """Pre-activation stride-2 stage: BN, ReLU, bias-free 3x3 conv."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(),
            nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class ResBlock(nn.Module):
    """Pre-activation residual block of AFWM; no activation after the sum."""

    def __init__(self, channels: int, inner_channels: int | None = None):
        super().__init__()
        inner_channels = inner_channels or channels
        self.block = nn.Sequential(
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, inner_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(inner_channels),
            nn.ReLU(),
            nn.Conv2d(inner_channels, channels, 3, padding=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x) + x


class FeatureEncoder(nn.Module):
    """Five stride-2 stages, each a DownSample and two ResBlocks."""

    def __init__(
        self,
        in_channels: int,
        widths: Sequence[int],
        inner_widths: Sequence[tuple[int, int]] | None = None,
    ):
        super().__init__()
        stages = []
        previous = in_channels
        for width, (first, second) in zip(widths, inner_widths or _pairs_of(widths), strict=True):
            stages.append(
                nn.Sequential(
                    DownSample(previous, width), ResBlock(width, first), ResBlock(width, second)
                )
            )
            previous = width
        self.encoders = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Stage outputs, finest (H/2 x W/2) first."""
        features = []
        for encoder in self.encoders:
            x = encoder(x)
            features.append(x)
        return features


class RefinePyramid(nn.Module):
    """Top-down feature pyramid: 1x1 lateral convs, nearest x2 merge, 3x3 smoothing."""

    def __init__(
        self, encoder_widths: Sequence[int], fpn_width: int, coarsest_width: int | None = None
    ):
        super().__init__()
        # Index j runs coarsest-first, as in the official module. Nothing is added to the
        # coarsest lateral output, so its width may differ from the pyramid's.
        lateral_widths = [coarsest_width or fpn_width] + [fpn_width] * (len(encoder_widths) - 1)
        self.adaptive = nn.ModuleList(
            nn.Conv2d(width, lateral, 1)
            for width, lateral in zip(reversed(tuple(encoder_widths)), lateral_widths, strict=True)
        )
        self.smooth = nn.ModuleList(
            nn.Conv2d(lateral, fpn_width, 3, padding=1) for lateral in lateral_widths
        )

    def forward(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Pyramid levels, finest first, from encoder features given finest first."""
        merged = None
        pyramid = []
        for lateral, smooth, feature in zip(
            self.adaptive, self.smooth, reversed(features), strict=True
        ):
            level = lateral(feature)
            if merged is not None:
                level = level + F.interpolate(merged, scale_factor=2, mode="nearest")
            merged = smooth(level)
            pyramid.append(merged)
        return pyramid[::-1]


def _flow_head(in_channels: int, hidden: Sequence[int]) -> nn.Sequential:
    first, second, third = hidden
    return nn.Sequential(
        nn.Conv2d(in_channels, first, 3, padding=1),
        nn.LeakyReLU(LEAKY_SLOPE),
        nn.Conv2d(first, second, 3, padding=1),
        nn.LeakyReLU(LEAKY_SLOPE),
        nn.Conv2d(second, third, 3, padding=1),
        nn.LeakyReLU(LEAKY_SLOPE),
        nn.Conv2d(third, 2, 3, padding=1),
    )


class AFlowNet(nn.Module):
    """Coarse-to-fine appearance-flow estimator over the two feature pyramids."""

    def __init__(self, widths: WarpWidths = WarpWidths()):
        super().__init__()
        self.correlation = Correlation()
        self.netMain = nn.ModuleList(
            _flow_head(self.correlation.out_channels, hidden) for hidden in widths.flow_main
        )
        self.netRefine = nn.ModuleList(
            _flow_head(2 * widths.fpn, hidden) for hidden in widths.flow_refine
        )

    def level_step(
        self,
        i: int,
        corr: torch.Tensor,
        x_warp: torch.Tensor,
        x_cond: torch.Tensor,
        last_flow: torch.Tensor | None,
    ) -> torch.Tensor:
        """One pyramid level after its cost volume: main head, refine head, x2 upsampling.

        Args:
            i: level, 0 = coarsest (uses ``netMain[0]`` and ``netRefine[0]``).
            corr: (N, 49, H, W) raw correlation of the clothes feature warped by `last_flow`
                with the person feature (before the LeakyReLU, applied here).
            x_warp: (N, C, H, W) clothes pyramid feature of this level, not warped.
            x_cond: (N, C, H, W) person pyramid feature of this level.
            last_flow: (N, 2, H, W) normalised grid from the coarser level, None at level 0.

        Returns:
            (N, 2, 2H, 2W) normalised grid for the next finer level.
        """
        grid = apply_offset(self.netMain[i](F.leaky_relu(corr, LEAKY_SLOPE)))
        flow = grid.permute(0, 3, 1, 2) if last_flow is None else _compose(last_flow, grid)
        # The refine head sees the level's original clothes feature warped by the new flow.
        warped_feature = warp(x_warp, flow)
        grid = apply_offset(self.netRefine[i](torch.cat([warped_feature, x_cond], dim=1)))
        flow = _compose(flow, grid)
        # align_corners=False on a normalised align_corners=True grid, as the authors' torch 1.1 did.
        return F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=False)

    def forward(
        self, x: torch.Tensor, x_warps: Sequence[torch.Tensor], x_conds: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Estimate the flow and warp the clothes image with it.

        Args:
            x: (N, 3, H, W) masked clothes image in [-1, 1].
            x_warps: clothes pyramid, finest (H/2 x W/2) first.
            x_conds: person pyramid, finest first.

        Returns:
            (warped clothes (N, 3, H, W), final normalised grid (N, 2, H, W)).
        """
        last_flow = None
        levels = len(x_warps)
        for i in range(levels):
            cloth_feature, person_feature = x_warps[levels - 1 - i], x_conds[levels - 1 - i]
            warped_feature = cloth_feature if last_flow is None else warp(cloth_feature, last_flow)
            corr = self.correlation(warped_feature, person_feature)
            last_flow = self.level_step(i, corr, cloth_feature, person_feature, last_flow)
        return warp(x, last_flow), last_flow


class AFWM(nn.Module):
    """Appearance-flow warping module: warps the clothes onto the person."""

    def __init__(self, widths: WarpWidths = WarpWidths()):
        super().__init__()
        self.image_features = FeatureEncoder(3, widths.cloth_encoder, widths.cloth_encoder_inner)
        self.cond_features = FeatureEncoder(3, widths.person_encoder, widths.person_encoder_inner)
        self.image_FPN = RefinePyramid(widths.cloth_encoder, widths.fpn, widths.cloth_fpn_coarsest)
        self.cond_FPN = RefinePyramid(widths.person_encoder, widths.fpn, widths.person_fpn_coarsest)
        self.aflow_net = AFlowNet(widths)

    def pyramids(
        self, person: torch.Tensor, clothes: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Both feature pyramids, finest first (index 0 is 128x96 for a 256x192 input).

        Args:
            person: (N, 3, H, W) float32 in [-1, 1]; H and W divisible by 32.
            clothes: (N, 3, H, W) masked clothes, float32 in [-1, 1].

        Returns:
            (clothes pyramid, person pyramid), each 5 tensors of (N, fpn, H/2^(k+1), W/2^(k+1)).
        """
        cloth_pyramid = self.image_FPN(self.image_features(clothes))
        person_pyramid = self.cond_FPN(self.cond_features(person))
        return cloth_pyramid, person_pyramid

    def forward(
        self, person: torch.Tensor, clothes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Official ``AFWM.forward(cond_input=person, image_input=clothes)``.

        Args:
            person: (N, 3, H, W) float32 in [-1, 1].
            clothes: (N, 3, H, W) clothes already multiplied by the binary edge, in [-1, 1].

        Returns:
            (warped clothes (N, 3, H, W), last flow (N, 2, H, W) normalised sampling grid).
        """
        cloth_pyramid, person_pyramid = self.pyramids(person, clothes)
        return self.aflow_net(clothes, cloth_pyramid, person_pyramid)


# ---------------------------------------------------------------------------------------------
# Generator


class ResidualBlock(nn.Module):
    """Post-activation residual block of the generator: ReLU after the sum."""

    def __init__(self, channels: int, inner_channels: int | None = None):
        super().__init__()
        inner_channels = inner_channels or channels
        self.block = nn.Sequential(
            nn.Conv2d(channels, inner_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(inner_channels),
            nn.ReLU(),
            nn.Conv2d(inner_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.block(x) + x)


class ResUnetSkipConnectionBlock(nn.Module):
    """One nesting level of the ResUnet; all but the outermost return ``cat([x, model(x)])``.

    Args:
        in_channels: channels of the block input.
        inner_channels: width of the down path (stride-2 conv and two residual blocks).
        upconv_in_channels: channels reaching the up-convolution (the submodule's output, or
            `inner_channels` for the innermost block).
        out_channels: width of the up-convolution output (and of the up residual blocks).
        submodule: the next inner block, None for the innermost.
        outermost: no norm on either path, no residual blocks after the up-convolution, no skip.
        down_inner, up_inner: inner widths of the two down-path and the two up-path residual
            blocks (None: the path's own width).
    """

    def __init__(
        self,
        in_channels: int,
        inner_channels: int,
        upconv_in_channels: int,
        out_channels: int,
        submodule: ResUnetSkipConnectionBlock | None = None,
        outermost: bool = False,
        down_inner: tuple[int, int] | None = None,
        up_inner: tuple[int, int] | None = None,
    ):
        super().__init__()
        self.outermost = outermost
        downconv = nn.Conv2d(in_channels, inner_channels, 3, stride=2, padding=1, bias=False)
        down_inner = down_inner or (inner_channels, inner_channels)
        res_down = [ResidualBlock(inner_channels, width) for width in down_inner]
        upsample = nn.Upsample(scale_factor=2, mode="nearest")
        upconv = nn.Conv2d(upconv_in_channels, out_channels, 3, padding=1, bias=False)
        if outermost:
            layers = [downconv, nn.ReLU(), *res_down, submodule, upsample, upconv]
        else:
            up_inner = up_inner or (out_channels, out_channels)
            res_up = [ResidualBlock(out_channels, width) for width in up_inner]
            up = [upsample, upconv, nn.BatchNorm2d(out_channels), nn.ReLU(), *res_up]
            if submodule is None:
                layers = [downconv, nn.ReLU(), *res_down, *up]
            else:
                down = [downconv, nn.BatchNorm2d(inner_channels), nn.ReLU(), *res_down]
                layers = [*down, submodule, *up]
        self.model = nn.Sequential(*layers)

    @property
    def downconv(self) -> nn.Conv2d:
        return self.model[0]

    @property
    def upconv(self) -> nn.Conv2d:
        layers = list(self.model)
        upsample = next(i for i, layer in enumerate(layers) if isinstance(layer, nn.Upsample))
        return layers[upsample + 1]

    @property
    def submodule(self) -> ResUnetSkipConnectionBlock | None:
        return next((m for m in self.model if isinstance(m, ResUnetSkipConnectionBlock)), None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], dim=1)


class ResUnetGenerator(nn.Module):
    """The try-on generator: ``(N, 7, H, W)`` -> ``(N, 4, H, W)`` raw rendered person and mask."""

    def __init__(self, widths: GenWidths = GenWidths()):
        super().__init__()
        down, up = widths.down, widths.up
        down_inner, up_inner = widths.down_inner, widths.up_inner
        block = ResUnetSkipConnectionBlock(
            down[3], down[4], down[4], up[3], down_inner=down_inner[4], up_inner=up_inner[3]
        )
        for k in (3, 2, 1):
            # Block k's up-conv sees the output of block k + 1: its skip (down[k]) then up[k].
            block = ResUnetSkipConnectionBlock(
                down[k - 1],
                down[k],
                down[k] + up[k],
                up[k - 1],
                block,
                down_inner=down_inner[k],
                up_inner=up_inner[k - 1],
            )
        self.model = ResUnetSkipConnectionBlock(
            GEN_INPUT_CHANNELS,
            down[0],
            down[0] + up[0],
            GEN_OUTPUT_CHANNELS,
            block,
            outermost=True,
            down_inner=down_inner[0],
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw generator output; see :func:`render_tryon` for the activations and composite."""
        return self.model(x)


# ---------------------------------------------------------------------------------------------
# Test-time pipeline


def render_tryon(
    gen_model: ResUnetGenerator,
    person: torch.Tensor,
    warped_cloth: torch.Tensor,
    warped_edge: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Run the generator and composite the warped clothes over the rendered person.

    Args:
        gen_model: the generator.
        person: (N, 3, H, W) in [-1, 1].
        warped_cloth: (N, 3, H, W) in [-1, 1].
        warped_edge: (N, 1, H, W) in [0, 1].

    Returns:
        ``p_rendered`` (N, 3, H, W) in [-1, 1], ``m_composite`` (N, 1, H, W) in [0, 1] and
        ``p_tryon`` (N, 3, H, W) in [-1, 1].
    """
    gen_outputs = gen_model(torch.cat([person, warped_cloth, warped_edge], dim=1))
    # The official arithmetic on (N, C, H*W) views. In torch nothing changes; in an exported
    # graph OpenVINO's CPU plugin then computes it on plain memory rather than on channels-last
    # tensors of 1 to 4 channels, which took longer than the generator's last convolution.
    batch, _, height, width = gen_outputs.shape
    p_rendered, m_composite = torch.split(gen_outputs.reshape(batch, 4, -1), [3, 1], dim=1)
    p_rendered = torch.tanh(p_rendered)
    m_composite = torch.sigmoid(m_composite) * warped_edge.reshape(batch, 1, -1)
    p_tryon = warped_cloth.reshape(batch, 3, -1) * m_composite + p_rendered * (1 - m_composite)
    return {
        name: value.reshape(batch, -1, height, width)
        for name, value in (
            ("p_rendered", p_rendered),
            ("m_composite", m_composite),
            ("p_tryon", p_tryon),
        )
    }


def tryon_forward(
    warp_model: AFWM,
    gen_model: ResUnetGenerator,
    person: torch.Tensor,
    clothes: torch.Tensor,
    edge: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """The official test-time body (``test.py``) for one batch.

    Args:
        warp_model: the warping module.
        gen_model: the generator.
        person: (N, 3, H, W) float32 in [-1, 1], RGB.
        clothes: (N, 3, H, W) float32 in [-1, 1], RGB, not yet masked.
        edge: (N, 1, H, W) float32 cloth silhouette in [0, 1]; binarised here at > 0.5.

    Returns:
        ``warped_cloth``, ``last_flow`` (N, 2, H, W normalised grid), ``warped_edge``,
        ``p_rendered``, ``m_composite``, ``p_tryon``, ``clothes`` (masked) and ``edge`` (binary).
    """
    edge = (edge > 0.5).to(clothes.dtype)
    clothes = clothes * edge
    warped_cloth, last_flow = warp_model(person, clothes)
    warped_edge = warp(edge, last_flow, padding_mode="zeros")
    rendered = render_tryon(gen_model, person, warped_cloth, warped_edge)
    return {
        "warped_cloth": warped_cloth,
        "last_flow": last_flow,
        "warped_edge": warped_edge,
        **rendered,
        "clothes": clothes,
        "edge": edge,
    }


# ---------------------------------------------------------------------------------------------
# Construction and loading


def build_models(
    warp_widths: WarpWidths | None = None, gen_widths: GenWidths | None = None
) -> tuple[AFWM, ResUnetGenerator]:
    """Freshly initialised networks in eval mode (official widths where None)."""
    warp_model = AFWM(warp_widths or WarpWidths())
    gen_model = ResUnetGenerator(gen_widths or GenWidths())
    return warp_model.eval(), gen_model.eval()


def measure_warp_widths(model: AFWM) -> WarpWidths:
    """The widths `model` actually has (for example after structured pruning)."""

    def encoder_widths(encoder: FeatureEncoder) -> tuple[int, ...]:
        return tuple(stage[0].block[2].out_channels for stage in encoder.encoders)

    def inner_widths(encoder: FeatureEncoder) -> tuple[tuple[int, int], ...]:
        return tuple(
            (stage[1].block[2].out_channels, stage[2].block[2].out_channels)
            for stage in encoder.encoders
        )

    def head_widths(heads: nn.ModuleList) -> tuple[tuple[int, int, int], ...]:
        return tuple(
            (head[0].out_channels, head[2].out_channels, head[4].out_channels) for head in heads
        )

    return WarpWidths(
        cloth_encoder=encoder_widths(model.image_features),
        person_encoder=encoder_widths(model.cond_features),
        fpn=model.image_FPN.smooth[0].out_channels,
        flow_main=head_widths(model.aflow_net.netMain),
        flow_refine=head_widths(model.aflow_net.netRefine),
        cloth_encoder_inner=inner_widths(model.image_features),
        person_encoder_inner=inner_widths(model.cond_features),
        cloth_fpn_coarsest=model.image_FPN.adaptive[0].out_channels,
        person_fpn_coarsest=model.cond_FPN.adaptive[0].out_channels,
    )


def measure_gen_widths(model: ResUnetGenerator) -> GenWidths:
    """The widths `model` actually has (for example after structured pruning)."""
    blocks = [model.model]
    while (inner := blocks[-1].submodule) is not None:
        blocks.append(inner)

    def residual_inner(block: ResUnetSkipConnectionBlock, after_upconv: bool) -> tuple[int, int]:
        layers = list(block.model)
        split = layers.index(block.upconv)
        part = layers[split:] if after_upconv else layers[:split]
        widths = [m.block[0].out_channels for m in part if isinstance(m, ResidualBlock)]
        return widths[0], widths[1]

    return GenWidths(
        down=tuple(block.downconv.out_channels for block in blocks),
        up=tuple(block.upconv.out_channels for block in blocks[1:]),
        down_inner=tuple(residual_inner(block, after_upconv=False) for block in blocks),
        up_inner=tuple(residual_inner(block, after_upconv=True) for block in blocks[1:]),
    )


def _format_keys(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:_KEYS_SHOWN])
    more = f", ... ({len(keys) - _KEYS_SHOWN} more)" if len(keys) > _KEYS_SHOWN else ""
    return f"{len(keys)} [{shown}{more}]"


def load_state_dict_checked(model: nn.Module, state: Mapping[str, Any], source_name: str) -> None:
    """Strictly load `state` into `model`, or raise a ValueError that says what differs.

    Args:
        model: the network to fill.
        state: a state dict with exactly the model's keys and shapes.
        source_name: where `state` came from (a file path), named in the error message.

    Raises:
        ValueError: on missing or unexpected keys or on shape mismatches.
    """
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    mismatched = [
        f"{key} {tuple(state[key].shape)} != {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and tuple(getattr(state[key], "shape", ())) != tuple(value.shape)
    ]
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append(f"missing keys {_format_keys(missing)}")
        if unexpected:
            problems.append(f"unexpected keys {_format_keys(unexpected)}")
        if mismatched:
            problems.append(f"shape mismatches {_format_keys(mismatched)}")
        raise ValueError(
            f"{source_name}: state dict does not fit {type(model).__name__}: " + "; ".join(problems)
        )
    model.load_state_dict(state, strict=True)


def _official_state(path: str | Path, map_location: str | torch.device) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        # The official loader prints a warning and runs with random weights; we refuse.
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many kinds for damaged or foreign files
        raise ValueError(f"{path}: not a readable torch checkpoint ({error})") from None
    if isinstance(payload, Mapping) and not all(
        isinstance(v, torch.Tensor) for v in payload.values()
    ):
        for wrapper in ("state_dict", "model"):
            if isinstance(payload.get(wrapper), Mapping):
                payload = payload[wrapper]
                break
    if not isinstance(payload, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in payload.values()
    ):
        raise ValueError(f"{path}: no state dict found (expected a mapping of tensors)")
    state = {}
    for key, value in payload.items():
        # Checkpoints saved from nn.DataParallel prefix every key.
        state[key.removeprefix("module.")] = value
    for key in IGNORED_CHECKPOINT_KEYS:
        if key in state:
            logger.info("%s: ignoring %s (a training-only parameter)", path, key)
            del state[key]
    return state


def load_official(
    warp_path: str | Path,
    gen_path: str | Path,
    map_location: str | torch.device = "cpu",
    *,
    warp_widths: WarpWidths | None = None,
    gen_widths: GenWidths | None = None,
) -> tuple[AFWM, ResUnetGenerator]:
    """Load official PF-AFN checkpoints (``warp_model_final.pth``, ``gen_model_final.pth``).

    Accepts a plain state dict or one held under ``state_dict`` / ``model``; strips a
    ``module.`` prefix and drops the training-only ``aflow_net.weight``; otherwise strict.

    Args:
        warp_path: AFWM checkpoint.
        gen_path: generator checkpoint.
        map_location: passed to ``torch.load``.
        warp_widths: widths to build (official where None).
        gen_widths: widths to build (official where None).

    Returns:
        (AFWM, ResUnetGenerator) in eval mode.

    Raises:
        FileNotFoundError: a checkpoint file is missing.
        ValueError: a file is unreadable or its keys or shapes do not match, naming the file.
    """
    warp_model, gen_model = build_models(warp_widths, gen_widths)
    load_state_dict_checked(warp_model, _official_state(warp_path, map_location), str(warp_path))
    load_state_dict_checked(gen_model, _official_state(gen_path, map_location), str(gen_path))
    return warp_model.eval(), gen_model.eval()


__all__ = [
    "AFWM",
    "AFlowNet",
    "GenWidths",
    "ResUnetGenerator",
    "WarpWidths",
    "apply_offset",
    "build_models",
    "load_official",
    "load_state_dict_checked",
    "measure_gen_widths",
    "measure_warp_widths",
    "render_tryon",
    "tiny_gen_widths",
    "tiny_warp_widths",
    "tryon_forward",
    "warp",
]
