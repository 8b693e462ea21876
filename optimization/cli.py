"""`optimize`: the torch-side command line (synthetic data, training, compression, export)."""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import sys
from pathlib import Path

from tryon_app.core.artifact import GRAPH_ROLES, QUANTIZERS
from tryon_app.core.artifact import PRECISIONS as EXPORT_PRECISIONS
from tryon_app.core.pipeline import PRECISIONS

log = logging.getLogger("optimize")


class CommandError(Exception):
    """A failure the user can fix; printed as one line, exit code 1."""


def _size(text: str) -> tuple[int, int]:
    """`HxW` (e.g. 1024x768) -> (height, width)."""
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected HEIGHTxWIDTH such as 1024x768, got {text!r}"
        ) from None
    return height, width


def _cmd_synth(args: argparse.Namespace) -> None:
    from optimization.data.synthetic import write_dataset

    if args.style != "realistic" and (args.size != (256, 192) or args.scene != "viton"):
        raise CommandError(
            f"--style {args.style} renders 256x192 VITON frames only (no --size or --scene)"
        )
    write_dataset(
        Path(args.out),
        n_pairs=args.n,
        seed=args.seed,
        progress=not args.quiet,
        style=args.style,
        size=args.size,
        scene=args.scene,
        workers=args.workers,
    )


def _cmd_synth_clip(args: argparse.Namespace) -> None:
    from optimization.data.synth_clip import render_clip, write_clip

    if args.seconds <= 0 or args.fps <= 0:
        raise CommandError("--seconds and --fps must be positive")
    clip = render_clip(args.seed, size=args.size, fps=args.fps, seconds=args.seconds)
    video = write_clip(clip, Path(args.out), pngs=not args.no_png)
    print(f"wrote {len(clip.frames)} frames to {video} and their ground truth under {args.out}")


def _cmd_samples(args: argparse.Namespace) -> None:
    from optimization.data.synthetic import write_samples

    written = write_samples(Path(args.out), args.n, args.seed, args.style, args.size, args.scene)
    print(f"wrote {len(written)} sample photos under {args.out}")


def _cmd_train(args: argparse.Namespace) -> None:
    from optimization.train import TrainRecipe, train

    recipe = TrainRecipe(
        data=args.data,
        out=args.out,
        width_factor=args.width_factor,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        max_minutes=args.max_minutes,
        checkpoint_minutes=args.checkpoint_minutes or None,
        seed=args.seed,
        threads=args.threads,
        device=args.device,
        autocast_bf16=args.bf16,
        init_from=args.init,
        frozen_batchnorm=args.batchnorm == "frozen",
    )
    run = train(recipe, resume=args.resume, progress=not args.quiet)
    print(f"checkpoints: {run / 'warp_last.pth'} {run / 'gen_last.pth'}")


def _cmd_export(args: argparse.Namespace) -> None:
    from optimization.checkpoints import load_models
    from optimization.export import export_artifact

    warp_model, gen_model = load_models(args.warp, args.gen)
    calibration = None
    if args.precision == "int8":
        from optimization.quantize import load_calibration

        calibration = load_calibration(args.calib, args.calib_size)
    out = export_artifact(
        warp_model,
        gen_model,
        args.out,
        precision=args.precision,
        calibration=calibration,
        onnx=args.format == "onnx",
        metadata={"source": {"warp": str(args.warp), "gen": str(args.gen)}},
        quantizer=args.quantizer,
        float_graphs=tuple(args.float or ()),
    )
    print(f"artifact: {out}")


def _cmd_upgrade(args: argparse.Namespace) -> None:
    from optimization.upgrade import UpgradeError, upgrade_artifact
    from tryon_app.core.errors import TryOnError

    try:
        changed = upgrade_artifact(args.model)
    except (UpgradeError, TryOnError) as error:
        raise CommandError(f"{args.model}: {error}") from None
    what = f"the composition outputs added to {', '.join(changed)}" if changed else "up to date"
    print(f"{args.model}: {what}")


