"""The compression chain end to end on a tiny model: synthetic data -> prune -> distill -> QAT
-> export -> `tryon run`, plus distillation under torchrun with two CPU processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = [pytest.mark.optimize, pytest.mark.slow]
torch = pytest.importorskip("torch")
pytest.importorskip("nncf")
pytest.importorskip("torch_pruning")

from optimization.archs.tryon import build_models  # noqa: E402
from optimization.archs.widths import tiny_gen_widths, tiny_warp_widths  # noqa: E402
from optimization.checkpoints import load_network, save_checkpoint  # noqa: E402
from optimization.cli import main as optimize  # noqa: E402
from optimization.data.synthetic import write_dataset  # noqa: E402
from optimization.model_stats import count_parameters  # noqa: E402

# Tiny networks are 8 and 16 channels wide: round to 4 so that pruning has room.
TINY = ["--round-to", "4", "--batch-size", "3"]


@pytest.fixture(scope="module")
def teacher_and_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("compress")
    torch.manual_seed(0)
    warp_model, gen_model = build_models(tiny_warp_widths(), tiny_gen_widths())
    save_checkpoint(root / "teacher" / "warp.pth", warp_model, tiny_warp_widths())
    save_checkpoint(root / "teacher" / "gen.pth", gen_model, tiny_gen_widths())
    write_dataset(root / "data", n_pairs=6, seed=11, progress=False)
    return root


def _teacher_args(root) -> list[str]:
    return [
        "--warp",
        str(root / "teacher" / "warp.pth"),
        "--gen",
        str(root / "teacher" / "gen.pth"),
    ]


def _offset_conv_inputs(xml_path) -> list[list[str]]:
    """For every 2-output convolution of a graph, the op types feeding its data and weights."""
    import openvino as ov

    found = []
    for op in ov.Core().read_model(str(xml_path)).get_ordered_ops():
        if (
            op.get_type_name() == "Convolution"
            and op.get_output_partial_shape(0)[1].get_length() == 2
        ):
            found.append(
                [op.input(i).get_source_output().get_node().get_type_name() for i in range(2)]
            )
    return found


def test_prune_distill_qat_export_and_run(teacher_and_data, tmp_path, capsys):
    root = teacher_and_data
    run = tmp_path / "run"
    common = ["--out", str(run), *_teacher_args(root), "--data", str(root / "data"), *TINY]
    assert optimize(["-q", "cwm", "--ratio", "0.5", "--epochs", "1", "--no-export", *common]) == 0
    assert (
        optimize(
            [
                "-q",
                "igm",
                "--ratio",
                "0.5",
                "--epochs",
                "1",
                "--qat",
                "--qat-epochs",
                "1",
                "--calibration-pairs",
                "2",
                *common,
            ]
        )
        == 0
    )

    # Both networks of the student are narrower than the teacher's and load from their widths.
    student_warp = load_network(run / "student" / "warp.pth", "warp")
    student_gen = load_network(run / "student" / "gen.pth", "gen")
    assert student_warp.image_FPN.smooth[0].out_channels < tiny_warp_widths().fpn
    assert student_gen.model.model[2].block[0].out_channels < tiny_gen_widths().down[0] or (
        student_gen.model.submodule.downconv.out_channels < tiny_gen_widths().down[1]
    )
    stages = {path.stem for path in (run / "stages").glob("*.json")}
    assert stages == {"prune_cwm", "distill_cwm", "prune_igm", "distill_igm", "qat"}
    assert json.loads((run / "stages" / "prune_igm.json").read_text())[
        "parameters_after"
    ] < count_parameters(build_models(tiny_warp_widths(), tiny_gen_widths())[1])

    artifacts = {path.name for path in (run / "artifacts").iterdir()}
    assert artifacts == {"teacher-fp32", "cwm0.5-igm0.5-fp32", "cwm0.5-igm0.5-qat-int8"}
    int8 = run / "artifacts" / "cwm0.5-igm0.5-qat-int8"
    metadata = json.loads((int8 / "metadata.json").read_text())
    assert metadata["precision"] == "int8"
    assert metadata["verification"]["split_mean_abs_p_tryon"] <= 3e-2
    assert metadata["architecture"]["warp"]["fpn"] == student_warp.image_FPN.smooth[0].out_channels
    render = (int8 / "split" / "render.xml").read_text()
    assert "FakeQuantize" in render
    level = int8 / "split" / "level_4.xml"
    assert "FakeQuantize" in level.read_text()
    # The flow path stays float: the offset convolutions (2 outputs) see no quantized tensor.
    offset_inputs = _offset_conv_inputs(level)
    assert len(offset_inputs) == 2  # the main and the refine head of the level
    assert all("FakeQuantize" not in kinds for kinds in offset_inputs), offset_inputs

    from tryon_app.cli import main as tryon

    capsys.readouterr()
    out = tmp_path / "tryon.png"
    person = next((root / "data" / "test_img").iterdir())
    cloth = next((root / "data" / "test_clothes").iterdir())
    code = tryon(
        [
            "run",
            "--person",
            str(person),
            "--cloth",
            str(cloth),
            "--model",
            str(int8),
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    import cv2

    image = cv2.imread(str(out))
    assert image.shape == (256, 192, 3)
    assert np.abs(image.astype(int) - cv2.imread(str(person)).astype(int)).mean() > 1


def test_distillation_runs_under_torchrun_with_two_processes(teacher_and_data, tmp_path):
    root = teacher_and_data
    run = tmp_path / "ddp"
    common = ["--out", str(run), *_teacher_args(root), "--data", str(root / "data")]
    assert optimize(["-q", "prune", "cwm", "--ratio", "0.5", "--round-to", "4", *common]) == 0
    before = load_network(run / "student" / "warp.pth", "warp").state_dict()
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--standalone",
            "-m",
            "optimization.cli",
            "-q",
            "distill",
            "cwm",
            *common,
            "--epochs",
            "1",
            "--batch-size",
            "1",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    history = (run / "distill_cwm" / "distill_history.jsonl").read_text().splitlines()
    assert len(history) == 1  # one line per epoch, written by rank 0 only
    # Six pairs over two processes with batch 1: three steps each.
    assert json.loads(history[0])["steps"] == 3
    after = load_network(run / "student" / "warp.pth", "warp").state_dict()
    assert any(
        not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point()
    )


def _prune_both_then_qat(root, run, *qat_options):
    """Prune both tiny networks at 0.5, run `optimize qat` with `qat_options` (one epoch on two
    calibration pairs); return the QAT split graphs and the float student's split graphs."""
    from optimization.graphs import SplitTryOn
    from optimization.qat import load_qat

    common = ["--out", str(run), *_teacher_args(root), "--data", str(root / "data")]
    for module in ("cwm", "igm"):
        assert optimize(["-q", "prune", module, "--ratio", "0.5", "--round-to", "4", *common]) == 0
    qat = ["-q", "qat", "--qat-epochs", "1", "--calibration-pairs", "2", "--batch-size", "3"]
    assert optimize([*qat, *qat_options, *common]) == 0

    quantized, _, _ = load_qat(run / "qat" / "qat.pth")
    student = SplitTryOn.from_models(
        load_network(run / "student" / "warp.pth", "warp").eval(),
        load_network(run / "student" / "gen.pth", "gen").eval(),
    )
    return quantized, student


