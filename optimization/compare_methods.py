"""Every compression method on one network at the same MAC budgets, for one table and one chart.

``optimize compare-methods cwm|igm --out DIR --budgets 0.5 0.3`` compresses one network of the
teacher four ways at each budget (a share of the teacher network's multiply-accumulates), each in
its own run folder ``DIR/methods/<method>-<budget>/`` and with the same data and fine-tuning
(epochs, learning rate, batch, seed):

* ``uniform``: ``optimize cwm|igm --ratio R``, R the smallest ratio whose pruned network fits
  the budget (`ratio_for_budget`, bisection on the exact MAC count of the widths it keeps).
* ``sensitivity``: the same with ``--sensitivity FILE`` (per-group ratios from ``optimize
  sensitivity``, made once in ``DIR/sensitivity/`` unless given).
* ``ofa``: ``optimize search --macs SHARE``. The once-for-all weights are trained once, in the
  first budget's folder, and copied to the others (``--resume`` then only searches and
  fine-tunes): that is what once-for-all training is for.
* ``depth``: ``optimize cwm|igm --depth SPEC``, the spec whose network comes closest under the
  budget (`depth_for_budget`): for the generator, of nested levels and residual blocks per path
  (`depth_specs`); for the warping module, of encoder residual blocks and refinement heads
  (`warp_depth_specs`).

Each winner is exported to ``DIR/artifacts/<module>-<method>-<budget>-fp32`` beside the teacher
(``teacher-fp32``) and ``DIR/methods.json`` records the settings, every row and every command
run. ``optimize report DIR --data EVAL`` (which the driver runs last, on held-out synthetic pairs
of seed 2) evaluates the artifacts through the app and adds `methods_section`: the table and
``methods.png``, quality (SSIM against the teacher and the ground truth, mask IoU) against MACs
and against the measured p50 latency.
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

METHODS = ("uniform", "sensitivity", "ofa", "depth")
LABELS = {
    "uniform": "uniform channel pruning",
    "sensitivity": "sensitivity-guided pruning",
    "ofa": "once-for-all search",
    "depth": "depth pruning",
}
MANIFEST = "methods.json"
PLOT = "methods.png"
BRANCHES = "methods"
EVAL_SEED = 2  # the held-out evaluation seed of the teacher's training (1: its training data)
SEARCH_SEED = 5  # `optimize search`'s held-out ranking pairs
MAX_RATIO = 0.89  # --ratio must stay below 0.9
# The once-for-all files a later budget reuses (not the search, which belongs to one budget).
SUPERNET_FILES = ("space.json", "supernet.pth", "distill_state.pth", "distill_history.jsonl")


@dataclass(frozen=True)
class CompareSettings:
    """What every method run of one comparison shares; a resumed comparison must match it.

    Attributes:
        module: ``cwm`` or ``igm``.
        data: the VITON-layout folder every method fine-tunes on.
        epochs, lr, batch_size, seed, threads, device: the fine-tuning every method gets.
        round_to: channel counts of the pruned and searched networks are multiples of this.
        ofa_epochs, population, generations, search_pairs, min_width: the once-for-all search.
        eval_data: held-out pairs the report evaluates on; bench_runs: timed runs per model.
    """

    module: str
    data: str
    epochs: int
    lr: float
    batch_size: int
    seed: int
    threads: int | None
    device: str
    round_to: int
    ofa_epochs: int
    population: int
    generations: int
    search_pairs: int
    min_width: float
    eval_data: str
    bench_runs: int


# ---------------------------------------------------------------------------------------------
# From a MAC budget to each method's setting


def _full_space(model, round_to: int):
    """The network's channel groups with every multiple of `round_to` as a choice."""
    from optimization.ofa import MaskedNetwork, build_search_space

    space = build_search_space(model, round_to=round_to, min_fraction=1e-6)
    return MaskedNetwork(model, space)


