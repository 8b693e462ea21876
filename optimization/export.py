"""Export PF-AFN to a self-describing OpenVINO artifact (split + fused layouts), then verify it.

The graphs (``optimization/graphs.py``) are converted to OpenVINO IR with the paths and tensor
names of the artifact's contract (``tryon_app/core/artifact.py``), optionally quantized to int8,
and described by ``metadata.json``. After writing, the artifact is loaded back through
``tryon_app.core`` — the very loader the app uses — and compared with the torch model.
"""

from __future__ import annotations

import logging
import platform
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from optimization.archs.afwm import AFWM, measure_warp_widths
from optimization.archs.generator import ResUnetGenerator, measure_gen_widths
from optimization.graphs import FusedGraph, GraphSpec, SplitTryOn, graph_specs, sample_inputs
from tryon_app.core.artifact import (
    FUSED_GRAPH,
    FUSED_TENSORS,
    GRAPH_ROLES,
    LAYOUT_NAMES,
    P_TRYON,
    PRECISIONS,
    QUANTIZERS,
    graph_role,
    load_artifact,
    metadata_document,
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
