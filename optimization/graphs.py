"""The graphs export writes, as torch modules: the split layout's graphs and the fused one.

The split layout cuts the warping module at each correlation so the app can compute the cost
volume with the numba kernel: ``features`` (both pyramids), ``level_0..4`` (flow heads and grid
composition of one pyramid level; the kernel warps the next level's clothes feature itself) and
``render`` (final warps and the generator). `SplitTryOn` chains them with the torch correlation
between, as the app chains the exported ones; the fused graph is the whole body in one graph.
Where each graph is written and what its tensors are called is the artifact's contract
(``tryon_app.core.artifact``). Export converts these modules, quantization calibrates them on the
inputs `record_graph_inputs` collects, and quantization-aware training tunes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from optimization.archs.afwm import AFWM, warp
from optimization.archs.generator import ResUnetGenerator
from optimization.archs.tryon import TorchTryOn, render_tryon
from tryon_app.core.artifact import (
    FUSED_GRAPH,
    FUSED_TENSORS,
    INPUT_HEIGHT,
    INPUT_WIDTH,
    LAST_FLOW,
    LEVELS,
    RENDER_TENSORS,
    SPLIT_FEATURES_GRAPH,
    SPLIT_RENDER_GRAPH,
    graph_tensors,
    split_level_graph,
)


class FeaturesGraph(nn.Module):
    """(person, masked clothes) -> clothes pyramid then person pyramid, finest first."""

    def __init__(self, warp_model: AFWM):
        super().__init__()
        self.warp_model = warp_model

    def forward(self, person, clothes):
        cloth_pyramid, person_pyramid = self.warp_model.pyramids(person, clothes)
        return (*cloth_pyramid, *person_pyramid)


class LevelGraph(nn.Module):
    """One flow level from its cost volume: the level's flow, upsampled to the next level's size.

    The clothes feature the next level correlates (its own feature warped by this flow) is not
    made here: the app's correlation kernel warps it as it reads it (``kernels.correlation``'s
    ``flow``). Artifacts exported before that also output it; the app ignores that branch.
    """

    def __init__(self, warp_model: AFWM, level: int):
        super().__init__()
        self.flow_net = warp_model.aflow_net
        self.level = level
        self.has_last_flow = level > 0

    def forward(self, corr, cloth_feature, person_feature, *last_flow):
        last_flow = last_flow[0] if self.has_last_flow else None
        return self.flow_net.level_step(self.level, corr, cloth_feature, person_feature, last_flow)


class RenderGraph(nn.Module):
    """(person, masked clothes, binary edge, final flow) -> `RENDER_TENSORS.outputs`.

    Besides the try-on, the generator's two parts of it: the rendered person and the composition
    mask, which the app scales up to compose a try-on at the photo's own resolution.
    """

    def __init__(self, gen_model: ResUnetGenerator):
        super().__init__()
        self.gen_model = gen_model

    def forward(self, person, clothes, edge, flow):
        warped_cloth = warp(clothes, flow)
        warped_edge = warp(edge, flow, padding_mode="zeros")
        rendered = render_tryon(self.gen_model, person, warped_cloth, warped_edge)
        return (
            warped_cloth,
            warped_edge,
            rendered["p_tryon"],
            rendered["p_rendered"],
            rendered["m_composite"],
        )


class SplitTryOn(nn.Module):
    """The try-on as the split graphs the app runs, chained with the torch correlation between.

    This is the torch twin of the app's split pipeline (``tryon_app/core/pipeline.py``): the
    same graphs, fed the same tensors. It records every graph's inputs (example inputs and
    calibration data for export) and is the student that quantization-aware training tunes,
    with each graph replaced by its quantized copy.
    """

    def __init__(self, features: nn.Module, levels: list[nn.Module], render: nn.Module):
        super().__init__()
        self.features = features
        self.levels = nn.ModuleList(levels)
        self.render = render

    @classmethod
    def from_models(cls, warp_model: AFWM, gen_model: ResUnetGenerator) -> SplitTryOn:
        levels = [LevelGraph(warp_model, level) for level in range(LEVELS)]
        return cls(FeaturesGraph(warp_model), levels, RenderGraph(gen_model))

    def graphs(self) -> dict[str, nn.Module]:
        """Each graph by the artifact path it is exported to."""
        graphs = {SPLIT_FEATURES_GRAPH: self.features}
        graphs.update({split_level_graph(i): level for i, level in enumerate(self.levels)})
        graphs[SPLIT_RENDER_GRAPH] = self.render
        return graphs

    def forward(
        self,
        person: torch.Tensor,
        clothes: torch.Tensor,
        edge: torch.Tensor,
        record: dict[str, list[tuple[torch.Tensor, ...]]] | None = None,
    ) -> dict[str, torch.Tensor]:
        """`tryon_forward` computed graph by graph; `record[path]` collects each graph's inputs."""
        from optimization.archs.correlation import correlation

        def run(path: str, graph: nn.Module, *inputs: torch.Tensor):
            if record is not None:
                record.setdefault(path, []).append(tuple(t.detach() for t in inputs))
            return graph(*inputs)

        edge = (edge > 0.5).to(clothes.dtype)
        masked_clothes = clothes * edge
        pyramids = run(SPLIT_FEATURES_GRAPH, self.features, person, masked_clothes)
        cloth_pyramid, person_pyramid = pyramids[:LEVELS], pyramids[LEVELS:]
        last_flow = None
        for level, graph in enumerate(self.levels):
            index = LEVELS - 1 - level
            cloth_feature = cloth_pyramid[index]
            # The coarsest level correlates its clothes feature as it is; the others warp it by
            # the flow so far (the app's kernel does this warp while it correlates).
            warped = cloth_feature if last_flow is None else warp(cloth_feature, last_flow)
            inputs = [correlation(warped, person_pyramid[index]), cloth_feature]
            inputs += [person_pyramid[index]] + ([last_flow] if last_flow is not None else [])
            last_flow = run(split_level_graph(level), graph, *inputs)
        rendered = run(SPLIT_RENDER_GRAPH, self.render, person, masked_clothes, edge, last_flow)
        return {**dict(zip(RENDER_TENSORS.outputs, rendered, strict=True)), LAST_FLOW: last_flow}


