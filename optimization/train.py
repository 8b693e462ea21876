"""Supervised training of PF-AFN (CWM and IGM together) on data with ground truth.

Losses (``optimization/training.py``) follow PF-AFN's own (L1 on the warped garment and on the
result, second-order flow smoothness) plus what helps without pretrained networks: SSIM on the
result, L1 between the warped garment mask and the worn-garment mask, and a composition-mask
term. Progress bars, a checkpoint per epoch, ``--resume``, and the resolved recipe saved beside
the outputs. An epoch of real-size training takes about an hour on two CPU cores, so the training
state is also saved every few minutes inside an epoch and ``--resume`` continues from the batch
where it stopped: each epoch's batch order is a function of the seed and the epoch alone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler

from optimization.archs.afwm import AFWM, measure_warp_widths
from optimization.archs.generator import ResUnetGenerator, measure_gen_widths
from optimization.archs.tryon import tryon_forward
from optimization.archs.widths import GenWidths, WarpWidths
from optimization.checkpoints import read_checkpoint, save_atomically, save_checkpoint
from optimization.metrics import mask_iou
from optimization.training import (
    Deadline,
    EpochMeans,
    bf16_autocast,
    cosine_schedule,
    optimizer_step,
    set_training,
    training_losses,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainRecipe:
    """Everything that decides a training run; saved as `recipe.json` beside the checkpoints."""

    data: str
    out: str
    width_factor: float = 0.25
    epochs: int = 10
    batch_size: int = 8
    lr: float = 2e-4
    max_minutes: float | None = None
    # Save the training state this often inside an epoch (None: at epoch ends only).
    checkpoint_minutes: float | None = 10.0
    seed: int = 0
    threads: int | None = None
    device: str = "cpu"
    # bf16 autocast: about 1.5x faster on CPUs with AVX512-BF16 or AMX. The flow grids stay
    # float32: offsets are added to a float32 base grid and grid_sample runs in float32.
    autocast_bf16: bool = False
    # Start from these checkpoints (a folder with warp.pth and gen.pth, e.g. models/teacher)
    # instead of fresh networks: their widths replace `width_factor`. Fine-tuning a trained
    # teacher on new data takes a fraction of training one from scratch.
    init_from: str | None = None
    # BatchNorm on its running statistics, which then stay as they are (scale and shift still
    # learn): for fine-tuning a trained teacher, whose warp can hang on those statistics.
    frozen_batchnorm: bool = False
    loss_weights: dict[str, float] = field(
        default_factory=lambda: {
            "warp_l1": 1.0,
            "warp_mask": 2.0,
            "smooth": 0.5,
            "tryon_l1": 1.0,
            "tryon_ssim": 1.0,
            "composite": 0.2,
        }
    )


class EpochOrder(Sampler[int]):
    """Shuffled sample order that depends only on (seed, epoch), starting `skip` samples in.

    Resuming mid-epoch replays the same order and skips what was trained, without loading the
    skipped images.
    """

    def __init__(self, n: int, seed: int):
        self.n, self.seed = n, seed
        self.epoch, self.skip = 0, 0

    def start(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.n, generator=generator)[self.skip :]
        return iter(order.tolist())

    def __len__(self) -> int:
        return self.n - self.skip


def build_student(width_factor: float) -> tuple[AFWM, ResUnetGenerator, WarpWidths, GenWidths]:
    """Fresh networks at `width_factor` of the official widths, initialised for training."""
    warp_widths = WarpWidths().scaled(width_factor)
    gen_widths = GenWidths().scaled(width_factor)
    warp_model = AFWM(warp_widths)
    # Zero offsets at the start: every level begins from the base grid instead of random flow,
    # which keeps the five composed levels from tearing the garment apart in the first steps.
    for head in (*warp_model.aflow_net.netMain, *warp_model.aflow_net.netRefine):
        nn.init.zeros_(head[-1].weight)
        nn.init.zeros_(head[-1].bias)
    return warp_model, ResUnetGenerator(gen_widths), warp_widths, gen_widths


def _initial_networks(folder: Path) -> tuple[AFWM, ResUnetGenerator, WarpWidths, GenWidths]:
    """The networks of `folder`/warp.pth and gen.pth, with their widths, to train further."""
    from optimization.checkpoints import load_models

    warp_model, gen_model = load_models(folder / "warp.pth", folder / "gen.pth")
    return warp_model, gen_model, measure_warp_widths(warp_model), measure_gen_widths(gen_model)


def train(recipe: TrainRecipe, *, resume: bool = False, progress: bool = True) -> Path:
    """Train both networks; returns the run folder with `warp_last.pth` and `gen_last.pth`."""
    from tqdm import tqdm

    from optimization.data.viton import VitonPairs

    run = Path(recipe.out)
    run.mkdir(parents=True, exist_ok=True)
    (run / "recipe.json").write_text(json.dumps(asdict(recipe), indent=2) + "\n")
    torch.manual_seed(recipe.seed)
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    device = torch.device(recipe.device)
    autocast = bf16_autocast(device, recipe.autocast_bf16)

    dataset = VitonPairs(recipe.data)
    if not dataset.has_ground_truth:
        raise ValueError(
            f"{recipe.data}: training needs ground truth (gt/ and gt_cloth_mask/ folders)"
        )
    drop_last = len(dataset) > recipe.batch_size
    order = EpochOrder(len(dataset), recipe.seed)
    loader = DataLoader(dataset, batch_size=recipe.batch_size, sampler=order, drop_last=drop_last)
    steps_per_epoch = len(loader)

    if recipe.init_from:
        warp_model, gen_model, warp_widths, gen_widths = _initial_networks(Path(recipe.init_from))
    else:
        warp_model, gen_model, warp_widths, gen_widths = build_student(recipe.width_factor)
    warp_model.to(device), gen_model.to(device)
    parameters = list(warp_model.parameters()) + list(gen_model.parameters())
    optimizer = torch.optim.Adam(parameters, lr=recipe.lr, betas=(0.5, 0.999))
    scheduler = cosine_schedule(optimizer, recipe.epochs * steps_per_epoch)

    start_epoch, start_step = 0, 0
    state_path = run / "train_state.pth"
    if resume and state_path.is_file():
        state = read_checkpoint(state_path)
        warp_model.load_state_dict(state["warp"])
        gen_model.load_state_dict(state["gen"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        # "epoch" is the last finished epoch; "step" the batches done in the one after it.
        start_epoch, start_step = int(state["epoch"]) + 1, int(state.get("step", 0))
        log.info(
            "resumed from %s at epoch %d, batch %d", state_path, start_epoch + 1, start_step + 1
        )
    elif resume:
        log.warning("no %s to resume from; starting fresh", state_path)

    def save_state(epoch: int, step: int) -> None:
        state = {
            "epoch": epoch - 1 if step else epoch,
            "step": step,
            "warp": warp_model.state_dict(),
            "gen": gen_model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
        }
        save_atomically(state, state_path)

    deadline = Deadline(recipe.max_minutes)
    for epoch in range(start_epoch, recipe.epochs):
        for model in (warp_model, gen_model):
            set_training(model, frozen_batchnorm=recipe.frozen_batchnorm)
        means = EpochMeans()
        step = start_step if epoch == start_epoch else 0
        order.start(epoch, skip=step * recipe.batch_size)
        bar = tqdm(
            loader,
            desc=f"epoch {epoch + 1}/{recipe.epochs}",
            disable=not progress,
            leave=False,
            initial=step,
            total=steps_per_epoch,
        )
        checkpoint_clock = Deadline(recipe.checkpoint_minutes)
        for batch in bar:
            person, clothes, edge = (batch[k].to(device) for k in ("person", "clothes", "edge"))
            gt, gt_mask = batch["gt"].to(device), batch["gt_cloth_mask"].to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                out = tryon_forward(warp_model, gen_model, person, clothes, edge)
            out = {name: value.float() for name, value in out.items()}
            terms = training_losses(out, gt, gt_mask)
            loss = sum(recipe.loss_weights[name] * value for name, value in terms.items())
            optimizer_step(loss, optimizer, scheduler, parameters)
            with torch.no_grad():
                terms["loss"] = loss
                terms["iou"] = mask_iou(out["warped_edge"], gt_mask).mean()
            means.add(terms)
            bar.set_postfix(loss=f"{means.mean('loss'):.3f}", iou=f"{means.mean('iou'):.3f}")
            step += 1
            if step < steps_per_epoch and (deadline.passed() or checkpoint_clock.passed()):
                save_state(epoch, step)
                checkpoint_clock = Deadline(recipe.checkpoint_minutes)
                if deadline.passed():
                    log.info(
                        "time budget of %.0f min reached in epoch %d at batch %d of %d; "
                        "--resume continues from there",
                        recipe.max_minutes,
                        epoch + 1,
                        step,
                        steps_per_epoch,
                    )
                    return run
        means.record(run / "history.jsonl", epoch + 1)
        log.info(
            "epoch %d: %s", epoch + 1, ", ".join(f"{k}={v:.4f}" for k, v in means.means().items())
        )
        _save_epoch(run, epoch, warp_model, gen_model, warp_widths, gen_widths, recipe)
        save_state(epoch, 0)
        if deadline.passed():
            log.info(
                "time budget of %.0f min reached after epoch %d", recipe.max_minutes, epoch + 1
            )
            break
    return run


def _save_epoch(run, epoch, warp_model, gen_model, warp_widths, gen_widths, recipe) -> None:
    provenance: dict[str, Any] = {"epoch": epoch + 1, "recipe": asdict(recipe)}
    save_checkpoint(run / "warp_last.pth", warp_model, warp_widths, provenance=provenance)
    save_checkpoint(run / "gen_last.pth", gen_model, gen_widths, provenance=provenance)
