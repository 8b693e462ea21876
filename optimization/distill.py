"""Fine-tune compressed students by distillation from the unpruned teacher.

No ground truth is needed: the student learns the teacher's outputs (warped garment, flow,
warped mask, try-on) and, as in GAN Compression, its intermediate features through learned 1x1
adapters (student width -> teacher width): both feature pyramids of the warping module, and the
end of every down and up path of the generator. Where the data has ground truth (synthetic
data), PF-AFN's supervised losses are added.

The recipe may weigh the terms dynamically (uncertainty weighting,
``optimization/loss_weighting.py``) and add a PatchGAN discriminator on the try-on
(``optimization/adversarial.py``), as depth pruning's recovery does.

Runs on one process or under ``torchrun --nproc_per_node N`` (DistributedDataParallel, gloo on
CPU, NCCL on GPU); only rank 0 writes checkpoints and shows progress.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from optimization.adversarial import Adversary, generator_condition
from optimization.archs.afwm import AFWM
from optimization.archs.generator import residual_paths
from optimization.checkpoints import save_atomically
from optimization.loss_weighting import UncertaintyWeighting
from optimization.metrics import ssim
from optimization.recipes import SSIM_TERMS, DistillRecipe
from optimization.training import (
    Deadline,
    EpochMeans,
    bf16_autocast,
    cosine_schedule,
    flow_in_pixels,
    optimizer_step,
    set_training,
    training_losses,
)

log = logging.getLogger(__name__)


def feature_layers(model: nn.Module, like: nn.Module | None = None) -> list[nn.Module]:
    """The layers whose outputs are matched: pyramids of an AFWM, path ends of a generator.

    A path ends at its second residual slot (an identity where depth pruning removed the
    block). Given `like` (the other network of the pair), a generator's list keeps the paths
    both have, so a student without the innermost blocks is matched with the same paths of its
    teacher.
    """
    if isinstance(model, AFWM):
        return [model.image_FPN, model.cond_FPN]
    paths = residual_paths(model)
    shared = residual_paths(like).keys() if like is not None else paths.keys()
    return [slots[1] for name, slots in paths.items() if name in shared]


class _FeatureTap:
    """Collects the outputs of some layers during a forward pass (pyramids give lists)."""

    def __init__(self, layers: list[nn.Module]):
        self.features: list[torch.Tensor] = []
        self._handles = [layer.register_forward_hook(self._hook) for layer in layers]

    def _hook(self, module, inputs, output) -> None:
        self.features.extend(output if isinstance(output, (list, tuple)) else [output])

    def take(self) -> list[torch.Tensor]:
        features, self.features = self.features, []
        return features

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


class Distiller(nn.Module):
    """Loss terms of a student against a frozen teacher on one batch.

    Args:
        teacher: module returning the `tryon_forward` dict.
        student: the same interface (a `TorchTryOn`, or the quantized split graphs).
        teacher_layers, student_layers: layers whose outputs are matched pairwise (empty for
            none); one 1x1 adapter per matched tensor, built on the first batch.
        ssim_terms: SSIM terms to compute (``warped_cloth_ssim``, ``p_tryon_ssim``).
    """

    def __init__(
        self,
        teacher: nn.Module,
        student: nn.Module,
        teacher_layers: list[nn.Module] | None = None,
        student_layers: list[nn.Module] | None = None,
        ssim_terms: tuple[str, ...] = (),
    ):
        super().__init__()
        self.ssim_terms = ssim_terms
        self.teacher = teacher.eval().requires_grad_(False)
        self.last_target: dict[str, torch.Tensor] = {}  # the teacher's outputs of the last batch
        self.student = student
        self._teacher_tap = _FeatureTap(teacher_layers or [])
        self._student_tap = _FeatureTap(student_layers or [])
        self.adapters = nn.ModuleList()

    def build_adapters(self, person, clothes, edge) -> None:
        """Create the adapters from the feature shapes of one forward pass."""
        with torch.no_grad():
            self.teacher(person, clothes, edge)
            self.student(person, clothes, edge)
        pairs = zip(self._student_tap.take(), self._teacher_tap.take(), strict=True)
        self.adapters = nn.ModuleList(
            nn.Conv2d(student.shape[1], teacher.shape[1], 1) for student, teacher in pairs
        )

    def forward(
        self, person, clothes, edge
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(loss terms, student outputs)."""
        with torch.no_grad():
            target = self.teacher(person, clothes, edge)
        self.last_target = target
        out = self.student(person, clothes, edge)
        out = {name: value.float() for name, value in out.items()}
        terms = {
            "warped_cloth": F.l1_loss(out["warped_cloth"], target["warped_cloth"]),
            "flow": F.l1_loss(
                flow_in_pixels(out["last_flow"]), flow_in_pixels(target["last_flow"])
            ),
            "warped_edge": F.l1_loss(out["warped_edge"], target["warped_edge"]),
            "p_tryon": F.l1_loss(out["p_tryon"], target["p_tryon"]),
        }
        for name in self.ssim_terms:
            image = name.removesuffix("_ssim")
            terms[name] = 1.0 - ssim(out[image], target[image])
        teacher_features, student_features = self._teacher_tap.take(), self._student_tap.take()
        if self.adapters:
            losses = [
                F.mse_loss(adapter(s.float()), t.float()) / (t.float().pow(2).mean() + 1e-6)
                for adapter, s, t in zip(
                    self.adapters, student_features, teacher_features, strict=True
                )
            ]
            terms["features"] = torch.stack(losses).mean()
        return terms, out