def _cmd_evaluate(args: argparse.Namespace) -> None:
    if args.real is not None:
        _evaluate_real(args)
        return
    if args.data is None:
        args.usage.error("--data is required (or --real DIR for real photos)")
    torch_mode = args.warp is not None or args.gen is not None
    if torch_mode == (args.model is not None):
        args.usage.error("give either --model DIR (an artifact) or --warp and --gen (checkpoints)")
    if torch_mode and (args.warp is None or args.gen is None):
        args.usage.error("--warp and --gen go together")
    if torch_mode and args.teacher is not None:
        args.usage.error("--teacher compares artifacts: use it with --model")
    if torch_mode and args.precision != "f32":
        args.usage.error("--precision is an OpenVINO hint: use it with --model")
    if torch_mode:
        from optimization.checkpoints import load_models
        from optimization.evaluate import evaluate_models

        warp_model, gen_model = load_models(args.warp, args.gen)
        metrics = evaluate_models(
            warp_model, gen_model, args.data, limit=args.limit, progress=not args.quiet
        )
    else:
        from optimization.evaluate import evaluate_artifact

        metrics = evaluate_artifact(
            args.model,
            args.data,
            teacher=args.teacher,
            limit=args.limit,
            bench_runs=args.bench_runs,
            precision=args.precision,
            progress=not args.quiet,
        ).to_dict()
    text = json.dumps(metrics, indent=2) + "\n"
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text, encoding="utf-8")
    print(text, end="")


def _evaluate_real(args: argparse.Namespace) -> None:
    from optimization.real_photos import evaluate_real

    if args.warp is not None or args.gen is not None or args.data is not None:
        args.usage.error("--real runs an artifact (--model, default the shipped one) on its own")
    sheet = Path(args.sheet) if args.sheet else None
    metrics = evaluate_real(args.model, args.real, sheet=sheet)
    for pair in metrics["pairs"]:
        verdict = "better" if pair["ssim"] > pair["unchanged_ssim"] else "WORSE"
        print(
            f"{pair['name']}: SSIM {pair['ssim']:.3f} (unchanged photo "
            f"{pair['unchanged_ssim']:.3f}, {verdict}), PSNR {pair['psnr']:.2f} dB "
            f"({pair['unchanged_psnr']:.2f})"
        )
    print(
        f"mean: SSIM {metrics['ssim']:.3f} (unchanged photo {metrics['unchanged_ssim']:.3f}), "
        f"PSNR {metrics['psnr']:.2f} dB ({metrics['unchanged_psnr']:.2f})"
        + (f"; sheet {sheet}" if sheet else "")
    )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")


