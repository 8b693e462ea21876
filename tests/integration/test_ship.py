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
