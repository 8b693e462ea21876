"""Timing of a model on this machine: per-stage p50/p90 latency and try-ons per second."""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from tryon_app.core.artifact import load_artifact
from tryon_app.core.pipeline import RuntimeOptions, TryOnPipeline


def sample_model_inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic smooth inputs in model space (timing does not depend on content)."""
    rng = np.random.default_rng(seed)
    person = np.clip(rng.normal(0, 0.5, (1, 3, 256, 192)), -1, 1).astype(np.float32)
    clothes = np.clip(rng.normal(0, 0.5, (1, 3, 256, 192)), -1, 1).astype(np.float32)
    edge = np.zeros((1, 1, 256, 192), np.float32)
    edge[..., 40:220, 30:162] = 1
    return person, clothes, edge


# Timed calls per turn when several models are compared. A model in use runs back to back; right
# after another model it runs slower for several calls, until its data is back in the caches: the
# default model took 16.2 ms per call alternating call by call with its fp32 teacher, 12.8 ms in
# turns of 5 and 11.9 ms in turns of 15 (the teacher 38.0, 37.5, 37.4 ms), measured in one process.
# Turns still alternate, so drifting load on a shared machine hits every model alike.
TURN = 10


def time_pipelines(
    pipelines: list[TryOnPipeline], runs: int = 30, warmup: int = 3
) -> list[dict[str, dict[str, float]]]:
    """p50/p90/mean of every stage in milliseconds, per pipeline, over `runs` calls each.

    Several pipelines take turns: `warmup` untimed calls, then up to `TURN` timed ones.
    """
    inputs = sample_model_inputs()
    samples: list[dict[str, list[float]]] = [{} for _ in pipelines]
    turn = TURN if len(pipelines) > 1 else runs
    for done in range(0, runs, turn):
        for pipeline, collected in zip(pipelines, samples, strict=True):
            for _ in range(warmup):
                pipeline.run(*inputs)
            for _ in range(min(turn, runs - done)):
                start = time.perf_counter()
                timings = pipeline.run(*inputs).timings_ms
                timings = {**timings, "total": (time.perf_counter() - start) * 1e3}
                for stage, ms in timings.items():
                    collected.setdefault(stage, []).append(ms)
    return [
        {
            stage: {
                "p50": float(np.percentile(values, 50)),
                "p90": float(np.percentile(values, 90)),
                "mean": float(np.mean(values)),
            }
            for stage, values in collected.items()
        }
        for collected in samples
    ]


def time_pipeline(
    pipeline: TryOnPipeline, runs: int = 30, warmup: int = 3
) -> dict[str, dict[str, float]]:
    """p50/p90/mean of every stage in milliseconds over `runs` calls (after `warmup` calls)."""
    return time_pipelines([pipeline], runs, warmup)[0]


def benchmark(
    model_dir: str | Path | None,
    options: RuntimeOptions | None = None,
    *,
    runs: int = 30,
    warmup: int = 3,
) -> dict[str, Any]:
    """The `tryon bench` report for one artifact and runtime configuration."""
    return benchmark_many([model_dir], options, runs=runs, warmup=warmup)[0]


def benchmark_many(
    model_dirs: list[str | Path | None],
    options: RuntimeOptions | None = None,
    *,
    runs: int = 30,
    warmup: int = 3,
) -> list[dict[str, Any]]:
    """`tryon bench` reports of several artifacts measured side by side (in turns, see TURN)."""
    from tryon_app.core.engine import default_model_dir

    options = options or RuntimeOptions()
    artifacts, pipelines, load_seconds = [], [], []
    for model_dir in model_dirs:
        artifact = load_artifact(model_dir or default_model_dir())
        start = time.perf_counter()
        pipelines.append(TryOnPipeline(artifact, options))
        load_seconds.append(time.perf_counter() - start)
        artifacts.append(artifact)
    reports = []
    for artifact, pipeline, seconds, stages in zip(
        artifacts, pipelines, load_seconds, time_pipelines(pipelines, runs, warmup), strict=True
    ):
        reports.append(
            {
                "model": str(artifact.root),
                "precision": artifact.precision,
                "size_mb": round(artifact.size_bytes() / 1e6, 2),
                "device": options.device,
                "precision_hint": options.precision or "device default",
                "threads": options.threads,
                "layout": pipeline.layout,
                "load_seconds": round(seconds, 3),
                "runs": runs,
                "stages_ms": stages,
                "tryons_per_second": round(1000.0 / stages["total"]["p50"], 2),
                "machine": {
                    "cpu": platform.processor() or platform.machine(),
                    "system": platform.system(),
                },
            }
        )
    return reports


def format_comparison(reports: list[dict[str, Any]]) -> str:
    """One line per model: p50, try-ons per second and speed-up against the first model."""
    base = reports[0]["stages_ms"]["total"]["p50"]
    lines = [f"{'model':<40} {'precision':<9} {'MB':>7} {'p50 ms':>8} {'per s':>7} {'speed-up':>9}"]
    for report in reports:
        p50 = report["stages_ms"]["total"]["p50"]
        lines.append(
            f"{Path(report['model']).name:<40} {report['precision']:<9} {report['size_mb']:7.2f} "
            f"{p50:8.2f} {report['tryons_per_second']:7.2f} {base / p50:8.2f}x"
        )
    return "\n".join(lines)


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"model {report['model']} ({report['precision']}, {report['size_mb']} MB), "
        f"{report['device']} {report['precision_hint']}, layout {report['layout']}, {report['runs']} runs",
        f"{'stage':<12} {'p50 ms':>8} {'p90 ms':>8}",
    ]
    for stage, values in report["stages_ms"].items():
        lines.append(f"{stage:<12} {values['p50']:8.2f} {values['p90']:8.2f}")
    lines.append(
        f"try-ons per second: {report['tryons_per_second']:.2f} (load {report['load_seconds']:.2f} s)"
    )
    return "\n".join(lines)
