"""Post-training INT8 quantization with Intel Neural Compressor (PT2E), a baseline beside NNCF.

INC 3.x quantizes torch models only through PT2E here: ``neural_compressor.torch.export.export``
captures the graph, ``prepare`` inserts observers (the default static config: per-channel
symmetric int8 weights, per-tensor asymmetric uint8 activations, min/max), calibration runs the
recorded inputs, ``convert`` turns observers into quantize/dequantize pairs, and
``ov.convert_model`` of the re-exported program gives an OpenVINO model with FakeQuantize ops.
Its x86 quantizer leaves grid sampling in float on its own, so the flows are not quantized.
"""

from __future__ import annotations

import copy
import itertools
import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from optimization.graphs import GraphSpec

log = logging.getLogger(__name__)


class IncQuantizationError(RuntimeError):
    """INC could not quantize a graph (the message names the graph and the failing step)."""


class ChannelAffine(nn.Module):
    """A batch norm in eval mode as a per-channel ``x * scale + shift`` (what BN computes then)."""

    def __init__(self, norm: nn.BatchNorm2d):
        super().__init__()
        scale = norm.weight.detach() / torch.sqrt(norm.running_var + norm.eps)
        self.register_buffer("scale", scale.view(1, -1, 1, 1).clone())
        shift = norm.bias.detach() - norm.running_mean * scale
        self.register_buffer("shift", shift.view(1, -1, 1, 1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


def without_batch_norm(module: nn.Module) -> nn.Module:
    """An eval-mode copy of `module` whose batch norms are folded away.

    A BN right after a convolution in an ``nn.Sequential`` goes into that convolution's weights;
    any other BN (PF-AFN's pre-activation blocks start with one) becomes a `ChannelAffine`. The
    output is unchanged up to float rounding. INC's ``convert`` otherwise re-traces 96 conv-BN
    pattern graphs for every graph that contains a BN, about 40 s each here, to fold the same
    thing.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = copy.deepcopy(module).eval()
    for parent in list(folded.modules()):
        if isinstance(parent, nn.Sequential):
            children = list(parent.named_children())
            for (conv_name, conv), (norm_name, norm) in itertools.pairwise(children):
                if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                    setattr(parent, conv_name, fuse_conv_bn_eval(conv, norm))
                    setattr(parent, norm_name, nn.Identity())
    for parent in list(folded.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(parent, name, ChannelAffine(child))
    return folded


@contextmanager
def _quiet_inc():
    """INC logs every pass at INFO on its own handler; keep it to warnings."""
    logger = logging.getLogger("neural_compressor")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def check_inc() -> None:
    """Import INC's torch API.

    Raises:
        IncQuantizationError: INC or one of its ``[pt]`` extras is missing, with the import error.
    """
    try:
        with _quiet_inc():
            import neural_compressor.torch.export  # noqa: F401
            import neural_compressor.torch.quantization  # noqa: F401
    except ImportError as error:
        raise IncQuantizationError(
            f"Intel Neural Compressor's torch API does not import ({error}); install "
            '`pip install -c constraints.txt "neural-compressor[pt]"`'
        ) from error


def quantize_graph_inc(spec: GraphSpec, inputs: list[tuple]):
    """INT8 OpenVINO model of one exported graph, quantized by INC's PT2E static PTQ.

    Args:
        spec: the graph (torch module, example inputs, tensor names), as
            `optimization.graphs.graph_specs` gives it.
        inputs: the graph's recorded calibration inputs, numpy tuples
            (`optimization.quantize.calibration_inputs`).

    Returns:
        An ``openvino.Model`` with static input shapes and the same input and output tensor
        names as `optimization.export.convert` gives.

    Raises:
        IncQuantizationError: INC is not usable, or one of its steps failed on this graph.
    """
    import openvino as ov

    check_inc()
    from neural_compressor.torch.export import export
    from neural_compressor.torch.quantization import convert, get_default_static_config, prepare

    if not inputs:
        raise IncQuantizationError(f"{spec.relative_path}: no calibration inputs")
    module = without_batch_norm(spec.module)
    step = "export"
    try:
        with _quiet_inc(), torch.no_grad():
            captured = export(module, spec.example)
            step = "prepare"
            observed = prepare(captured, get_default_static_config())
            step = "calibration"
            for item in inputs:
                observed(*(torch.from_numpy(array) for array in item))
            step = "convert"
            quantized = convert(observed)
            step = "torch.export of the quantized graph"
            program = torch.export.export(quantized, spec.example)
            step = "ov.convert_model"
            model = ov.convert_model(program, input=[tuple(t.shape) for t in spec.example])
    except Exception as error:  # INC and torch.export raise many unrelated types
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise IncQuantizationError(
            f"{spec.relative_path}: INC {step} failed: {type(error).__name__}: {first_line}"
        ) from error
    expected_shapes = [tuple(t.shape) for t in spec.example]
    got_shapes = [tuple(port.get_partial_shape().to_shape()) for port in model.inputs]
    if got_shapes != expected_shapes:
        raise IncQuantizationError(
            f"{spec.relative_path}: quantized graph takes {got_shapes}, expected {expected_shapes}"
        )
    spec.name_tensors(model)
    return model


def quantize_or_keep_float(float_model, spec: GraphSpec, inputs: list[tuple]):
    """`quantize_graph_inc`, or `float_model` unchanged (with a warning) where INC fails.

    A missing INC installation is not a per-graph failure and still raises.
    """
    check_inc()
    try:
        return quantize_graph_inc(spec, inputs)
    except IncQuantizationError as error:
        log.warning("%s; keeping this graph in float", error)
        return float_model


def count_fake_quantize(model) -> int:
    """FakeQuantize ops of an OpenVINO model: 0 means the graph runs in float."""
    return sum(op.get_type_name() == "FakeQuantize" for op in model.get_ops())
