"""Quality of a try-on model on a VITON-layout folder: torch models, or exported artifacts.

Torch models are measured against ground truth (synthetic data). Artifacts run through the app's
own pipeline and are also compared with a teacher artifact, timed, weighed and given an FID.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from optimization.archs.afwm import AFWM
from optimization.archs.generator import ResUnetGenerator
from optimization.archs.tryon import tryon_forward
from optimization.metrics import mask_iou, psnr, ssim


@torch.no_grad()
def evaluate_models(
    warp_model: AFWM,
    gen_model: ResUnetGenerator,
    data: str | Path,
    *,
    batch_size: int = 8,
    limit: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Mean metrics over the folder's pairs.

    Returns:
        `pairs`; `warped_mask_iou` (warped garment mask vs the worn-garment mask); `ssim` and
        `psnr` of the try-on vs ground truth; `identity_ssim` and `identity_psnr`, the baseline
        of returning the input person unchanged.
    """
    from tqdm import tqdm

    from optimization.data.viton import VitonPairs

    dataset = VitonPairs(data)
    if not dataset.has_ground_truth:
        raise ValueError(f"{data}: evaluation needs ground truth (gt/ and gt_cloth_mask/ folders)")
    if limit is not None:
        dataset = torch.utils.data.Subset(dataset, range(min(limit, len(dataset))))
    warp_model.eval(), gen_model.eval()
    totals = {
        "warped_mask_iou": 0.0,
        "ssim": 0.0,
        "psnr": 0.0,
        "identity_ssim": 0.0,
        "identity_psnr": 0.0,
    }
    count = 0
    for batch in tqdm(
        DataLoader(dataset, batch_size=batch_size),
        desc="evaluate",
        disable=not progress,
        leave=False,
    ):
        out = tryon_forward(warp_model, gen_model, batch["person"], batch["clothes"], batch["edge"])
        gt = batch["gt"]
        totals["warped_mask_iou"] += float(
            mask_iou(out["warped_edge"], batch["gt_cloth_mask"]).sum()
        )
        totals["ssim"] += float(ssim(out["p_tryon"], gt, reduce=False).sum())
        totals["psnr"] += float(psnr(out["p_tryon"], gt).sum())
        totals["identity_ssim"] += float(ssim(batch["person"], gt, reduce=False).sum())
        totals["identity_psnr"] += float(psnr(batch["person"], gt).sum())
        count += gt.shape[0]
    return {
        "pairs": count,
        **{name: round(value / max(count, 1), 4) for name, value in totals.items()},
    }


# ---------------------------------------------------------------------------------------------
# Exported artifacts, through the app's own pipeline

# The runtime settings of every artifact measurement: the app's split layout and the f32 hint
# (this CPU defaults to bf16, which would blur the comparison of fp32 and int8 variants). An
# evaluation may ask for another hint for the model measured; its teacher always runs at f32.
EVALUATION_PRECISION_HINT = "f32"
EVALUATION_LAYOUT = "split"


@dataclass(frozen=True)
class ArtifactEvaluation:
    """Quality, size and speed of one exported artifact on one VITON-layout folder.

    Attributes:
        model: the artifact folder.
        name: the artifact's name (its folder name unless the metadata says otherwise).
        precision: ``fp32``, ``fp16`` or ``int8``, from the metadata.
        quantizer: ``nncf`` or ``inc`` for int8 artifacts, when the metadata records it.
        pairs: pairs evaluated.
        teacher: the teacher artifact the try-ons were compared with, or None.
        ssim_vs_teacher, psnr_vs_teacher: mean SSIM and PSNR (dB) of p_tryon against the
            teacher's p_tryon on the same inputs.
        ssim_vs_gt, psnr_vs_gt: the same against ground truth (synthetic data only).
        warped_mask_iou: IoU of the warped edge with the worn-garment mask (``gt_cloth_mask``).
        fid_vs_gt: FID of the try-ons against the ground-truth images, None when the Inception
            weights are not installed (`fid_note` then says where they go) or there is no
            ground truth.
        fid_note: why `fid_vs_gt` is missing, else None.
        stats: `optimization.model_stats.ArtifactStats.to_dict()`.
        speed: the `tryon bench` report (per-stage p50/p90/mean ms, try-ons per second), None
            when benchmarking was skipped.
        precision_hint: the inference precision hint the model ran with (the teacher: f32).
    """

    model: str
    name: str
    precision: str
    quantizer: str | None
    pairs: int
    teacher: str | None
    ssim_vs_teacher: float | None
    psnr_vs_teacher: float | None
    ssim_vs_gt: float | None
    psnr_vs_gt: float | None
    warped_mask_iou: float | None
    fid_vs_gt: float | None
    fid_note: str | None
    stats: dict[str, Any]
    speed: dict[str, Any] | None
    precision_hint: str = EVALUATION_PRECISION_HINT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArtifactEvaluation:
        """Inverse of `to_dict` (entries this version does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in data.items() if name in known})

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path


def evaluation_options(precision: str = EVALUATION_PRECISION_HINT):
    """The runtime settings an evaluation runs an artifact with."""
    from tryon_app.core.pipeline import RuntimeOptions

    return RuntimeOptions(precision=precision, layout=EVALUATION_LAYOUT, cache_dir=None)


def artifact_pipeline(model_dir: str | Path, precision: str = EVALUATION_PRECISION_HINT):
    """The app's pipeline for an artifact, with the evaluation's runtime settings."""
    from tryon_app.core.artifact import load_artifact
    from tryon_app.core.pipeline import TryOnPipeline

    return TryOnPipeline(load_artifact(model_dir), evaluation_options(precision))


def _pair_inputs(item: dict) -> tuple:
    return tuple(item[name][None].numpy() for name in ("person", "clothes", "edge"))


def teacher_tryons(
    teacher: str | Path, data: str | Path, *, limit: int | None = None, progress: bool = True
) -> list:
    """The teacher artifact's p_tryon (1, 3, 256, 192) for each pair, to compare several models."""
    from tqdm import tqdm

    from optimization.data.viton import VitonPairs

    dataset = VitonPairs(data)
    pipeline = artifact_pipeline(teacher)
    count = len(dataset) if limit is None else min(limit, len(dataset))
    return [
        pipeline.run(*_pair_inputs(dataset[index])).p_tryon
        for index in tqdm(range(count), desc="teacher", disable=not progress, leave=False)
    ]


