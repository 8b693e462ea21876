"""A garment prepared once and tried on many persons gives the try-ons of the whole model.

The features graph is cut at load time into a garment graph and a person graph; the cut must not
change a number, and a prepared garment must stay what it was while others are prepared.
"""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

from tryon_app.core.errors import TryOnError
from tryon_app.core.paths import bundled_models_dir
from tryon_app.core.pipeline import _branches

DEFAULT = bundled_models_dir() / "default"
needs_default = pytest.mark.skipif(
    not (DEFAULT / "metadata.json").is_file(), reason="no shipped model"
)
OUTPUTS = ("p_tryon", "warped_cloth", "warped_edge", "last_flow", "p_rendered", "m_composite")


def features_model(person_reads_clothes: bool) -> ov.Model:
    """person, clothes (1, 3, 4, 4) -> cloth_i = clothes * i, person_i = person + i (or + clothes)."""
    person = ops.parameter([1, 3, 4, 4], np.float32, name="person")
    clothes = ops.parameter([1, 3, 4, 4], np.float32, name="clothes")
    outputs = []
    for level in range(5):
        cloth = ops.multiply(clothes, ops.constant(np.float32(level)))
        cloth.output(0).set_names({f"cloth_{level}"})
        other = clothes if person_reads_clothes and level == 2 else ops.constant(np.float32(level))
        mine = ops.add(person, other)
        mine.output(0).set_names({f"person_{level}"})
        outputs += [cloth, mine]
    return ov.Model(outputs, [person, clothes], "features")


def test_separate_branches_are_cut_into_a_garment_and_a_person_graph():
    garment, person = _branches(features_model(person_reads_clothes=False))
    assert [port.get_any_name() for port in garment.inputs] == ["clothes"]
    assert sorted(port.get_any_name() for port in garment.outputs) == [
        f"cloth_{i}" for i in range(5)
    ]
    assert [port.get_any_name() for port in person.inputs] == ["person"]
    compiled = ov.Core().compile_model(person, "CPU")
    value = np.ones((1, 3, 4, 4), np.float32)
    np.testing.assert_array_equal(compiled({"person": value})[compiled.output("person_3")], 4.0)


def test_a_person_branch_that_reads_the_garment_is_not_cut():
    assert _branches(features_model(person_reads_clothes=True)) is None


def model_inputs(seed: int):
    rng = np.random.default_rng(seed)
    person = rng.uniform(-1, 1, (1, 3, 256, 192)).astype(np.float32)
    clothes = rng.uniform(-1, 1, (1, 3, 256, 192)).astype(np.float32)
    edge = np.zeros((1, 1, 256, 192), np.float32)
    edge[..., 30 + seed : 210, 40 : 150 + seed] = 0.9
    return person, clothes, edge


@pytest.fixture(scope="module")
def pipelines():
    """The default model as it runs (features graph cut) and uncut, as it ran before the cut."""
    from unittest import mock

    from tryon_app.core.artifact import load_artifact
    from tryon_app.core.pipeline import RuntimeOptions, TryOnPipeline

    artifact = load_artifact(DEFAULT)
    options = RuntimeOptions(cache_dir=None)
    cut = TryOnPipeline(artifact, options)
    with mock.patch("tryon_app.core.pipeline._branches", return_value=None):
        whole = TryOnPipeline(artifact, options)
    assert cut.caches_garments and not whole.caches_garments
    return cut, whole


@pytest.mark.slow
@needs_default
def test_a_prepared_garment_gives_the_whole_model_try_on_bit_for_bit(pipelines):
    cut, whole = pipelines
    _, clothes, edge = model_inputs(0)
    garment = cut.prepare_clothes(clothes, edge)
    other_garment = cut.prepare_clothes(*model_inputs(1)[1:])  # prepared in between
    for seed in (2, 3):
        person = model_inputs(seed)[0]
        expected = whole.run(person, clothes, edge)
        for output in (cut.run(person, clothes, edge), cut.run_prepared(person, garment)):
            for name in OUTPUTS:
                np.testing.assert_array_equal(getattr(output, name), getattr(expected, name))
        other = cut.run_prepared(person, other_garment)
        assert np.abs(other.p_tryon - expected.p_tryon).max() > 0.1
    assert garment.timings_ms["garment"] > 0


@pytest.mark.slow
@needs_default
def test_a_fork_tries_on_the_garment_its_parent_prepared(pipelines):
    cut, _ = pipelines
    person, clothes, edge = model_inputs(4)
    garment = cut.prepare_clothes(clothes, edge)
    expected = cut.run_prepared(person, garment)
    twin = cut.fork()
    np.testing.assert_array_equal(twin.run_prepared(person, garment).p_tryon, expected.p_tryon)


@pytest.mark.slow
@needs_default
def test_another_models_garment_is_refused(pipelines):
    cut, whole = pipelines
    person, clothes, edge = model_inputs(5)
    with pytest.raises(TryOnError, match="prepared by another model"):
        whole.run_prepared(person, cut.prepare_clothes(clothes, edge))


@pytest.mark.slow
@needs_default
def test_the_flow_filter_changes_what_the_generator_renders(pipelines):
    cut, _ = pipelines
    person, clothes, edge = model_inputs(6)
    garment = cut.prepare_clothes(clothes, edge)
    plain = cut.run_prepared(person, garment)
    seen = []

    def identity_flow(flow: np.ndarray) -> None:
        seen.append(flow.copy())
        flow[...] = np.stack(np.meshgrid(np.linspace(-1, 1, 192), np.linspace(-1, 1, 256)))[None]

    filtered = cut.run_prepared(person, garment, flow_filter=identity_flow)
    np.testing.assert_array_equal(seen[0], plain.last_flow)
    # The garment is sampled where it lies on its own canvas: the warped garment is the masked
    # garment itself.
    np.testing.assert_allclose(filtered.warped_cloth, clothes * (edge > 0.5), atol=1e-4)
    assert np.abs(filtered.p_tryon - plain.p_tryon).max() > 0.1


@pytest.mark.slow
@needs_default
def test_the_engine_tries_a_prepared_garment_on_photos_as_it_tries_a_garment_photo():
    from tryon_app.core.engine import TryOnEngine

    engine = TryOnEngine(DEFAULT)
    rng = np.random.default_rng(9)
    garment = np.full((300, 240, 3), 250, np.uint8)
    garment[40:260, 50:190] = (30, 90, 200)
    prepared = engine.prepare_garment(garment)
    assert prepared.mask.shape == (256, 192) and prepared.mask.max() == 255
    for size in ((256, 192), (480, 640)):
        person = np.full((*size, 3), 200, np.uint8)
        person[size[0] // 5 :, size[1] // 3 : 2 * size[1] // 3] = rng.integers(0, 256, 3)
        expected = engine.try_on(person, garment, framing="letterbox")
        result = engine.try_on(person, prepared, framing="letterbox")
        np.testing.assert_array_equal(result.image, expected.image)
        np.testing.assert_array_equal(result.garment_mask, expected.garment_mask)
    with pytest.raises(ValueError, match="prepared garment has its mask"):
        engine.try_on(person, prepared, prepared.mask)
