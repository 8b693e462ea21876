"""`optimize ship`: a shipped copy of an artifact carries its provenance and still verifies."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.optimize
pytest.importorskip("torch")

from optimization.cli import main as optimize  # noqa: E402
from tryon_app.core.artifact import load_artifact  # noqa: E402


def test_ship_records_provenance_and_quality(tiny_artifact, tmp_path):
    training = tmp_path / "train"
    training.mkdir()
    (training / "recipe.json").write_text(json.dumps({"data": "runs/synth-train", "seed": 0}))
    (training / "history.jsonl").write_text(json.dumps({"epoch": 1, "iou": 0.5}) + "\n")
    evaluation = tmp_path / "eval.json"
    evaluation.write_text(json.dumps({"warped_mask_iou": 0.9}))
    commands = tmp_path / "commands.txt"
    commands.write_text("optimize train --data d --out r\n\noptimize export ...\n")
    (tmp_path / "warp.pth").write_bytes(b"w")
    (tmp_path / "gen.pth").write_bytes(b"g")
    record = tmp_path / "checkpoint.json"
    record.write_text(json.dumps({"warp_sha256": "ab", "recipe": {"width_factor": 0.25}}))
    out = tmp_path / "models" / "default"
    code = optimize(
        [
            "-q",
            "ship",
            "--artifact",
            str(tiny_artifact),
            "--out",
            str(out),
            "--training-run",
            str(training),
            "--teacher-record",
            str(record),
            "--evaluation",
            f"shipped={evaluation}",
            "--commands",
            str(commands),
            "--teacher-warp",
            str(tmp_path / "warp.pth"),
            "--teacher-gen",
            str(tmp_path / "gen.pth"),
            "--teacher-out",
            str(tmp_path / "models" / "teacher"),
        ]
    )
    assert code == 0
    metadata = load_artifact(out).metadata  # hashes verified
    assert metadata["name"] == "default"
    assert metadata["provenance"]["teacher_training"]["recipe"]["seed"] == 0
    assert metadata["provenance"]["teacher_checkpoints"]["recipe"]["width_factor"] == 0.25
    assert metadata["provenance"]["commands"] == [
        "optimize train --data d --out r",
        "optimize export ...",
    ]
    assert metadata["quality"]["shipped"]["warped_mask_iou"] == 0.9
    assert metadata["architecture"] == load_artifact(tiny_artifact).metadata["architecture"]
    teacher = json.loads((tmp_path / "models" / "teacher" / "checkpoint.json").read_text())
    assert set(teacher) >= {"warp_sha256", "gen_sha256", "recipe", "commands"}
    assert (
        optimize(
            [
                "-q",
                "ship",
                "--artifact",
                str(tiny_artifact),
                "--out",
                str(out),
                "--evaluation",
                "nolabel",
            ]
        )
        == 1
    )


def test_teacher_stored_in_half_precision_loads_back_close_to_the_original(tiny_models, tmp_path):
    import torch

    from optimization.archs.tryon import tryon_forward
    from optimization.checkpoints import load_models, save_checkpoint
    from optimization.graphs import sample_inputs
    from optimization.prune import measure_widths
    from optimization.ship import ship_teacher

    paths = []
    for name, model in zip(("warp", "gen"), tiny_models, strict=True):
        paths.append(tmp_path / "trained" / f"{name}.pth")
        save_checkpoint(paths[-1], model, measure_widths(model))
    out = ship_teacher(*paths, tmp_path / "teacher", half=True)

    record = json.loads((out / "checkpoint.json").read_text())
    assert record["storage"].startswith("float16")
    for name, original in zip(("warp", "gen"), paths, strict=True):
        assert (out / f"{name}.pth").stat().st_size < 0.7 * original.stat().st_size
        assert record[f"{name}_sha256"] != record[f"{name}_float32_sha256"]
    restored = load_models(out / "warp.pth", out / "gen.pth")
    assert all(p.dtype == torch.float32 for m in restored for p in m.parameters())
    inputs = sample_inputs(seed=3)
    with torch.no_grad():
        expected = tryon_forward(*tiny_models, *inputs)["p_tryon"]
        got = tryon_forward(*restored, *inputs)["p_tryon"]
    difference = (got - expected).abs()
    assert 0 < difference.mean() < 3e-3
