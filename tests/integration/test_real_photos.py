"""`optimize evaluate --real`: scores against reference try-ons, next to the unchanged photo."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from optimization.cli import main
from optimization.data.synthetic import write_dataset
from optimization.data.viton import read_rgb
from optimization.metrics import photo_ssim

pytestmark = pytest.mark.optimize


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
