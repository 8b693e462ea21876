"""`optimize evaluate --real`: scores against reference try-ons, next to the unchanged photo."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.optimize
pytest.importorskip("torch", reason="optimize evaluate needs torch, the optimize extra")

from optimization.cli import main  # noqa: E402
from optimization.data.synthetic import write_dataset  # noqa: E402
from optimization.data.viton import read_rgb  # noqa: E402
from optimization.metrics import photo_ssim  # noqa: E402


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    """Three synthetic pairs in the VITON demo layout; the ground truth plays the reference."""
    folder = write_dataset(tmp_path_factory.mktemp("real") / "demo", 3, seed=4, progress=False)
    (folder / "official_results").mkdir()
    for line in (folder / "pairs.txt").read_text().split("\n"):
        if not line.strip():
            continue
        person, cloth = line.split()
        panels = [read_rgb(folder / "test_img" / person), read_rgb(folder / "test_clothes" / cloth)]
        panels.append(read_rgb(folder / "gt" / person))
        name = f"{person[:-4]}__{cloth[:-4]}.jpg"
        reference = cv2.cvtColor(np.hstack(panels), cv2.COLOR_RGB2BGR)
        cv2.imwrite(
            str(folder / "official_results" / name), reference, [cv2.IMWRITE_JPEG_QUALITY, 100]
        )
    return folder


def test_scores_each_pair_against_its_reference_and_the_unchanged_photo(
    demo_folder, tiny_artifact, tmp_path, capsys
):
    sheet, report = tmp_path / "sheet.png", tmp_path / "real.json"
    code = main(
        [
            "evaluate",
            "--real",
            str(demo_folder),
            "--model",
            str(tiny_artifact),
            "--sheet",
            str(sheet),
            "--json",
            str(report),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("unchanged photo") == 4 and "mean: SSIM" in out
    metrics = json.loads(report.read_text())
    assert len(metrics["pairs"]) == 3
    first = metrics["pairs"][0]
    person = read_rgb(demo_folder / "test_img" / "000000_0.jpg")
    reference = read_rgb(demo_folder / "official_results" / f"{first['name']}.jpg")[:, 384:]
    assert first["unchanged_ssim"] == pytest.approx(photo_ssim(person, reference))
    assert metrics["margin"] == pytest.approx(metrics["ssim"] - metrics["unchanged_ssim"])
    assert cv2.imread(str(sheet)).shape[1] == 4 * 192


def test_a_folder_without_references_is_refused_in_one_line(tiny_artifact, tmp_path, capsys):
    folder = write_dataset(tmp_path / "plain", 1, seed=4, progress=False)
    assert main(["evaluate", "--real", str(folder), "--model", str(tiny_artifact)]) == 1
    assert "official_results" in capsys.readouterr().err


def test_the_report_of_a_run_adds_each_variants_real_photo_scores(
    demo_folder, tiny_artifact, tmp_path
):
    import shutil

    run = tmp_path / "run"
    for name in ("student", "other"):
        shutil.copytree(tiny_artifact, run / "artifacts" / name)
    assert main(["report", str(run), "--real", str(demo_folder), "--bench-runs", "0"]) == 0
    report = (run / "report.md").read_text()
    table = report.split("## Real photos", 1)[1]
    rows = [line for line in table.split("\n") if line.startswith("| ")]
    names = [row.split(" | ")[0] for row in rows[1:]]
    assert names[0] == "| unchanged photo" and sorted(names[1:]) == ["| other", "| student"]
    scored = json.loads((run / "evaluation" / "student.real.json").read_text())
    assert f"{scored['ssim']:.3f} |" in rows[2]
    # Both are the same model: the same numbers, and the unchanged photo's mean from the file.
    assert rows[2].split(" | ")[1:] == rows[3].split(" | ")[1:]
    assert f"{scored['unchanged_ssim']:.3f}" in rows[1]