def ratio_for_budget(
    model,
    budget_macs: int,
    *,
    round_to: int,
    sensitivity: dict[str, Any] | None = None,
) -> tuple[float, int]:
    """The smallest pruning ratio (to 1e-4) whose pruned `model` costs at most `budget_macs`.

    The MACs of a ratio are counted exactly, without pruning: `optimization.prune.prune_model`
    keeps `kept_channels` of every channel group, so the widths (and MACs) follow from the ratio
    alone, whatever the importance.

    Args:
        model: the network to be pruned (an AFWM or a ResUnetGenerator), left as it is.
        round_to: as the pruning's ``--round-to``.
        sensitivity: an ``optimize sensitivity`` result: the ratio is then the global one that
            `optimization.sensitivity.allocate_ratios` spreads over the groups.

    Returns:
        (ratio, MACs of the network pruned at it).

    Raises:
        ValueError: even the largest ratio leaves the network above the budget.
    """
    import math

    from optimization.prune import kept_channels
    from optimization.sensitivity import allocate_ratios

    masked = _full_space(model, round_to)

    def macs_at(ratio: float) -> int:
        ratios = allocate_ratios(sensitivity, ratio) if sensitivity is not None else {}
        config = {
            group.name: kept_channels(group.width, ratios.get(group.name, ratio), round_to)
            for group in masked.space.groups
        }
        return masked.macs(config)

    if macs_at(MAX_RATIO) > budget_macs:
        raise ValueError(
            f"pruning at ratio {MAX_RATIO} still costs {macs_at(MAX_RATIO) / 1e6:.1f} MMACs, above "
            f"the budget of {budget_macs / 1e6:.1f} MMACs (groups of --round-to {round_to} "
            "channels or fewer do not shrink)"
        )
    low, high = 0.0, MAX_RATIO  # low does not fit (or is 0), high fits
    while high - low > 1e-4:
        middle = (low + high) / 2
        if macs_at(middle) <= budget_macs:
            high = middle
        else:
            low = middle
    # The command line gets 4 decimals; rounding up keeps the ratio on the side that fits.
    ratio = min(MAX_RATIO, math.ceil(high * 1e4) / 1e4)
    return ratio, macs_at(ratio)


def depth_specs(levels: int) -> list[str]:
    """Every depth-pruning spec of a generator with `levels` nested levels: levels kept (all to
    2) with 2, 1 or 0 residual blocks on the encoder and on the decoder paths."""
    specs = []
    for kept_levels in range(levels, 1, -1):
        for down in (2, 1, 0):
            for up in (2, 1, 0):
                items = [f"levels={kept_levels}"] if kept_levels < levels else []
                if down == up < 2:
                    items.append(f"blocks={down}")
                else:
                    items += [f"down={down}"] if down < 2 else []
                    items += [f"up={up}"] if up < 2 else []
                if items:
                    specs.append(",".join(items))
    return specs


def warp_depth_specs() -> list[str]:
    """The depth-pruning specs of the warping module tried against a budget: 2, 1 or 0 residual
    blocks in every encoder stage, with the refinement heads of no level to all removed, finest
    first (a level's head costs 4 times the next coarser one's)."""
    from tryon_app.core.artifact import LEVELS

    specs = []
    for blocks in (2, 1, 0):
        for heads_removed in range(LEVELS + 1):
            items = [f"blocks={blocks}"] if blocks < 2 else []
            if heads_removed == LEVELS:
                items.append("refine=0")
            else:
                items += [f"r{level}=0" for level in range(LEVELS - heads_removed, LEVELS)]
            if items:
                specs.append(",".join(items))
    return specs


