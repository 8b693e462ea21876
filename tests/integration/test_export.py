"""Exported artifacts reproduce the torch model through the app's own loader."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.optimize
torch = pytest.importorskip("torch")

from optimization.archs.tryon import tryon_forward  # noqa: E402
from optimization.export import export_artifact  # noqa: E402
from optimization.graphs import sample_inputs  # noqa: E402
from tryon_app.core.artifact import load_artifact  # noqa: E402
from tryon_app.core.pipeline import RuntimeOptions, TryOnPipeline  # noqa: E402


def _torch_reference(models, inputs):
    with torch.no_grad():
        return tryon_forward(*models, *inputs)


@pytest.mark.parametrize("layout", ["split", "fused"])
def test_f32_artifact_matches_torch(tiny_models, tiny_artifact, layout):
    inputs = sample_inputs(seed=5)
    expected = _torch_reference(tiny_models, inputs)
    pipeline = TryOnPipeline(
        load_artifact(tiny_artifact), RuntimeOptions(precision="f32", layout=layout, cache_dir=None)
    )
    got = pipeline.run(*(t.numpy() for t in inputs))
    assert np.abs(got.p_tryon - expected["p_tryon"].numpy()).max() < 1e-3
    assert np.abs(got.warped_cloth - expected["warped_cloth"].numpy()).max() < 1e-3
    assert np.abs(got.last_flow - expected["last_flow"].numpy()).max() < 1e-4
    if layout == "split":
        assert set(got.timings_ms) >= {"encoders", "correlation", "flow", "generator", "total"}


def test_a_depth_pruned_warp_exports_and_matches_torch(tiny_models, tmp_path):
    """Removed encoder blocks and refinement heads (`optimize cwm --depth`) export like any
    student: the split graphs (run with the numba cost volume) and the fused one match torch."""
    import re

    from optimization.depth import remove_warp_depth, sample_pairs
    from optimization.recipes import DepthRecipe

    warp_model, gen_model = tiny_models
    recipe = DepthRecipe.parse("blocks=1,r4=0,r2=0", "cwm")
    shallower, _, _ = remove_warp_depth(warp_model, recipe, sample_pairs(None, 1))
    out = export_artifact(shallower, gen_model, tmp_path / "depth")
    architecture = load_artifact(out).metadata["architecture"]["warp"]
    assert architecture["flow_refine"][4] == architecture["flow_refine"][2] == [0, 0, 0]

    def convolutions(graph: str) -> int:
        return len(re.findall(r'type="Convolution"', (out / "split" / graph).read_text()))

    # A level without its refinement head runs its main head's 4 convolutions only.
    assert convolutions("level_4.xml") == convolutions("level_2.xml") == 4
    assert convolutions("level_3.xml") == 8
    inputs = sample_inputs(seed=5)
    expected = _torch_reference((shallower, gen_model), inputs)
    for layout in ("split", "fused"):
        options = RuntimeOptions(precision="f32", layout=layout, cache_dir=None)
        got = TryOnPipeline(load_artifact(out), options).run(*(t.numpy() for t in inputs))
        assert np.abs(got.p_tryon - expected["p_tryon"].numpy()).max() < 1e-3, layout
        assert np.abs(got.last_flow - expected["last_flow"].numpy()).max() < 1e-4, layout


def test_split_pipeline_runs_and_forks_do_not_leak_into_each_other(tiny_artifact):
    """The split graphs share bound buffers: each run must read only its own inputs, and a fork
    must have buffers of its own."""
    options = RuntimeOptions(precision="f32", layout="split", cache_dir=None)
    first, second = sample_inputs(seed=6), sample_inputs(seed=7)
    first, second = ([t.numpy() for t in inputs] for inputs in (first, second))
    pipeline = TryOnPipeline(load_artifact(tiny_artifact), options)
    fresh = TryOnPipeline(load_artifact(tiny_artifact), options).run(*second)
    result_first = pipeline.run(*first)
    twin = pipeline.fork()
    result_second = pipeline.run(*second)
    np.testing.assert_array_equal(result_second.p_tryon, fresh.p_tryon)
    np.testing.assert_array_equal(result_second.last_flow, fresh.last_flow)
    np.testing.assert_array_equal(twin.run(*first).p_tryon, result_first.p_tryon)
    assert not np.array_equal(result_first.p_tryon, result_second.p_tryon)
    np.testing.assert_array_equal(pipeline.run(*first).p_tryon, result_first.p_tryon)


@pytest.mark.parametrize("layout", ["split", "fused"])
def test_pipeline_refuses_inputs_of_the_wrong_shape(tiny_artifact, layout):
    from tryon_app.core.errors import TryOnError

    pipeline = TryOnPipeline(
        load_artifact(tiny_artifact), RuntimeOptions(precision="f32", layout=layout, cache_dir=None)
    )
    person, clothes, edge = (t.numpy() for t in sample_inputs(seed=5))
    with pytest.raises(TryOnError, match=r"edge must have shape \(1, 1, 256, 192\)"):
        pipeline.run(person, clothes, edge[0])


def test_metadata_describes_the_artifact(tiny_artifact):
    metadata = load_artifact(tiny_artifact).metadata
    assert metadata["precision"] == "fp32"
    assert metadata["verification"]["split_max_abs_p_tryon"] < 1e-3
    assert len(metadata["layouts"]["split"]["levels"]) == 5
    assert all(name.endswith((".xml", ".bin")) for name in metadata["files"])


def test_onnx_export_runs_through_openvino_onnx_frontend(tiny_models, tmp_path):
    onnx = pytest.importorskip("onnx")
    import openvino as ov

    out = export_artifact(*tiny_models, tmp_path / "with-onnx", onnx=True, verify=False)
    model = onnx.load(str(out / "fused.onnx"))
    assert model.opset_import[0].version >= 16
    assert any(node.op_type == "GridSample" for node in model.graph.node)
    compiled = ov.Core().compile_model(
        str(out / "fused.onnx"), "CPU", {"INFERENCE_PRECISION_HINT": "f32"}
    )
    inputs = sample_inputs(seed=2)
    got = compiled([t.numpy() for t in inputs])[0]
    expected = _torch_reference(tiny_models, inputs)["p_tryon"].numpy()
    assert np.abs(got - expected).max() < 1e-3


def test_fp16_artifact_is_smaller_and_close(tiny_models, tiny_artifact, tmp_path):
    out = export_artifact(*tiny_models, tmp_path / "half", precision="fp16")

    def weight_bytes(root):
        return sum(path.stat().st_size for path in root.rglob("*.bin"))

    # The weights halve; the XML (graph structure) does not, and dominates for a tiny model.
    assert weight_bytes(out) < 0.55 * weight_bytes(tiny_artifact)
    assert load_artifact(out).metadata["verification"]["split_max_abs_p_tryon"] < 2e-2


@pytest.mark.slow
def test_int8_artifact_quantizes_convolutions(tiny_models, tmp_path):
    from optimization.quantize import load_calibration

    calibration = load_calibration(None, size=4)
    out = export_artifact(
        *tiny_models, tmp_path / "int8", precision="int8", calibration=calibration
    )
    xml = (out / "split" / "render.xml").read_text()
    assert "FakeQuantize" in xml
    verification = load_artifact(out).metadata["verification"]
    assert verification["split_mean_abs_p_tryon"] <= 3e-2
    assert verification["split_max_abs_p_tryon"] > 1e-4  # it really is quantized


@pytest.mark.slow
def test_int8_keeps_the_named_graphs_float(tiny_models, tmp_path):
    from optimization.quantize import load_calibration

    calibration = load_calibration(None, size=4)
    out = export_artifact(
        *tiny_models,
        tmp_path / "int8",
        precision="int8",
        calibration=calibration,
        float_graphs=("levels",),
    )
    quantized = {
        p.relative_to(out).as_posix() for p in out.rglob("*.xml") if "FakeQuantize" in p.read_text()
    }
    assert quantized == {"split/features.xml", "split/render.xml"}
    metadata = load_artifact(out).metadata
    assert sorted(metadata["quantized_graphs"]) == sorted(quantized)
    assert metadata["float_graphs"] == ["levels"]


@pytest.mark.parametrize(
    ("precision", "float_graphs"), [("int8", ("flow",)), ("fp32", ("levels",))]
)
def test_float_graphs_are_checked_before_anything_is_written(
    tiny_models, tmp_path, precision, float_graphs
):
    with pytest.raises(ValueError, match="float graphs"):
        export_artifact(
            *tiny_models, tmp_path / "out", precision=precision, float_graphs=float_graphs
        )
    assert list(tmp_path.iterdir()) == []


def test_export_outside_tolerance_fails_in_one_line_and_keeps_the_old_artifact(
    tiny_models, tiny_artifact, tmp_path, monkeypatch, capsys
):
    import copy
    import shutil

    from optimization import export
    from optimization.checkpoints import save_checkpoint
    from optimization.cli import main as optimize
    from optimization.prune import measure_widths

    warp_model, gen_model = tiny_models
    retrained = copy.deepcopy(gen_model)  # a new model, so its files would differ
    with torch.no_grad():
        next(retrained.parameters()).add_(0.1)
    for name, model in (("warp", warp_model), ("gen", retrained)):
        save_checkpoint(tmp_path / f"{name}.pth", model, measure_widths(model))
    out = shutil.copytree(tiny_artifact, tmp_path / "out")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    # No export is exact to a negative bound: stands in for a model that does not convert well.
    monkeypatch.setitem(export.TOLERANCE, "fp32", ("max", -1.0))
    arguments = ["--warp", str(tmp_path / "warp.pth"), "--gen", str(tmp_path / "gen.pth")]
    code = optimize(["-q", "export", *arguments, "--out", str(out)])

    assert code == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "differs from torch" in error and "tolerance" in error and "left as it was" in error
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen.pth", "out", "warp.pth"]
