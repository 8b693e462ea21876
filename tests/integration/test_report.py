"""`optimize evaluate --model` and `optimize report` on tiny artifacts and synthetic pairs."""

from __future__ import annotations

import json
import shutil

import pytest

pytestmark = pytest.mark.optimize
torch = pytest.importorskip("torch")

from optimization.cli import main  # noqa: E402
from optimization.evaluate import ArtifactEvaluation, evaluate_artifact  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def synthetic_pairs(tmp_path_factory):
    from optimization.data.synthetic import write_dataset

    return write_dataset(
        tmp_path_factory.mktemp("data") / "synth", n_pairs=3, seed=11, progress=False
    )


@pytest.fixture(scope="module")
def run_folder(tiny_models, tiny_artifact, tmp_path_factory):
    """RUN/artifacts/teacher-fp32 (the shared tiny artifact) and a perturbed fp16 student."""
    from optimization.archs.tryon import build_models
    from optimization.archs.widths import tiny_gen_widths, tiny_warp_widths
    from optimization.export import export_artifact

    run = tmp_path_factory.mktemp("run")
    shutil.copytree(tiny_artifact, run / "artifacts" / "teacher-fp32")
    student_warp, student_gen = build_models(tiny_warp_widths(), tiny_gen_widths())
    student_warp.load_state_dict(tiny_models[0].state_dict())
    student_gen.load_state_dict(tiny_models[1].state_dict())
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in student_gen.parameters():
            parameter.add_(
                0.05 * parameter.std() * torch.randn(parameter.shape, generator=generator)
            )
    export_artifact(student_warp, student_gen, run / "artifacts" / "student-fp16", precision="fp16")
    return run


@pytest.fixture
def no_fid_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))


@pytest.mark.slow
def test_artifact_evaluation_measures_quality_size_and_speed(
    run_folder, synthetic_pairs, no_fid_weights
):
    teacher = run_folder / "artifacts" / "teacher-fp32"
    student = run_folder / "artifacts" / "student-fp16"
    result = evaluate_artifact(
        student, synthetic_pairs, teacher=teacher, bench_runs=2, progress=False
    )
    assert result.pairs == 3 and result.precision == "fp16"
    assert 0.5 < result.ssim_vs_teacher < 1.0
    assert 10 < result.psnr_vs_teacher < 100
    assert -1 <= result.ssim_vs_gt <= 1 and 0 <= result.warped_mask_iou <= 1
    assert result.fid_vs_gt is None and "pt_inception" in result.fid_note
    assert result.stats["size_mb"]["split_total"] > 0
    assert result.stats["parameters"] > 0 and result.stats["gflops"] > 0
    assert result.speed["tryons_per_second"] > 0
    assert set(result.speed["stages_ms"]) >= {"encoders", "correlation", "flow", "generator"}
    assert ArtifactEvaluation.from_dict(json.loads(json.dumps(result.to_dict()))) == result

    itself = evaluate_artifact(
        teacher, synthetic_pairs, teacher=teacher, bench_runs=0, limit=2, progress=False
    )
    assert itself.ssim_vs_teacher == pytest.approx(1.0, abs=1e-4)
    assert itself.speed is None and itself.pairs == 2
    assert itself.precision_hint == "f32"
    older = {key: value for key, value in itself.to_dict().items() if key != "precision_hint"}
    assert ArtifactEvaluation.from_dict(older).precision_hint == "f32"  # results written before


def test_evaluation_runs_the_model_at_the_asked_precision_and_the_teacher_at_f32(
    run_folder, synthetic_pairs, no_fid_weights
):
    import openvino as ov

    teacher = run_folder / "artifacts" / "teacher-fp32"
    result = evaluate_artifact(
        teacher, synthetic_pairs, teacher=teacher, bench_runs=0, precision="bf16", progress=False
    )
    assert result.precision_hint == "bf16"
    assert 0.9 < result.ssim_vs_teacher <= 1.0
    if "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        # bf16 rounding moved the try-on: the model did not run at f32 like its reference.
        assert result.ssim_vs_teacher < 1.0