def depth_for_budget(model, budget_macs: int) -> tuple[str, int]:
    """The depth spec whose network comes closest to `budget_macs` without exceeding it.

    Args:
        model: the generator (`depth_specs`) or the warping module (`warp_depth_specs`).
        budget_macs: MACs of one 256x192 try-on the network may cost.

    Returns:
        (spec for ``optimize igm|cwm --depth``, MACs of the network it leaves).

    Raises:
        ValueError: even the shallowest spec costs more than the budget.
    """
    from optimization.archs.afwm import AFWM
    from optimization.depth import plan_depth
    from optimization.model_stats import gen_compute, warp_compute
    from optimization.prune import measure_widths
    from optimization.recipes import DepthRecipe

    widths = measure_widths(model)
    if isinstance(model, AFWM):
        module, name, compute, specs = "cwm", "warping module", warp_compute, warp_depth_specs()
    else:
        module, name, compute, specs = "igm", "generator", gen_compute, depth_specs(widths.levels)
    best: tuple[str, int] | None = None
    cheapest = None
    for spec in specs:
        # A path's two blocks are equally wide in a network not yet depth-pruned, so which one
        # goes (the least important, measured on data) does not change the count.
        macs = compute(plan_depth(widths, DepthRecipe.parse(spec, module), {}).widths).macs
        cheapest = macs if cheapest is None else min(cheapest, macs)
        if macs <= budget_macs and (best is None or macs > best[1]):
            best = (spec, macs)
    if best is None:
        raise ValueError(
            f"the shallowest {name} depth pruning makes costs {cheapest / 1e6:.1f} MMACs, "
            f"above the budget of {budget_macs / 1e6:.1f} MMACs"
        )
    return best


def ofa_narrowest(model, round_to: int, min_width: float) -> int:
    """MACs of the narrowest network `optimize search` may pick (every group at its smallest)."""
    from optimization.ofa import width_choices

    masked = _full_space(model, round_to)
    return masked.macs(
        {
            group.name: width_choices(group.width, round_to, min_width)[0]
            for group in masked.space.groups
        }
    )


def network_macs(path: Path, network: str) -> int:
    """MACs of the network saved at `path` (``warp`` or ``gen``), one 256x192 try-on."""
    from optimization.checkpoints import load_network
    from optimization.model_stats import gen_compute, warp_compute

    model = load_network(path, network)
    return (warp_compute if network == "warp" else gen_compute)(model).macs


# ---------------------------------------------------------------------------------------------
# The driver


def budget_key(share: float) -> str:
    """``0.5`` -> ``50``, ``0.325`` -> ``32.5``: the budget in folder and variant names."""
    return f"{100 * share:.4g}"


