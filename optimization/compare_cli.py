"""`optimize compare-methods cwm|igm`: every compression method at the same MAC budgets.

Registered by ``optimization/compress_cli.py``; the work lives in
``optimization/compare_methods.py``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from optimization.recipes import MODULES, DistillRecipe, PruneRecipe, default
from optimization.search_cli import add_search_arguments

log = logging.getLogger("optimize")


def _share(text: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a share such as 0.5 or 50%") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: a budget is a share in (0, 1)")
    return value


def _cmd_compare(args: argparse.Namespace) -> None:
    from optimization.compare_methods import (
        EVAL_SEED,
        MANIFEST,
        Commands,
        CompareSettings,
        compare_methods,
        read_manifest,
        write_manifest,
        write_pairs,
    )
    from optimization.compress_cli import open_run

    run = open_run(args)
    data = run.data_dir(args.data, args.synth_pairs)
    eval_data = Path(args.eval_data) if args.eval_data else run.root / "eval"
    if args.eval_data is None:
        write_pairs(eval_data, args.eval_pairs, EVAL_SEED)
    settings = CompareSettings(
        module=args.module,
        data=str(data),
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        threads=args.threads,
        device=args.device,
        round_to=args.round_to,
        ofa_epochs=args.ofa_epochs,
        population=args.population,
        generations=args.generations,
        search_pairs=args.search_pairs,
        min_width=args.min_width,
        eval_data=str(eval_data),
        bench_runs=args.bench_runs,
    )
    manifest = compare_methods(
        run.root,
        settings,
        args.budgets,
        teacher=run.teacher_paths,
        methods=tuple(dict.fromkeys(args.methods)),
        sensitivity=args.sensitivity,
        resume=args.resume,
        quiet=args.quiet,
    )
    for row in manifest["rows"]:
        where = row["variant"] if row["status"] == "done" else f"{row['status']}: {row['reason']}"
        print(f"{row['method']} at {row['budget']:.0%}: {where}")
    if args.no_report:
        return
    report = ["report", str(run.root), "--data", str(eval_data), "--bench-runs", args.bench_runs]
    # The report lists the commands that made it, itself included.
    commands = Commands(args.quiet)
    manifest = read_manifest(run.root)
    manifest["commands"].append(commands.line(report))
    write_manifest(run.root, manifest)
    commands.optimize(report)
    print(f"report: {run.root / 'report.md'} (rows from {run.root / MANIFEST})")


def add_compare_command(commands) -> None:
    """Add `optimize compare-methods` to the `optimize` subparsers."""
    from optimization.compare_methods import LABELS, METHODS
    from optimization.compress_cli import add_run_arguments

    epochs, lr = default(DistillRecipe, "epochs"), default(DistillRecipe, "lr")
    batch_size, seed = default(DistillRecipe, "batch_size"), default(DistillRecipe, "seed")
    parser = commands.add_parser(
        "compare-methods",
        help="uniform and sensitivity-guided pruning, once-for-all search and depth pruning "
        "of one network at the same MAC budgets, in one table and chart",
        description="For every budget (a share of the teacher network's MACs) and method ("
        + "; ".join(f"{m}: {LABELS[m]}" for m in METHODS)
        + ") runs the method's own command into DIR/methods/<method>-<budget>/ with the same "
        "data, epochs, learning rate, batch and seed: pruning at the smallest ratio that meets "
        "the budget (bisection on the exact MAC count), `optimize search --macs`, or the depth "
        "spec whose network comes closest under the budget. Exports every result to "
        "DIR/artifacts/, writes DIR/methods.json (settings, rows, every command run), then runs "
        "`optimize report DIR` on held-out pairs: a table and DIR/methods.png put quality (SSIM "
        "vs teacher and vs ground truth, mask IoU) against MACs and measured p50 latency.",
    )
    parser.add_argument("module", choices=tuple(MODULES))
    add_run_arguments(parser)
    parser.add_argument(
        "--budgets",
        type=_share,
        nargs="+",
        default=[0.5, 0.3],
        metavar="SHARE",
        help="shares of the teacher network's MACs (0.5 or 50%%; default 0.5 0.3)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=list(METHODS),
        help="default: all four",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=epochs,
        help=f"fine-tuning epochs of every method (default {epochs})",
    )
    parser.add_argument("--lr", type=float, default=lr, help=f"default {lr:g}")
    parser.add_argument("--batch-size", type=int, default=batch_size, help=f"default {batch_size}")
    parser.add_argument("--seed", type=int, default=seed, help=f"default {seed}")
    parser.add_argument(
        "--threads", type=int, default=default(DistillRecipe, "threads"), help="torch CPU threads"
    )
    parser.add_argument("--device", default=default(DistillRecipe, "device"), help="cpu or cuda")
    round_to = default(PruneRecipe, "round_to")
    parser.add_argument(
        "--round-to",
        type=int,
        default=round_to,
        help=f"channel counts of pruned and searched networks are multiples of this (default "
        f"{round_to})",
    )
    parser.add_argument(
        "--sensitivity",
        default=None,
        metavar="FILE",
        help="an `optimize sensitivity` JSON of the module (default: made in DIR/sensitivity/)",
    )
    parser.add_argument(
        "--ofa-epochs",
        type=int,
        default=2,
        help="once-for-all training epochs, once for all budgets (default 2)",
    )
    add_search_arguments(parser)
    parser.add_argument(
        "--eval-data",
        default=None,
        help="VITON-layout folder the report evaluates on (default: --eval-pairs synthetic "
        "pairs of seed 2 in DIR/eval)",
    )
    parser.add_argument(
        "--eval-pairs", type=int, default=50, help="synthetic evaluation pairs (default 50)"
    )
    parser.add_argument(
        "--bench-runs", type=int, default=30, help="timed runs per model (default 30)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="skip the method runs DIR has finished"
    )
    parser.add_argument("--no-report", action="store_true", help="stop before `optimize report`")
    parser.set_defaults(handler=_cmd_compare)
