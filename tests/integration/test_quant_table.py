"""`optimize quant-table` then `optimize report` on a tiny pruned student: PTQ, KD, QAT and
KD + QAT of the same student in one table."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

pytestmark = [pytest.mark.optimize, pytest.mark.slow]
torch = pytest.importorskip("torch")
pytest.importorskip("nncf")
pytest.importorskip("torch_pruning")

from optimization.archs.tryon import build_models  # noqa: E402
from optimization.archs.widths import tiny_gen_widths, tiny_warp_widths  # noqa: E402
from optimization.checkpoints import save_checkpoint  # noqa: E402
from optimization.cli import main as optimize  # noqa: E402
from optimization.data.synthetic import write_dataset  # noqa: E402
from optimization.quant_table import LABELS, METHODS  # noqa: E402


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_four_methods_of_one_student_make_one_table(tmp_path):
    torch.manual_seed(0)
    warp_model, gen_model = build_models(tiny_warp_widths(), tiny_gen_widths())
    save_checkpoint(tmp_path / "teacher" / "warp.pth", warp_model, tiny_warp_widths())
    save_checkpoint(tmp_path / "teacher" / "gen.pth", gen_model, tiny_gen_widths())
    data = tmp_path / "data"
    write_dataset(data, n_pairs=6, seed=11, progress=False)
    run = tmp_path / "run"
    common = ["--out", str(run), "--data", str(data)]
    common += ["--warp", str(tmp_path / "teacher" / "warp.pth")]
    common += ["--gen", str(tmp_path / "teacher" / "gen.pth")]
    assert optimize(["-q", "prune", "igm", "--ratio", "0.5", "--round-to", "4", *common]) == 0
    student = _digest(run / "student" / "gen.pth")

    table = ["-q", "quant-table", "--int8", "igm", "--epochs", "1", "--batch-size", "3"]
    assert optimize([*table, "--calibration-pairs", "2", "--qat-lr", "1e-4", *common]) == 0
    assert _digest(run / "student" / "gen.pth") == student  # every method worked on a copy

    manifest = json.loads((run / "quant_table.json").read_text())
    assert [row["method"] for row in manifest["rows"]] == list(METHODS)
    variants = {row["method"]: row["variant"] for row in manifest["rows"]}
    for method, variant in variants.items():
        metadata = json.loads((run / "artifacts" / variant / "metadata.json").read_text())
        assert metadata["provenance"]["quant_table"]["method"] == method
        assert metadata["precision"] == ("fp32" if method == "kd" else "int8")
        render = (run / "artifacts" / variant / "split" / "render.xml").read_text()
        assert ("FakeQuantize" in render) == (method != "kd"), method
        level = (run / "artifacts" / variant / "split" / "level_4.xml").read_text()
        assert "FakeQuantize" not in level, method  # only the generator is quantized
    # QAT alone learns from the ground truth; KD + QAT from the teacher.
    alone = json.loads((run / "quant_table" / "qat" / "stages" / "qat.json").read_text())
    assert not any(alone["recipe"]["distill"]["output_weights"].values())
    assert alone["recipe"]["distill"]["supervised_weight"] > 0
    with_teacher = json.loads((run / "quant_table" / "kd-qat" / "stages" / "qat.json").read_text())
    assert with_teacher["recipe"]["distill"]["output_weights"]["p_tryon"] > 0
    kd = json.loads((run / "quant_table" / "kd" / "distill" / "distill_history.jsonl").read_text())
    assert kd["p_tryon"] > 0

    report = ["-q", "report", str(run), "--data", str(data), "--limit", "2", "--bench-runs", "2"]
    assert optimize(report) == 0
    text = (run / "report.md").read_text()
    section = text.split("## PTQ, KD and QAT of one pruned student")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    header, body = rows[0], rows[1:]
    assert len(body) == 4
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    for method, line in zip(METHODS, body, strict=True):
        cells = dict(zip(columns, (c.strip() for c in line.strip("|").split("|")), strict=True))
        assert cells["method"] == LABELS[method] and cells["variant"] == variants[method]
        for column in ("SSIM vs teacher", "SSIM vs GT", "mask IoU", "total MB", "p50 ms"):
            assert re.fullmatch(r"-?\d+(\.\d+)?", cells[column]), (method, column, cells[column])
        assert -1 <= float(cells["SSIM vs teacher"]) <= 1
    assert "1 epoch(s) each on the same 6 pairs" in section
