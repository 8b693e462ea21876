"""End-to-end latency of PF-AFN on this CPU, every execution path side by side in one run.

Builds the official-size architecture (or `--width-factor` of it) with deterministic weights,
exports it once, and times: torch eager, OpenVINO fused (correlation as graph ops), and OpenVINO
split + numba correlation, at f32 and at bf16 where the CPU has it. Prints per-stage p50 and the
speed ratios against torch eager.

    python benchmarks/pipeline.py [--width-factor 1.0] [--runs 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from optimization.archs.tryon import build_models, tryon_forward
from optimization.archs.widths import GenWidths, WarpWidths
from optimization.export import export_artifact
from tryon_app.core.artifact import load_artifact
from tryon_app.core.bench import sample_model_inputs, time_pipeline
from tryon_app.core.pipeline import RuntimeOptions, TryOnPipeline, ov_core


def time_torch(warp_model, gen_model, runs: int, warmup: int) -> dict[str, float]:
    person, clothes, edge = (torch.from_numpy(a) for a in sample_model_inputs())
    samples = []
    with torch.no_grad():
        for index in range(warmup + runs):
            start = time.perf_counter()
            tryon_forward(warp_model, gen_model, person, clothes, edge)
            if index >= warmup:
                samples.append((time.perf_counter() - start) * 1e3)
    return {"p50": float(np.percentile(samples, 50)), "p90": float(np.percentile(samples, 90))}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--width-factor", type=float, default=1.0, help="1.0 = official widths")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--keep", default=None, help="write the artifact here instead of a temp folder"
    )
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    warp_widths, gen_widths = (
        WarpWidths().scaled(args.width_factor),
        GenWidths().scaled(args.width_factor),
    )
    if args.width_factor == 1.0:
        warp_widths, gen_widths = WarpWidths(), GenWidths()
    warp_model, gen_model = build_models(warp_widths, gen_widths)

    folder = Path(args.keep or tempfile.mkdtemp(prefix="tryon-bench-")) / "bench-model"
    start = time.perf_counter()
    export_artifact(warp_model, gen_model, folder, precision="fp32")
    print(f"exported {folder} in {time.perf_counter() - start:.1f} s")
    artifact = load_artifact(folder)

    rows: list[tuple[str, dict[str, dict[str, float]]]] = [
        ("torch eager f32", {"total": time_torch(warp_model, gen_model, args.runs, args.warmup)})
    ]
    has_bf16 = "BF16" in ov_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    for precision in ("f32", "bf16") if has_bf16 else ("f32",):
        for layout in ("fused", "split"):
            options = RuntimeOptions(
                precision=precision, threads=args.threads, layout=layout, cache_dir=None
            )
            pipeline = TryOnPipeline(artifact, options)
            rows.append(
                (f"openvino {layout} {precision}", time_pipeline(pipeline, args.runs, args.warmup))
            )

    baseline = rows[0][1]["total"]["p50"]
    print(
        f"\nPF-AFN width x{args.width_factor}, 256x192, {args.threads} threads, {args.runs} runs (p50 ms)"
    )
    header = f"{'path':<24} {'total':>8} {'p90':>8} {'encoders':>9} {'corr':>7} {'flow':>7} {'gen':>7} {'per s':>7} {'vs torch':>9}"
    print(header)
    for name, stages in rows:
        total = stages["total"]
        cells = [
            f"{stages[s]['p50']:7.1f}" if s in stages else "      -"
            for s in ("encoders", "correlation", "flow", "generator")
        ]
        print(
            f"{name:<24} {total['p50']:8.1f} {total['p90']:8.1f} {cells[0]:>9} {cells[1]:>7} {cells[2]:>7} {cells[3]:>7}"
            f" {1000 / total['p50']:7.2f} {baseline / total['p50']:8.2f}x"
        )
    f32 = {name: stages["total"]["p50"] for name, stages in rows if "f32" in name}
    fastest = min(f32, key=f32.get)
    print(f"\nfastest f32 path: {fastest}")


if __name__ == "__main__":
    main()
