"""Quantization-aware training (NNCF) of the split graphs the app runs.

The app runs PF-AFN as separate graphs with the cost volume computed between them, so QAT
quantizes exactly those graphs (``SplitTryOn`` in ``optimization/graphs.py``): each is
calibrated by ``nncf.quantize`` on the inputs it really receives, then they are fine-tuned
together, chained through the torch correlation, with the distillation loss against the float
teacher. Exported, each graph's fake-quantize layers become OpenVINO FakeQuantize ops (INT8
kernels on CPU); the fused layout is the same quantized graphs traced as one.

Either network can stay float as a whole (``networks``): on this project's models INT8 of the
warping module costs most of the quality (its graphs compute the flow), INT8 of the generator
little, and a float graph can still run in bf16 where the CPU has it. Graphs of a quantized
network can also stay float by role (``float_roles``, e.g. the flow levels): they are still
fine-tuned, together with the quantized graphs around them.

Kept in float inside a quantized graph: grid sampling (warps and grid composition), the
base-grid arithmetic, the last convolution of every flow head, whose 2-channel output is an
offset in pixels (a normalised-grid error of 1e-3 is already 0.1 px and the five levels
compound it), and the final composite of the warped garment over the rendered person.
"""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from optimization.archs.afwm import AFWM
from optimization.archs.generator import ResUnetGenerator
from optimization.archs.widths import GenWidths, WarpWidths
from optimization.checkpoints import save_atomically
from optimization.graphs import SplitTryOn, record_graph_inputs
from optimization.recipes import NETWORKS
from tryon_app.core.artifact import (
    GRAPH_ROLES,
    SPLIT_FEATURES_GRAPH,
    SPLIT_RENDER_GRAPH,
    graph_role,
    split_level_graph,
)

log = logging.getLogger(__name__)

FORMAT = "openvino-tryon/qat-checkpoint"
VERSION = 1
# NNCF node names of the ops that stay float. Functional ops called by the graph wrappers
# themselves are named "/<op>/<n>" (modules' ops carry their scope), so these patterns catch the
# grid arithmetic of the level graphs and the final composite of the render graph, not the
# residual additions inside the networks. In a level graph, "6/conv2d/<n>" is the last (offset)
# convolution of its main and refine heads.
FLOAT_PATTERNS = (
    r"6/conv2d/\d+",
    r"/(add|sub|div|stack|grid_sample|interpolate|permute|__getitem__|tanh|sigmoid|mul|__rsub__|split)/\d+",
)
# NNCF compiles its fake-quantize kernels on first use (about 20 s on an idle 2-core machine)
# and gives up after 60 s by default, which a busy machine exceeds.
os.environ.setdefault("NNCF_EXTENSION_LOAD_TIMEOUT", "900")


# The split graphs' roles (GRAPH_ROLES) by the network they compute.
NETWORK_ROLES = {"warp": ("features", "levels"), "gen": ("render",)}


def graph_network(path: str) -> str:
    """The network (`warp` or `gen`) a split graph computes: the render graph is the generator."""
    role = graph_role(path)
    return next(network for network, roles in NETWORK_ROLES.items() if role in roles)


def is_quantized(path: str, networks: tuple[str, ...], float_roles: tuple[str, ...] = ()) -> bool:
    """Whether the split graph at `path` gets fake-quantize layers."""
    return graph_network(path) in networks and graph_role(path) not in float_roles


def _ignored_scope():
    import nncf

    return nncf.IgnoredScope(patterns=list(FLOAT_PATTERNS), validate=False)