class Commands:
    """Runs `optimize` commands in this process and keeps the list of what ran."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.ran: list[str] = []

    def optimize(self, argv: Sequence[str]) -> None:
        """Run ``optimize ARGV``.

        Raises:
            ValueError: it failed (its own message was printed above).
        """
        from optimization.cli import main

        argv = [str(part) for part in argv]
        line = self.line(argv)
        self.ran.append(line)
        log.info("running %s", line)
        try:
            code = main(["-q", *argv] if self.quiet else argv)
        except SystemExit as stop:  # argparse's usage errors
            code = stop.code
        if code != 0:
            raise ValueError(f"`{line}` failed (exit {code}); --resume continues from there")

    @staticmethod
    def line(argv: Sequence[Any]) -> str:
        """``optimize ARGV`` as a shell command line."""
        return shlex.join(["optimize", *(str(part) for part in argv)])

    def note(self, line: str) -> None:
        """Record a step done here without `optimize` (a copy), as its shell equivalent."""
        self.ran.append(line)


def read_manifest(out: Path) -> dict[str, Any] | None:
    """``OUT/methods.json``, None when `out` is not a comparison of methods."""
    path = Path(out) / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _finished(row: dict[str, Any], out: Path) -> bool:
    if row["status"] != "done":
        return True  # out of reach or not applicable: nothing to run
    return (out / "artifacts" / row["variant"] / "metadata.json").is_file()


def write_pairs(folder: Path, pairs: int, seed: int) -> Path:
    """`folder` holding `pairs` synthetic pairs of `seed`, written the first time."""
    if not (folder / "pairs.txt").is_file():
        from optimization.data.synthetic import write_dataset

        log.info("writing %d synthetic pairs (seed %d) to %s", pairs, seed, folder)
        write_dataset(folder, n_pairs=pairs, seed=seed, progress=False)
    return folder


def compare_methods(
    out: str | Path,
    settings: CompareSettings,
    budgets: Sequence[float],
    *,
    teacher: tuple[Path, Path],
    methods: Sequence[str] = METHODS,
    sensitivity: str | Path | None = None,
    resume: bool = False,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run every method at every budget into `out` and write ``methods.json`` (see the module
    docstring); the report is left to `optimization.report.write_report`.

    Args:
        out: the comparison's folder (a run folder of `optimization.compress`).
        settings: what every method shares.
        budgets: shares of the teacher network's MACs, in (0, 1).
        teacher: the teacher's (warp, gen) checkpoints.
        methods: a subset of `METHODS`.
        sensitivity: an ``optimize sensitivity`` JSON of the module (default: made in
            ``out/sensitivity/``).
        resume: skip the method runs `out` has finished; without it, `out` must hold none.
        quiet: no progress bars or info logs from the commands.

    Returns:
        The manifest.

    Raises:
        ValueError: bad budgets or methods, finished runs without `resume`, a resumed comparison
            with other settings, or a command that failed.
    """
    from tqdm import tqdm

    from optimization.checkpoints import load_network
    from optimization.model_stats import gen_compute, warp_compute
    from optimization.recipes import MODULES

    out = Path(out)
    module = settings.module
    network = MODULES[module]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        raise ValueError(f"methods must be from {METHODS}, got {list(methods)}")
    if not budgets or not all(0.0 < share < 1.0 for share in budgets):
        raise ValueError(f"budgets are shares of the teacher's MACs in (0, 1), got {list(budgets)}")
    manifest = read_manifest(out)
    if manifest is not None:
        finished = [row for row in manifest["rows"] if _finished(row, out)]
        if finished and not resume:
            raise ValueError(
                f"{out} already holds {len(finished)} finished method runs; --resume skips them, "
                "or use a new --out"
            )
        if manifest["settings"] != asdict(settings):
            changed = sorted(
                key
                for key, value in asdict(settings).items()
                if manifest["settings"].get(key) != value
            )
            raise ValueError(
                f"{out} was compared with other settings ({', '.join(changed)}); use a new --out"
            )
    else:
        manifest = {"settings": asdict(settings), "rows": [], "commands": []}
    rows = {(row["method"], row["budget"]): row for row in manifest["rows"]}
    commands = Commands(quiet)

    warp_path, gen_path = teacher
    teacher_model = load_network(warp_path if network == "warp" else gen_path, network)
    count = warp_compute if network == "warp" else gen_compute
    teacher_macs = count(teacher_model).macs
    manifest["teacher_macs"] = teacher_macs
    teacher_args = ["--warp", warp_path, "--gen", gen_path]
    common = [
        *teacher_args,
        "--data",
        settings.data,
        "--epochs",
        settings.epochs,
        "--lr",
        f"{settings.lr:g}",
        "--batch-size",
        settings.batch_size,
        "--seed",
        settings.seed,
        "--device",
        settings.device,
        "--no-export",
    ]
    if settings.threads is not None:  # unset: each command's own default
        common += ["--threads", settings.threads]
    teacher_artifact = out / "artifacts" / "teacher-fp32"
    if not (teacher_artifact / "metadata.json").is_file():
        commands.optimize(["export", *teacher_args, "--out", teacher_artifact])

    sensitivity_path = None
    if "sensitivity" in methods:
        sensitivity_path = Path(sensitivity) if sensitivity else None
        if sensitivity_path is None:
            sensitivity_path = out / "sensitivity" / f"sensitivity_{module}.json"
            if not sensitivity_path.is_file():
                commands.optimize(
                    ["sensitivity", module, "--out", sensitivity_path.parent, *teacher_args]
                    + ["--data", settings.data]
                )
        manifest["sensitivity"] = str(sensitivity_path)
    search_data = None
    if "ofa" in methods:
        search_data = write_pairs(out / "search_heldout", settings.search_pairs, SEARCH_SEED)

    plan = [(share, method) for share in budgets for method in methods]
    bar = tqdm(plan, desc=f"compare {module}", disable=quiet)
    for share, method in bar:
        key = f"{method}-{budget_key(share)}"
        bar.set_postfix_str(key)
        done = rows.get((method, share))
        if resume and done is not None and _finished(done, out):
            log.info("%s: finished, skipped", key)
            continue
        branch = out / BRANCHES / key
        variant = f"{module}-{key}-fp32"
        shutil.rmtree(branch, ignore_errors=True)
        shutil.rmtree(out / "artifacts" / variant, ignore_errors=True)
        budget_macs = int(share * teacher_macs)
        row: dict[str, Any] = {
            "method": method,
            "label": LABELS[method],
            "budget": share,
            "budget_macs": budget_macs,
            "run": str(branch),
            "variant": variant,
            "status": "done",
        }
        before = len(commands.ran)
        try:
            row.update(
                _run_method(
                    method,
                    module,
                    share,
                    budget_macs,
                    teacher_model,
                    settings,
                    branch,
                    common,
                    commands,
                    sensitivity_path=sensitivity_path,
                    search_data=search_data,
                    shared_supernet=_supernet_source(rows, out, module),
                )
            )
        except _OutOfReach as reason:
            row.update(status="unreachable", reason=str(reason), variant=None)
        if row["status"] == "done":
            student = branch / "student" / f"{network}.pth"
            row["macs"] = network_macs(student, network)
            row["share"] = round(row["macs"] / teacher_macs, 4)
            students = [
                branch / "student" / "warp.pth" if network == "warp" else warp_path,
                branch / "student" / "gen.pth" if network == "gen" else gen_path,
            ]
            commands.optimize(
                ["export", "--warp", students[0], "--gen", students[1], "--out"]
                + [out / "artifacts" / variant]
            )
        row["commands"] = commands.ran[before:]
        rows[(method, share)] = row
        manifest["rows"] = list(rows.values())
        manifest["commands"] = manifest.get("commands", []) + commands.ran
        commands.ran = []
        write_manifest(out, manifest)
    manifest["rows"] = list(rows.values())
    manifest["commands"] = manifest.get("commands", []) + commands.ran
    write_manifest(out, manifest)
    return manifest


