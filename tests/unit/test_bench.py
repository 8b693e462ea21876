"""How `tryon bench` schedules the models it compares."""

from __future__ import annotations

from types import SimpleNamespace

from tryon_app.core import bench


class FakePipeline:
    """Stands in for a TryOnPipeline: logs each call in a shared list, reports fixed stage times."""

    def __init__(self, name: str, log: list[str], stage_ms: float):
        self.name, self.log, self.stage_ms = name, log, stage_ms

    def run(self, *inputs):
        self.log.append(self.name)
        return SimpleNamespace(timings_ms={"encoders": self.stage_ms})


def test_compared_models_take_turns_each_opened_by_untimed_calls(monkeypatch):
    monkeypatch.setattr(bench, "TURN", 4)
    log: list[str] = []
    a, b = FakePipeline("a", log, 1.0), FakePipeline("b", log, 2.0)
    results = bench.time_pipelines([a, b], runs=6, warmup=2)
    # turns of 2 untimed + 4 timed calls, then 2 untimed + the 2 timed calls left
    assert log == ["a"] * 6 + ["b"] * 6 + ["a"] * 4 + ["b"] * 4
    assert [r["encoders"]["p50"] for r in results] == [1.0, 2.0]
    assert all(set(r) == {"encoders", "total"} for r in results)


def test_a_single_model_warms_up_once_then_runs_back_to_back():
    log: list[str] = []
    bench.time_pipelines([FakePipeline("a", log, 1.0)], runs=25, warmup=2)
    assert log == ["a"] * 27
