"""Timing of a model on this machine: per-stage p50/p90 latency and try-ons per second."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tryon_app.core.artifact import CLOTHES, EDGE, INPUT_SHAPES, PERSON, load_artifact
from tryon_app.core.framing import Box
from tryon_app.core.pipeline import RuntimeOptions, TryOnPipeline


def sample_model_inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic smooth inputs in model space (timing does not depend on content)."""
    rng = np.random.default_rng(seed)
    person = np.clip(rng.normal(0, 0.5, INPUT_SHAPES[PERSON]), -1, 1).astype(np.float32)
    clothes = np.clip(rng.normal(0, 0.5, INPUT_SHAPES[CLOTHES]), -1, 1).astype(np.float32)
    edge = np.zeros(INPUT_SHAPES[EDGE], np.float32)
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
    return time_calls([lambda p=p: p.run(*inputs).timings_ms for p in pipelines], runs, warmup)


def time_calls(
    calls: list[Callable[[], dict[str, float]]], runs: int = 30, warmup: int = 3
) -> list[dict[str, dict[str, float]]]:
    """`time_pipelines` for any calls that return their per-stage milliseconds.

    "total" is each call's own wall time, whatever the call reports under that name.
    """
    samples: list[dict[str, list[float]]] = [{} for _ in calls]
    turn = TURN if len(calls) > 1 else runs
    for done in range(0, runs, turn):
        for call, collected in zip(calls, samples, strict=True):
            for _ in range(warmup):
                call()
            for _ in range(min(turn, runs - done)):
                start = time.perf_counter()
                timings = call()
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
    photo_size: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """`tryon bench` reports of several artifacts measured side by side (in turns, see TURN).

    With `photo_size` (height, width), whole try-ons of a person photo of that size are timed
    (`sample_person_photo`, a garment photo half as large): framing and composition are stages
    of their own beside the model's, and the report adds the process's peak memory.
    """
    from tryon_app.core.engine import TryOnEngine, default_model_dir

    options = options or RuntimeOptions()
    artifacts, pipelines, load_seconds = [], [], []
    for model_dir in model_dirs:
        artifact = load_artifact(model_dir or default_model_dir())
        start = time.perf_counter()
        pipelines.append(TryOnPipeline(artifact, options))
        load_seconds.append(time.perf_counter() - start)
        artifacts.append(artifact)
    if photo_size is None:
        timed = time_pipelines(pipelines, runs, warmup)
    else:
        person, garment = sample_photos(photo_size)
        engines = [TryOnEngine.from_pipeline(pipeline) for pipeline in pipelines]
        timed = time_calls(
            [lambda e=e: e.try_on(person, garment).timings_ms for e in engines], runs, warmup
        )
    reports = []
    for artifact, pipeline, seconds, stages in zip(
        artifacts, pipelines, load_seconds, timed, strict=True
    ):
        extra = {}
        if photo_size is not None:
            extra = {"photo_size": list(photo_size), "peak_memory_mb": round(peak_memory_mb())}
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
                **extra,
            }
        )
    return reports


def peak_memory_mb() -> float:
    """This process's peak resident memory so far, in megabytes (0 where it is not known)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if platform.system() != "Darwin" else peak / 2**20


def sample_person_photo(height: int, width: int, box: Box, seed: int = 0) -> np.ndarray:
    """A figure on a plain wall, framed as VITON frames a person inside `box`: crown near the
    box's top, a head about a fifth of the box's height wide, a neck, shoulders and arms widening
    to about 60% of its width, the body going on to the feet 1.64 box heights below the crown.

    Deterministic per seed. For timings and framing tests: the proportions are those
    `tryon_app.core.framing` measures (`_CROWN_MARGIN`, `_WIDTH_PROFILE`, `_STATURE_SHARE`, from
    our synthetic scenes).
    """
    rng = np.random.default_rng(seed)
    photo = np.empty((height, width, 3), dtype=np.uint8)
    photo[:] = (232, 228, 222)
    unit = box.h / 256.0
    centre = box.x + box.w / 2

    def at(x: float, y: float) -> tuple[int, int]:
        return round(centre + x * unit), round(box.y + y * unit)

    skin = tuple(int(v) for v in rng.integers(90, 230, 3))
    shirt = tuple(int(v) for v in rng.integers(20, 200, 3))
    crown, chin, shoulders, soles = 5, 61, 72, 5 + 1.64 * 256
    head_axes = (round(27 * unit), round(28 * unit))
    cv2.ellipse(photo, at(0, (crown + chin) / 2), head_axes, 0, 0, 360, skin, -1)
    cv2.rectangle(photo, at(-10, chin - 6), at(10, shoulders + 4), skin, -1)
    torso = [at(-40, shoulders), at(40, shoulders), at(46, 210), at(-46, 210)]
    cv2.fillPoly(photo, [np.array(torso)], shirt)
    for side in (-1, 1):
        arm = [(30, shoulders - 2), (44, shoulders), (60, 130), (62, 215), (50, 215), (46, 130)]
        cv2.fillPoly(photo, [np.array([at(side * x, y) for x, y in arm])], shirt)
        cv2.rectangle(photo, at(side * 62, 215), at(side * 50, 245), skin, -1)
    legs = [at(-40, 200), at(40, 200), at(30, soles), at(-30, soles)]
    cv2.fillPoly(photo, [np.array(legs)], (40, 50, 90))
    # Sensor-like noise, a band at a time: a phone photo's float copy would be 300 MB.
    for top in range(0, height, 256):
        band = photo[top : top + 256]
        noise = rng.normal(0, 2.0, band.shape).astype(np.float32)
        band[:] = np.clip(band + noise, 0, 255).astype(np.uint8)
    return photo


def sample_photos(photo_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A person photo of `photo_size` (height, width), full body, and a garment photo half as
    large: a striped T-shirt on white."""
    height, width = photo_size
    box_h = round(0.55 * height)
    box = Box(round(width / 2 - 0.375 * box_h), round(0.04 * height), round(0.75 * box_h), box_h)
    person = sample_person_photo(height, width, box)
    garment_h, garment_w = max(256, height // 2), max(192, width // 2)
    garment = np.full((garment_h, garment_w, 3), 255, dtype=np.uint8)
    ys, xs = np.mgrid[0:garment_h, 0:garment_w]
    stripes = np.where((ys // max(2, garment_h // 60)) % 2 == 0, 40, 200).astype(np.uint8)
    shape = np.zeros((garment_h, garment_w), dtype=np.uint8)
    u, v = garment_w / 100, garment_h / 100
    outline = [
        (30, 10),
        (70, 10),
        (95, 30),
        (82, 42),
        (72, 35),
        (72, 92),
        (28, 92),
        (28, 35),
        (18, 42),
        (5, 30),
    ]
    cv2.fillPoly(shape, [np.array([(round(x * u), round(y * v)) for x, y in outline])], 255)
    garment[shape > 0] = np.stack([stripes, stripes // 2 + 60, 255 - stripes], axis=2)[shape > 0]
    return person, garment


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
    if "photo_size" in report:
        height, width = report["photo_size"]
        stages = report["stages_ms"]
        added = sum(stages[name]["p50"] for name in ("framing", "composition") if name in stages)
        lines.append(
            f"{width}x{height} photos: framing + composition {added:.1f} ms (p50), "
            f"peak memory {report['peak_memory_mb']} MB"
        )
    return "\n".join(lines)
