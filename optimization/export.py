"""Export PF-AFN to a self-describing OpenVINO artifact (split + fused layouts), then verify it.

The split layout cuts the warping module at each correlation so the app can compute the cost
volume with the numba kernel: ``features`` (both pyramids), ``level_0..4`` (flow heads and grid
composition of one pyramid level; the kernel warps the next level's clothes feature itself) and
``render`` (final warps and the generator). The fused layout is one graph with the correlation as
OpenVINO ops. After writing, the artifact is loaded back through ``tryon_app.core`` — the very
loader the app uses — and compared with the torch model.
"""

from __future__ import annotations

import logging
import platform
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from optimization.archs.afwm import AFWM, measure_warp_widths, warp
from optimization.archs.generator import ResUnetGenerator, measure_gen_widths
from optimization.archs.tryon import TorchTryOn, render_tryon
from tryon_app.core.artifact import (
    FUSED_GRAPH,
    FUSED_TENSORS,
    GRAPH_ROLES,
    INPUT_HEIGHT,
    INPUT_WIDTH,
    LAST_FLOW,
    LAYOUT_NAMES,
    LEVELS,
    P_TRYON,
    PRECISIONS,
    QUANTIZERS,
    RENDER_TENSORS,
    SPLIT_FEATURES_GRAPH,
    SPLIT_RENDER_GRAPH,
    graph_role,
    graph_tensors,
    load_artifact,
    metadata_document,
    split_level_graph,
    update_metadata_section,
    write_metadata,
)

log = logging.getLogger(__name__)

# How far the artifact (run with the f32 hint) may stray from torch on p_tryon, in [-1, 1] units.
# fp32 must be exact to float rounding. fp16 weights round to ~1e-3 relative and the error grows
# through five flow compositions; int8 moves every feature by a fraction of a quantization step.
# Both shift garment edges by a fraction of a pixel here and there, so the maximum says little
# (a trained model's fp16 export reached 0.022 at one edge pixel): both are bounded on the mean,
# fp16 at 0.003 (under half a grey level of 255). int8 is bounded at 0.06 (~8 grey levels): it
# catches a broken conversion, which moves whole regions, while int8's quality is judged by SSIM
# in the compression report. Our QAT default differed from its fake-quantized torch twin by 0.025
# on a CPU with VNNI; on one with only AVX2 (other int8 kernels) a QAT student differed by 0.048
# and a post-training one from its float model by 0.041, held-out pairs by 0.014 to 0.040.
TOLERANCE = {"fp32": ("max", 1e-3), "fp16": ("mean", 3e-3), "int8": ("mean", 6e-2)}


class VerificationError(ValueError):
    """The exported artifact does not reproduce the torch model within tolerance."""


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


def graph_specs(split: SplitTryOn, fused: FusedGraph) -> list[GraphSpec]:
    """Every graph of both layouts, with example inputs recorded through the torch twin."""
    person, clothes, edge = sample_inputs()
    recorded: dict[str, list[tuple[torch.Tensor, ...]]] = {}
    with torch.no_grad():
        split(person, clothes, edge, record=recorded)
    graphs = {**split.graphs(), FUSED_GRAPH: fused}
    recorded[FUSED_GRAPH] = [(person, clothes, edge)]
    return [GraphSpec(path, graph, recorded[path][0]) for path, graph in graphs.items()]


def convert(spec: GraphSpec):
    """Static-shape OpenVINO model of `spec` with the named inputs and outputs."""
    import openvino as ov

    # The tracer's self-check re-runs the module and complains about fake-quantize rounding
    # and float noise; the artifact is verified against torch after export instead.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        model = ov.convert_model(
            spec.module.eval(),
            example_input=spec.example,
            input=[tuple(t.shape) for t in spec.example],
        )
    spec.name_tensors(model)
    return model


