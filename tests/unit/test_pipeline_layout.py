"""What the split pipeline changes in a graph at load time: the channels-last interface (which
tensors turn NHWC, and that values survive) and the cut of older level graphs' feature warp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

import kernels
from tryon_app.core.pipeline import _channels_last_interface, _without_legacy_warp

LEGACY_LEVEL = Path(__file__).parents[1] / "data" / "legacy_level_3.xml"


def feature_model() -> ov.Model:
    """person (1, 3, 4, 5) -> person_0 = person * 2 (a pyramid tensor) and flow = person + 1."""
    person = ops.parameter([1, 3, 4, 5], np.float32, name="person")
    doubled = ops.multiply(person, ops.constant(np.float32(2.0)))
    doubled.output(0).set_names({"person_0"})
    shifted = ops.add(person, ops.constant(np.float32(1.0)))
    shifted.output(0).set_names({"flow"})
    return ov.Model([doubled, shifted], [person], "features")


def test_pyramid_outputs_become_nhwc_and_other_tensors_stay_nchw():
    model = _channels_last_interface(feature_model())
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    person = np.random.default_rng(0).standard_normal((1, 3, 4, 5)).astype(np.float32)
    out = compiled({"person": person})
    pyramid = out[compiled.output("person_0")]
    assert pyramid.shape == (1, 4, 5, 3)
    np.testing.assert_array_equal(pyramid, (person * 2).transpose(0, 2, 3, 1))
    assert tuple(compiled.input("person").get_shape()) == (1, 3, 4, 5)
    np.testing.assert_array_equal(out[compiled.output("flow")], person + 1)


def test_pyramid_inputs_become_nhwc():
    feature = ops.parameter([1, 3, 4, 5], np.float32, name="person_feature")
    total = ops.reduce_sum(feature, ops.constant(np.array([1], dtype=np.int64)), keep_dims=True)
    total.output(0).set_names({"sum"})
    model = _channels_last_interface(ov.Model([total], [feature], "level"))
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    assert tuple(compiled.input("person_feature").get_shape()) == (1, 4, 5, 3)
    nchw = np.random.default_rng(1).standard_normal((1, 3, 4, 5)).astype(np.float32)
    out = compiled({"person_feature": np.ascontiguousarray(nchw.transpose(0, 2, 3, 1))})
    np.testing.assert_allclose(out[compiled.output("sum")], nchw.sum(1, keepdims=True), rtol=1e-6)


def test_a_graph_without_pyramid_tensors_is_returned_as_is():
    x = ops.parameter([1, 2], np.float32, name="x")
    model = ov.Model([ops.relu(x)], [x], "other")
    assert _channels_last_interface(model) is model


def legacy_level_model() -> ov.Model:
    """A level graph as exported before the kernel warped its input: corr -> flow, plus the branch
    next_cloth_feature -> next_warped_cloth_feature that the pipeline no longer reads."""
    corr = ops.parameter([1, 2, 3, 4], np.float32, name="corr")
    next_feature = ops.parameter([1, 5, 6, 8], np.float32, name="next_cloth_feature")
    flow = ops.multiply(corr, ops.constant(np.float32(3.0)))
    flow.output(0).set_names({"flow"})
    warped = ops.relu(next_feature)
    warped.output(0).set_names({"next_warped_cloth_feature"})
    return ov.Model([flow, warped], [corr, next_feature], "level")


def test_legacy_level_graph_loses_its_feature_warp_and_keeps_its_flow():
    model = _without_legacy_warp(legacy_level_model())
    assert [port.get_any_name() for port in model.inputs] == ["corr"]
    assert [port.get_any_name() for port in model.outputs] == ["flow"]
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    corr = np.random.default_rng(2).standard_normal((1, 2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(compiled({"corr": corr})[compiled.output("flow")], corr * 3)


def test_a_current_level_graph_is_not_cut():
    corr = ops.parameter([1, 2, 3, 4], np.float32, name="corr")
    flow = ops.relu(corr)
    flow.output(0).set_names({"flow"})
    model = ov.Model([flow], [corr], "level")
    assert _without_legacy_warp(model) is model


@pytest.mark.parametrize("shape", [(1, 5, 6, 8), (2, 40, 16, 12)], ids=str)
def test_kernel_warp_reads_what_openvino_grid_sample_gives(shape):
    """The warp the level graphs used to export (GridSample bilinear, border, align_corners=True)
    and the kernel's own sampling agree, flows leaving the image included."""
    batch, channels, height, width = shape
    data = ops.parameter(list(shape), np.float32, name="data")
    grid = ops.parameter([batch, 2, height, width], np.float32, name="grid")
    sampled = ops.grid_sample(
        data,
        ops.transpose(grid, ops.constant(np.array([0, 2, 3, 1], dtype=np.int64))),
        {"align_corners": True, "mode": "bilinear", "padding_mode": "border"},
    )
    compiled = ov.Core().compile_model(
        ov.Model([sampled], [data, grid], "warp"), "CPU", {"INFERENCE_PRECISION_HINT": "f32"}
    )
    rng = np.random.default_rng(3)
    feature, second = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    flow = rng.uniform(-1.3, 1.3, (batch, 2, height, width)).astype(np.float32)
    warped = compiled({"data": feature, "grid": flow})[compiled.output(0)]
    expected = kernels.correlation(warped, second)
    got = kernels.correlation(feature, second, flow=flow)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_legacy_level_graph_cut_keeps_its_flow_and_the_kernel_warps_as_it_did():
    """Artifacts exported before the correlation kernel warped the clothes feature have level
    graphs that make a warped copy of it (tests/data/legacy_level_3: level 3 of an earlier
    shipped default). Cut at load, a level gives the same flow, and the kernel's warp of the
    next feature correlates like the graph's own warped copy did."""
    core = ov.Core()
    config = {"INFERENCE_PRECISION_HINT": "f32"}
    path = LEGACY_LEVEL
    whole = core.compile_model(core.read_model(path), "CPU", config)
    cut = core.compile_model(_without_legacy_warp(core.read_model(path)), "CPU", config)
    assert {port.get_any_name() for port in cut.inputs} == {
        "corr",
        "cloth_feature",
        "person_feature",
        "last_flow",
    }
    rng = np.random.default_rng(4)
    inputs = {port.get_any_name(): port for port in whole.inputs}
    feed = {
        name: rng.standard_normal(tuple(port.shape)).astype(np.float32)
        for name, port in inputs.items()
    }
    height, width = feed["last_flow"].shape[2:]
    ys, xs = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    feed["last_flow"] = (np.stack([xs, ys])[None] + 0.05 * feed["last_flow"]).astype(np.float32)
    out_whole = whole(feed)
    out_cut = cut({name: value for name, value in feed.items() if name != "next_cloth_feature"})
    flow = out_whole[whole.output("flow")]
    np.testing.assert_array_equal(out_cut[cut.output("flow")], flow)

    warped = out_whole[whole.output("next_warped_cloth_feature")]
    person = rng.standard_normal(warped.shape).astype(np.float32)
    expected = kernels.correlation(warped, person)
    got = kernels.correlation(feed["next_cloth_feature"], person, flow=flow)
    # Float rounding only (GridSample's weights may round differently); a wrong convention
    # moves values by their own size.
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
