"""`optimize search cwm|igm`: once-for-all width search under a MAC budget (GAN Compression).

Registered by ``optimization/compress_cli.py``; the work lives in ``optimization/search.py`` and
``optimization/ofa.py``.
"""

from __future__ import annotations

import argparse
import logging

from optimization.compress_cli import (
    add_run_arguments,
    add_training_arguments,
    distill_recipe_from_args,
    export_variant,
    open_run,
)
from optimization.recipes import MODULES, DistillRecipe, default
from optimization.search_recipes import STRATEGIES, MacBudget, SearchRecipe

log = logging.getLogger("optimize")


def _budget(text: str) -> MacBudget:
    try:
        return MacBudget.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _search_recipe(args: argparse.Namespace) -> SearchRecipe:
    return SearchRecipe(
        budget=args.macs,
        strategy=args.strategy,
        population=args.population,
        generations=args.generations,
        mutation=args.mutation,
        pairs=args.search_pairs,
        round_to=args.round_to,
        min_fraction=args.min_width,
        seed=args.seed,
    )


def _cmd_search(args: argparse.Namespace) -> None:
    """Once-for-all training, search, extraction of the winner, fine-tuning, export."""
    from optimization.compress import distill_stage
    from optimization.search import extract_stage, heldout_dir, ofa_stage, search_stage

    run = open_run(args)
    data = run.data_dir(args.data, args.synth_pairs)
    recipe = _search_recipe(args)
    progress = not args.quiet
    masked = ofa_stage(
        run,
        args.module,
        distill_recipe_from_args(args, data, epochs=args.ofa_epochs, lr=args.ofa_lr),
        recipe,
        resume=args.resume,
        progress=progress,
    )
    heldout = heldout_dir(run, args.search_data, recipe.pairs)
    search = search_stage(
        run, args.module, masked, recipe, heldout, resume=args.resume, progress=progress
    )
    winner = search["candidates"][0]
    uniform = search["candidates"][search["uniform"]]
    print(
        f"search {args.module}: {len(search['candidates'])} candidates under "
        f"{search['budget_macs'] / 1e6:.1f} MMACs; winner {winner['macs'] / 1e6:.1f} MMACs "
        f"({winner['share']:.0%} of the teacher's), held-out SSIM {winner['ssim']:.4f} "
        f"(uniform widths: {uniform['ssim']:.4f})"
    )
    # A resumed run whose winner was already extracted continues its fine-tuning instead.
    stage = run.read_stage(f"search_{args.module}")
    extracted = (
        args.resume
        and stage is not None
        and stage.get("supernet_sha256") == search["supernet_sha256"]
        and stage["config"] == winner["config"]
        and run.student_path(MODULES[args.module]).is_file()
    )
    if not extracted:
        record = extract_stage(run, args.module, masked, search)
        print(
            f"extracted {args.module}: {record['parameters_before'] / 1e6:.2f} M -> "
            f"{record['parameters_after'] / 1e6:.2f} M parameters"
        )
    if args.epochs > 0:
        distill_stage(
            run,
            args.module,
            distill_recipe_from_args(args, data, epochs=args.epochs, lr=args.lr),
            resume=bool(extracted),
            progress=progress,
        )
    if args.no_export:
        return
    if not run.artifact_dir("teacher-fp32").is_dir():
        export_variant(run, "teacher-fp32", teacher=True)
    export_variant(run, run.variant_name("fp32"))


def add_search_arguments(parser: argparse.ArgumentParser) -> None:
    """The search's size and space, shared by `optimize search` and `optimize compare-methods`."""
    search = SearchRecipe()
    parser.add_argument(
        "--population",
        type=int,
        default=search.population,
        help=f"search: candidates per generation (default {search.population})",
    )
    parser.add_argument(
        "--generations",
        type=int,
        default=search.generations,
        help="search: generations; at most population x generations candidates are scored "
        f"(default {search.generations})",
    )
    parser.add_argument(
        "--search-pairs",
        type=int,
        default=search.pairs,
        help=f"held-out pairs (seed 5) the candidates are ranked on (default {search.pairs})",
    )
    parser.add_argument(
        "--min-width",
        type=float,
        default=search.min_fraction,
        help="the narrowest a searched group may become, as a share of its width "
        f"(default {search.min_fraction:g})",
    )


def add_search_command(commands) -> None:
    """Add `optimize search` to the `optimize` subparsers."""
    lr = default(DistillRecipe, "lr")
    parser = commands.add_parser(
        "search",
        help="once-for-all width search of the CWM or IGM under a MAC budget, then fine-tune, "
        "export",
        description="GAN Compression's recipe on one network of a run's student. (1) "
        "Once-for-all training: the teacher's network at full width is distilled from the "
        "teacher with other channel widths at every step, drawn per channel group "
        "(torch-pruning's groups: coupled channels, such as the two pyramids the correlation "
        "pairs, shrink together), weights shared: a width keeps the group's most important "
        "channels, ranked once at the start. (2) Search: width configurations under the MAC "
        "budget, by evolution or at random, ranked by the SSIM of their try-on against the "
        "teacher's on held-out synthetic pairs, none retrained. (3) The winner is pruned out, "
        "fine-tuned by the usual distillation (--epochs) and exported to RUN/artifacts/ like "
        "`optimize cwm|igm`; `optimize qat` and `optimize report` then work on the run as on any "
        "other. RUN/search_<module>/ keeps the training state, the search space and "
        "search.json (every candidate scored). --resume continues an interrupted once-for-all "
        "training, reuses a finished search and continues the fine-tuning of its winner.",
    )
    parser.add_argument("module", choices=tuple(MODULES))
    add_run_arguments(parser)
    parser.add_argument(
        "--macs",
        type=_budget,
        required=True,
        metavar="BUDGET",
        help="what the searched network may cost per 256x192 try-on: a share of the teacher "
        "network's multiply-accumulates (0.5 or 50%%) or a count (1.2G, 800M, 350000000; a "
        "number above 1 is a count)",
    )
    add_training_arguments(parser)
    parser.add_argument(
        "--ofa-epochs",
        type=int,
        default=2,
        help="once-for-all training epochs, widths drawn at every step (default 2; 0 searches "
        "the teacher's weights as they are)",
    )
    parser.add_argument(
        "--ofa-lr", type=float, default=lr, help=f"once-for-all learning rate (default {lr:g})"
    )
    search = SearchRecipe()
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default=search.strategy,
        help="evolution: the best quarter of each generation mutated and crossed over; random: "
        f"independent candidates (default {search.strategy})",
    )
    add_search_arguments(parser)
    parser.add_argument(
        "--mutation",
        type=float,
        default=search.mutation,
        help=f"chance that a mutated child redraws a group's width (default {search.mutation:g})",
    )
    parser.add_argument(
        "--search-data",
        default=None,
        help="VITON-layout folder the candidates are ranked on (default: synthetic pairs, seed "
        "5, made in RUN/search_heldout)",
    )
    parser.add_argument(
        "--round-to",
        type=int,
        default=search.round_to,
        help="channel counts are multiples of this; narrower groups keep their width "
        f"(default {search.round_to})",
    )
    parser.add_argument("--no-export", action="store_true", help="skip writing artifacts")
    parser.set_defaults(handler=_cmd_search)
