"""The split pipeline's channels-last interface: which tensors turn NHWC, and that values survive."""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from tryon_app.core.pipeline import _channels_last_interface


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