def quantize_split(
    split: SplitTryOn,
    samples: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    networks: tuple[str, ...] = NETWORKS,
    float_roles: tuple[str, ...] = (),
) -> SplitTryOn:
    """A copy of `split` whose graphs of `networks` carry NNCF fake-quantize layers, calibrated
    on `samples`, except those of `float_roles`; the other graphs are float copies."""
    import nncf

    _check_networks(networks, float_roles)
    recorded = record_graph_inputs(split, samples)
    quantized = {}
    for path, graph in split.graphs().items():
        if not is_quantized(path, networks, float_roles):
            quantized[path] = copy.deepcopy(graph).eval()
            continue
        inputs = recorded[path]
        log.info("calibrating %s on %d samples", path, len(inputs))
        quantized[path] = nncf.quantize(
            copy.deepcopy(graph).eval(),
            nncf.Dataset(inputs),
            subset_size=len(inputs),
            ignored_scope=_ignored_scope(),
        )
    return _assemble(quantized)


def _check_networks(networks: tuple[str, ...], float_roles: tuple[str, ...] = ()) -> None:
    if not networks or not set(networks) <= set(NETWORKS):
        raise ValueError(f"quantize networks from {NETWORKS}, got {networks}")
    if not set(float_roles) <= set(GRAPH_ROLES):
        raise ValueError(f"float graphs {float_roles}: choose from {', '.join(GRAPH_ROLES)}")
    roles = {role for network in networks for role in NETWORK_ROLES[network]}
    if roles <= set(float_roles):
        raise ValueError(f"nothing left to quantize: {', '.join(sorted(roles))} all kept float")


def _assemble(graphs: dict[str, nn.Module]) -> SplitTryOn:
    levels = [graphs[split_level_graph(i)] for i in range(len(graphs) - 2)]
    return SplitTryOn(graphs[SPLIT_FEATURES_GRAPH], levels, graphs[SPLIT_RENDER_GRAPH])


def save_qat(
    path: str | Path,
    quantized: SplitTryOn,
    warp_widths: WarpWidths,
    gen_widths: GenWidths,
    networks: tuple[str, ...] = NETWORKS,
    float_roles: tuple[str, ...] = (),
    **extra: Any,
) -> None:
    """Write a QAT checkpoint: both networks' widths and, per graph, the state dict (weights
    and quantizer ranges) with NNCF's configuration (where the quantizers sit; none for the
    graphs left float). It loads with ``weights_only=True`` (see :func:`load_qat`)."""
    import nncf.torch

    _check_networks(networks, float_roles)
    graphs = {
        name: {
            "config": nncf.torch.get_config(graph)
            if is_quantized(name, networks, float_roles)
            else None,
            "state_dict": graph.state_dict(),
        }
        for name, graph in quantized.graphs().items()
    }
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "warp_widths": warp_widths.to_dict(),
        "gen_widths": gen_widths.to_dict(),
        "networks": list(networks),
        "float_roles": list(float_roles),
        "graphs": graphs,
        **extra,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomically(payload, path)


def load_qat(path: str | Path) -> tuple[SplitTryOn, AFWM, ResUnetGenerator]:
    """Rebuild the quantized split graphs of a QAT checkpoint, plus float networks of its widths.

    Raises:
        ValueError: not a QAT checkpoint of this project.
    """
    import nncf.torch
    from nncf.common.quantization.structs import QuantizationScheme

    # NNCF's configuration names its quantization mode with an Enum; allowing that one class
    # keeps the load weights-only (no arbitrary objects).
    with torch.serialization.safe_globals([QuantizationScheme]):
        payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not a QAT checkpoint (written by `optimize qat`)")
    warp_model = AFWM(WarpWidths.from_dict(payload["warp_widths"])).eval()
    gen_model = ResUnetGenerator(GenWidths.from_dict(payload["gen_widths"])).eval()
    float_split = SplitTryOn.from_models(warp_model, gen_model)
    graphs = {}
    for name, graph in float_split.graphs().items():
        stored = payload["graphs"][name]
        restored = copy.deepcopy(graph)
        if stored["config"] is not None:
            restored = nncf.torch.load_from_config(restored, stored["config"])
        restored.load_state_dict(stored["state_dict"])
        graphs[name] = restored.eval()
    return _assemble(graphs), warp_model, gen_model