def test_qat_of_the_generator_alone_keeps_the_warping_graphs_float_and_frozen(
    teacher_and_data, tmp_path
):
    run = tmp_path / "run"
    quantized, student = _prune_both_then_qat(teacher_and_data, run, "--int8", "igm")
    for path, graph in quantized.graphs().items():
        if path == "split/render.xml":
            continue
        expected = student.graphs()[path].state_dict()
        assert graph.state_dict().keys() == expected.keys(), path
        assert all(torch.equal(graph.state_dict()[k], expected[k]) for k in expected), path

    artifact = run / "artifacts" / "cwm0.5-igm0.5-qat-int8-igm"
    metadata = json.loads((artifact / "metadata.json").read_text())
    assert metadata["precision"] == "int8"
    assert metadata["quantized_graphs"] == ["split/render.xml", "fused.xml"]
    assert "FakeQuantize" in (artifact / "split" / "render.xml").read_text()
    for level in ("features", "level_0", "level_4"):
        assert "FakeQuantize" not in (artifact / "split" / f"{level}.xml").read_text(), level


def test_qat_keeps_the_flow_levels_float_but_trains_them(teacher_and_data, tmp_path):
    run = tmp_path / "run"
    options = ("--float", "levels", "--qat-lr", "1e-3")
    quantized, student = _prune_both_then_qat(teacher_and_data, run, *options)
    level = quantized.graphs()["split/level_4.xml"].state_dict()
    expected = student.graphs()["split/level_4.xml"].state_dict()
    assert level.keys() == expected.keys()  # no quantizers
    assert any(not torch.equal(level[k], expected[k]) for k in expected)  # but trained

    recipe = json.loads((run / "stages" / "qat.json").read_text())["recipe"]
    assert recipe["float_graphs"] == ["levels"]
    # The stage records the distillation as it ran: both networks trained, no feature matching.
    assert recipe["distill"]["train"] == ["warp", "gen"]
    assert recipe["distill"]["feature_weight"] == 0

    artifact = run / "artifacts" / "cwm0.5-igm0.5-qat-int8-levels-float"
    metadata = json.loads((artifact / "metadata.json").read_text())
    assert metadata["quantized_graphs"] == ["split/features.xml", "split/render.xml", "fused.xml"]
    assert "FakeQuantize" in (artifact / "split" / "features.xml").read_text()
    for level_index in range(5):
        xml = (artifact / "split" / f"level_{level_index}.xml").read_text()
        assert "FakeQuantize" not in xml, level_index