def evaluate_artifact(
    model_dir: str | Path,
    data: str | Path,
    *,
    teacher: str | Path | None = None,
    teacher_outputs: list | None = None,
    limit: int | None = None,
    bench_runs: int = 30,
    precision: str = EVALUATION_PRECISION_HINT,
    progress: bool = True,
) -> ArtifactEvaluation:
    """Run an artifact through the app's pipeline on every pair of `data` and measure it.

    Args:
        model_dir: the artifact folder.
        data: a VITON-layout folder; ground-truth metrics need its ``gt/`` and ``gt_cloth_mask/``.
        teacher: another artifact folder whose try-ons are the reference for SSIM/PSNR.
        teacher_outputs: the teacher's try-ons computed beforehand (`teacher_tryons`), so a
            report of several variants runs the teacher once; `teacher` then only names it.
        limit: the first N pairs only.
        bench_runs: timed runs of `tryon bench`'s measurement; 0 skips it.
        precision: inference precision hint of the model (and its speed measurement), e.g.
            "bf16" to see what the CPU's bf16 costs; the teacher's try-ons are always f32.
        progress: show a progress bar.
    """
    from tqdm import tqdm

    from optimization import fid as fid_module
    from optimization.data.viton import VitonPairs
    from optimization.model_stats import artifact_stats

    model_dir = Path(model_dir)
    dataset = VitonPairs(data)
    count = len(dataset) if limit is None else min(limit, len(dataset))
    pipeline = artifact_pipeline(model_dir, precision)
    if teacher_outputs is None and teacher is not None:
        teacher_outputs = teacher_tryons(teacher, data, limit=count, progress=progress)
    if teacher_outputs is not None and len(teacher_outputs) < count:
        raise ValueError(f"{len(teacher_outputs)} teacher try-ons for {count} pairs")
    keep_images = dataset.has_ground_truth and fid_module.weights_available()
    sums = dict.fromkeys(("ssim_t", "psnr_t", "ssim_gt", "psnr_gt", "iou"), 0.0)
    tryons, ground_truths = [], []
    for index in tqdm(range(count), desc=model_dir.name, disable=not progress, leave=False):
        item = dataset[index]
        out = pipeline.run(*_pair_inputs(item))
        p_tryon = torch.from_numpy(out.p_tryon)
        if teacher_outputs is not None:
            reference = torch.from_numpy(teacher_outputs[index])
            sums["ssim_t"] += float(ssim(p_tryon, reference))
            sums["psnr_t"] += float(psnr(p_tryon, reference)[0])
        if dataset.has_ground_truth:
            gt = item["gt"][None]
            sums["ssim_gt"] += float(ssim(p_tryon, gt))
            sums["psnr_gt"] += float(psnr(p_tryon, gt)[0])
            warped_edge = torch.from_numpy(out.warped_edge)
            sums["iou"] += float(mask_iou(warped_edge, item["gt_cloth_mask"][None])[0])
            if keep_images:
                tryons.append(out.p_tryon)
                ground_truths.append(gt.numpy())

    def mean(name: str, applies: bool) -> float | None:
        return round(sums[name] / count, 4) if applies and count else None

    compared = teacher_outputs is not None
    fid_value, fid_note = None, None
    if not dataset.has_ground_truth:
        fid_note = "FID n/a: the data has no ground truth (gt/)"
    elif not keep_images:
        fid_note = fid_module.weights_hint()
    elif count < 2:
        fid_note = "FID n/a: needs at least 2 pairs"
    else:
        fid_value = round(fid_module.fid(tryons, ground_truths), 3)
    speed = None
    if bench_runs > 0:
        from tryon_app.core.bench import benchmark

        options = evaluation_options(precision)
        speed = benchmark(model_dir, options, runs=bench_runs, warmup=min(3, bench_runs))
    metadata = pipeline.artifact.metadata
    return ArtifactEvaluation(
        model=str(model_dir),
        name=pipeline.artifact.name,
        precision=pipeline.artifact.precision,
        quantizer=metadata.get("quantizer"),
        pairs=count,
        teacher=None if teacher is None else str(teacher),
        ssim_vs_teacher=mean("ssim_t", compared),
        psnr_vs_teacher=mean("psnr_t", compared),
        ssim_vs_gt=mean("ssim_gt", dataset.has_ground_truth),
        psnr_vs_gt=mean("psnr_gt", dataset.has_ground_truth),
        warped_mask_iou=mean("iou", dataset.has_ground_truth),
        fid_vs_gt=fid_value,
        fid_note=fid_note,
        stats=artifact_stats(model_dir).to_dict(),
        speed=speed,
        precision_hint=precision,
    )