class _OutOfReach(Exception):
    """A method cannot meet the budget (or does not apply to the module)."""


def _supernet_source(rows: dict, out: Path, module: str) -> Path | None:
    """The once-for-all weights a finished ``ofa`` row of this comparison trained, if any."""
    for (method, _), row in rows.items():
        folder = Path(row["run"]) / f"search_{module}"
        if method == "ofa" and row["status"] == "done" and (folder / "supernet.pth").is_file():
            return folder
    return None


def _run_method(
    method: str,
    module: str,
    share: float,
    budget_macs: int,
    teacher_model,
    settings: CompareSettings,
    branch: Path,
    common: list,
    commands: Commands,
    *,
    sensitivity_path: Path | None,
    search_data: Path | None,
    shared_supernet: Path | None,
) -> dict[str, Any]:
    """Run one method into `branch`; returns what the row records of its setting."""
    rounding = ["--round-to", settings.round_to]
    if method in ("uniform", "sensitivity"):
        analysis = None
        if method == "sensitivity":
            analysis = json.loads(sensitivity_path.read_text(encoding="utf-8"))
        try:
            ratio, planned = ratio_for_budget(
                teacher_model, budget_macs, round_to=settings.round_to, sensitivity=analysis
            )
        except ValueError as error:
            raise _OutOfReach(str(error)) from None
        extra = ["--sensitivity", sensitivity_path] if analysis is not None else []
        commands.optimize(
            [module, "--out", branch, *common, "--ratio", f"{ratio:g}", *rounding, *extra]
        )
        return {"setting": f"--ratio {ratio:g}", "planned_macs": planned}
    if method == "depth":
        try:
            spec, planned = depth_for_budget(teacher_model, budget_macs)
        except ValueError as error:
            raise _OutOfReach(str(error)) from None
        commands.optimize([module, "--out", branch, *common, "--depth", spec])
        return {"setting": f"--depth {spec}", "planned_macs": planned}
    # Once-for-all search.
    narrowest = ofa_narrowest(teacher_model, settings.round_to, settings.min_width)
    if narrowest > budget_macs:
        raise _OutOfReach(
            f"the narrowest widths the search allows cost {narrowest / 1e6:.1f} MMACs, above the "
            f"budget of {budget_macs / 1e6:.1f} MMACs (lower --min-width or --round-to)"
        )
    search = [
        "search",
        module,
        "--out",
        branch,
        *common,
        "--macs",
        f"{share:g}",
        *rounding,
        "--min-width",
        f"{settings.min_width:g}",
        "--ofa-epochs",
        settings.ofa_epochs,
        "--population",
        settings.population,
        "--generations",
        settings.generations,
        "--search-data",
        search_data,
        "--search-pairs",
        settings.search_pairs,
    ]
    if shared_supernet is not None:
        target = branch / f"search_{module}"
        target.mkdir(parents=True)
        present = [name for name in SUPERNET_FILES if (shared_supernet / name).is_file()]
        for name in present:
            shutil.copy2(shared_supernet / name, target / name)
        sources = " ".join(shlex.quote(str(shared_supernet / name)) for name in present)
        commands.note(
            f"mkdir -p {shlex.quote(str(target))} && cp {sources} {shlex.quote(str(target))}/"
        )
        search.append("--resume")  # the copied weights are finished: only search and fine-tune
    commands.optimize(search)
    chosen = json.loads((branch / "stages" / f"search_{module}.json").read_text(encoding="utf-8"))
    return {
        "setting": f"--macs {share:g}",
        "planned_macs": chosen["macs"],
        "supernet": str(shared_supernet or branch / f"search_{module}"),
    }


