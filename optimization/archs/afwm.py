"""PF-AFN's appearance-flow warping module (AFWM, the paper's CWM), width-configurable.

Two feature encoders and pyramids (clothes and person), then a coarse-to-fine flow estimator that
correlates them level by level. Resampling follows the authors' torch 1.1 behaviour:
``align_corners=True`` in every ``grid_sample`` and ``align_corners=False`` in the bilinear x2 flow
upsamplings. Do not "fix" this mix; the trained weights compensate for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from optimization.archs.correlation import Correlation
from optimization.archs.slots import RemovedBlock
from optimization.archs.widths import OFFICIAL_WARP_WIDTHS, WarpWidths, pairs_of

LEAKY_SLOPE = 0.1


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


def residual_slot(channels: int, inner_channels: int) -> nn.Module:
    """A ResBlock, or its removed slot (`RemovedBlock`, the identity) when `inner_channels` is 0.

    No activation follows the sum, so the identity is exactly the block with a zero residual
    branch.
    """
    return ResBlock(channels, inner_channels) if inner_channels else RemovedBlock()


class FeatureEncoder(nn.Module):
    """Five stride-2 stages, each a DownSample and two ResBlocks (either may be a removed slot)."""

    def __init__(
        self,
        in_channels: int,
        widths: Sequence[int],
        inner_widths: Sequence[tuple[int, int]] | None = None,
    ):
        super().__init__()
        stages = []
        previous = in_channels
        for width, (first, second) in zip(widths, inner_widths or pairs_of(widths), strict=True):
            stages.append(
                nn.Sequential(
                    DownSample(previous, width),
                    residual_slot(width, first),
                    residual_slot(width, second),
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
    """Coarse-to-fine appearance-flow estimator over the two feature pyramids.

    A refinement head of width (0, 0, 0) is removed (depth pruning): its slot in ``netRefine``
    is a `RemovedBlock` and the level's flow is its main head's, which is what the head
    predicting zero offsets gives (sampling a grid at the base grid returns it).
    """

    def __init__(self, widths: WarpWidths = OFFICIAL_WARP_WIDTHS):
        super().__init__()
        self.correlation = Correlation()
        self.netMain = nn.ModuleList(
            _flow_head(self.correlation.out_channels, hidden) for hidden in widths.flow_main
        )
        self.netRefine = nn.ModuleList(
            _flow_head(2 * widths.fpn, hidden) if any(hidden) else RemovedBlock()
            for hidden in widths.flow_refine
        )

    def refines(self, i: int) -> bool:
        """Whether level `i` (0 = coarsest) has its refinement head (depth pruning removes it)."""
        return not isinstance(self.netRefine[i], RemovedBlock)

    def level_step(
        self,
        i: int,
        corr: torch.Tensor,
        x_warp: torch.Tensor,
        x_cond: torch.Tensor,
        last_flow: torch.Tensor | None,
    ) -> torch.Tensor:
        """One pyramid level after its cost volume: main head, refine head (if kept), x2 upsampling.

        Args:
            i: level, 0 = coarsest (uses ``netMain[0]`` and ``netRefine[0]``).
            corr: (N, 49, H, W) raw correlation of the clothes feature warped by `last_flow`
                with the person feature (before the LeakyReLU, applied here).
            x_warp: (N, C, H, W) clothes pyramid feature of this level, not warped (read by
                the refine head only).
            x_cond: (N, C, H, W) person pyramid feature of this level (refine head only).
            last_flow: (N, 2, H, W) normalised grid from the coarser level, None at level 0.

        Returns:
            (N, 2, 2H, 2W) normalised grid for the next finer level.
        """
        grid = apply_offset(self.netMain[i](F.leaky_relu(corr, LEAKY_SLOPE)))
        flow = grid.permute(0, 3, 1, 2) if last_flow is None else _compose(last_flow, grid)
        if self.refines(i):
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

    def __init__(self, widths: WarpWidths = OFFICIAL_WARP_WIDTHS):
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


def encoder_paths(model: AFWM) -> dict[str, tuple[nn.Module, nn.Module]]:
    """The two residual slots (`ResBlock` or `RemovedBlock`) of every encoder stage, by name.

    ``cK`` is stage K of the clothes encoder (``image_features.encoders[K]``), ``pK`` of the
    person encoder (``cond_features``); K = 0 is the finest (H/2 x W/2), 4 the coarsest.
    """
    paths = {}
    for prefix, encoder in (("c", model.image_features), ("p", model.cond_features)):
        for index, stage in enumerate(encoder.encoders):
            paths[f"{prefix}{index}"] = (stage[1], stage[2])
    return paths


def measure_warp_widths(model: AFWM) -> WarpWidths:
    """The widths `model` actually has (after structured or depth pruning)."""

    def encoder_widths(encoder: FeatureEncoder) -> tuple[int, ...]:
        return tuple(stage[0].block[2].out_channels for stage in encoder.encoders)

    def inner_width(slot: nn.Module) -> int:
        return 0 if isinstance(slot, RemovedBlock) else slot.block[2].out_channels

    def inner_widths(encoder: FeatureEncoder) -> tuple[tuple[int, int], ...]:
        return tuple((inner_width(stage[1]), inner_width(stage[2])) for stage in encoder.encoders)

    def head_widths(heads: nn.ModuleList) -> tuple[tuple[int, int, int], ...]:
        return tuple(
            (0, 0, 0)
            if isinstance(head, RemovedBlock)
            else (head[0].out_channels, head[2].out_channels, head[4].out_channels)
            for head in heads
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