class FusedGraph(nn.Module):
    """The whole test-time body as one graph (correlation as tensor ops).

    Built from the official torch modules, or from a `SplitTryOn` whose graphs are quantized.
    """

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    @classmethod
    def from_models(cls, warp_model: AFWM, gen_model: ResUnetGenerator) -> FusedGraph:
        return cls(TorchTryOn(warp_model, gen_model))

    def forward(self, person, clothes, edge):
        out = self.body(person, clothes, edge)
        return tuple(out[name] for name in FUSED_TENSORS.outputs)


@dataclass(frozen=True)
class GraphSpec:
    """A torch wrapper to convert, with example inputs; it is written to `relative_path`, whose
    tensor names the app binds by (`tryon_app.core.artifact.graph_tensors`)."""

    relative_path: str
    module: nn.Module
    example: tuple[torch.Tensor, ...]

    @property
    def input_names(self) -> list[str]:
        return list(graph_tensors(self.relative_path).inputs)

    @property
    def output_names(self) -> list[str]:
        return list(graph_tensors(self.relative_path).outputs)

    def name_tensors(self, model) -> None:
        """Give the converted OpenVINO model's inputs and outputs the names the app uses."""
        for port, name in zip(model.inputs, self.input_names, strict=True):
            port.get_tensor().set_names({name})
        for port, name in zip(model.outputs, self.output_names, strict=True):
            port.get_tensor().set_names({name})


def sample_inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Smooth random person/clothes images and a garment-shaped edge, official model space."""
    generator = torch.Generator().manual_seed(seed)
    height, width = INPUT_HEIGHT, INPUT_WIDTH
    low = torch.rand(2, 3, height // 16, width // 16, generator=generator) * 2 - 1
    images = torch.nn.functional.interpolate(low, size=(height, width), mode="bilinear")
    noise = 0.1 * torch.randn(2, 3, height, width, generator=generator)
    person, clothes = (images + noise).clamp(-1, 1).split(1)
    edge = torch.zeros(1, 1, height, width)
    edge[:, :, 40:220, 30:162] = 1.0
    return person.contiguous(), clothes.contiguous(), edge


def record_graph_inputs(
    split: SplitTryOn, samples: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
) -> dict[str, list[tuple[torch.Tensor, ...]]]:
    """The inputs every split graph receives on (person, clothes, edge) samples, by graph path."""
    recorded: dict[str, list[tuple[torch.Tensor, ...]]] = {}
    split.eval()
    with torch.no_grad():
        for person, clothes, edge in samples:
            split(person, clothes, edge, record=recorded)
    return recorded


def graph_specs(split: SplitTryOn, fused: FusedGraph) -> list[GraphSpec]:
    """Every graph of both layouts, with example inputs recorded through the torch twin."""
    person, clothes, edge = sample_inputs()
    recorded = record_graph_inputs(split, [(person, clothes, edge)])
    graphs = {**split.graphs(), FUSED_GRAPH: fused}
    recorded[FUSED_GRAPH] = [(person, clothes, edge)]
    return [GraphSpec(path, graph, recorded[path][0]) for path, graph in graphs.items()]