# ---------------------------------------------------------------------------------------------
# Report

QUALITY = (
    ("ssim_vs_teacher", "SSIM vs teacher"),
    ("ssim_vs_gt", "SSIM vs GT"),
    ("warped_mask_iou", "mask IoU"),
)
COLOURS = {"uniform": "#4C72B0", "sensitivity": "#DD8452", "ofa": "#55A868", "depth": "#C44E52"}
MARKERS = ("o", "s", "^", "D", "v", "P")


def _p50(variant) -> float | None:
    speed = variant.evaluation.speed if variant and variant.evaluation else None
    return speed["stages_ms"]["total"]["p50"] if speed else None


def _quality(variant, name: str, baseline) -> float | None:
    if variant is baseline and name == "ssim_vs_teacher":
        return 1.0
    return getattr(variant.evaluation, name) if variant and variant.evaluation else None


def methods_table(manifest: dict[str, Any], variants: list, baseline) -> list[str]:
    """Markdown lines: the teacher, then one row per budget and method (cells ``n/a`` until the
    report has evaluated the variant)."""
    from optimization.report import table_rows

    by_name = {variant.name: variant for variant in variants}
    network_mmacs = manifest["teacher_macs"] / 1e6
    headers = ["budget", "method", "setting", "network MMACs", "share"]
    headers += [title for _, title in QUALITY] + ["p50 ms", "try-ons/s"]
    lines = [
        "| " + " | ".join(headers) + " |",
        "|---:|---|---|" + "|".join("---:" for _ in headers[3:]) + "|",
    ]
    measured = [baseline] + [
        by_name[r["variant"]] for r in manifest["rows"] if r.get("variant") in by_name
    ]
    cells = {v.name: row for v, row in zip(measured, table_rows(measured, baseline), strict=True)}

    def quality_cells(variant) -> list[str]:
        if variant is None:
            return ["n/a"] * (len(QUALITY) + 2)
        row = cells[variant.name]
        teacher_cell = "1 (ref)" if variant is baseline else row["SSIM vs teacher"]
        return [teacher_cell, row["SSIM vs GT"], row["mask IoU"], row["p50 ms"], row["try-ons/s"]]

    lines.append(
        f"| 100% | teacher | {baseline.name} | {network_mmacs:.1f} | 1 | "
        + " | ".join(quality_cells(baseline))
        + " |"
    )
    for row in sorted(manifest["rows"], key=lambda r: (-r["budget"], METHODS.index(r["method"]))):
        budget = f"{100 * row['budget']:.4g}%"
        if row["status"] != "done":
            blank = " | ".join(["n/a"] * (2 + len(QUALITY) + 2))
            lines.append(f"| {budget} | {row['label']} | {row['reason']} | {blank} |")
            continue
        variant = by_name.get(row["variant"])
        lines.append(
            f"| {budget} | {row['label']} | `{row['setting']}` | {row['macs'] / 1e6:.1f} | "
            f"{row['share']:.3f} | " + " | ".join(quality_cells(variant)) + " |"
        )
    return lines


