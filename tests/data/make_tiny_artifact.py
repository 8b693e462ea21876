"""Writes tests/data/tiny_artifact: the tiny networks exported, so that app tests need no torch.

The runtime, CLI and GUI tests run in a venv without torch (`.ci/run`), where they cannot build
and export a model themselves; they use this committed copy instead. Run this script again
whenever the export format changes (`tests/integration/test_tiny_artifact.py` fails when the copy
no longer loads or no longer matches what the tiny networks export):

    python tests/data/make_tiny_artifact.py

It needs the `optimize` extra (torch). The networks are the tiny widths of
`optimization.archs.widths`, initialised from seed `SEED`: the very networks the `tiny_models`
fixture builds, so the copy and a fresh export are the same model. `metadata.json` records the
command, the seed, the widths and the commit it was made from under `provenance`.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
from pathlib import Path

TINY_ARTIFACT = Path(__file__).resolve().parent / "tiny_artifact"
"""The committed artifact (fp32, both layouts, about 200 KB)."""

SEED = 0
"""torch's seed before the tiny networks are built (their random initial weights)."""

COMMAND = "python tests/data/make_tiny_artifact.py"


def build_tiny_models():
    """The tiny (AFWM, ResUnetGenerator), freshly initialised from `SEED`, in eval mode."""
    import torch

    from optimization.archs.tryon import build_models
    from optimization.archs.widths import tiny_gen_widths, tiny_warp_widths

    torch.manual_seed(SEED)
    return build_models(tiny_warp_widths(), tiny_gen_widths())


def source_commit(repository: Path) -> str:
    """The commit the working tree is at, `+changes` when it has uncommitted ones; `unknown`
    outside a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repository, capture_output=True, text=True, check=True
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repository,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if changes else "")


def write_tiny_artifact(out_dir: Path) -> Path:
    """Export the tiny networks (fp32, verified against torch) with their provenance."""
    from optimization.export import export_artifact

    warp_model, gen_model = build_tiny_models()
    provenance = {
        "commands": [COMMAND],
        "seed": SEED,
        "widths": "tiny_warp_widths(), tiny_gen_widths() (optimization/archs/widths.py)",
        "commit": source_commit(Path(__file__).resolve().parents[2]),
        "purpose": "test data: random weights, not a trained model",
    }
    shutil.rmtree(out_dir, ignore_errors=True)  # no file of an older format stays behind
    # Named as the `tiny_artifact` fixture's fresh export is, so the two differ only in provenance.
    metadata = {"name": "tiny", "provenance": provenance}
    return export_artifact(warp_model, gen_model, out_dir, precision="fp32", metadata=metadata)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=TINY_ARTIFACT, help="artifact folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    out_dir = write_tiny_artifact(args.out)
    size = sum(path.stat().st_size for path in out_dir.rglob("*") if path.is_file())
    print(f"wrote {out_dir} ({size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
