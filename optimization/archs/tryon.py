"""PF-AFN's test-time body: the warping module, then the generator, then the composite.

With the default widths the networks reproduce the official ``PF-AFN_test`` classes key for key, so
the released checkpoints load strictly (``optimization.checkpoints.load_official``).
"""

from __future__ import annotations

import torch
from torch import nn

from optimization.archs.afwm import AFWM, warp
from optimization.archs.generator import ResUnetGenerator
from optimization.archs.widths import GenWidths, WarpWidths


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


class TorchTryOn(nn.Module):
    """`tryon_forward` of a (warp, gen) pair as a module: a teacher, a float student, or the body
    of the fused graph export converts."""

    def __init__(self, warp_model: AFWM, gen_model: ResUnetGenerator):
        super().__init__()
        self.warp_model, self.gen_model = warp_model, gen_model

    def forward(self, person, clothes, edge) -> dict[str, torch.Tensor]:
        return tryon_forward(self.warp_model, self.gen_model, person, clothes, edge)


def build_models(
    warp_widths: WarpWidths | None = None, gen_widths: GenWidths | None = None
) -> tuple[AFWM, ResUnetGenerator]:
    """Freshly initialised networks in eval mode (official widths where None)."""
    warp_model = AFWM(warp_widths or WarpWidths())
    gen_model = ResUnetGenerator(gen_widths or GenWidths())
    return warp_model.eval(), gen_model.eval()