@dataclass(frozen=True)
class ChartPoint:
    """One evaluated method run as the chart draws it.

    Attributes:
        method: one of `METHODS`; budget: its share of the teacher network's MACs.
        mmacs: what the compressed network costs (millions of MACs).
        p50_ms: p50 latency of the whole try-on, None when not timed.
        quality: SSIM vs teacher, SSIM vs GT and mask IoU by `QUALITY` name (None: not measured).
    """

    method: str
    budget: float
    mmacs: float
    p50_ms: float | None
    quality: dict[str, float | None]


def chart_points(manifest: dict[str, Any], variants: list) -> list[ChartPoint]:
    """A point per finished and evaluated method run of the manifest."""
    by_name = {variant.name: variant for variant in variants}
    points = []
    for row in manifest["rows"]:
        variant = by_name.get(row.get("variant"))
        if row["status"] != "done" or variant is None or variant.evaluation is None:
            continue
        quality = {name: getattr(variant.evaluation, name) for name, _ in QUALITY}
        points.append(
            ChartPoint(row["method"], row["budget"], row["macs"] / 1e6, _p50(variant), quality)
        )
    return points


def plot_methods(manifest: dict[str, Any], variants: list, baseline, path: Path) -> bool:
    """Quality (rows: SSIM vs teacher, SSIM vs GT, mask IoU) against the network's MACs and
    against p50 latency (columns), a colour per method and a marker per budget, the teacher a
    black star; False when no method has been evaluated."""
    from matplotlib.figure import Figure

    points = chart_points(manifest, variants)
    if not points:
        return False
    budgets = sorted({point.budget for point in points}, reverse=True)
    figure = Figure(figsize=(11, 11), dpi=110, layout="constrained")
    axes = figure.subplots(len(QUALITY), 2, squeeze=False)
    teacher = {
        "macs": manifest["teacher_macs"] / 1e6,
        "p50": _p50(baseline),
    }
    for line, (name, title) in enumerate(QUALITY):
        for column, (axis_name, unit) in enumerate(
            (("macs", "network MMACs per try-on"), ("p50", "p50 latency, whole try-on (ms)"))
        ):
            axis = axes[line][column]
            for method in METHODS:
                drawn = sorted(
                    (
                        point.mmacs if axis_name == "macs" else point.p50_ms,
                        point.quality[name],
                        point.budget,
                    )
                    for point in points
                    if point.method == method
                    and point.quality[name] is not None
                    and (axis_name == "macs" or point.p50_ms is not None)
                )
                if not drawn:
                    continue
                axis.plot(
                    [x for x, _, _ in drawn],
                    [y for _, y, _ in drawn],
                    color=COLOURS[method],
                    linewidth=1,
                    alpha=0.6,
                )
                for x, y, budget in drawn:
                    marker = MARKERS[budgets.index(budget) % len(MARKERS)]
                    axis.scatter(x, y, color=COLOURS[method], marker=marker, s=55, zorder=3)
            teacher_y = _quality(baseline, name, baseline)
            if teacher[axis_name] is not None and teacher_y is not None:
                axis.scatter(
                    teacher[axis_name], teacher_y, color="black", marker="*", s=120, zorder=4
                )
            axis.set_xlabel(unit)
            axis.set_ylabel(title)
            axis.grid(True, alpha=0.3)
    methods = [method for method in METHODS if any(p.method == method for p in points)]
    handles = [
        axes[0][0].scatter([], [], color=COLOURS[method], marker="o", label=LABELS[method])
        for method in methods
    ]
    handles += [
        axes[0][0].scatter(
            [], [], color="0.4", marker=MARKERS[i % len(MARKERS)], label=f"budget {100 * b:.4g}%"
        )
        for i, b in enumerate(budgets)
    ]
    handles.append(axes[0][0].scatter([], [], color="black", marker="*", s=120, label="teacher"))
    figure.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=9)
    figure.suptitle(
        f"Compression methods on the {manifest['settings']['module'].upper()}: quality against "
        "MACs and measured latency"
    )
    figure.savefig(path)
    return True


