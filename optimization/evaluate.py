"""Quality of a try-on model on a VITON-layout folder with ground truth (synthetic data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from optimization.archs.pfafn import AFWM, ResUnetGenerator, tryon_forward
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
