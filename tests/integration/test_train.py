"""`optimize train` on a tiny width: checkpoints per epoch, resume, learning, clear errors."""

from __future__ import annotations

import json
import shutil

import pytest

pytestmark = [pytest.mark.optimize, pytest.mark.slow]
torch = pytest.importorskip("torch")

from optimization.checkpoints import load_models  # noqa: E402
from optimization.cli import main as optimize  # noqa: E402
from optimization.data.synthetic import write_dataset  # noqa: E402

# 1/16 of the official channels: 4 to 16 wide, a few hundred milliseconds a step at 256x192.
TINY = ["--width-factor", "0.0625", "--batch-size", "2", "--threads", "2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train") / "data"
    write_dataset(folder, n_pairs=4, seed=21, progress=False)
    return folder


def _history(run) -> list[dict]:
    return [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]


def _train(data, run, *extra: str) -> int:
    return optimize(["-q", "train", "--data", str(data), "--out", str(run), *TINY, *extra])


def test_training_writes_loadable_checkpoints_and_learns(data, tmp_path):
    run = tmp_path / "run"
    assert _train(data, run, "--epochs", "4", "--lr", "2e-3") == 0

    history = _history(run)
    assert [record["epoch"] for record in history] == [1, 2, 3, 4]
    assert history[-1]["loss"] < history[0]["loss"]
    recipe = json.loads((run / "recipe.json").read_text())
    assert recipe["width_factor"] == 0.0625 and recipe["epochs"] == 4

    warp_model, gen_model = load_models(run / "warp_last.pth", run / "gen_last.pth")
    assert warp_model.aflow_net.netMain[0][0].in_channels == 49
    assert gen_model.model.model[0].in_channels == 7


def test_resume_continues_after_the_last_finished_epoch(data, tmp_path):
    run = tmp_path / "run"
    assert _train(data, run, "--epochs", "1") == 0
    first = (run / "warp_last.pth").read_bytes()
    assert _train(data, run, "--epochs", "2", "--resume") == 0

    assert [record["epoch"] for record in _history(run)] == [1, 2]
    assert (run / "warp_last.pth").read_bytes() != first


def test_resume_mid_epoch_replays_the_same_batches(data, tmp_path):
    """A run stopped inside an epoch and resumed ends where an uninterrupted run ends."""
    from optimization.train import TrainRecipe, train

    common = dict(data=str(data), width_factor=0.0625, batch_size=1, epochs=1, threads=2)
    whole = train(TrainRecipe(out=str(tmp_path / "whole"), **common), progress=False)
    # A budget that has passed by the first batch: the run saves its state there and stops.
    split = train(
        TrainRecipe(out=str(tmp_path / "split"), max_minutes=1e-6, **common), progress=False
    )
    state = torch.load(split / "train_state.pth", weights_only=False)
    assert (state["epoch"], state["step"]) == (-1, 1)
    assert not (split / "history.jsonl").exists()

    train(TrainRecipe(out=str(split), **common), resume=True, progress=False)
    assert [record["epoch"] for record in _history(split)] == [1]
    resumed = torch.load(split / "train_state.pth", weights_only=False)
    uninterrupted = torch.load(whole / "train_state.pth", weights_only=False)
    assert (resumed["epoch"], resumed["step"]) == (0, 0)
    for name, value in uninterrupted["warp"].items():
        torch.testing.assert_close(resumed["warp"][name], value, rtol=1e-4, atol=1e-5)
    for name, value in uninterrupted["gen"].items():
        torch.testing.assert_close(resumed["gen"][name], value, rtol=1e-4, atol=1e-5)


def test_frozen_batchnorm_keeps_the_running_statistics_of_the_start(data, tmp_path):
    start = tmp_path / "start"
    assert _train(data, start, "--epochs", "1") == 0
    init = tmp_path / "init"
    init.mkdir()
    shutil.copy(start / "warp_last.pth", init / "warp.pth")
    shutil.copy(start / "gen_last.pth", init / "gen.pth")

    def running_statistics(run) -> dict:
        warp_model, gen_model = load_models(run / "warp_last.pth", run / "gen_last.pth")
        return {
            f"{name}.{key}": value
            for name, model in (("warp", warp_model), ("gen", gen_model))
            for key, value in model.state_dict().items()
            if "running_" in key
        }

    before = running_statistics(start)
    for mode, kept in (("frozen", True), ("batch", False)):
        run = tmp_path / mode
        assert _train(data, run, "--epochs", "1", "--init", str(init), "--batchnorm", mode) == 0
        after = running_statistics(run)
        same = all(torch.equal(after[key], value) for key, value in before.items())
        assert same is kept, mode
        if kept:  # the weights themselves still learned
            assert (run / "warp_last.pth").read_bytes() != (start / "warp_last.pth").read_bytes()


def test_epoch_order_depends_on_seed_and_epoch_only():
    from optimization.train import EpochOrder

    order = EpochOrder(10, seed=3)
    order.start(1)
    first = list(order)
    order.start(1, skip=4)
    assert list(order) == first[4:] and len(order) == 6
    order.start(2)
    assert list(order) != first and sorted(order) == list(range(10))
    again = EpochOrder(10, seed=3)
    again.start(1)
    assert list(again) == first


def test_data_without_ground_truth_is_refused_in_one_line(data, tmp_path, capsys):
    plain = tmp_path / "plain"
    shutil.copytree(data, plain, ignore=shutil.ignore_patterns("gt", "gt_cloth_mask"))

    assert _train(plain, tmp_path / "run", "--epochs", "1") == 1
    error = capsys.readouterr().err.strip()
    assert "ground truth" in error and str(plain) in error
    assert len(error.splitlines()) == 1


def test_bf16_request_falls_back_to_float32_without_native_support(monkeypatch, caplog):
    from optimization.training import bf16_autocast

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert bf16_autocast(torch.device("cpu"), True) is False
    assert "--bf16 ignored" in caplog.text
    assert bf16_autocast(torch.device("cpu"), False) is False

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert bf16_autocast(torch.device("cpu"), True) is True
