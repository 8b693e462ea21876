"""Official-size PF-AFN before and after compression, every path timed side by side in one run.

Deterministic weights at the official widths; CWM pruned by `--cwm` and IGM by `--igm` with the
project's pruner (group magnitude, channels rounded to multiples of 8), then INT8 by NNCF
post-training quantization calibrated on synthetic pairs (weights are random, so quality is not
the point here: speed is). Prints p50 latency, try-ons per second and the speed-up against the
unpruned FP32 fused graph.

    python benchmarks/compressed_official.py [--cwm 0.4] [--igm 0.25] [--runs 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from optimization.archs.tryon import build_models
from optimization.export import export_artifact
from optimization.model_stats import count_parameters
from optimization.prune import prune_model
from optimization.quantize import load_calibration
from optimization.recipes import PruneRecipe
from tryon_app.core.artifact import load_artifact
from tryon_app.core.bench import time_pipelines
from tryon_app.core.pipeline import RuntimeOptions, TryOnPipeline, ov_core


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cwm", type=float, default=0.4, help="CWM pruning ratio (default 0.4)")
    parser.add_argument("--igm", type=float, default=0.25, help="IGM pruning ratio (default 0.25)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calibration-pairs", type=int, default=16)
    parser.add_argument(
        "--keep", default=None, help="write the artifacts here instead of a temp folder"
    )
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    root = Path(args.keep or tempfile.mkdtemp(prefix="tryon-official-"))
    calibration = load_calibration(None, args.calibration_pairs)

    def export(folder: str, **options) -> None:
        # Exports of the official size take minutes; --keep reuses them on later runs.
        if not (root / folder / "metadata.json").is_file():
            export_artifact(warp_model, gen_model, root / folder, verify=False, **options)

    warp_model, gen_model = build_models()
    start = time.perf_counter()
    export("official-fp32", precision="fp32")
    export("official-int8", precision="int8", calibration=calibration)
    prune_model(warp_model, PruneRecipe(ratio=args.cwm))
    prune_model(gen_model, PruneRecipe(ratio=args.igm))
    parameters = count_parameters(warp_model) + count_parameters(gen_model)
    export("pruned-fp32", precision="fp32")
    export("pruned-int8", precision="int8", calibration=calibration)
    print(
        f"pruned to {parameters / 1e6:.1f} M parameters; exports took {time.perf_counter() - start:.0f} s"
    )

    has_bf16 = "BF16" in ov_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    rows = [
        ("official fp32 fused f32", "official-fp32", "fused", "f32"),
        ("official fp32 split f32", "official-fp32", "split", "f32"),
        *([("official fp32 fused bf16", "official-fp32", "fused", "bf16")] if has_bf16 else []),
        ("official int8 fused", "official-int8", "fused", "f32"),
        ("official int8 split", "official-int8", "split", "f32"),
        ("pruned fp32 split f32", "pruned-fp32", "split", "f32"),
        ("pruned int8 fused", "pruned-int8", "fused", "f32"),
        ("pruned int8 split", "pruned-int8", "split", "f32"),
        # INT8 graphs keep some float ops (the flow path, resampling); on bf16 CPUs those can
        # run in bf16 too.
        *(
            [
                ("pruned int8 fused bf16", "pruned-int8", "fused", "bf16"),
                ("pruned int8 split bf16", "pruned-int8", "split", "bf16"),
            ]
            if has_bf16
            else []
        ),
    ]
    pipelines = [
        TryOnPipeline(
            load_artifact(root / folder),
            RuntimeOptions(precision=hint, threads=args.threads, layout=layout, cache_dir=None),
        )
        for _, folder, layout, hint in rows
    ]
    results = time_pipelines(pipelines, args.runs, args.warmup)

    base = results[0]["total"]["p50"]
    print(
        f"\nOfficial-size PF-AFN, CWM -{args.cwm:.0%} / IGM -{args.igm:.0%} pruned, 256x192, "
        f"{args.threads} threads, {args.runs} runs each, in turns (p50 ms)"
    )
    print(f"{'path':<28} {'total':>8} {'p90':>8} {'MB':>7} {'per s':>7} {'vs fp32 fused':>14}")
    for (name, folder, _, _), stages in zip(rows, results, strict=True):
        total = stages["total"]
        size = load_artifact(root / folder).size_bytes() / 1e6
        print(
            f"{name:<28} {total['p50']:8.1f} {total['p90']:8.1f} {size:7.1f} "
            f"{1000 / total['p50']:7.2f} {base / total['p50']:13.2f}x"
        )
    split = results[rows.index(("pruned int8 split", "pruned-int8", "split", "f32"))]
    stages = ", ".join(f"{k} {v['p50']:.1f}" for k, v in split.items() if k != "total")
    print(f"\npruned int8 split, per stage (p50 ms): {stages}")


if __name__ == "__main__":
    main()