# ---------------------------------------------------------------------------------------------
# Distributed helpers


@dataclass(frozen=True)
class _World:
    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _join_world(device: torch.device) -> _World:
    """Join the process group torchrun set up, if any."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return _World()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return _World(rank=dist.get_rank(), size=dist.get_world_size())


def _device_for(recipe: DistillRecipe) -> torch.device:
    device = torch.device(recipe.device)
    if device.type == "cuda" and "LOCAL_RANK" in os.environ:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


# ---------------------------------------------------------------------------------------------
# Loss weights

# Terms computed from the warping module's outputs alone; the others depend on both networks.
_WARP_TERMS = ("warped_cloth", "flow", "warped_edge", "warped_cloth_ssim")


def _static_weights(
    recipe: DistillRecipe, use_features: bool, supervised: bool
) -> dict[str, float]:
    """The recipe's weight of every term the loss adds, in the order it adds them."""
    weights = {name: weight for name, weight in recipe.output_weights.items() if weight}
    if use_features:
        weights["features"] = recipe.feature_weight
    if supervised:
        weights["supervised"] = recipe.supervised_weight
    return weights


def _loss_weighting(recipe: DistillRecipe, static: dict[str, float]) -> UncertaintyWeighting | None:
    """Learned weights for the terms the trained networks influence (None: static weights).

    A term of the frozen network's outputs alone is a constant to the student; learning its
    weight would only move the reported loss.
    """
    if recipe.loss_weighting == "static":
        return None
    balanced = {
        name: weight
        for name, weight in static.items()
        if name not in _WARP_TERMS or "warp" in recipe.train
    }
    return UncertaintyWeighting(balanced) if balanced else None


def _combine(
    terms: dict[str, torch.Tensor],
    static: dict[str, float],
    weighting: UncertaintyWeighting | None,
) -> torch.Tensor:
    """The loss of one step; with learned weights, their values join `terms` (``weight_*``)."""
    balanced = weighting.names if weighting is not None else ()
    loss = sum(weight * terms[name] for name, weight in static.items() if name not in balanced)
    if weighting is not None:
        loss = loss + weighting(terms)
        terms.update({f"weight_{name}": value for name, value in weighting.weights().items()})
    return loss


# ---------------------------------------------------------------------------------------------
# Training loop


