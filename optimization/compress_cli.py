"""`optimize cwm|igm|prune|distill|qat|ptq|sensitivity|ship`: the compression commands.

Registered into the `optimize` parser by ``optimization/cli.py``; the work lives in
``optimization/compress.py`` (stages and the run folder) and the modules it calls.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from optimization.recipes import (
    DEPTH_HELP,
    IMPORTANCES,
    LOSS_WEIGHTINGS,
    MODULES,
    OUTPUT_WEIGHTS,
    SSIM_TERMS,
    DepthRecipe,
    DistillRecipe,
    PruneRecipe,
    QatRecipe,
    default,
)
from tryon_app.core.artifact import GRAPH_ROLES, QUANTIZERS

log = logging.getLogger("optimize")

RATIO_HELP = (
    "fraction of the channels removed from every prunable layer group, in (0, 0.9); "
    "parameters and MACs shrink by about 1-(1-R)^2 (0.4 -> 64%%, 0.25 -> 44%%)"
)


def open_run(args: argparse.Namespace):
    from optimization.compress import CompressionRun

    return CompressionRun.open(args.out, args.warp, args.gen)


def distill_recipe_from_args(args: argparse.Namespace, data: Path, *, epochs: int, lr: float):
    return DistillRecipe(
        data=str(data),
        epochs=epochs,
        batch_size=args.batch_size,
        lr=lr,
        feature_weight=args.feature_weight,
        supervised_weight=args.supervised_weight,
        output_weights={
            **OUTPUT_WEIGHTS,
            **dict.fromkeys(SSIM_TERMS, args.ssim_weight),
        },
        max_minutes=args.max_minutes,
        seed=args.seed,
        threads=args.threads,
        device=args.device,
        autocast_bf16=args.bf16,
        frozen_batchnorm=args.batchnorm == "frozen",
        # Depth pruning recovers with dynamic weights unless told otherwise.
        loss_weighting=args.loss_weighting
        or ("uncertainty" if getattr(args, "depth", None) else "static"),
        adversarial_weight=args.adversarial_weight,
        discriminator_width=args.discriminator_width,
    )


def _prune_recipe(args: argparse.Namespace):
    if not 0.0 < args.ratio < 0.9:
        raise ValueError(f"--ratio {args.ratio}: must be in (0, 0.9)")
    return PruneRecipe(
        ratio=args.ratio,
        importance=args.importance,
        iterative_steps=args.steps,
        round_to=args.round_to,
    )


def _sensitivity(args: argparse.Namespace):
    if not args.sensitivity:
        return None
    return json.loads(Path(args.sensitivity).read_text(encoding="utf-8"))


def export_variant(run, variant: str, **options) -> None:
    from optimization.compress import export_stage

    path = export_stage(run, variant, **options)
    print(f"artifact: {path}")


def _cmd_module(args: argparse.Namespace) -> None:
    """`optimize cwm|igm`: prune, distil, optionally QAT, export."""
    from optimization.compress import distill_stage, prune_stage, qat_stage

    depth = args.depth
    if args.ratio is None and depth is None:
        raise ValueError("give --ratio, --depth or both")
    run = open_run(args)
    data = run.data_dir(args.data, args.synth_pairs)
    if depth is not None:
        from optimization.depth import depth_stage

        record = depth_stage(run, depth, data=data)
        removed = (
            f"{record['refine_heads_before']} -> {record['refine_heads_after']} refinement heads"
            if args.module == "cwm"
            else f"{record['levels_removed']} levels removed"
        )
        print(
            f"depth {args.module}: {record['residual_blocks_before']} -> "
            f"{record['residual_blocks_after']} residual blocks, {removed}, "
            f"{record['gmacs_before']:.3f} -> {record['gmacs_after']:.3f} GMACs"
        )
    if args.ratio is not None:
        record = prune_stage(
            run, args.module, _prune_recipe(args), sensitivity=_sensitivity(args), data=data
        )
        print(
            f"pruned {args.module}: {record['parameters_before'] / 1e6:.2f} M -> "
            f"{record['parameters_after'] / 1e6:.2f} M parameters"
        )
    if args.epochs > 0:
        distill_stage(
            run,
            args.module,
            distill_recipe_from_args(args, data, epochs=args.epochs, lr=args.lr),
            resume=args.resume,
            progress=not args.quiet,
        )
    if args.no_export:
        return
    if not run.artifact_dir("teacher-fp32").is_dir():
        export_variant(run, "teacher-fp32", teacher=True)
    export_variant(run, run.variant_name("fp32"))
    if args.baselines:
        export_variant(run, run.variant_name("ptq-nncf"), precision="int8")
        export_variant(run, run.variant_name("ptq-inc"), precision="int8", quantizer="inc")
    if args.qat:
        recipe = _qat_recipe(args, data)
        qat_stage(run, recipe, progress=not args.quiet)
        export_variant(run, _qat_variant(run, recipe), qat=True)


def _cmd_prune(args: argparse.Namespace) -> None:
    from optimization.compress import prune_stage

    run = open_run(args)
    data = run.data_dir(args.data, args.synth_pairs) if args.importance == "taylor" else None
    record = prune_stage(
        run, args.module, _prune_recipe(args), sensitivity=_sensitivity(args), data=data
    )
    print(json.dumps({k: record[k] for k in ("module", "parameters_before", "parameters_after")}))


def _cmd_distill(args: argparse.Namespace) -> None:
    from optimization.compress import distill_stage

    run = open_run(args)
    data = run.data_dir(args.data, args.synth_pairs)
    record = distill_stage(
        run,
        args.module,
        distill_recipe_from_args(args, data, epochs=args.epochs, lr=args.lr),
        resume=args.resume,
        progress=not args.quiet,
    )
    print(json.dumps(record["last_epoch"]))


def _cmd_qat(args: argparse.Namespace) -> None:
    from optimization.compress import qat_stage

    run = open_run(args)
    data = run.data_dir(args.data, args.synth_pairs)
    recipe = _qat_recipe(args, data)
    path = qat_stage(run, recipe, resume=args.resume, progress=not args.quiet)
    print(f"qat checkpoint: {path}")
    if not args.no_export:
        export_variant(run, _qat_variant(run, recipe), qat=True)


def _qat_recipe(args: argparse.Namespace, data: Path):
    return QatRecipe(
        calibration_pairs=args.calibration_pairs,
        distill=distill_recipe_from_args(args, data, epochs=args.qat_epochs, lr=args.qat_lr),
        modules=tuple(dict.fromkeys(args.int8)),
        float_graphs=tuple(dict.fromkeys(args.float or ())),
    )


def _qat_variant(run, recipe) -> str:
    """`...-qat-int8`, `...-qat-int8-igm` when only some modules are quantized, and
    `...-levels-float` when some graphs stay float."""
    suffix = "qat-int8"
    if set(recipe.modules) != set(MODULES):
        suffix += "-" + "-".join(sorted(recipe.modules))
    if recipe.float_graphs:
        suffix += "-" + "-".join(recipe.float_graphs) + "-float"
    return run.variant_name(suffix)


def _cmd_ptq(args: argparse.Namespace) -> None:
    run = open_run(args)
    data = run.data_dir(args.data, args.synth_pairs) if args.data else None
    for quantizer in args.quantizer:
        export_variant(
            run,
            run.variant_name(f"ptq-{quantizer}"),
            precision="int8",
            quantizer=quantizer,
            calibration_data=data,
        )


def _cmd_quant_table(args: argparse.Namespace) -> None:
    from optimization.quant_table import quant_table

    if args.resume:
        raise ValueError("quant-table starts every method afresh from the student; no --resume")
    run = open_run(args)
    data = run.data_dir(args.data, args.synth_pairs)
    manifest = quant_table(
        run,
        distill_recipe_from_args(args, data, epochs=args.epochs, lr=args.lr),
        qat_lr=args.qat_lr,
        modules=tuple(dict.fromkeys(args.int8)),
        calibration_pairs=args.calibration_pairs,
        methods=tuple(dict.fromkeys(args.methods)),
        progress=not args.quiet,
    )
    for row in manifest["rows"]:
        print(f"{row['label']}: {run.artifact_dir(row['variant'])}")
    if not run.artifact_dir("teacher-fp32").is_dir():
        export_variant(run, "teacher-fp32", teacher=True)
    print(f"optimize report {run.root} --data DIR: the table with their quality and speed")


def _cmd_sensitivity(args: argparse.Namespace) -> None:
    from torch.utils.data import DataLoader

    from optimization.checkpoints import load_models
    from optimization.compress import default_teacher
    from optimization.data.viton import VitonPairs
    from optimization.sensitivity import filter_sensitivity, group_sensitivity, write_report

    if (args.warp is None) != (args.gen is None):
        raise ValueError("give both --warp and --gen, or neither")
    warp_path, gen_path = (args.warp, args.gen) if args.warp else default_teacher()
    warp_model, gen_model = load_models(warp_path, gen_path)
    if args.data is None:
        from optimization.data.synthetic import write_dataset

        args.data = Path(args.out) / "data"
        if not (Path(args.data) / "pairs.txt").is_file():
            write_dataset(Path(args.data), n_pairs=args.pairs, seed=4, progress=False)
    batch = next(iter(DataLoader(VitonPairs(args.data), batch_size=args.pairs)))
    samples = tuple(batch[k] for k in ("person", "clothes", "edge"))
    network = MODULES[args.module]
    if args.filters:
        result = filter_sensitivity(
            warp_model, gen_model, network, args.filters, samples, progress=not args.quiet
        )
        stem = f"filters_{args.module}"
    else:
        result = group_sensitivity(
            warp_model, gen_model, network, samples, ratios=args.ratios, progress=not args.quiet
        )
        stem = f"sensitivity_{args.module}"
    json_path, png_path = write_report(result, args.out, stem)
    print(f"wrote {json_path} and {png_path}")


def _cmd_ship(args: argparse.Namespace) -> None:
    from optimization.ship import ship_artifact, ship_teacher

    evaluations = {}
    for item in args.evaluation:
        label, _, path = item.partition("=")
        if not path:
            raise ValueError(f"--evaluation {item!r}: expected LABEL=FILE")
        evaluations[label] = path
    commands = (
        [line for line in Path(args.commands).read_text().splitlines() if line.strip()]
        if args.commands
        else None
    )
    out = ship_artifact(
        args.artifact,
        args.out,
        training_run=args.training_run,
        teacher_record=args.teacher_record,
        compression_run=args.compression_run,
        evaluations=evaluations,
        commands=commands,
    )
    print(f"shipped {out}")
    if args.teacher_warp:
        teacher = ship_teacher(
            args.teacher_warp,
            args.teacher_gen,
            args.teacher_out,
            training_run=args.training_run,
            commands=commands,
            half=args.teacher_half,
        )
        print(f"teacher checkpoints: {teacher}")


# ---------------------------------------------------------------------------------------------
# Parser


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="run folder (created; reused by later stages)")
    parser.add_argument(
        "--warp",
        default=None,
        help="teacher warp (CWM) checkpoint, official or ours (default: the shipped teacher)",
    )
    parser.add_argument(
        "--gen",
        default=None,
        help="teacher generator (IGM) checkpoint (default: the shipped teacher)",
    )
    parser.add_argument(
        "--data",
        default=None,
        help="VITON-layout folder to fine-tune on (default: synthetic pairs made in RUN/data)",
    )
    parser.add_argument(
        "--synth-pairs",
        type=int,
        default=1000,
        help="synthetic pairs to make when --data is not given (default 1000)",
    )


def add_training_arguments(
    parser: argparse.ArgumentParser,
    *,
    epochs: int = default(DistillRecipe, "epochs"),
    lr: float = default(DistillRecipe, "lr"),
) -> None:
    """The distillation recipe's flags, with its defaults (`epochs` and `lr` may differ)."""
    batch_size = default(DistillRecipe, "batch_size")
    feature_weight = default(DistillRecipe, "feature_weight")
    supervised_weight = default(DistillRecipe, "supervised_weight")
    ssim_weight = OUTPUT_WEIGHTS["p_tryon_ssim"]
    device = default(DistillRecipe, "device")
    batchnorm = "frozen" if default(DistillRecipe, "frozen_batchnorm") else "batch"
    parser.add_argument(
        "--epochs",
        type=int,
        default=epochs,
        help=f"distillation epochs, 0 to skip (default {epochs})",
    )
    parser.add_argument(
        "--lr", type=float, default=lr, help=f"Adam learning rate, cosine decay (default {lr:g})"
    )
    parser.add_argument("--batch-size", type=int, default=batch_size, help=f"default {batch_size}")
    parser.add_argument(
        "--feature-weight",
        type=float,
        default=feature_weight,
        help=f"weight of intermediate-feature matching (default {feature_weight:g}; 0 disables)",
    )
    parser.add_argument(
        "--supervised-weight",
        type=float,
        default=supervised_weight,
        help="weight of PF-AFN's supervised losses where the data has ground truth (default "
        f"{supervised_weight:g}; 0 trains on the teacher alone, which keeps the student closest "
        "to the teacher)",
    )
    parser.add_argument(
        "--ssim-weight",
        type=float,
        default=ssim_weight,
        help="weight of 1-SSIM between the student's and the teacher's warped garment and "
        f"try-on (default {ssim_weight:g}). L1 alone lets a student blur patterns the teacher keeps; "
        "this term is the metric the report ranks by",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=default(DistillRecipe, "max_minutes"),
        help="stop each fine-tuning after this much wall time",
    )
    parser.add_argument("--seed", type=int, default=default(DistillRecipe, "seed"))
    parser.add_argument(
        "--threads", type=int, default=default(DistillRecipe, "threads"), help="torch CPU threads"
    )
    parser.add_argument(
        "--device", default=device, help=f"torch device: cpu or cuda (default {device})"
    )
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast of the convolutions")
    parser.add_argument(
        "--batchnorm",
        choices=("frozen", "batch"),
        default=batchnorm,
        help="frozen: BatchNorm of the trained network keeps its running statistics (the "
        "warp needs this: its try-on moves with them); batch: it normalises with batch "
        "statistics and updates them, which helps a generator recover right after pruning "
        f"(default {batchnorm})",
    )
    parser.add_argument(
        "--loss-weighting",
        choices=LOSS_WEIGHTINGS,
        default=None,
        help="static: the weights above; uncertainty: the terms the trained network influences "
        "get learned weights (Kendall et al. 2018: sum of exp(-s)*loss + s, s learned, started "
        "at the static weights) that adapt so no term dominates (default uncertainty with "
        "--depth, static otherwise)",
    )
    adversarial = default(DistillRecipe, "adversarial_weight")
    discriminator = default(DistillRecipe, "discriminator_width")
    parser.add_argument(
        "--adversarial-weight",
        type=float,
        default=adversarial,
        help="weight of a PatchGAN discriminator's hinge loss on the try-on (real: the "
        f"teacher's try-on, conditioned on the generator's input); default {adversarial:g}, off. "
        "One process only (not under torchrun)",
    )
    parser.add_argument(
        "--discriminator-width",
        type=int,
        default=discriminator,
        help=f"channels of the discriminator's first layer (default {discriminator})",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted fine-tuning from its last epoch",
    )


