"""Compression report of a run: one Markdown table and two PNG plots comparing its variants.

A run folder holds ``artifacts/<variant>/`` (exported artifact folders) and
``evaluation/<variant>.json`` (`optimize evaluate --json` results). `write_report` evaluates the
variants that have no results yet when given data, then writes ``report.md``,
``quality_vs_size.png`` and ``latency_stages.png`` beside them.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ARTIFACTS_DIR = "artifacts"
EVALUATION_DIR = "evaluation"
REPORT_FILE = "report.md"
QUALITY_PLOT = "quality_vs_size.png"
LATENCY_PLOT = "latency_stages.png"
REAL_SUFFIX = ".real.json"  # RUN/evaluation/<variant>.real.json: `real_photos.evaluate_real`
STAGES = ("encoders", "correlation", "flow", "generator")
STAGE_COLOURS = {
    "encoders": "#4C72B0",
    "correlation": "#DD8452",
    "flow": "#55A868",
    "generator": "#C44E52",
    "other": "#B0B0B0",
}


@dataclass(frozen=True)
class Variant:
    """One model of the run: its artifact folder (if still there) and its evaluation (if any).

    Attributes:
        name: the folder / file stem, e.g. ``pruned-ptq-nncf``.
        artifact: ``RUN/artifacts/<name>``, None when only the evaluation is left.
        evaluation: the parsed ``RUN/evaluation/<name>.json``, None before evaluation.
        stats: size and compute (`ArtifactStats.to_dict()`), from the evaluation or measured.
        precision: ``fp32``, ``fp16``, ``int8``...; quantizer: ``nncf``/``inc`` or None.
    """

    name: str
    artifact: Path | None
    evaluation: Any  # ArtifactEvaluation | None
    stats: dict[str, Any]
    precision: str
    quantizer: str | None

    @property
    def total_mb(self) -> float:
        return self.stats["size_mb"]["split_total"]

    def stage_ms(self, statistic: str = "p50") -> dict[str, float] | None:
        """Per-stage latency (``p50``, ``p90`` or ``mean`` ms, plus ``total``), None if untimed."""
        speed = self.evaluation.speed if self.evaluation else None
        if not speed:
            return None
        return {stage: values[statistic] for stage, values in speed["stages_ms"].items()}


def find_variants(run: Path) -> list[Variant]:
    """Every variant of `run`, by name, from its artifact folders and evaluation files."""
    from optimization.evaluate import ArtifactEvaluation
    from optimization.model_stats import artifact_stats

    artifacts = {
        path.parent.name: path.parent
        for path in sorted((run / ARTIFACTS_DIR).glob("*/metadata.json"))
    }
    evaluations = {}
    for path in sorted((run / EVALUATION_DIR).glob("*.json")):
        try:
            evaluations[path.stem] = ArtifactEvaluation.from_dict(
                json.loads(path.read_text(encoding="utf-8"))
            )
        except (json.JSONDecodeError, TypeError) as error:
            raise ValueError(
                f"{path}: not an `optimize evaluate --json` result ({error})"
            ) from None
    variants = []
    for name in sorted(set(artifacts) | set(evaluations)):
        evaluation = evaluations.get(name)
        artifact = artifacts.get(name)
        if evaluation is not None:
            stats, precision, quantizer = (
                evaluation.stats,
                evaluation.precision,
                evaluation.quantizer,
            )
        else:
            metadata = json.loads((artifact / "metadata.json").read_text(encoding="utf-8"))
            stats = artifact_stats(artifact).to_dict()
            precision, quantizer = metadata.get("precision", "fp32"), metadata.get("quantizer")
        variants.append(Variant(name, artifact, evaluation, stats, precision, quantizer))
    return variants


def choose_baseline(variants: list[Variant], requested: str | None = None) -> Variant:
    """`requested` by name; else the variant named ``teacher*``; else the largest on disk."""
    if not variants:
        raise ValueError("no variants")
    if requested is not None:
        for variant in variants:
            if variant.name == requested:
                return variant
        names = ", ".join(variant.name for variant in variants)
        raise ValueError(f"baseline {requested!r} is not a variant of this run ({names})")
    teachers = [variant for variant in variants if variant.name.lower().startswith("teacher")]
    if teachers:
        return teachers[0]
    return max(variants, key=lambda variant: variant.total_mb)


def evaluate_missing(
    run: Path,
    variants: list[Variant],
    baseline: Variant,
    data: str | Path,
    *,
    limit: int | None,
    bench_runs: int,
    progress: bool,
) -> list[Variant]:
    """Evaluate every variant without results (teacher = the baseline), writing their JSON."""
    from dataclasses import replace

    from optimization.evaluate import evaluate_artifact, teacher_tryons

    missing = [v for v in variants if v.evaluation is None and v.artifact is not None]
    if not missing:
        return variants
    teacher_outputs = None
    if baseline.artifact is not None and any(v is not baseline for v in missing):
        teacher_outputs = teacher_tryons(baseline.artifact, data, limit=limit, progress=progress)
    updated = []
    for variant in variants:
        if variant in missing:
            log.info("evaluating %s", variant.name)
            is_baseline = variant is baseline
            evaluation = evaluate_artifact(
                variant.artifact,
                data,
                teacher=None if is_baseline else baseline.artifact,
                teacher_outputs=None if is_baseline else teacher_outputs,
                limit=limit,
                bench_runs=bench_runs,
                progress=progress,
            )
            evaluation.write_json(run / EVALUATION_DIR / f"{variant.name}.json")
            variant = replace(variant, evaluation=evaluation, stats=evaluation.stats)
        updated.append(variant)
    return updated


def _significant(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    return f"{value:.{decimals}f}"


def _fixed(value: float | None, decimals: int) -> str:
    return "n/a" if value is None else f"{value:.{decimals}f}"


def _precision_label(variant: Variant) -> str:
    return f"{variant.precision} ({variant.quantizer})" if variant.quantizer else variant.precision


def baseline_first(variants: list[Variant], baseline: Variant) -> list[Variant]:
    return [baseline] + [variant for variant in variants if variant is not baseline]


def table_rows(variants: list[Variant], baseline: Variant) -> list[dict[str, str]]:
    """The report table, one dict of formatted cells per variant (baseline first)."""
    rows = []
    for variant in baseline_first(variants, baseline):
        evaluation = variant.evaluation
        stats = variant.stats
        parameters = stats.get("parameters")
        sizes = stats["size_mb"]
        is_baseline = variant is baseline
        speed = evaluation.speed if evaluation else None
        ratio = baseline.total_mb / variant.total_mb if variant.total_mb else None

        def measured(name: str, decimals: int, evaluation=evaluation) -> str:
            return _fixed(getattr(evaluation, name) if evaluation else None, decimals)

        rows.append(
            {
                "variant": f"**{variant.name}**" if is_baseline else variant.name,
                "precision": _precision_label(variant),
                "GFLOPs": _significant(stats.get("gflops")),
                "params (M)": _significant(None if parameters is None else parameters / 1e6),
                "CWM MB": _significant(sizes["warp"]),
                "IGM MB": _significant(sizes["gen"]),
                "total MB": _significant(sizes["split_total"]),
                "compression": "1x (ref)" if is_baseline else f"{_significant(ratio, 2)}x",
                "SSIM vs teacher": "ref" if is_baseline else measured("ssim_vs_teacher", 4),
                "PSNR vs teacher": "ref" if is_baseline else measured("psnr_vs_teacher", 2),
                "SSIM vs GT": measured("ssim_vs_gt", 4),
                "mask IoU": measured("warped_mask_iou", 4),
                "FID": measured("fid_vs_gt", 2),
                "try-ons/s": _fixed(speed["tryons_per_second"] if speed else None, 2),
                "p50 ms": _fixed(speed["stages_ms"]["total"]["p50"] if speed else None, 1),
            }
        )
    return rows


def markdown_table(rows: list[dict[str, str]]) -> str:
    headers = list(rows[0])
    numeric = set(headers[2:])
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if header in numeric else "---" for header in headers) + "|",
    ]
    lines += ["| " + " | ".join(row[header] for header in headers) + " |" for row in rows]
    return "\n".join(lines)


def spread(values: list[float], gap: float) -> list[float]:
    """Heights for labels of `values`: each as close to its value as it can be while at least
    `gap` above the next lower label (ties keep their order)."""
    heights = list(values)
    floor = -math.inf
    for index in sorted(range(len(values)), key=values.__getitem__):
        heights[index] = max(values[index], floor + gap)
        floor = heights[index]
    return heights


def plot_quality_vs_size(variants: list[Variant], baseline: Variant, path: Path) -> bool:
    """Scatter of SSIM vs the teacher against total file size; False when nothing to plot."""
    from matplotlib.figure import Figure

    points = []
    for variant in variants:
        if variant is baseline:
            points.append((variant, 1.0))
        elif variant.evaluation and variant.evaluation.ssim_vs_teacher is not None:
            points.append((variant, variant.evaluation.ssim_vs_teacher))
    if len(points) < 2:
        return False
    figure = Figure(figsize=(7.5, 4.8), dpi=120, layout="constrained")
    axes = figure.add_subplot()
    sizes = [variant.total_mb for variant, _ in points]
    qualities = [quality for _, quality in points]
    low = min(qualities)
    bottom, top = low - max(0.02, (1 - low) * 0.25), 1 + max(0.01, (1 - low) * 0.12)
    # Variants of one size cluster; their labels stack upwards, a leader line back to each point.
    label_heights = spread(qualities, gap=(top - bottom) * 0.05)
    for (variant, quality), height in zip(points, label_heights, strict=True):
        colour = "#C44E52" if variant is baseline else "#4C72B0"
        marker = "s" if variant.precision == "int8" else "o"
        axes.scatter(variant.total_mb, quality, s=70, color=colour, marker=marker, zorder=3)
        axes.annotate(
            variant.name,
            (variant.total_mb, quality),
            xytext=(variant.total_mb + max(sizes) * 0.04, height),
            va="center",
            fontsize=9,
            arrowprops={"arrowstyle": "-", "color": "0.6", "linewidth": 0.7, "shrinkB": 4},
        )
    axes.set_xlim(0, max(sizes) * 1.3)
    axes.set_ylim(bottom, top)
    axes.set_xlabel("model files on disk, split layout (MB)")
    axes.set_ylabel(f"SSIM of the try-on vs {baseline.name}")
    axes.set_title("Quality against size (squares: int8; red: the teacher)")
    axes.grid(True, alpha=0.3)
    figure.savefig(path)
    return True


def plot_latency_stages(variants: list[Variant], path: Path) -> bool:
    """Stacked mean latency per stage for each timed variant; False when none was timed.

    Means, unlike medians, add up: the stages and the rest ("other") stack to the mean total.
    """
    from matplotlib.figure import Figure

    timed = [(variant, variant.stage_ms("mean")) for variant in variants if variant.stage_ms()]
    if not timed:
        return False
    figure = Figure(figsize=(max(6.0, 1.3 * len(timed) + 3), 4.8), dpi=120, layout="constrained")
    axes = figure.add_subplot()
    positions = range(len(timed))
    bottoms = [0.0] * len(timed)
    for stage in (*STAGES, "other"):
        if stage == "other":
            # Python glue, copies and layout changes between the graphs.
            heights = [
                max(0.0, stages.get("total", 0.0) - sum(stages.get(s, 0.0) for s in STAGES))
                for _, stages in timed
            ]
        else:
            heights = [stages.get(stage, 0.0) for _, stages in timed]
        axes.bar(positions, heights, 0.6, bottom=bottoms, label=stage, color=STAGE_COLOURS[stage])
        bottoms = [bottom + height for bottom, height in zip(bottoms, heights, strict=True)]
    for position, (_, stages) in zip(positions, timed, strict=True):
        total = stages.get("total", 0.0)
        axes.annotate(
            f"{total:.1f} ms",
            (position, total),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=9,
        )
    axes.set_xticks(list(positions), [variant.name for variant, _ in timed])
    if len(timed) > 4:
        for label in axes.get_xticklabels():
            label.set_rotation(20)
            label.set_horizontalalignment("right")
    axes.set_ylim(0, max(bottoms) * 1.15)
    axes.set_ylabel("mean latency per try-on (ms)")
    axes.set_title("Latency per stage (split layout, f32 hint; grey: glue between the graphs)")
    axes.legend(loc="upper right", fontsize=9)
    axes.grid(True, axis="y", alpha=0.3)
    figure.savefig(path)
    return True


def _notes(variants: list[Variant], baseline: Variant) -> list[str]:
    evaluations = [variant.evaluation for variant in variants if variant.evaluation]
    notes = [
        "GFLOPs = 2 x multiply-accumulates of the convolutions and the correlation at 256x192 "
        "(BN, activations and resampling excluded); parameters of both networks.",
        "Sizes: CWM = split/features + split/level_*, IGM = split/render, total = the split "
        "layout the app runs (the fused layout is not counted). Compression = the baseline's "
        f"total over the variant's; baseline **{baseline.name}**.",
        "Quality: mean over the pairs; p_tryon of each variant run through the app's split "
        "pipeline with the f32 hint. SSIM/PSNR vs teacher compare with the baseline's try-ons; "
        "vs GT with the ground-truth images; mask IoU is the warped garment edge vs the worn "
        "garment mask.",
    ]
    if evaluations:
        pairs = sorted({evaluation.pairs for evaluation in evaluations})
        notes.append(f"Pairs evaluated: {', '.join(str(count) for count in pairs)}.")
    teachers = {
        Path(evaluation.teacher).name
        for evaluation in evaluations
        if evaluation.teacher is not None
    }
    if teachers - {baseline.name}:
        notes.append(
            "Careful: some variants were compared with another teacher "
            f"({', '.join(sorted(teachers))}) than the baseline."
        )
    fid_notes = sorted({e.fid_note for e in evaluations if e.fid_vs_gt is None and e.fid_note})
    notes += fid_notes
    speeds = [evaluation.speed for evaluation in evaluations if evaluation.speed]
    if speeds:
        machine = speeds[0].get("machine", {})
        notes.append(
            f"Speed: `tryon bench` measurement, p50 of {speeds[0].get('runs')} runs, device "
            f"{speeds[0].get('device')}, hint {speeds[0].get('precision_hint')}, layout "
            f"{speeds[0].get('layout')}, on {machine.get('cpu', '?')} ({machine.get('system', '?')})."
        )
    unevaluated = [variant.name for variant in variants if variant.evaluation is None]
    if unevaluated:
        notes.append(
            f"Not evaluated yet ({', '.join(unevaluated)}): run `optimize report RUN --data DIR`."
        )
    return notes


def latency_table(variants: list[Variant]) -> str | None:
    timed = [(variant, variant.stage_ms("p50")) for variant in variants if variant.stage_ms()]
    if not timed:
        return None
    headers = ["variant", *STAGES, "total"]
    lines = [
        "| " + " | ".join(headers) + " |",
        "|---|" + "|".join("---:" for _ in headers[1:]) + "|",
    ]
    for variant, stages in timed:
        cells = [_fixed(stages.get(stage), 1) for stage in headers[1:]]
        lines.append(f"| {variant.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def real_photo_results(run: Path, variants: list[Variant], folder: Path) -> list[tuple[str, dict]]:
    """Each variant's scores on the real photos of `folder`, read from
    ``RUN/evaluation/<variant>.real.json`` or measured (and written there) when the variant's
    artifact is still in the run and the file is missing or of another folder."""
    from optimization.real_photos import evaluate_real

    results = []
    for variant in variants:
        path = run / EVALUATION_DIR / f"{variant.name}{REAL_SUFFIX}"
        result = None
        if path.is_file():
            result = json.loads(path.read_text(encoding="utf-8"))
            if Path(result.get("folder", "")).resolve() != folder.resolve():
                result = None
        if result is None and variant.artifact is not None:
            log.info("real photos: %s", variant.name)
            result = evaluate_real(variant.artifact, folder)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        if result is not None:
            results.append((variant.name, result))
    return results


def real_photo_table(results: list[tuple[str, dict]]) -> str:
    """Per pair and mean SSIM against the reference try-ons, the unchanged photo's first."""
    names = [pair["name"] for pair in results[0][1]["pairs"]]
    headers = ["", *names, "mean SSIM", "mean PSNR", "margin over unchanged"]
    lines = [
        "| " + " | ".join(headers) + " |",
        "|---|" + "|".join("---:" for _ in headers[1:]) + "|",
    ]
    first = results[0][1]
    unchanged = [_fixed(pair["unchanged_ssim"], 3) for pair in first["pairs"]]
    lines.append(
        "| unchanged photo | "
        + " | ".join([*unchanged, _fixed(first["unchanged_ssim"], 3)])
        + f" | {_fixed(first['unchanged_psnr'], 2)} | 0 |"
    )
    for name, result in results:
        by_pair = {pair["name"]: pair["ssim"] for pair in result["pairs"]}
        cells = [_fixed(by_pair.get(pair), 3) for pair in names]
        cells += [
            _fixed(result["ssim"], 3),
            _fixed(result["psnr"], 2),
            f"{result['margin']:+.3f}",
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(
    run: str | Path,
    *,
    data: str | Path | None = None,
    real: str | Path | None = None,
    baseline: str | None = None,
    limit: int | None = None,
    bench_runs: int = 30,
    progress: bool = True,
) -> Path:
    """Write ``RUN/report.md`` and its plots.

    Args:
        run: the run folder (``artifacts/<variant>/``, ``evaluation/<variant>.json``).
        data: VITON-layout folder to evaluate variants without results; None leaves their
            quality and speed cells at n/a.
        real: real photos with reference try-ons (`optimization.real_photos`): adds a table of
            every variant's SSIM against the references, next to the unchanged photos'.
        baseline: the variant the ratios and teacher metrics refer to (see `choose_baseline`).
        limit, bench_runs, progress: passed to `optimization.evaluate.evaluate_artifact`.

    Returns:
        The report path.

    Raises:
        FileNotFoundError: `run` is not a folder.
        ValueError: no variants, an unknown baseline or an unreadable evaluation file.
    """
    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"{run}: no such run folder")
    variants = find_variants(run)
    if not variants:
        raise ValueError(
            f"{run}: no variants (expected {ARTIFACTS_DIR}/<variant>/metadata.json or "
            f"{EVALUATION_DIR}/<variant>.json)"
        )
    chosen = choose_baseline(variants, baseline)
    if data is not None:
        variants = evaluate_missing(
            run,
            variants,
            chosen,
            data,
            limit=limit,
            bench_runs=bench_runs,
            progress=progress,
        )
        chosen = choose_baseline(variants, chosen.name)
    variants = baseline_first(variants, chosen)

    sections = [f"# Compression report: {run.name}", ""]
    sections += [markdown_table(table_rows(variants, chosen)), ""]
    sections += [f"- {note}" for note in _notes(variants, chosen)]
    from optimization.quant_table import quant_table_section

    sections += quant_table_section(run, variants, chosen)
    from optimization.compare_methods import methods_section

    sections += methods_section(run, variants, chosen)
    if plot_quality_vs_size(variants, chosen, run / QUALITY_PLOT):
        sections += ["", "## Quality against size", "", f"![quality against size]({QUALITY_PLOT})"]
    if real is not None:
        results = real_photo_results(run, variants, Path(real))
        if results:
            sections += ["", "## Real photos", ""]
            sections += [
                f"SSIM at 192x256 against the reference try-ons of `{real}`, each pair as "
                "`tryon run` does it (auto framing, full resolution, f32).",
                "",
                real_photo_table(results),
            ]
    latency = latency_table(variants)
    if latency and plot_latency_stages(variants, run / LATENCY_PLOT):
        sections += ["", "## Latency per stage (p50 ms)", "", latency, ""]
        sections += [
            "The plot stacks the mean of each stage (means add up to the mean total, medians "
            "do not); grey is the time between the graphs.",
            "",
            f"![latency per stage]({LATENCY_PLOT})",
        ]
    path = run / REPORT_FILE
    path.write_text("\n".join(sections) + "\n", encoding="utf-8")
    return path
