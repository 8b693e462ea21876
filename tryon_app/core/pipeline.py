"""OpenVINO try-on pipeline: the exported PF-AFN graphs plus the numba cost volume.

Two layouts of the same model (see `optimization/export.py`):

* ``split`` (the default on CPU): OpenVINO runs the feature pyramids, each of the five flow levels
  and the generator as separate graphs; the 49-channel cost volume between them is computed by
  the numba kernel, which is several times faster on a CPU than the same op inside a graph.
* ``fused``: one graph with the correlation as OpenVINO ops, for devices where a Python kernel
  cannot run alongside (iGPU, model servers).

Inputs and outputs are numpy arrays in the official model space: person and clothes
(1, 3, 256, 192) float32 in [-1, 1], edge (1, 1, 256, 192) float32 in [0, 1].
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import kernels
from tryon_app.core.artifact import LEVELS, Artifact
from tryon_app.core.errors import ArtifactError, TryOnError
from tryon_app.core.paths import user_cache_dir

log = logging.getLogger(__name__)

PRECISIONS = ("f32", "bf16", "f16")
STAGES = ("encoders", "correlation", "flow", "generator")


@dataclass(frozen=True)
class RuntimeOptions:
    """How to compile and run an artifact.

    Attributes:
        device: OpenVINO device name (`CPU`, `GPU`, `AUTO`, ...).
        precision: inference precision hint (`f32`, `bf16`, `f16`) or None for the device's own
            default (bf16 on CPUs that have it).
        threads: CPU inference threads, None for OpenVINO's choice.
        layout: `split`, `fused`, or `auto` (split on CPU, fused elsewhere).
        cache_dir: compiled-model cache; None disables it.
        throughput: compile for many try-ons at once (OpenVINO's THROUGHPUT hint: several
            streams with fewer threads each) instead of the lowest latency of one; run the
            concurrent try-ons on `TryOnPipeline.fork` copies.
    """

    device: str = "CPU"
    precision: str | None = "f32"
    threads: int | None = None
    layout: str = "auto"
    cache_dir: Path | None = field(default_factory=lambda: user_cache_dir() / "ov_cache")
    throughput: bool = False


@dataclass(frozen=True)
class TryOnOutput:
    """Model-space results of one try-on, plus per-stage wall times in milliseconds."""

    p_tryon: np.ndarray
    warped_cloth: np.ndarray
    warped_edge: np.ndarray
    last_flow: np.ndarray
    timings_ms: dict[str, float]


_core = None


def ov_core():
    """The process-wide OpenVINO Core (creating one is slow and holds the plugins)."""
    global _core
    if _core is None:
        import openvino as ov

        _core = ov.Core()
    return _core


def available_devices() -> list[str]:
    return list(ov_core().available_devices)


def compile_config(options: RuntimeOptions) -> dict[str, object]:
    config: dict[str, object] = {
        "PERFORMANCE_HINT": "THROUGHPUT" if options.throughput else "LATENCY"
    }
    if options.precision is not None:
        if options.precision not in PRECISIONS:
            raise TryOnError(
                f"precision {options.precision!r}: choose one of {', '.join(PRECISIONS)}"
            )
        config["INFERENCE_PRECISION_HINT"] = options.precision
    if options.threads and options.device == "CPU":
        config["INFERENCE_NUM_THREADS"] = int(options.threads)
    return config


# Pyramid features cross between the split graphs channels-last. Inside a graph the CPU plugin
# keeps them in blocked layouts, and its reorder from those to NCHW at an output is a slow
# reference loop when the channel count is not a multiple of 16 (2.6 ms of the default model's
# 5.6 ms encoder graph); to NHWC it is not. The numba kernel reads NHWC rows without transposing.
_NHWC_TENSORS = frozenset(
    [f"{side}_{i}" for side in ("cloth", "person") for i in range(LEVELS)]
    + ["cloth_feature", "person_feature", "next_cloth_feature", "next_warped_cloth_feature"]
)


def _channels_last_interface(model):
    """`model` with its pyramid-feature inputs and outputs in NHWC (the graph itself unchanged)."""
    import openvino as ov
    from openvino.preprocess import PrePostProcessor

    ports = [("input", port.get_any_name()) for port in model.inputs]
    ports += [("output", port.get_any_name()) for port in model.outputs]
    ports = [(kind, name) for kind, name in ports if name in _NHWC_TENSORS]
    if not ports:
        return model
    steps = PrePostProcessor(model)
    for kind, name in ports:
        step = getattr(steps, kind)(name)
        step.model().set_layout(ov.Layout("NCHW"))
        step.tensor().set_layout(ov.Layout("NHWC"))
    return steps.build()


class _Graph:
    """One compiled IR with a reusable infer request, fed and read by tensor name.

    The pyramid features it takes or returns, if any, are NHWC (see _NHWC_TENSORS).
    """

    def __init__(self, xml_path: Path, options: RuntimeOptions):
        core = ov_core()
        try:
            model = core.read_model(str(xml_path))
        except RuntimeError as error:
            raise ArtifactError(
                f"{xml_path}: cannot read the model ({_first_line(error)})"
            ) from None
        model = _channels_last_interface(model)
        try:
            self.compiled = core.compile_model(model, options.device, compile_config(options))
        except RuntimeError as error:
            raise TryOnError(
                f"device {options.device}: cannot compile {xml_path.name} ({_first_line(error)})"
            ) from None
        self.request = self.compiled.create_infer_request()
        self.output_names = [output.get_any_name() for output in self.compiled.outputs]
        self.input_names = [port.get_any_name() for port in self.compiled.inputs]

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        self.request.infer(inputs, share_inputs=True)
        return {name: self.request.get_tensor(name).data for name in self.output_names}

    def fork(self) -> _Graph:
        """The same compiled model with an infer request of its own."""
        twin = copy.copy(self)
        twin.request = self.compiled.create_infer_request()
        return twin


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


class TryOnPipeline:
    """Compiled try-on model: `pipeline.run(person, clothes, edge) -> TryOnOutput`."""

    def __init__(self, artifact: Artifact, options: RuntimeOptions | None = None):
        self.artifact = artifact
        self.options = options or RuntimeOptions()
        if self.options.cache_dir is not None:
            try:
                Path(self.options.cache_dir).mkdir(parents=True, exist_ok=True)
                ov_core().set_property({"CACHE_DIR": str(self.options.cache_dir)})
            except OSError:
                log.warning(
                    "compiled-model cache disabled: cannot create %s", self.options.cache_dir
                )
        layout = self.options.layout
        if layout == "auto":
            layout = (
                "split" if self.options.device == "CPU" and "split" in artifact.layouts else "fused"
            )
        if layout not in artifact.layouts:
            raise ArtifactError(f"{artifact.root}: this artifact has no {layout!r} layout")
        self.layout = layout
        if layout == "split":
            files = artifact.split_files()
            self._features = _Graph(artifact.path(files["features"]), self.options)
            self._levels = [_Graph(artifact.path(name), self.options) for name in files["levels"]]
            self._render = _Graph(artifact.path(files["render"]), self.options)
            if len(self._levels) != LEVELS:
                raise ArtifactError(f"{artifact.root}: expected {LEVELS} flow levels")
            kernels.warmup()
        else:
            self._fused = _Graph(artifact.path(artifact.layouts["fused"]), self.options)

    def fork(self) -> TryOnPipeline:
        """A twin that shares the compiled graphs but has its own infer requests.

        One pipeline runs one try-on at a time (its requests hold the intermediate tensors);
        forks run concurrently from other threads, which is how throughput mode feeds
        OpenVINO's streams. Forking compiles nothing.
        """
        twin = copy.copy(self)
        if self.layout == "split":
            twin._features = self._features.fork()
            twin._levels = [level.fork() for level in self._levels]
            twin._render = self._render.fork()
        else:
            twin._fused = self._fused.fork()
        return twin

    def optimal_requests(self) -> int:
        """How many try-ons the device wants in flight at once (1 in latency mode)."""
        graph = self._features if self.layout == "split" else self._fused
        try:
            return max(1, int(graph.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        except RuntimeError:  # a device that does not report it
            return 1

    def run(self, person: np.ndarray, clothes: np.ndarray, edge: np.ndarray) -> TryOnOutput:
        """Try `clothes` (masked by `edge`) on `person`; shapes as in the module docstring."""
        person = np.ascontiguousarray(person, dtype=np.float32)
        binary_edge = (np.asarray(edge, dtype=np.float32) > 0.5).astype(np.float32)
        masked_clothes = np.ascontiguousarray(np.asarray(clothes, dtype=np.float32) * binary_edge)
        if self.layout == "fused":
            return self._run_fused(person, masked_clothes, binary_edge)
        return self._run_split(person, masked_clothes, binary_edge)

    def _run_fused(self, person, masked_clothes, binary_edge) -> TryOnOutput:
        start = time.perf_counter()
        out = self._fused(person=person, clothes=masked_clothes, edge=binary_edge)
        total = (time.perf_counter() - start) * 1e3
        return _output(out, out_flow=out["last_flow"], timings={"total": total})

    def _run_split(self, person, masked_clothes, binary_edge) -> TryOnOutput:
        clock = time.perf_counter
        timings = dict.fromkeys(STAGES, 0.0)
        start = clock()
        pyramids = self._features(person=person, clothes=masked_clothes)
        timings["encoders"] = (clock() - start) * 1e3

        # Level i = 0 is the coarsest (8x6); pyramid index 4 - i. The clothes feature used by the
        # correlation is the level's own feature warped by the previous flow, which each level
        # graph computes for the next one.
        warped_cloth_feature = pyramids["cloth_4"]
        last_flow = None
        for i, level in enumerate(self._levels):
            index = LEVELS - 1 - i
            t0 = clock()
            cost_volume = kernels.correlation(
                warped_cloth_feature, pyramids[f"person_{index}"], layout="NHWC"
            )
            t1 = clock()
            inputs = {
                "corr": cost_volume,
                "cloth_feature": pyramids[f"cloth_{index}"],
                "person_feature": pyramids[f"person_{index}"],
            }
            if last_flow is not None:
                inputs["last_flow"] = last_flow
            if index > 0:
                inputs["next_cloth_feature"] = pyramids[f"cloth_{index - 1}"]
            out = level(**inputs)
            # Level outputs live in the request's buffer; the next level reads them before this
            # request runs again, so no copy is needed.
            last_flow = out["flow"]
            if index > 0:
                warped_cloth_feature = out["next_warped_cloth_feature"]
            t2 = clock()
            timings["correlation"] += (t1 - t0) * 1e3
            timings["flow"] += (t2 - t1) * 1e3

        t0 = clock()
        out = self._render(person=person, clothes=masked_clothes, edge=binary_edge, flow=last_flow)
        timings["generator"] = (clock() - t0) * 1e3
        timings["total"] = (clock() - start) * 1e3
        return _output(out, out_flow=last_flow, timings=timings)


def _output(
    out: dict[str, np.ndarray], out_flow: np.ndarray, timings: dict[str, float]
) -> TryOnOutput:
    # Copies: the request buffers are overwritten by the next call.
    return TryOnOutput(
        p_tryon=np.array(out["p_tryon"]),
        warped_cloth=np.array(out["warped_cloth"]),
        warped_edge=np.array(out["warped_edge"]),
        last_flow=np.array(out_flow),
        timings_ms=timings,
    )