def test_qat_refuses_to_keep_everything_float(teacher_and_data, tmp_path, capsys):
    root = teacher_and_data
    common = ["--out", str(tmp_path / "run"), *_teacher_args(root), "--data", str(root / "data")]
    qat = ["qat", "--int8", "igm", "--float", "render", "--qat-epochs", "0"]
    assert optimize([*qat, *common]) != 0
    assert "nothing left to quantize" in capsys.readouterr().err


def test_distillation_keeps_batchnorm_statistics_and_trains_the_rest(teacher_and_data, tmp_path):
    root = teacher_and_data
    run = tmp_path / "run"
    common = ["--out", str(run), *_teacher_args(root), "--data", str(root / "data")]
    assert optimize(["-q", "prune", "cwm", "--ratio", "0.5", "--round-to", "4", *common]) == 0
    before = load_network(run / "student" / "warp.pth", "warp").state_dict()
    assert optimize(["-q", "distill", "cwm", "--epochs", "1", *common, "--batch-size", "3"]) == 0
    after = load_network(run / "student" / "warp.pth", "warp").state_dict()

    statistics = [k for k in before if k.endswith(("running_mean", "running_var"))]
    assert statistics
    assert all(torch.equal(before[k], after[k]) for k in statistics)
    scales = [k for k in before if k.replace(".weight", ".running_var") in statistics]
    assert scales and any(not torch.equal(before[k], after[k]) for k in scales)
    convolutions = [k for k in before if k.endswith(".weight") and before[k].dim() == 4]
    assert any(not torch.equal(before[k], after[k]) for k in convolutions)

    # With batch statistics, the running averages move.
    distill = ["-q", "distill", "cwm", "--epochs", "1", "--batchnorm", "batch"]
    assert optimize([*distill, *common, "--batch-size", "3"]) == 0
    moved = load_network(run / "student" / "warp.pth", "warp").state_dict()
    assert any(not torch.equal(after[k], moved[k]) for k in statistics)


def test_supervised_weight_zero_trains_on_the_teacher_alone(teacher_and_data, tmp_path):
    root = teacher_and_data
    run = tmp_path / "run"
    common = ["--out", str(run), *_teacher_args(root), "--data", str(root / "data")]
    assert optimize(["-q", "prune", "igm", "--ratio", "0.5", "--round-to", "4", *common]) == 0
    history = run / "distill_igm" / "distill_history.jsonl"
    for weight in ("0.5", "0"):
        distill = ["-q", "distill", "igm", "--epochs", "1", "--supervised-weight", weight]
        assert optimize([*distill, *common, "--batch-size", "3"]) == 0
    with_gt, teacher_only = (json.loads(line) for line in history.read_text().splitlines())
    assert with_gt["supervised"] > 0
    assert "supervised" not in teacher_only
    recipe = json.loads((run / "stages" / "distill_igm.json").read_text())["recipe"]
    assert recipe["supervised_weight"] == 0


def test_ssim_weight_adds_the_ssim_terms(teacher_and_data, tmp_path):
    root = teacher_and_data
    run = tmp_path / "run"
    common = ["--out", str(run), *_teacher_args(root), "--data", str(root / "data")]
    assert optimize(["-q", "prune", "cwm", "--ratio", "0.5", "--round-to", "4", *common]) == 0
    distill = ["-q", "distill", "cwm", "--epochs", "1", "--ssim-weight", "0.5"]
    assert optimize([*distill, *common, "--batch-size", "3"]) == 0
    (epoch,) = (json.loads(line) for line in (run / "distill_cwm" / "distill_history.jsonl").open())
    for name in ("warped_cloth_ssim", "p_tryon_ssim"):
        assert 0 < epoch[name] < 2
    recipe = json.loads((run / "stages" / "distill_cwm.json").read_text())["recipe"]
    assert recipe["output_weights"]["p_tryon_ssim"] == 0.5
    assert recipe["output_weights"]["p_tryon"] == 2.0
