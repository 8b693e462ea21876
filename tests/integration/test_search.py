"""`optimize search` end to end on a 1/16-width teacher: once-for-all training, search under the
MAC budget, fine-tuning and export of the winner, and --resume."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.optimize, pytest.mark.slow]
torch = pytest.importorskip("torch")
pytest.importorskip("torch_pruning")

from optimization.checkpoints import load_network  # noqa: E402
from optimization.cli import main as optimize  # noqa: E402
from optimization.data.synthetic import write_dataset  # noqa: E402
from optimization.model_stats import gen_compute  # noqa: E402
from optimization.prune import measure_widths  # noqa: E402
from tests.conftest import save_scaled_teacher, teacher_run_arguments  # noqa: E402
from tryon_app.core.artifact import load_artifact  # noqa: E402

FACTOR = 0.0625
# The tiny generator's finest levels are 4 and 8 channels wide and cannot shrink: its narrowest
# configuration costs about 62% of it, so the budget is 80%.
BUDGET = 0.8
SMALL = ["--batch-size", "2", "--threads", "2", "--population", "4", "--generations", "2"]


@pytest.fixture(scope="module")
def teacher_and_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    save_scaled_teacher(root / "teacher", FACTOR)
    write_dataset(root / "data", n_pairs=4, seed=11, progress=False)
    write_dataset(root / "heldout", n_pairs=2, seed=5, progress=False)
    return root


def _arguments(root, run) -> list[str]:
    return [
        *teacher_run_arguments(root, run),
        *("--search-data", str(root / "heldout"), "--search-pairs", "2"),
        *SMALL,
    ]


def _epochs(history) -> list[int]:
    return [json.loads(line)["epoch"] for line in history.read_text().splitlines()]


def test_search_fine_tunes_and_exports_a_winner_under_the_budget(teacher_and_data, tmp_path):
    root, run = teacher_and_data, tmp_path / "run"
    search = ["-q", "search", "igm", "--macs", f"{BUDGET:.0%}", *_arguments(root, run)]
    assert optimize([*search, "--ofa-epochs", "1", "--epochs", "1"]) == 0

    teacher_macs = gen_compute(load_network(root / "teacher" / "gen.pth", "gen")).macs
    result = json.loads((run / "search_igm" / "search.json").read_text())
    assert result["teacher_macs"] == teacher_macs
    assert result["budget_macs"] == int(BUDGET * teacher_macs)
    assert len(result["candidates"]) > 1
    assert all(c["macs"] <= result["budget_macs"] for c in result["candidates"])

    # The student is the winner: the MACs the search counted, under the budget, narrower.
    stage = json.loads((run / "stages" / "search_igm.json").read_text())
    assert stage["config"] == result["candidates"][0]["config"]
    student = load_network(run / "student" / "gen.pth", "gen")
    assert gen_compute(student).macs == stage["macs"] <= stage["budget_macs"] < teacher_macs
    assert measure_widths(student).to_dict() == stage["widths"]
    assert (run / "stages" / "distill_igm.json").is_file()  # fine-tuned

    # Exported as a normal variant of the run, which the app loads.
    artifact = run / "artifacts" / f"igmofa{BUDGET:g}-fp32"
    load_artifact(artifact)
    metadata = json.loads((artifact / "metadata.json").read_text())
    assert metadata["architecture"]["gen"] == stage["widths"]
    assert (run / "artifacts" / "teacher-fp32").is_dir()

    # --resume trains one more once-for-all epoch instead of starting over, and searches the
    # new weights again.
    history = run / "search_igm" / "distill_history.jsonl"
    assert _epochs(history) == [1]
    assert optimize([*search, "--ofa-epochs", "2", "--epochs", "1", "--resume", "--no-export"]) == 0
    assert _epochs(history) == [1, 2]
    again = json.loads((run / "search_igm" / "search.json").read_text())
    assert again["supernet_sha256"] != result["supernet_sha256"]
    assert all(c["macs"] <= again["budget_macs"] for c in again["candidates"])


def test_a_budget_below_the_narrowest_widths_is_refused(teacher_and_data, tmp_path, capsys):
    root, run = teacher_and_data, tmp_path / "run"
    search = ["search", "igm", "--macs", "10%", "--ofa-epochs", "0", "--epochs", "0"]
    assert optimize([*search, *_arguments(root, run)]) == 1
    assert "below the narrowest" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        optimize(["search", "igm", "--macs", "half", "--out", str(run)])
    assert usage.value.code == 2