def methods_section(run: Path, variants: list, baseline) -> list[str]:
    """The report's lines for a comparison of methods (empty when `run` is not one)."""
    manifest = read_manifest(run)
    if manifest is None or not manifest["rows"]:
        return []
    settings = manifest["settings"]
    lines = ["", "## Compression methods at the same MAC budgets", ""]
    lines += methods_table(manifest, variants, baseline)
    pairs = _count_pairs(settings["data"])
    ofa = any(row["method"] == "ofa" and row["status"] == "done" for row in manifest["rows"])
    lines += [
        "",
        f"Network: the {settings['module'].upper()} ({manifest['teacher_macs'] / 1e6:.1f} MMACs "
        "in the teacher); the other network is the teacher's in every row. Budget = share of "
        "the network's MACs; MMACs and share = what the compressed network costs (convolutions "
        "and cost volume at 256x192). Quality and p50 latency (the whole try-on) as in the "
        "first table.",
        f"Same data and fine-tuning for every method: {settings['epochs']} epoch(s) of "
        f"distillation from the teacher on the same {pairs} pairs (`{settings['data']}`), lr "
        f"{settings['lr']:g}, batch {settings['batch_size']}, seed {settings['seed']}, each "
        "command's default loss (depth pruning: uncertainty-weighted terms, its default); "
        f"channel counts multiples of {settings['round_to']}.",
    ]
    if ofa:
        lines.append(
            f"Once-for-all search also trains its shared weights for {settings['ofa_epochs']} "
            "epoch(s) on the same pairs, once for all budgets, and ranks "
            f"{settings['population']} x {settings['generations']} candidates on "
            f"{settings['search_pairs']} held-out pairs (seed {SEARCH_SEED}) before the same "
            "fine-tuning."
        )
    if manifest.get("sensitivity"):
        lines.append(
            f"Sensitivity-guided pruning allocates its ratios from `{manifest['sensitivity']}`."
        )
    lines.append(f"Evaluated on `{settings['eval_data']}` (held out, seed {EVAL_SEED}).")
    if plot_methods(manifest, variants, baseline, Path(run) / PLOT):
        lines += ["", f"![quality against MACs and latency]({PLOT})"]
    lines += ["", "Commands run, in order:", "", "```"]
    lines += manifest.get("commands", [])
    lines += ["```"]
    return lines


def _count_pairs(data: str) -> int | str:
    from optimization.data.viton import VitonPairs

    try:
        return len(VitonPairs(data))
    except (FileNotFoundError, ValueError):
        return "?"
