"""PF-AFN's try-on generator (ResUnet, the paper's IGM), width-configurable."""

from __future__ import annotations

import torch
from torch import nn

from optimization.archs.slots import RemovedBlock
from optimization.archs.widths import OFFICIAL_GEN_WIDTHS, GenWidths

GEN_INPUT_CHANNELS = 7  # person RGB, warped cloth RGB, warped edge
GEN_OUTPUT_CHANNELS = 4  # rendered person RGB, composition mask


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


def residual_slot(channels: int, inner_channels: int) -> nn.Module:
    """A residual block, or its removed slot (`RemovedBlock`) when `inner_channels` is 0.

    Every residual block of the generator reads a ReLU's output, so passing its input through
    is exactly the block with a zero residual branch.
    """
    return ResidualBlock(channels, inner_channels) if inner_channels else RemovedBlock()


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
            blocks (None: the path's own width; 0: the block is removed).
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
        res_down = [residual_slot(inner_channels, width) for width in down_inner]
        upsample = nn.Upsample(scale_factor=2, mode="nearest")
        upconv = nn.Conv2d(upconv_in_channels, out_channels, 3, padding=1, bias=False)
        if outermost:
            layers = [downconv, nn.ReLU(), *res_down, submodule, upsample, upconv]
        else:
            up_inner = up_inner or (out_channels, out_channels)
            res_up = [residual_slot(out_channels, width) for width in up_inner]
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

    def __init__(self, widths: GenWidths = OFFICIAL_GEN_WIDTHS):
        super().__init__()
        down, up = widths.down, widths.up
        down_inner, up_inner = widths.down_inner, widths.up_inner
        last = widths.levels - 1
        block = ResUnetSkipConnectionBlock(
            down[last - 1],
            down[last],
            down[last],
            up[last - 1],
            down_inner=down_inner[last],
            up_inner=up_inner[last - 1],
        )
        for k in range(last - 1, 0, -1):
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


def nested_blocks(model: ResUnetGenerator) -> list[ResUnetSkipConnectionBlock]:
    """The generator's nested blocks, outermost first."""
    blocks = [model.model]
    while (inner := blocks[-1].submodule) is not None:
        blocks.append(inner)
    return blocks


def residual_paths(model: ResUnetGenerator) -> dict[str, tuple[nn.Module, nn.Module]]:
    """The two residual slots (`ResidualBlock` or `RemovedBlock`) of every path, by name.

    ``dK`` is nested block K's down path, ``uK`` the decoder stage after the up-convolution
    that outputs ``up[K]`` (inside block K + 1). In the order they run: the down paths
    outermost first, then the decoder stages innermost first.
    """
    down, up = {}, {}
    for index, block in enumerate(nested_blocks(model)):
        layers = list(block.model)
        split = layers.index(block.upconv)
        for name, part, paths in (
            (f"d{index}", layers[:split], down),
            (f"u{index - 1}", layers[split:], up),
        ):
            slots = [m for m in part if isinstance(m, (ResidualBlock, RemovedBlock))]
            if slots:
                paths[name] = (slots[0], slots[1])
    return {**down, **dict(reversed(up.items()))}


def measure_gen_widths(model: ResUnetGenerator) -> GenWidths:
    """The widths `model` actually has (for example after structured pruning)."""
    blocks = nested_blocks(model)

    def residual_inner(block: ResUnetSkipConnectionBlock, after_upconv: bool) -> tuple[int, int]:
        layers = list(block.model)
        split = layers.index(block.upconv)
        part = layers[split:] if after_upconv else layers[:split]
        widths = [
            m.block[0].out_channels if isinstance(m, ResidualBlock) else 0
            for m in part
            if isinstance(m, (ResidualBlock, RemovedBlock))
        ]
        return widths[0], widths[1]

    return GenWidths(
        down=tuple(block.downconv.out_channels for block in blocks),
        up=tuple(block.upconv.out_channels for block in blocks[1:]),
        down_inner=tuple(residual_inner(block, after_upconv=False) for block in blocks),
        up_inner=tuple(residual_inner(block, after_upconv=True) for block in blocks[1:]),
    )