def _depth_recipe(module: str):
    """An argparse type: `DepthRecipe.parse` for `module`, its errors a one-line usage error."""

    def parse(text: str):
        try:
            return DepthRecipe.parse(text, module)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _add_prune_arguments(parser: argparse.ArgumentParser, *, ratio_required: bool = True) -> None:
    """The pruning recipe's flags, with its defaults."""
    importance = default(PruneRecipe, "importance")
    steps, round_to = default(PruneRecipe, "iterative_steps"), default(PruneRecipe, "round_to")
    parser.add_argument(
        "--ratio",
        type=float,
        required=ratio_required,
        help=RATIO_HELP if ratio_required else RATIO_HELP + "; with --depth, after it",
    )
    parser.add_argument(
        "--importance",
        choices=IMPORTANCES,
        default=importance,
        help=f"channel importance: group L2 magnitude or first-order Taylor (default {importance})",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=steps,
        help=f"reach the ratio in this many pruning steps (default {steps})",
    )
    parser.add_argument(
        "--round-to",
        type=int,
        default=round_to,
        help=f"kept channel counts are multiples of this (default {round_to})",
    )
    parser.add_argument(
        "--sensitivity",
        default=None,
        help="JSON from `optimize sensitivity`: per-group ratios around the global --ratio "
        "(fragile groups pruned less, robust ones more, about the same MACs removed)",
    )