def test_evaluate_command_writes_json(
    run_folder, synthetic_pairs, no_fid_weights, tmp_path, capsys
):
    out = tmp_path / "results" / "teacher.json"
    code = main(
        [
            "-q",
            "evaluate",
            "--model",
            str(run_folder / "artifacts" / "teacher-fp32"),
            "--data",
            str(synthetic_pairs),
            "--limit",
            "1",
            "--bench-runs",
            "0",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    document = json.loads(out.read_text())
    assert document["pairs"] == 1 and document["ssim_vs_teacher"] is None
    assert document["precision_hint"] == "f32"
    assert json.loads(capsys.readouterr().out) == document


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        ["--model", "M", "--warp", "W", "--gen", "G"],
        ["--warp", "W"],
        ["--warp", "W", "--gen", "G", "--teacher", "T"],
        ["--warp", "W", "--gen", "G", "--precision", "bf16"],
    ],
)
def test_evaluate_modes_are_mutually_exclusive(arguments, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--data", "D", *arguments])
    assert exit_info.value.code == 2
    assert "--" in capsys.readouterr().err


def _fake_evaluation(run, name, **overrides):
    evaluation = {
        "model": str(run / "artifacts" / name),
        "name": name,
        "precision": "int8",
        "quantizer": "inc",
        "pairs": 3,
        "teacher": str(run / "artifacts" / "teacher-fp32"),
        "ssim_vs_teacher": 0.9,
        "psnr_vs_teacher": 25.0,
        "ssim_vs_gt": 0.5,
        "psnr_vs_gt": 15.0,
        "warped_mask_iou": 0.4,
        "fid_vs_gt": None,
        "fid_note": "FID n/a: test",
        "stats": {
            "size_mb": {"warp": 0.05, "gen": 0.05, "split_total": 0.1, "fused": 0.1},
            "warp": None,
            "gen": None,
            "parameters": 12345,
            "gflops": 0.5,
        },
        "speed": None,
        **overrides,
    }
    path = run / "evaluation" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(evaluation))
    return path


@pytest.mark.slow
def test_report_evaluates_missing_variants_and_draws_plots(
    run_folder, synthetic_pairs, no_fid_weights
):
    _fake_evaluation(run_folder, "old-int8")
    code = main(
        [
            "-q",
            "report",
            str(run_folder),
            "--data",
            str(synthetic_pairs),
            "--limit",
            "2",
            "--bench-runs",
            "2",
        ]
    )
    assert code == 0
    report = (run_folder / "report.md").read_text()
    lines = [line for line in report.splitlines() if line.startswith("| ")]
    assert "compression" in lines[0] and "SSIM vs teacher" in lines[0] and "FID" in lines[0]
    table = lines[1:4]
    assert table[0].startswith("| **teacher-fp32** |") and "ref" in table[0]
    assert any(row.startswith("| student-fp16 | fp16 |") for row in table)
    assert any(row.startswith("| old-int8 | int8 (inc) |") for row in table)
    assert "n/a" in report and "pt_inception" in report
    for name in ("teacher-fp32", "student-fp16"):
        assert json.loads((run_folder / "evaluation" / f"{name}.json").read_text())["pairs"] == 2
    for plot in ("quality_vs_size.png", "latency_stages.png"):
        assert (run_folder / plot).read_bytes().startswith(PNG_SIGNATURE)
        assert f"({plot})" in report

    # Results on disk are reused: without --data nothing is evaluated again.
    written = (run_folder / "evaluation" / "student-fp16.json").stat().st_mtime_ns
    assert main(["-q", "report", str(run_folder)]) == 0
    assert (run_folder / "evaluation" / "student-fp16.json").stat().st_mtime_ns == written


def test_report_of_an_empty_run_fails_with_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    assert "no variants" in capsys.readouterr().err