def _cmd_report(args: argparse.Namespace) -> None:
    from optimization.report import write_report

    path = write_report(
        args.run,
        data=args.data,
        real=args.real,
        baseline=args.baseline,
        limit=args.limit,
        bench_runs=args.bench_runs,
        progress=not args.quiet,
    )
    print(f"report: {path}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optimize",
        description="Train, compress and export PF-AFN try-on models for the CPU runtime.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="warnings only, no progress bars"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    synth = commands.add_parser(
        "synth",
        help="write a procedural synthetic try-on dataset in VITON's folder layout",
        description="Write N person/garment pairs with ground truth (gt/, gt_cloth_mask/) in VITON's "
        "layout: test_img/, test_clothes/, test_edge/ and pairs.txt. Deterministic per seed. "
        "Another --scene or --size also writes changed/ (where person and ground truth differ) "
        "and framing/ (each photo's size and VITON box).",
    )
    synth.add_argument("--out", required=True, help="output folder (created)")
    synth.add_argument("--n", type=int, default=200, help="number of pairs (default 200)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument(
        "--style",
        choices=("realistic", "flat", "mixed"),
        default="realistic",
        help="realistic: studio photos of people (default); flat: the original illustrated "
        "mannequin, bit for bit; mixed: every fourth pair flat, the others realistic (the "
        "shipped model's training data)",
    )
    synth.add_argument(
        "--size",
        type=_size,
        default=(256, 192),
        metavar="HxW",
        help="photo size, e.g. 1024x768 (default 256x192; other scenes keep about as many pixels "
        "in their own aspect ratio)",
    )
    synth.add_argument(
        "--scene",
        choices=("viton", "full-body", "offset"),
        default="viton",
        help="viton: VITON's head-to-thigh framing (default); full-body: head to feet; offset: "
        "small and off-centre in a wider shot (both in random aspect ratios)",
    )
    synth.add_argument(
        "--workers", type=int, default=1, help="processes rendering in parallel (default 1)"
    )
    synth.set_defaults(handler=_cmd_synth)

    clip = commands.add_parser(
        "synth-clip",
        help="write a short synthetic video with per-frame ground truth (the live try-on's test clip)",
        description="Write OUT/person.mp4: a synthetic person breathing, swaying and stepping "
        "sideways, with still parts at both ends and camera noise; per frame the ground truth in "
        "the requested garment (gt/, gt_cloth_mask/), the lossless frames (person/), the garment "
        "to try on (cloth.png, cloth_mask.png) and clip.json (motion, phases, framing boxes).",
    )
    clip.add_argument("--out", required=True, help="output folder (created)")
    clip.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    clip.add_argument(
        "--size", type=_size, default=(480, 640), metavar="HxW", help="frame size (default 480x640)"
    )
    clip.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    clip.add_argument("--seconds", type=float, default=4.0, help="length (default 4)")
    clip.add_argument(
        "--no-png", action="store_true", help="only the mp4, clip.json and the garment"
    )
    clip.set_defaults(handler=_cmd_synth_clip)

    samples = commands.add_parser(
        "samples",
        help="write sample person and garment photos (the app's assets/) with the generator",
        description="Write OUT/persons/person_NN.jpg and OUT/garments/garment_NN.jpg from the "
        "synthetic generator. The shipped samples: optimize samples --out assets --n 8 --seed 5 "
        "--style realistic --size 1280x960 --scene full-body",
    )
    samples.add_argument("--out", required=True, help="folder (e.g. assets)")
    samples.add_argument("--n", type=int, default=8, help="persons and garments each (default 8)")
    samples.add_argument("--seed", type=int, default=5, help="random seed (default 5)")
    samples.add_argument(
        "--style", choices=("flat", "realistic"), default="flat", help="as for synth (default flat)"
    )
    samples.add_argument(
        "--size", type=_size, default=(256, 192), metavar="HxW", help="as for synth"
    )
    samples.add_argument(
        "--scene", choices=("viton", "full-body", "offset"), default="viton", help="as for synth"
    )
    samples.set_defaults(handler=_cmd_samples)

    train = commands.add_parser(
        "train",
        help="train CWM and IGM from scratch on data with ground truth (synthetic)",
        description="Supervised training of both networks. Writes RUN/warp_last.pth, RUN/gen_last.pth "
        "(checkpoints with widths), RUN/recipe.json and RUN/history.jsonl; one checkpoint per epoch.",
    )
    train.add_argument(
        "--data", required=True, help="VITON-layout folder with gt/ and gt_cloth_mask/"
    )
    train.add_argument("--out", required=True, help="run folder (created)")
    train.add_argument(
        "--width-factor",
        type=float,
        default=0.25,
        help="channels relative to official (default 0.25)",
    )
    train.add_argument("--epochs", type=int, default=10, help="default 10")
    train.add_argument("--batch-size", type=int, default=8, help="default 8")
    train.add_argument(
        "--lr", type=float, default=2e-4, help="Adam learning rate, cosine decay (default 2e-4)"
    )
    train.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop after this much wall time, saving the state where it stopped (--resume goes on)",
    )
    train.add_argument(
        "--checkpoint-minutes",
        type=float,
        default=10.0,
        help="save the training state this often inside an epoch, so that --resume loses at most "
        "this much work (default 10; 0: at epoch ends only)",
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    train.add_argument("--device", default="cpu", help="torch device: cpu or cuda (default cpu)")
    train.add_argument(
        "--bf16",
        action="store_true",
        help="bf16 autocast for the convolutions (about 1.5x faster on CPUs with AVX512-BF16 or AMX; "
        "ignored, with a warning, on CPUs without them, where it is many times slower)",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue from RUN/train_state.pth, at the batch where the last run stopped",
    )
    train.add_argument(
        "--init",
        default=None,
        metavar="DIR",
        help="start from the checkpoints DIR/warp.pth and DIR/gen.pth (e.g. models/teacher) "
        "instead of fresh networks; their widths replace --width-factor",
    )
    train.add_argument(
        "--batchnorm",
        choices=("batch", "frozen"),
        default="batch",
        help="batch: BatchNorm trains on batch statistics (default); frozen: it keeps the running "
        "statistics of --init's networks (scale and shift still learn), for fine-tuning a "
        "trained teacher",
    )
    train.set_defaults(handler=_cmd_train)

    export = commands.add_parser(
        "export",
        help="write an OpenVINO artifact (split + fused layouts) from checkpoints and verify it",
        description="Convert official PF-AFN checkpoints (warp_model_final.pth, gen_model_final.pth) "
        "or our own into models/NAME: OpenVINO IR for the app's split pipeline and a fused single "
        "graph, metadata.json with hashes. The result is loaded back and compared with torch.",
    )
    export.add_argument("--warp", required=True, help="warp (CWM) checkpoint")
    export.add_argument("--gen", required=True, help="generator (IGM) checkpoint")
    export.add_argument("--out", required=True, help="artifact folder, e.g. models/pfafn-official")
    export.add_argument(
        "--precision", choices=EXPORT_PRECISIONS, default="fp32", help="default fp32"
    )
    export.add_argument(
        "--calib",
        default=None,
        help="VITON-layout folder for int8 calibration (default: synthetic)",
    )
    export.add_argument(
        "--calib-size", type=int, default=64, help="calibration pairs for int8 (default 64)"
    )
    export.add_argument(
        "--quantizer",
        choices=QUANTIZERS,
        default="nncf",
        help="int8 post-training quantizer: NNCF or Intel Neural Compressor (PT2E); a graph INC "
        "cannot quantize stays float, and metadata lists the quantized graphs (default nncf)",
    )
    export.add_argument(
        "--float",
        nargs="+",
        choices=GRAPH_ROLES,
        metavar="GRAPHS",
        help="int8: split graphs to keep in float, from features (both encoders and FPNs), "
        "levels (the flow heads, where INT8 costs most quality) and render (the generator); "
        "the fused graph then stays float too",
    )
    export.add_argument(
        "--format", choices=("ir", "onnx"), default="ir", help="onnx: also write fused.onnx"
    )
    export.set_defaults(handler=_cmd_export)

    evaluate = commands.add_parser(
        "evaluate",
        help="measure an exported artifact (--model) or torch checkpoints (--warp/--gen)",
        description="--model DIR: run an OpenVINO artifact through the app's split pipeline (f32 "
        "hint) on every pair: SSIM/PSNR of the try-on vs a --teacher artifact and vs ground truth, "
        "warped-garment mask IoU, FID when pytorch-fid's weights are installed, parameters, "
        "GFLOPs, file sizes per module and `tryon bench` speed. --warp/--gen: torch checkpoints "
        "against ground truth (mask IoU, SSIM, PSNR) next to the identity baseline.",
    )
    evaluate.add_argument("--model", default=None, help="artifact folder to evaluate")
    evaluate.add_argument(
        "--teacher", default=None, help="artifact folder whose try-ons are the reference"
    )
    evaluate.add_argument("--warp", default=None, help="warp (CWM) checkpoint (torch mode)")
    evaluate.add_argument("--gen", default=None, help="generator (IGM) checkpoint (torch mode)")
    evaluate.add_argument(
        "--data",
        default=None,
        help="VITON-layout folder (ground-truth metrics need gt/ and gt_cloth_mask/)",
    )
    evaluate.add_argument(
        "--real",
        default=None,
        metavar="DIR",
        help="real photos with reference try-ons instead (test_img/, test_clothes/, a pairs "
        "file and official_results/<person>__<cloth>.jpg, as the VITON demo folder): each pair "
        "as `tryon run` does it, SSIM and PSNR against the reference at 192x256, next to the "
        "unchanged photo's",
    )
    evaluate.add_argument(
        "--sheet", default=None, help="with --real: write a contact sheet PNG here"
    )
    evaluate.add_argument("--limit", type=int, default=None, help="first N pairs only")
    evaluate.add_argument(
        "--bench-runs",
        type=int,
        default=30,
        help="timed runs for the speed measurement, 0 to skip (--model; default 30)",
    )
    evaluate.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="f32",
        help="OpenVINO inference precision hint of the --model run and its speed measurement, "
        "e.g. bf16 on CPUs that have it; the --teacher reference always runs at f32 (default f32)",
    )
    evaluate.add_argument("--json", default=None, help="also write the results here")
    evaluate.set_defaults(handler=_cmd_evaluate, usage=evaluate)

    upgrade = commands.add_parser(
        "upgrade",
        help="bring an artifact exported by an earlier version up to date (no checkpoints needed)",
        description="Adds what the app now uses to an artifact exported before it existed: the "
        "render graph's rendered person and composition mask (p_rendered, m_composite), which "
        "full-resolution try-ons need. The try-on is checked unchanged; metadata.json is "
        "re-hashed.",
    )
    upgrade.add_argument("model", help="artifact folder")
    upgrade.set_defaults(handler=_cmd_upgrade)

    report = commands.add_parser(
        "report",
        help="compare the variants of a compression run in RUN/report.md with plots",
        description="RUN/artifacts/<variant>/ holds artifact folders and RUN/evaluation/<variant>.json "
        "their `optimize evaluate --json` results; variants without results are evaluated when "
        "--data is given. Writes RUN/report.md (GFLOPs, parameters, size per module, compression "
        "ratio, SSIM/PSNR vs the teacher, quality vs ground truth, FID, try-ons per second) and "
        "PNG plots of quality against size and of latency per stage.",
    )
    report.add_argument("run", help="run folder")
    report.add_argument(
        "--data", default=None, help="VITON-layout folder to evaluate variants that lack results"
    )
    report.add_argument(
        "--baseline",
        default=None,
        help="variant the ratios and teacher metrics refer to (default: teacher*, else the largest)",
    )
    report.add_argument(
        "--real",
        default=None,
        metavar="DIR",
        help="also score every variant on real photos with reference try-ons (the layout of "
        "`optimize evaluate --real`) and add their table",
    )
    report.add_argument("--limit", type=int, default=None, help="first N pairs when evaluating")
    report.add_argument(
        "--bench-runs", type=int, default=30, help="timed runs when evaluating (default 30)"
    )
    report.set_defaults(handler=_cmd_report)

    from optimization.compress_cli import add_compression_commands

    add_compression_commands(commands)
    return parser


def start_child_processes_from_a_server() -> None:
    """Make every child process of this one start from a fresh server process, not as a fork of it.

    By the time anything here starts a process, this one runs threads: torch's, and numba's TBB
    pool once an export has been verified through the app's kernel. A fork copies them in whatever
    state they are in, and numba's TBB layer says so ("Attempted to fork from a non-main thread")
    for every fork from a thread other than the one that started it. OpenVINO's model converter
    does that hundreds of times per export: its usage telemetry starts a process per event from a
    thread of its own. DataLoader workers would be forked the same way. "forkserver" forks them
    from a single-threaded server instead (Linux and macOS; Windows only spawns).
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        multiprocessing.set_start_method("forkserver", force=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    start_child_processes_from_a_server()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s: %(message)s",
    )
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        args.handler(args)
    except (CommandError, FileNotFoundError, ValueError) as error:
        print(f"optimize {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
