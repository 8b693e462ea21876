"""The `tryon` command: a try-on from files, and one clear line (exit 1) for every bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tryon_app.cli import main

pytestmark = pytest.mark.optimize  # the tiny artifact is built with torch


def _write_photo(path: Path, width: int, height: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), 235, np.uint8)
    cv2.ellipse(
        image,
        (width // 2, height // 2),
        (width // 4, height // 3),
        0,
        0,
        360,
        tuple(int(v) for v in rng.integers(0, 255, 3)),
        -1,
    )
    cv2.imwrite(str(path), image)
    return path


@pytest.fixture
def photos(tmp_path):
    return {
        "person": _write_photo(tmp_path / "person.jpg", 300, 500, 1),
        "cloth": _write_photo(tmp_path / "cloth.jpg", 192, 256, 2),
    }


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_writes_result_in_the_photo_framing(tiny_artifact, photos, tmp_path, capsys):
    out = tmp_path / "result.png"
    code, stdout, stderr = _run(
        capsys,
        "run",
        "--person",
        photos["person"],
        "--cloth",
        photos["cloth"],
        "--model",
        tiny_artifact,
        "--out",
        out,
    )
    assert code == 0, stderr
    result = cv2.imread(str(out))
    assert result.shape == (500, 300, 3)
    assert "generator" in stdout


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda p: p.unlink(), "person.jpg"),
        (lambda p: p.write_bytes(b""), "person.jpg"),
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "person.jpg"),
        (lambda p: p.write_text("this is not an image"), "person.jpg"),
    ],
    ids=["missing", "empty", "truncated", "text"],
)
def test_bad_person_photo_gives_one_line_and_no_output(
    tiny_artifact, photos, tmp_path, capsys, damage, expected
):
    damage(photos["person"])
    out = tmp_path / "result.png"
    code, _, stderr = _run(
        capsys,
        "run",
        "--person",
        photos["person"],
        "--cloth",
        photos["cloth"],
        "--model",
        tiny_artifact,
        "--out",
        out,
    )
    assert code == 1
    assert len(stderr.strip().splitlines()) == 1
    assert expected in stderr and "Traceback" not in stderr
    assert not out.exists()


def test_unwritable_output_is_reported_before_work(tiny_artifact, photos, tmp_path, capsys):
    out = tmp_path / "no-such-folder" / "result.png"
    code, _, stderr = _run(
        capsys,
        "run",
        "--person",
        photos["person"],
        "--cloth",
        photos["cloth"],
        "--model",
        tiny_artifact,
        "--out",
        out,
    )
    assert code == 1 and "result.png" in stderr and len(stderr.strip().splitlines()) == 1


def test_damaged_artifact_is_named(tiny_artifact, photos, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_artifact, broken)
    level = broken / "split" / "level_2.bin"
    level.write_bytes(level.read_bytes()[:-4] + b"\x00\x00\x00\x01")
    out = tmp_path / "result.png"
    code, _, stderr = _run(
        capsys,
        "run",
        "--person",
        photos["person"],
        "--cloth",
        photos["cloth"],
        "--model",
        broken,
        "--out",
        out,
    )
    assert code == 1 and "level_2.bin" in stderr and "sha256" in stderr
    assert not out.exists()
    (broken / "split" / "render.xml").unlink()
    code, _, stderr = _run(
        capsys,
        "run",
        "--person",
        photos["person"],
        "--cloth",
        photos["cloth"],
        "--model",
        broken,
        "--out",
        out,
    )
    assert code == 1 and "render.xml" in stderr


def test_cli_runs_without_torch_in_a_fresh_interpreter(tiny_artifact, photos, tmp_path):
    out = tmp_path / "fresh.png"
    script = (
        "import sys\n"
        "from tryon_app.cli import main\n"
        f"code = main(['run', '--person', {str(photos['person'])!r}, '--cloth', {str(photos['cloth'])!r},"
        f" '--model', {str(tiny_artifact)!r}, '--out', {str(out)!r}])\n"
        "heavy = sorted(m for m in ('torch', 'nncf', 'torch_pruning', 'torchvision') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout
    assert out.is_file()


def test_models_lists_and_validates(tiny_artifact, capsys, monkeypatch):
    from tryon_app.core import paths

    monkeypatch.setattr(paths, "model_search_dirs", lambda: [tiny_artifact.parent])
    code, stdout, _ = _run(capsys, "models")
    assert code == 0 and "tiny" in stdout and "fp32" in stdout


def test_bench_compares_models_in_one_run(tiny_artifact, tmp_path, capsys):
    import json
    import shutil

    twin = tmp_path / "twin"
    shutil.copytree(tiny_artifact, twin)
    report = tmp_path / "bench.json"
    code, out, err = _run(
        capsys,
        "bench",
        "--model",
        tiny_artifact,
        "--compare",
        twin,
        "--runs",
        2,
        "--warmup",
        1,
        "--json",
        report,
    )
    assert code == 0, err
    document = json.loads(report.read_text())
    assert [Path(r["model"]).name for r in document["reports"]] == ["tiny", "twin"]
    assert all(r["runs"] == 2 and r["tryons_per_second"] > 0 for r in document["reports"])
    assert "speed-up" in out and "1.00x" in out
