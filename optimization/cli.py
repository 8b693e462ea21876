"""`optimize`: the torch-side command line (synthetic data, training, compression, export)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("optimize")


class CommandError(Exception):
    """A failure the user can fix; printed as one line, exit code 1."""


def _cmd_synth(args: argparse.Namespace) -> None:
    from optimization.data.synthetic import write_dataset

    write_dataset(Path(args.out), n_pairs=args.n, seed=args.seed, progress=not args.quiet)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optimize",
        description="Train, compress and export PF-AFN try-on models for the CPU runtime.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings only, no progress bars")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    synth = commands.add_parser(
        "synth",
        help="write a procedural synthetic try-on dataset in VITON's folder layout",
        description="Write N person/garment pairs with ground truth (gt/, gt_cloth_mask/) in VITON's "
        "layout: test_img/, test_clothes/, test_edge/ and pairs.txt. Deterministic per seed.",
    )
    synth.add_argument("--out", required=True, help="output folder (created)")
    synth.add_argument("--n", type=int, default=200, help="number of pairs (default 200)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.set_defaults(handler=_cmd_synth)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
