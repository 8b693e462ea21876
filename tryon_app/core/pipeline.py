"""OpenVINO try-on pipeline: the exported PF-AFN graphs plus the numba cost volume.

Two layouts of the same model, written by `optimization/export.py` with the paths and tensor names
that `tryon_app/core/artifact.py` defines:

* ``split`` (the default on CPU): OpenVINO runs the feature pyramids, each of the five flow levels
  and the generator as separate graphs; the 49-channel cost volume between them is computed by
  the numba kernel, which is several times faster on a CPU than the same op inside a graph.
* ``fused``: one graph with the correlation as OpenVINO ops, for devices where a Python kernel
  cannot run alongside (iGPU, model servers).

A try-on is two steps: `prepare_clothes` (the garment's branch of the warp, its encoder and
pyramid, which depend on the garment alone) and `run_prepared` (the person's branch, the flow
levels and the generator). `run` does both. A live view or a new person photo in the same garment
prepares the garment once. In the split layout the exported features graph, which computes both
pyramids, is cut at load time into a garment graph and a person graph (the two branches share
nothing), so that a try-on of a prepared garment runs only the person's half.

Inputs and outputs are numpy arrays in the official model space: person and clothes
(1, 3, 256, 192) float32 in [-1, 1], edge (1, 1, 256, 192) float32 in [0, 1].
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

import kernels
from tryon_app.core.artifact import (
    CLOTH_FEATURE,
    CLOTHES,
    COMPOSITION_OUTPUTS,
    CORR,
    EDGE,
    FEATURES_TENSORS,
    FLOW,
    INPUT_SHAPES,
    LAST_FLOW,
    LEVELS,
    P_TRYON,
    PERSON,
    PERSON_FEATURE,
    WARPED_CLOTH,
    WARPED_EDGE,
    Artifact,
    cloth_pyramid,
    graph_read_error,
    person_pyramid,
)
from tryon_app.core.errors import ArtifactError, TryOnError, openvino_reason
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
    """Model-space results of one try-on, plus per-stage wall times in milliseconds.

    `p_rendered` (the generator's person, [-1, 1]) and `m_composite` (its composition mask,
    [0, 1]) are None for artifacts exported before the render graph returned them.
    """

    p_tryon: np.ndarray
    warped_cloth: np.ndarray
    warped_edge: np.ndarray
    last_flow: np.ndarray
    timings_ms: dict[str, float]
    p_rendered: np.ndarray | None = None
    m_composite: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class ClothesFeatures:
    """A garment prepared for try-ons (`TryOnPipeline.prepare_clothes`): what the model takes of it
    and, in the split layout, its feature pyramid.

    Belongs to the pipeline that made it and its forks (they share the compiled graphs); another
    pipeline refuses it.

    Attributes:
        clothes: (1, 3, 256, 192) float32 in [-1, 1], the garment masked by `edge`.
        edge: (1, 1, 256, 192) float32 in {0, 1}, the binarised mask.
        pyramid: the garment's features per pyramid level (0 = finest), each (1, H, W, C)
            float32 (channels last, as the level graphs read them); None in the fused layout, or
            when the features graph could not be cut (then each try-on computes them).
        timings_ms: {"garment": wall time of the garment's branch}.
    """

    clothes: np.ndarray
    edge: np.ndarray
    pyramid: tuple[np.ndarray, ...] | None
    timings_ms: dict[str, float]
    owner: object = field(repr=False, default=None)


FlowFilter = Callable[[np.ndarray], None]
"""Called with the final appearance flow, (1, 2, 256, 192) float32, before the generator renders
with it; it may change the flow in place (temporal smoothing of a live view)."""


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
    [name(i) for name in (cloth_pyramid, person_pyramid) for i in range(LEVELS)]
    + [CLOTH_FEATURE, PERSON_FEATURE]
)

# Level graphs exported before the correlation kernel learnt to warp its input also warp the next
# level's clothes feature (input "next_cloth_feature" -> output "next_warped_cloth_feature"). That
# copy took a GridSample and two layout transposes per level; the kernel now samples the feature as
# it reads it, so the branch is cut off at load time and such artifacts run as fast as new ones.
_LEGACY_INPUT, _LEGACY_OUTPUT = "next_cloth_feature", "next_warped_cloth_feature"


def _without_legacy_warp(model):
    """`model` without the next level's feature warp of older level graphs (see _LEGACY_INPUT)."""
    import openvino as ov

    results = [port.get_node() for port in model.outputs if _LEGACY_OUTPUT not in port.get_names()]
    if len(results) == len(model.outputs):
        return model
    parameters = [p for p in model.get_parameters() if _LEGACY_INPUT not in p.output(0).get_names()]
    return ov.Model(results, parameters, model.get_friendly_name())


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


def _read_graph(xml_path: Path):
    """The IR at `xml_path` as an OpenVINO model, or the error that says which file is bad."""
    try:
        return ov_core().read_model(str(xml_path))
    except RuntimeError as error:
        raise graph_read_error(xml_path, error) from None


def _branches(features) -> tuple[object, object] | None:
    """The features graph cut into (garment graph, person graph), or None when it cannot be.

    Each keeps one input and its own pyramid's outputs (`cloth_pyramid`, `person_pyramid`). The
    warping module encodes garment and person with separate encoders and pyramids, so the cut
    leaves every node where it was and the outputs are the same numbers; OpenVINO refuses the
    cut (and None is returned) if an output of one branch depended on the other's input.
    """
    import openvino as ov

    cuts = []
    for name, pyramid in ((CLOTHES, cloth_pyramid), (PERSON, person_pyramid)):
        model = features.clone()  # each cut gets nodes of its own for the interface's changes
        wanted = {pyramid(i) for i in range(LEVELS)}
        results = [port.get_node() for port in model.outputs if port.get_names() & wanted]
        parameters = [p for p in model.get_parameters() if name in p.output(0).get_names()]
        if len(results) != LEVELS or len(parameters) != 1:
            return None
        try:
            cuts.append(ov.Model(results, parameters, f"{model.get_friendly_name()}_{name}"))
        except RuntimeError:  # "Model references undeclared parameters"
            return None
    return cuts[0], cuts[1]


class _Graph:
    """One compiled graph with a reusable infer request, its tensors bound once by the pipeline.

    The pyramid features it takes or returns, if any, are NHWC (see _NHWC_TENSORS).
    """

    def __init__(self, model, options: RuntimeOptions, name: str):
        model = _channels_last_interface(_without_legacy_warp(model))
        try:
            self.compiled = ov_core().compile_model(model, options.device, compile_config(options))
        except RuntimeError as error:
            reason = openvino_reason(error)
            raise TryOnError(f"device {options.device}: cannot compile {name} ({reason})") from None
        self.request = self.compiled.create_infer_request()
        self.output_names = [output.get_any_name() for output in self.compiled.outputs]

    def outputs(self) -> dict[str, np.ndarray]:
        """Views of the request's output buffers (overwritten by its next inference)."""
        return {name: self.request.get_tensor(name).data for name in self.output_names}

    def fork(self) -> _Graph:
        """The same compiled model with an infer request of its own."""
        twin = copy.copy(self)
        twin.request = self.compiled.create_infer_request()
        return twin


class TryOnPipeline:
    """Compiled try-on model: `pipeline.run(person, clothes, edge) -> TryOnOutput`, or a garment
    prepared once (`prepare_clothes`) and tried on many persons (`run_prepared`)."""

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
        self._owner = object()  # what prepared garments are checked against (forks share it)
        self._features = self._garment = self._person = None
        if layout == "split":
            files = artifact.split_files()
            self._load_features(artifact.path(files["features"]))
            self._levels = [self._graph(artifact.path(name)) for name in files["levels"]]
            self._render = self._graph(artifact.path(files["render"]))
            if len(self._levels) != LEVELS:
                raise ArtifactError(f"{artifact.root}: expected {LEVELS} flow levels")
            kernels.warmup()
        else:
            self._fused = self._graph(artifact.path(artifact.layouts["fused"]))
        self._connect_inputs()

    def _graph(self, xml_path: Path, model=None) -> _Graph:
        model = _read_graph(xml_path) if model is None else model
        return _Graph(model, self.options, xml_path.name)

    def _load_features(self, xml_path: Path) -> None:
        """The features graph as a garment graph and a person graph (`_branches`); kept whole in
        `_features` only when it cannot be cut (each try-on then computes both pyramids)."""
        features = _read_graph(xml_path)
        branches = _branches(features)
        self._features = self._garment = self._person = None
        if branches is None:
            log.info("%s: the garment and person branches cannot be cut apart", xml_path)
            self._features = self._graph(xml_path, features)
        else:
            self._garment = self._graph(xml_path, branches[0])
            self._person = self._graph(xml_path, branches[1])

    @property
    def caches_garments(self) -> bool:
        """Whether a prepared garment spares its try-ons the garment's branch (split layout with
        a features graph that could be cut)."""
        return self.layout == "split" and self._garment is not None

    def fork(self) -> TryOnPipeline:
        """A twin that shares the compiled graphs but has its own infer requests.

        One pipeline runs one try-on at a time (its requests hold the intermediate tensors);
        forks run concurrently from other threads, which is how throughput mode feeds
        OpenVINO's streams. Forking compiles nothing.
        """
        twin = copy.copy(self)
        if self.layout == "split":
            for name in ("_features", "_garment", "_person"):
                graph = getattr(self, name)
                setattr(twin, name, None if graph is None else graph.fork())
            twin._levels = [level.fork() for level in self._levels]
            twin._render = self._render.fork()
        else:
            twin._fused = self._fused.fork()
        twin._connect_inputs()
        return twin

    @property
    def has_composition_outputs(self) -> bool:
        """Whether the model returns what full-resolution composition needs (COMPOSITION_OUTPUTS)."""
        graph = self._render if self.layout == "split" else self._fused
        return set(COMPOSITION_OUTPUTS).issubset(graph.output_names)

    def optimal_requests(self) -> int:
        """How many try-ons the device wants in flight at once (1 in latency mode)."""
        if self.layout == "fused":
            graph = self._fused
        else:
            graph = self._features if self._features is not None else self._person
        try:
            return max(1, int(graph.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        except RuntimeError:  # a device that does not report it
            return 1

    def _connect_inputs(self) -> None:
        """Host buffers for the model inputs, bound to the requests that read them.

        A try-on writes its preprocessed inputs there and passes no arrays to OpenVINO. In the
        split layout the graphs are also bound to one another (_connect_split_graphs). `_loaded`
        is the prepared garment these buffers hold (None: a garment of `run` or none).
        """
        self._inputs = {name: np.zeros(shape, np.float32) for name, shape in INPUT_SHAPES.items()}
        self._loaded: ClothesFeatures | None = None
        if self.layout == "fused":
            for name, buffer in self._inputs.items():
                self._fused.request.set_tensor(name, _shared_tensor(buffer))
            return
        for name, buffer in self._inputs.items():
            shared = _shared_tensor(buffer)
            self._render.request.set_tensor(name, shared)
            if self._features is not None and name in FEATURES_TENSORS.inputs:
                self._features.request.set_tensor(name, shared)
            if self._garment is not None and name == CLOTHES:
                self._garment.request.set_tensor(name, shared)
            if self._person is not None and name == PERSON:
                self._person.request.set_tensor(name, shared)
        self._connect_split_graphs()

    def _connect_split_graphs(self) -> None:
        """Bind the split graphs' tensors to one another once, so that a try-on passes no arrays.

        The five cost volumes live in host buffers shared with the level requests; the pyramid
        outputs of the person and garment graphs (or of the uncut features graph) are the level
        graphs' feature inputs (a prepared garment's pyramid is copied back into the garment
        graph's output buffers when it is tried on); each level's flow output is the next level's
        `last_flow` and, at the end, the render graph's `flow`. The numba kernel reads the
        pyramids and flows and writes the cost volumes in place. Feeding every graph a dict of
        arrays instead made OpenVINO wrap and check each one on every call: 0.7 ms of the default
        model's 13.
        """
        persons = (self._person or self._features).request
        garments = (self._garment or self._features).request
        # The garment's pyramid, finest first, as views of the garment graph's output buffers.
        self._garment_pyramid = [garments.get_tensor(cloth_pyramid(i)).data for i in range(LEVELS)]
        # Per level, coarsest first: (clothes feature, person feature, flow so far or None,
        # cost volume), the first three as views of OpenVINO's buffers.
        self._level_tensors = []
        flow = None
        for i, level in enumerate(self._levels):
            index = LEVELS - 1 - i
            cloth = garments.get_tensor(cloth_pyramid(index))
            person = persons.get_tensor(person_pyramid(index))
            batch, height, width, _ = cloth.shape  # NHWC, see _NHWC_TENSORS
            cost_volume = np.zeros((batch, kernels.NUM_SHIFTS, height, width), np.float32)
            level.request.set_tensor(CLOTH_FEATURE, cloth)
            level.request.set_tensor(PERSON_FEATURE, person)
            level.request.set_tensor(CORR, _shared_tensor(cost_volume))
            if flow is not None:
                level.request.set_tensor(LAST_FLOW, flow)
            self._level_tensors.append(
                (cloth.data, person.data, None if flow is None else flow.data, cost_volume)
            )
            flow = level.request.get_tensor(FLOW)
        self._render.request.set_tensor(FLOW, flow)
        self._final_flow = flow.data

    def run(self, person: np.ndarray, clothes: np.ndarray, edge: np.ndarray) -> TryOnOutput:
        """Try `clothes` (masked by `edge`) on `person`; shapes as in the module docstring.

        The garment's branch is computed for this try-on alone (its time counts in "encoders");
        `prepare_clothes` computes it once for many.

        Raises:
            TryOnError: an input does not have its shape.
        """
        _check_shape(PERSON, person)
        garment_ms = self._prepare(clothes, edge)
        np.copyto(self._inputs[PERSON], person)
        if self.layout == "fused":
            return self._run_fused()
        output = self._run_split()
        timings = dict(output.timings_ms)
        timings["encoders"] += garment_ms
        timings["total"] += garment_ms
        return replace(output, timings_ms=timings)

    def prepare_clothes(self, clothes: np.ndarray, edge: np.ndarray) -> ClothesFeatures:
        """The garment's half of its try-ons: `clothes` masked by the binarised `edge` and, in the
        split layout, its feature pyramid (the garment graph run once).

        Raises:
            TryOnError: an input does not have its shape.
        """
        garment_ms = self._prepare(clothes, edge)
        pyramid = None
        if self.caches_garments:
            pyramid = tuple(np.array(features) for features in self._garment_pyramid)
        prepared = ClothesFeatures(
            self._inputs[CLOTHES].copy(),
            self._inputs[EDGE].copy(),
            pyramid,
            {"garment": garment_ms},
            self._owner,
        )
        self._loaded = prepared  # the buffers hold it now
        return prepared

    def _prepare(self, clothes: np.ndarray, edge: np.ndarray) -> float:
        """Write a garment into the input buffers and run its branch; its wall time in ms."""
        _check_shape(CLOTHES, clothes)
        _check_shape(EDGE, edge)
        self._loaded = None
        # The model sees the clothes masked by the binarised edge, and that edge.
        inputs = self._inputs
        np.greater(np.asarray(edge, dtype=np.float32), np.float32(0.5), out=inputs[EDGE])
        np.multiply(clothes, inputs[EDGE], out=inputs[CLOTHES])
        start = time.perf_counter()
        if self.caches_garments:
            self._garment.request.infer()
        return (time.perf_counter() - start) * 1e3

    def run_prepared(
        self,
        person: np.ndarray,
        garment: ClothesFeatures,
        *,
        flow_filter: FlowFilter | None = None,
    ) -> TryOnOutput:
        """Try a prepared garment on `person`, (1, 3, 256, 192) float32 in [-1, 1].

        Args:
            person: the person canvas as a model input.
            garment: `prepare_clothes`'s result, from this pipeline or one of its forks.
            flow_filter: called with the final flow before the generator runs (split layout;
                the fused graph keeps its flow inside).

        Raises:
            TryOnError: `person` does not have its shape, or `garment` was prepared by another
                model.
        """
        _check_shape(PERSON, person)
        if garment.owner is not self._owner:
            raise TryOnError("this garment was prepared by another model: prepare it again")
        self._load(garment)
        np.copyto(self._inputs[PERSON], person)
        return self._run_fused() if self.layout == "fused" else self._run_split(flow_filter)

    def _load(self, garment: ClothesFeatures) -> None:
        """Copy a prepared garment into the buffers the graphs read, unless it is already there."""
        if garment is self._loaded:
            return
        np.copyto(self._inputs[CLOTHES], garment.clothes)
        np.copyto(self._inputs[EDGE], garment.edge)
        if self.caches_garments:
            for buffer, features in zip(self._garment_pyramid, garment.pyramid, strict=True):
                np.copyto(buffer, features)
        self._loaded = garment

    def _run_fused(self) -> TryOnOutput:
        start = time.perf_counter()
        self._fused.request.infer()
        total = (time.perf_counter() - start) * 1e3
        out = self._fused.outputs()
        return _output(out, out_flow=out[LAST_FLOW], timings={"total": total})

    def _run_split(self, flow_filter: FlowFilter | None = None) -> TryOnOutput:
        """The try-on on the inputs already in the bound buffers (_connect_split_graphs)."""
        clock = time.perf_counter
        timings = dict.fromkeys(STAGES, 0.0)
        start = clock()
        (self._person or self._features).request.infer()
        timings["encoders"] = (clock() - start) * 1e3

        # Level i = 0 is the coarsest (8x6). Each level correlates its clothes feature, warped by
        # the flow so far as the kernel reads it, with its person feature; its graph returns the
        # flow, upsampled to the next level's size.
        for (cloth, person, flow, cost_volume), level in zip(
            self._level_tensors, self._levels, strict=True
        ):
            t0 = clock()
            kernels.correlation(cloth, person, out=cost_volume, layout="NHWC", flow=flow)
            t1 = clock()
            level.request.infer()
            t2 = clock()
            timings["correlation"] += (t1 - t0) * 1e3
            timings["flow"] += (t2 - t1) * 1e3

        if flow_filter is not None:
            flow_filter(self._final_flow)  # the render graph's flow input is this buffer
        t0 = clock()
        self._render.request.infer()
        timings["generator"] = (clock() - t0) * 1e3
        timings["total"] = (clock() - start) * 1e3
        return _output(self._render.outputs(), out_flow=self._final_flow, timings=timings)


def _check_shape(name: str, array: np.ndarray) -> None:
    if np.shape(array) != INPUT_SHAPES[name]:
        raise TryOnError(f"{name} must have shape {INPUT_SHAPES[name]}; got {np.shape(array)}")


def _shared_tensor(array: np.ndarray):
    """An OpenVINO tensor over `array`'s memory (no copy): what one writes, the other sees."""
    import openvino as ov

    return ov.Tensor(array, shared_memory=True)


def _output(
    out: dict[str, np.ndarray], out_flow: np.ndarray, timings: dict[str, float]
) -> TryOnOutput:
    # Copies: the request buffers are overwritten by the next call.
    optional = {name: np.array(out[name]) if name in out else None for name in COMPOSITION_OUTPUTS}
    return TryOnOutput(
        p_tryon=np.array(out[P_TRYON]),
        warped_cloth=np.array(out[WARPED_CLOTH]),
        warped_edge=np.array(out[WARPED_EDGE]),
        last_flow=np.array(out_flow),
        timings_ms=timings,
        **optional,
    )