def export_artifact(
    warp_model: AFWM,
    gen_model: ResUnetGenerator,
    out_dir: str | Path,
    *,
    precision: str = "fp32",
    metadata: dict[str, Any] | None = None,
    calibration: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None,
    onnx: bool = False,
    verify: bool = True,
    quantized: SplitTryOn | None = None,
    quantizer: str = "nncf",
    float_graphs: tuple[str, ...] = (),
) -> Path:
    """Write the artifact folder and verify it through the app's loader.

    Args:
        warp_model, gen_model: networks in eval mode (any widths).
        out_dir: artifact folder (created). The files are written and verified in a staging
            folder beside it (``<out_dir>.partial``, removed if the export fails) and only then
            replace those of the same name in ``out_dir``: a failed export leaves an artifact
            already there as it was.
        precision: `fp32`, `fp16` (fp16-compressed weights) or `int8` (NNCF post-training
            quantization; the flow path stays in float).
        metadata: extra fields for `metadata.json` (provenance, quality, ...).
        calibration: (person, clothes, edge) samples for int8.
        onnx: also write the fused graph as ONNX (opset 17) beside it.
        verify: load back and compare with torch; raises VerificationError outside tolerance.
        quantized: the split graphs after quantization-aware training (see
            ``optimization/qat.py``); they are converted as they are (their fake-quantize
            layers become OpenVINO FakeQuantize) instead of post-training quantization, and
            the artifact is verified against them. Needs ``precision="int8"``.
        quantizer: post-training int8 by `nncf` (``optimization/quantize.py``) or `inc` (Intel
            Neural Compressor, ``optimization/inc_ptq.py``; a graph it cannot quantize stays
            float). Metadata records it. Every int8 artifact lists the graphs that came out
            quantized (`quantized_graphs`).
        float_graphs: roles from ``GRAPH_ROLES`` that post-training int8 leaves in float. The
            fused graph then stays float as a whole: its BatchNorm-folded convolutions lose the
            names that would say which role they belong to.
    """
    import openvino as ov

    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    out_dir = Path(out_dir)
    if quantized is not None and precision != "int8":
        raise ValueError("quantization-aware trained graphs export only as int8")
    if quantizer not in QUANTIZERS:
        raise ValueError(f"quantizer {quantizer!r}: choose one of {', '.join(QUANTIZERS)}")
    if not set(float_graphs) <= set(GRAPH_ROLES):
        raise ValueError(f"float graphs {float_graphs}: choose from {', '.join(GRAPH_ROLES)}")
    if float_graphs and (precision != "int8" or quantized is not None):
        raise ValueError("float graphs apply to post-training int8 only")
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        warp_model.eval(), gen_model.eval()
        if quantized is not None:
            split, fused = quantized.eval(), FusedGraph(quantized)
        else:
            split = SplitTryOn.from_models(warp_model, gen_model)
            fused = FusedGraph.from_models(warp_model, gen_model)
        specs = graph_specs(split, fused)
        post_training = precision == "int8" and quantized is None
        quantized_inputs = None
        if post_training:
            from optimization.quantize import calibration_inputs

            quantized_inputs = calibration_inputs(split, calibration)
        quantized_graphs = []
        for spec in specs:
            model = convert(spec)
            role = graph_role(spec.relative_path)
            if post_training and float_graphs and (role is None or role in float_graphs):
                log.info("%s stays float", spec.relative_path)
            elif post_training and quantizer == "inc":
                from optimization.inc_ptq import quantize_or_keep_float

                model = quantize_or_keep_float(model, spec, quantized_inputs[spec.relative_path])
            elif post_training:
                from optimization.quantize import quantize_graph

                model = quantize_graph(model, spec, quantized_inputs[spec.relative_path])
            if precision == "int8":
                from optimization.inc_ptq import count_fake_quantize

                quantized_graphs += [spec.relative_path] if count_fake_quantize(model) else []
            log.info("writing %s", out_dir / spec.relative_path)
            target = staging / spec.relative_path
            target.parent.mkdir(parents=True, exist_ok=True)
            ov.save_model(model, target, compress_to_fp16=precision == "fp16")
        if onnx:
            export_onnx(fused, specs[-1].example, staging / Path(FUSED_GRAPH).with_suffix(".onnx"))

        document = metadata_document(
            out_dir.name,
            precision,
            architecture={
                "warp": measure_warp_widths(warp_model).to_dict(),
                "gen": measure_gen_widths(gen_model).to_dict(),
            },
            tools={
                "torch": torch.__version__,
                "openvino": ov.get_version(),
                "python": platform.python_version(),
            },
            quantizer=quantizer if post_training else None,
            float_graphs=float_graphs,
            quantized_graphs=quantized_graphs if precision == "int8" else None,
            extra=metadata,
        )
        write_metadata(staging, document)
        if verify:
            try:
                report = verify_artifact(staging, split, TOLERANCE[precision])
            except VerificationError as error:
                raise VerificationError(f"{error}; {out_dir} was left as it was") from None
            update_metadata_section(staging, "verification", report)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # whatever stopped the export
        raise
    move_files(staging, out_dir)
    return out_dir


def move_files(source: Path, destination: Path) -> None:
    """Move every file under ``source`` to the same place under ``destination``, replacing."""
    for path in sorted(source.rglob("*")):
        if path.is_file():
            target = destination / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            path.replace(target)
    shutil.rmtree(source)


def export_onnx(module: nn.Module, example: tuple[torch.Tensor, ...], path: Path) -> None:
    """The fused graph as ONNX opset 17 (GridSample needs >= 16), checked with onnx.checker."""
    import onnx

    with torch.no_grad():
        torch.onnx.export(
            module.eval(),
            example,
            str(path),
            opset_version=17,
            input_names=list(FUSED_TENSORS.inputs),
            output_names=list(FUSED_TENSORS.outputs),
            dynamo=False,
        )
    onnx.checker.check_model(onnx.load(str(path)))


def verify_artifact(
    out_dir: Path, reference: nn.Module, tolerance: tuple[str, float]
) -> dict[str, Any]:
    """Run the artifact through the app's pipeline (f32) and compare p_tryon with torch.

    Args:
        reference: torch module with the `tryon_forward` interface (a `SplitTryOn`).
        tolerance: ("max" or "mean", bound) on the absolute p_tryon difference.
    """
    from tryon_app.core.pipeline import RuntimeOptions, TryOnPipeline

    statistic, bound = tolerance
    person, clothes, edge = sample_inputs(seed=1)
    with torch.no_grad():
        expected = reference(person, clothes, edge)[P_TRYON].numpy()
    artifact = load_artifact(out_dir)
    report: dict[str, Any] = {f"tolerance_{statistic}_abs_p_tryon": bound}
    for layout in LAYOUT_NAMES:
        pipeline = TryOnPipeline(
            artifact, RuntimeOptions(precision="f32", layout=layout, cache_dir=None)
        )
        got = pipeline.run(person.numpy(), clothes.numpy(), edge.numpy()).p_tryon
        difference = np.abs(got - expected)
        report[f"{layout}_max_abs_p_tryon"] = float(difference.max())
        report[f"{layout}_mean_abs_p_tryon"] = float(difference.mean())
        error = report[f"{layout}_{statistic}_abs_p_tryon"]
        if not error <= bound:
            raise VerificationError(
                f"{out_dir}: exported {layout} graph differs from torch by {error:.2e} "
                f"({statistic} abs on p_tryon; tolerance {bound:g})"
            )
    log.info("verified %s: %s", out_dir, report)
    return report
