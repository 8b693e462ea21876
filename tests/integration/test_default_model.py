"""The shipped default model: intact, documented, and better than doing nothing on held-out pairs."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tryon_app.core.artifact import load_artifact, sha256_of

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "models" / "default"
TEACHER = REPO / "models" / "teacher"
HELD_OUT_SEED = 2  # the teacher trained on seed 1 and was distilled on seed 3

pytestmark = pytest.mark.skipif(
    not (DEFAULT / "metadata.json").is_file(), reason="no shipped models/default"
)


def test_default_verifies_and_records_how_it_was_made():
    artifact = load_artifact(DEFAULT)  # schema and every file's hash

    assert artifact.precision == "int8"
    provenance = artifact.metadata["provenance"]
    commands = "\n".join(provenance["commands"])
    for step in ("optimize synth", "optimize train", "optimize cwm", "optimize igm"):
        assert step in commands
    record = provenance["teacher_checkpoints"]
    assert record["warp_sha256"] == sha256_of(TEACHER / "warp.pth")
    assert record["gen_sha256"] == sha256_of(TEACHER / "gen.pth")
    assert record["recipe"]["width_factor"] == 0.25
    assert {"shipped", "teacher"} <= set(artifact.metadata["quality"])


def test_shipped_models_fit_the_size_budget():
    shipped = sum(p.stat().st_size for p in (REPO / "models").rglob("*") if p.is_file())
    assert shipped < 40e6
    # The graphs the app runs against the float32 weights they were compressed from.
    split = sum(p.stat().st_size for p in (DEFAULT / "split").rglob("*") if p.is_file())
    teacher = sum((TEACHER / name).stat().st_size for name in ("warp.pth", "gen.pth"))
    assert split <= 0.3 * teacher


@pytest.mark.optimize
@pytest.mark.slow
def test_default_beats_returning_the_person_unchanged_on_held_out_pairs(tmp_path):
    torch = pytest.importorskip("torch")
    from optimization.data.synthetic import write_dataset
    from optimization.data.viton import VitonPairs
    from optimization.evaluate import evaluate_artifact
    from optimization.metrics import ssim

    data = write_dataset(tmp_path / "held-out", n_pairs=24, seed=HELD_OUT_SEED, progress=False)
    result = evaluate_artifact(DEFAULT, data, bench_runs=0, progress=False)
    dataset = VitonPairs(data)
    identity = float(
        torch.stack([ssim(item["person"][None], item["gt"][None]) for item in dataset]).mean()
    )

    assert result.warped_mask_iou >= 0.8
    assert result.ssim_vs_gt >= identity + 0.05


@pytest.mark.optimize
def test_teacher_checkpoints_rebuild_at_their_recorded_widths():
    pytest.importorskip("torch")
    from optimization.checkpoints import load_models

    warp_model, gen_model = load_models(TEACHER / "warp.pth", TEACHER / "gen.pth")
    recorded = json.loads((TEACHER / "checkpoint.json").read_text())
    assert recorded["warp_sha256"] == sha256_of(TEACHER / "warp.pth")
    assert warp_model.image_features.encoders[0][0].block[2].out_channels == 16  # 64 x 0.25


def test_readme_quick_start_writes_a_tryon_without_torch(tmp_path):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    line = next(text for text in readme.splitlines() if text.startswith("tryon run --person "))
    arguments = shlex.split(line)[2:]
    out = tmp_path / "tryon.png"
    arguments[arguments.index("--out") + 1] = str(out)
    # The installed app never imports torch: fail loudly if this command would.
    script = (
        "import sys; sys.modules['torch'] = None; from tryon_app.cli import main; "
        f"sys.exit(main({['run', *arguments]!r}))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-2000:]

    person = arguments[arguments.index("--person") + 1]
    result = np.asarray(Image.open(out).convert("RGB"), dtype=float)
    original = np.asarray(Image.open(REPO / person).convert("RGB"), dtype=float)
    assert result.shape == original.shape
    assert np.abs(result - original).mean() > 5