def distill(
    recipe: DistillRecipe,
    teacher: nn.Module,
    student: nn.Module,
    run: str | Path,
    *,
    teacher_layers: list[nn.Module] | None = None,
    student_layers: list[nn.Module] | None = None,
    trainable: list[nn.Module],
    save: Callable[[int], None],
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune `trainable` (parts of `student`) to imitate `teacher`.

    Args:
        recipe: data, schedule and weights.
        teacher, student: modules returning the `tryon_forward` dict.
        run: folder for ``distill_state.pth``, ``distill_recipe.json`` and
            ``distill_history.jsonl``.
        teacher_layers, student_layers: feature-matching pairs (see :func:`feature_layers`).
        trainable: the modules whose parameters learn; everything else in `student` is frozen.
        save: ``save(epoch)`` writes the student's checkpoints; called on rank 0 after each epoch.
        resume: continue from ``run/distill_state.pth`` when it exists.

    Returns:
        The last epoch's mean loss terms.
    """
    from torch.utils.data import DataLoader, DistributedSampler
    from tqdm import tqdm

    from optimization.data.viton import VitonPairs

    run = Path(run)
    device = _device_for(recipe)
    autocast = bf16_autocast(device, recipe.autocast_bf16)
    world = _join_world(device)
    torch.manual_seed(recipe.seed)
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    if world.is_main:
        run.mkdir(parents=True, exist_ok=True)
        (run / "distill_recipe.json").write_text(json.dumps(asdict(recipe), indent=2) + "\n")

    dataset = VitonPairs(recipe.data)
    supervised = dataset.has_ground_truth and recipe.supervised_weight > 0
    sampler = (
        DistributedSampler(dataset, world.size, world.rank, seed=recipe.seed)
        if world.size > 1
        else None
    )
    loader = DataLoader(
        dataset,
        batch_size=recipe.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        drop_last=len(dataset) > recipe.batch_size * world.size,
    )

    student.requires_grad_(False)
    for module in trainable:
        for parameter in module.parameters():
            # NNCF's quantizers hold integer parameters (bit widths) next to their float scales.
            parameter.requires_grad_(parameter.is_floating_point())
    use_features = recipe.feature_weight > 0 and bool(teacher_layers)
    distiller = Distiller(
        teacher,
        student,
        teacher_layers if use_features else None,
        student_layers if use_features else None,
        ssim_terms=tuple(name for name in SSIM_TERMS if recipe.output_weights.get(name, 0.0)),
    ).to(device)
    first = next(iter(DataLoader(dataset, batch_size=1)))
    if use_features:
        distiller.build_adapters(*(first[k].to(device) for k in ("person", "clothes", "edge")))
        distiller.adapters.to(device)
    static = _static_weights(recipe, use_features, supervised)
    weighting = _loss_weighting(recipe, static)
    if weighting is not None:
        # A submodule of the distiller: saved with its state, and averaged by DDP.
        distiller.weighting = weighting.to(device)
    adversary = None
    if recipe.adversarial_weight > 0:
        if world.size > 1:
            raise ValueError("the adversarial term trains in one process, not under torchrun")
        adversary = Adversary(recipe.discriminator_width, recipe.discriminator_lr).to(device)
    parameters = [p for p in distiller.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("nothing to train: no trainable parameters")
    weighting_parameters = set(weighting.parameters()) if weighting is not None else set()
    groups = [{"params": [p for p in parameters if p not in weighting_parameters]}]
    if weighting is not None:
        groups.append({"params": list(weighting_parameters), "lr": recipe.weighting_lr})
    optimizer = torch.optim.Adam(groups, lr=recipe.lr, betas=(0.9, 0.999))
    scheduler = cosine_schedule(optimizer, recipe.epochs * len(loader))

    model: nn.Module = distiller
    if world.size > 1:
        model = nn.parallel.DistributedDataParallel(
            distiller, device_ids=[device.index] if device.type == "cuda" else None
        )

    start_epoch = 0
    state_path = run / "distill_state.pth"
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location=device, weights_only=True)
        distiller.load_state_dict(state["distiller"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if adversary is not None and "adversary" in state:
            adversary.load_training_state(state["adversary"])
        start_epoch = int(state["epoch"]) + 1
        log.info("resumed %s at epoch %d", state_path, start_epoch + 1)

    deadline = Deadline(recipe.max_minutes)
    means = EpochMeans()
    for epoch in range(start_epoch, recipe.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        # Only the trained networks switch to training mode: a frozen one keeps its BatchNorm on
        # running statistics (and unchanged), so the losses see it as it runs after export.
        student.eval()
        for module in trainable:
            set_training(module, frozen_batchnorm=recipe.frozen_batchnorm)
        means = EpochMeans()
        bar = tqdm(
            loader,
            desc=f"distill {epoch + 1}/{recipe.epochs}",
            disable=not (progress and world.is_main),
            leave=False,
        )
        for batch in bar:
            person, clothes, edge = (batch[k].to(device) for k in ("person", "clothes", "edge"))
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                terms, out = model(person, clothes, edge)
            if supervised:
                gt, gt_mask = batch["gt"].to(device), batch["gt_cloth_mask"].to(device)
                supervised_terms = training_losses(out, gt, gt_mask)
                terms["supervised"] = sum(supervised_terms.values()) / len(supervised_terms)
            loss = _combine(terms, static, weighting)
            if adversary is not None:
                fake_condition = generator_condition(person, out)
                terms["adversarial"] = adversary.student_loss(fake_condition, out["p_tryon"])
                loss = loss + recipe.adversarial_weight * terms["adversarial"]
            optimizer_step(loss, optimizer, scheduler, parameters)
            if adversary is not None:
                target = distiller.last_target
                terms["discriminator"] = adversary.step(
                    generator_condition(person, target),
                    target["p_tryon"],
                    fake_condition,
                    out["p_tryon"],
                )
            terms["loss"] = loss
            means.add(terms)
            bar.set_postfix(loss=f"{means.mean('loss'):.4f}", tryon=f"{means.mean('p_tryon'):.4f}")
            if deadline.passed():
                break
        if world.is_main:
            means.record(run / "distill_history.jsonl", epoch + 1)
            log.info(
                "distill epoch %d: %s",
                epoch + 1,
                ", ".join(f"{k}={v:.4f}" for k, v in means.means().items()),
            )
            save(epoch + 1)
            state = {
                "epoch": epoch,
                "distiller": {
                    k: v for k, v in distiller.state_dict().items() if not k.startswith("teacher.")
                },
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
            }
            if adversary is not None:
                state["adversary"] = adversary.training_state()
            save_atomically(state, state_path)
        if deadline.passed():
            log.info(
                "time budget of %.0f min reached after epoch %d", recipe.max_minutes, epoch + 1
            )
            break
    distiller._teacher_tap.close()
    distiller._student_tap.close()
    student.eval()
    return means.means()