def _add_qat_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--qat-epochs",
        type=int,
        default=1,
        help="QAT fine-tuning epochs (default 1; 0 = calibration only)",
    )
    parser.add_argument(
        "--qat-lr", type=float, default=1e-5, help="QAT learning rate (default 1e-5)"
    )
    calibration_pairs = default(QatRecipe, "calibration_pairs")
    parser.add_argument(
        "--calibration-pairs",
        type=int,
        default=calibration_pairs,
        help=f"pairs NNCF calibrates the quantizers on (default {calibration_pairs})",
    )
    parser.add_argument(
        "--int8",
        nargs="+",
        choices=tuple(MODULES),
        default=list(default(QatRecipe, "modules")),
        metavar="MODULE",
        help="modules quantized to INT8, cwm and/or igm (default both); a module left out "
        "stays float and is not trained (the app's bf16 hint runs it in bf16 where the CPU "
        "has bf16)",
    )
    parser.add_argument(
        "--float",
        nargs="+",
        choices=GRAPH_ROLES,
        metavar="GRAPHS",
        help="split graphs of the quantized modules to keep in float, from features (both "
        "encoders and FPNs), levels (the five flow levels) and render (the generator); they "
        "are still fine-tuned with the quantized ones",
    )


def add_compression_commands(commands) -> None:
    """Add the compression subcommands to the `optimize` subparsers."""
    for module, title in (
        ("cwm", "warping module (CWM, AFWM)"),
        ("igm", "generator (IGM, ResUnet)"),
    ):
        parser = commands.add_parser(
            module,
            help=f"compress the {title}: prune, distil, [QAT], export",
            description=f"The whole chain for the {title}: depth pruning (--depth) and/or "
            "structured channel pruning (--ratio, torch-pruning), fine-tuning by distillation from "
            "the unpruned teacher, optionally NNCF "
            "quantization-aware training (--qat), then export to RUN/artifacts/. Run `optimize cwm` "
            "then `optimize igm` with the same --out to compress both networks of one student.",
        )
        add_run_arguments(parser)
        _add_prune_arguments(parser, ratio_required=False)
        removes = {
            "igm": "residual blocks or nested levels of the generator",
            "cwm": "residual blocks of the feature encoders or flow refinement heads",
        }
        parser.add_argument(
            "--depth",
            type=_depth_recipe(module),
            default=None,
            metavar="SPEC",
            help=f"depth pruning: remove {removes[module]} before any channel pruning "
            "(optimization/depth.py); the distillation then weighs its loss terms by uncertainty "
            "unless --loss-weighting says otherwise. SPEC: " + DEPTH_HELP[module],
        )
        add_training_arguments(parser)
        _add_qat_arguments(parser)
        parser.add_argument(
            "--qat",
            action="store_true",
            help="then quantization-aware INT8 training of both networks",
        )
        parser.add_argument(
            "--baselines",
            action="store_true",
            help="also export NNCF and Neural Compressor post-training INT8 baselines",
        )
        parser.add_argument("--no-export", action="store_true", help="skip writing artifacts")
        parser.set_defaults(handler=_cmd_module, module=module)

    prune = commands.add_parser(
        "prune", help="prune one network of a run's student (no fine-tuning)"
    )
    prune.add_argument("module", choices=tuple(MODULES))
    add_run_arguments(prune)
    _add_prune_arguments(prune)
    prune.set_defaults(handler=_cmd_prune)

    distill = commands.add_parser(
        "distill",
        help="fine-tune one network of a run's student by distillation from the teacher",
        description="Output losses (warped garment, flow, warped mask, try-on) and intermediate-feature "
        "matching through 1x1 adapters; PF-AFN's supervised losses where the data has ground truth. "
        "Works under `torchrun --nproc_per_node N -m optimization.cli distill ...` (DDP).",
    )
    distill.add_argument("module", choices=tuple(MODULES))
    add_run_arguments(distill)
    add_training_arguments(distill)
    distill.set_defaults(handler=_cmd_distill)

    qat = commands.add_parser(
        "qat",
        help="NNCF quantization-aware training of a run's student, then INT8 export",
        description="Quantizes the split graphs the app runs (nncf.quantize), fine-tunes them with the "
        "distillation loss and exports INT8 IR (split and fused). Grid sampling and the flow heads' "
        "offset convolutions stay float.",
    )
    add_run_arguments(qat)
    add_training_arguments(qat, epochs=0, lr=1e-5)
    _add_qat_arguments(qat)
    qat.add_argument("--no-export", action="store_true", help="skip writing the artifact")
    qat.set_defaults(handler=_cmd_qat)

    ptq = commands.add_parser(
        "ptq", help="post-training INT8 baselines of a run's student (NNCF, Neural Compressor)"
    )
    add_run_arguments(ptq)
    ptq.add_argument(
        "--quantizer",
        nargs="+",
        choices=QUANTIZERS,
        default=list(QUANTIZERS),
        help="default: both",
    )
    ptq.set_defaults(handler=_cmd_ptq)

    from optimization.quant_table import LABELS, METHODS

    table = commands.add_parser(
        "quant-table",
        help="PTQ, KD, QAT and KD + QAT of a run's student, for one table in the report",
        description="Four variants of the run's current student (typically right after `optimize "
        "prune`), each from its own copy of it: "
        + "; ".join(f"{method}: {LABELS[method]}" for method in METHODS)
        + ". The trained ones get the same --epochs on the same data (KD at --lr, the QATs at "
        "--qat-lr); QAT alone learns from PF-AFN's supervised losses, so the data needs ground "
        "truth. Exported to RUN/artifacts/*-qt-<method>-*; `optimize report RUN --data DIR` "
        "then adds their table.",
    )
    add_run_arguments(table)
    add_training_arguments(table, epochs=1)
    table.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=list(METHODS),
        help="default: all four",
    )
    table.add_argument(
        "--qat-lr", type=float, default=1e-5, help="QAT learning rate (default 1e-5)"
    )
    table.add_argument(
        "--calibration-pairs",
        type=int,
        default=default(QatRecipe, "calibration_pairs"),
        help="pairs NNCF calibrates QAT's quantizers on (PTQ: 32, as optimize ptq)",
    )
    table.add_argument(
        "--int8",
        nargs="+",
        choices=tuple(MODULES),
        default=list(default(QatRecipe, "modules")),
        metavar="MODULE",
        help="modules quantized and trained, cwm and/or igm (default both)",
    )
    table.set_defaults(handler=_cmd_quant_table)

    sensitivity = commands.add_parser(
        "sensitivity",
        help="how much each prunable layer group (or each filter of one) matters",
        description="Prunes every channel group alone at several ratios, without fine-tuning, and "
        "measures the try-on against the unpruned model (MSE, SSIM). --filters GROUP removes that "
        "group's filters one at a time instead. Writes JSON and a PNG chart into --out; pass the "
        "JSON to `optimize cwm|igm|prune --sensitivity` for per-group ratios.",
    )
    sensitivity.add_argument("module", choices=tuple(MODULES))
    sensitivity.add_argument("--out", required=True, help="folder for the JSON and PNG")
    sensitivity.add_argument(
        "--warp", default=None, help="warp checkpoint (default: the shipped teacher)"
    )
    sensitivity.add_argument(
        "--gen", default=None, help="generator checkpoint (default: the shipped teacher)"
    )
    sensitivity.add_argument(
        "--data", default=None, help="VITON-layout folder (default: synthetic)"
    )
    sensitivity.add_argument("--pairs", type=int, default=4, help="pairs to measure on (default 4)")
    sensitivity.add_argument(
        "--ratios", type=float, nargs="+", default=[0.25, 0.5, 0.75], help="default 0.25 0.5 0.75"
    )
    sensitivity.add_argument(
        "--filters",
        default=None,
        metavar="GROUP",
        help="one group name from the JSON: rank its single filters",
    )
    sensitivity.set_defaults(handler=_cmd_sensitivity)

    ship = commands.add_parser(
        "ship",
        help="install an artifact as a shipped model (models/NAME) with its provenance",
        description="Copies an exported artifact to --out and records in its metadata.json the "
        "teacher's training recipe, the compression stages, the commands and measured quality.",
    )
    ship.add_argument("--artifact", required=True, help="exported artifact folder")
    ship.add_argument("--out", required=True, help="e.g. models/default (replaced)")
    ship.add_argument("--training-run", default=None, help="the teacher's `optimize train` folder")
    ship.add_argument(
        "--teacher-record",
        default=None,
        help="a shipped teacher's checkpoint.json (its recipe and commands), e.g. "
        "models/teacher/checkpoint.json",
    )
    ship.add_argument("--compression-run", default=None, help="the `optimize cwm|igm` run folder")
    ship.add_argument(
        "--evaluation",
        action="append",
        default=[],
        metavar="LABEL=FILE",
        help="`optimize evaluate --json` results (repeatable)",
    )
    ship.add_argument(
        "--commands",
        default=None,
        help="text file with the commands that made the model, one per line",
    )
    ship.add_argument("--teacher-warp", default=None, help="also copy these teacher checkpoints...")
    ship.add_argument("--teacher-gen", default=None, help="...to --teacher-out")
    ship.add_argument("--teacher-out", default="models/teacher", help="default models/teacher")
    ship.add_argument(
        "--teacher-half",
        action="store_true",
        help="store the teacher's weights as float16 (half the size; loaded back as float32)",
    )
    ship.set_defaults(handler=_cmd_ship)

    from optimization.search_cli import add_search_command

    add_search_command(commands)

    from optimization.compare_cli import add_compare_command

    add_compare_command(commands)
