"""The compression chain behind ``optimize cwm|igm|prune|distill|qat``, kept in a run folder.

A run folder holds one student being compressed from one teacher::

    RUN/teacher.json          the teacher's checkpoint paths (official or ours) and hashes
    RUN/student/warp.pth      the current student networks (our checkpoint format: widths +
    RUN/student/gen.pth       state dict); a network not compressed yet is the teacher's
    RUN/stages/*.json         what every stage did (recipe, widths, parameters, losses)
    RUN/distill_<module>/     distillation state, recipe and history (``--resume``)
    RUN/qat/qat.pth           quantization-aware-trained split graphs (NNCF config + weights)
    RUN/artifacts/<variant>/  exported OpenVINO artifacts (teacher-fp32, pruned-fp32, ...)
    RUN/data/                 synthetic pairs made when no ``--data`` is given

``optimize cwm --ratio 0.4 --out RUN`` prunes the warping module, distils it and exports;
``optimize igm --ratio 0.25 --out RUN`` then does the same to the generator of the same
student, and ``--qat`` adds INT8 quantization-aware training of both (``--int8 igm``: of the
generator only, the warping module staying float).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from optimization.archs.afwm import AFWM
from optimization.archs.generator import ResUnetGenerator
from optimization.archs.tryon import TorchTryOn
from optimization.checkpoints import load_models, load_network, save_checkpoint
from optimization.distill import distill, feature_layers
from optimization.model_stats import count_parameters
from optimization.prune import measure_widths, prune_model
from optimization.recipes import MODULES, DistillRecipe, PruneRecipe, QatRecipe

log = logging.getLogger(__name__)

SYNTH_SEED = 3  # teacher training used seed 1 and held-out evaluation seed 2
TEACHER_DIR = Path(__file__).resolve().parents[1] / "models" / "teacher"


def default_teacher() -> tuple[Path, Path]:
    """The shipped teacher checkpoints (our trained default model before compression)."""
    return TEACHER_DIR / "warp.pth", TEACHER_DIR / "gen.pth"


@dataclass(frozen=True)
class CompressionRun:
    """A run folder (see the module docstring)."""

    root: Path

    @classmethod
    def open(
        cls, root: str | Path, warp: str | Path | None = None, gen: str | Path | None = None
    ) -> CompressionRun:
        """Open `root`, recording the teacher on first use (the shipped one by default).

        Raises:
            ValueError: a different teacher than the one the run was started with.
        """
        from tryon_app.core.artifact import sha256_of

        run = cls(Path(root))
        run.root.mkdir(parents=True, exist_ok=True)
        if (warp is None) != (gen is None):
            raise ValueError("give both --warp and --gen, or neither")
        record = run.root / "teacher.json"
        if record.is_file():
            known = json.loads(record.read_text())
            if warp is not None and (Path(warp).resolve(), Path(gen).resolve()) != (
                Path(known["warp"]),
                Path(known["gen"]),
            ):
                raise ValueError(
                    f"{run.root} was started from another teacher ({known['warp']}); use a new --out"
                )
            return run
        warp, gen = (Path(warp), Path(gen)) if warp is not None else default_teacher()
        for path in (warp, gen):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: teacher checkpoint not found")
        record.write_text(
            json.dumps(
                {
                    "warp": str(warp.resolve()),
                    "gen": str(gen.resolve()),
                    "warp_sha256": sha256_of(warp),
                    "gen_sha256": sha256_of(gen),
                },
                indent=2,
            )
            + "\n"
        )
        return run

    @property
    def teacher_paths(self) -> tuple[Path, Path]:
        known = json.loads((self.root / "teacher.json").read_text())
        return Path(known["warp"]), Path(known["gen"])

    def teacher(self) -> tuple[AFWM, ResUnetGenerator]:
        return load_models(*self.teacher_paths)

    def student_path(self, network: str) -> Path:
        return self.root / "student" / f"{network}.pth"

    def student(self) -> tuple[AFWM, ResUnetGenerator]:
        """The current student: compressed networks where they exist, the teacher's otherwise."""
        teacher = None
        networks = {}
        for index, network in enumerate(("warp", "gen")):
            path = self.student_path(network)
            if path.is_file():
                networks[network] = load_network(path, network)
            else:
                teacher = teacher or self.teacher()
                networks[network] = teacher[index]
        return networks["warp"], networks["gen"]

    def save_student(self, network: str, model: nn.Module, **provenance: Any) -> None:
        save_checkpoint(
            self.student_path(network), model, measure_widths(model), provenance=provenance
        )

    def stage_path(self, name: str) -> Path:
        return self.root / "stages" / f"{name}.json"

    def write_stage(self, name: str, record: dict[str, Any]) -> Path:
        path = self.stage_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2, default=str) + "\n")
        return path

    def read_stage(self, name: str) -> dict[str, Any] | None:
        """What stage `name` recorded, None when the run has not been through it."""
        path = self.stage_path(name)
        return json.loads(path.read_text()) if path.is_file() else None

    def variant_name(self, suffix: str) -> str:
        """``cwm0.4-igm0.25-<suffix>`` from the pruning stages the run went through.

        A network compressed by `optimize search` is named by the stage's own label
        (``cwmofa0.5``); when a network went through both, the later stage made the student.
        """
        parts = []
        for module in MODULES:
            depth = self.read_stage(f"depth_{module}")  # blocks removed before any pruning
            if depth is not None:
                parts.append(depth["label"])
            paths = [self.stage_path(f"{kind}_{module}") for kind in ("prune", "search")]
            done = [path for path in paths if path.is_file()]
            if done:
                latest = max(done, key=lambda path: path.stat().st_mtime_ns)
                stage = json.loads(latest.read_text())
                parts.append(stage.get("label") or f"{module}{stage['recipe']['ratio']:g}")
        return "-".join(parts + [suffix]) if parts else f"student-{suffix}"

    def artifact_dir(self, variant: str) -> Path:
        return self.root / "artifacts" / variant

    def data_dir(self, data: str | Path | None, pairs: int) -> Path:
        """`data`, or synthetic pairs with ground truth made once inside the run."""
        if data is not None:
            return Path(data)
        return self.synthetic_pairs("data", pairs, SYNTH_SEED)

    def synthetic_pairs(self, name: str, pairs: int, seed: int) -> Path:
        """RUN/`name`: `pairs` synthetic pairs of `seed`, written the first time they are asked for."""
        folder = self.root / name
        if not (folder / "pairs.txt").is_file():
            from optimization.data.synthetic import write_dataset

            log.info("writing %d synthetic pairs (seed %d) to %s", pairs, seed, folder)
            write_dataset(folder, n_pairs=pairs, seed=seed, progress=True)
        return folder


# ---------------------------------------------------------------------------------------------
# Stages


def prune_stage(
    run: CompressionRun,
    module: str,
    recipe: PruneRecipe,
    *,
    sensitivity: dict[str, Any] | None = None,
    data: Path | None = None,
) -> dict[str, Any]:
    """Prune one network of the current student (no fine-tuning) and save it.

    Args:
        module: ``cwm`` or ``igm``.
        sensitivity: a `group_sensitivity` result for this network; turns the global ratio
            into per-group ratios (unless `recipe.group_ratios` is already set).
        data: pairs for Taylor importance (loss of the student against the teacher).
    """
    from optimization.sensitivity import allocate_ratios

    network = MODULES[module]
    warp_model, gen_model = run.student()
    model = warp_model if network == "warp" else gen_model
    if sensitivity is not None and not recipe.group_ratios:
        if sensitivity.get("kind") != network:
            raise ValueError(
                f"the sensitivity analysis is of the {sensitivity.get('kind')} network, not {network}"
            )
        recipe = replace(recipe, group_ratios=allocate_ratios(sensitivity, recipe.ratio))
    before = count_parameters(model)
    loss_fn = (
        _taylor_loss(run, network, warp_model, gen_model, data)
        if recipe.importance == "taylor"
        else None
    )
    widths = prune_model(model, recipe, loss_fn=loss_fn)
    run.save_student(network, model, stage=f"prune {module}", ratio=recipe.ratio)
    record = {
        "stage": "prune",
        "module": module,
        "recipe": asdict(recipe),
        "parameters_before": before,
        "parameters_after": count_parameters(model),
        "widths": widths.to_dict(),
    }
    run.write_stage(f"prune_{module}", record)
    log.info("pruned %s: %d -> %d parameters", module, before, record["parameters_after"])
    return record


def _taylor_loss(run, network, warp_model, gen_model, data):
    from torch.utils.data import DataLoader

    from optimization.data.viton import VitonPairs

    if data is None:
        raise ValueError("taylor importance needs --data (or a run with synthetic data)")
    teacher = TorchTryOn(*run.teacher()).eval()
    batch = next(iter(DataLoader(VitonPairs(data), batch_size=4)))
    inputs = tuple(batch[k] for k in ("person", "clothes", "edge"))
    with torch.no_grad():
        target = teacher(*inputs)["p_tryon"]

    def loss(model: nn.Module) -> torch.Tensor:
        pair = (model, gen_model) if network == "warp" else (warp_model, model)
        # Pruned channels are judged by how much the try-on needs them: gradients of the
        # distance to the teacher, plus a tiny output term so an exact copy still has gradients.
        output = TorchTryOn(*pair)(*inputs)["p_tryon"]
        return torch.nn.functional.l1_loss(output, target) + 1e-3 * output.abs().mean()

    return loss


def distill_stage(
    run: CompressionRun,
    module: str,
    recipe: DistillRecipe,
    *,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune one network of the student against the teacher; checkpoints every epoch."""
    network = MODULES[module]
    teacher_warp, teacher_gen = run.teacher()
    warp_model, gen_model = run.student()
    student_model = warp_model if network == "warp" else gen_model
    teacher_model = teacher_warp if network == "warp" else teacher_gen
    recipe = replace(recipe, train=(network,))

    def save(epoch: int) -> None:
        run.save_student(network, student_model, stage=f"distill {module}", epoch=epoch)

    means = distill(
        recipe,
        TorchTryOn(teacher_warp, teacher_gen),
        TorchTryOn(warp_model, gen_model),
        run.root / f"distill_{module}",
        teacher_layers=feature_layers(teacher_model, student_model),
        student_layers=feature_layers(student_model, teacher_model),
        trainable=[student_model],
        save=save,
        resume=resume,
        progress=progress,
    )
    record = {"stage": "distill", "module": module, "recipe": asdict(recipe), "last_epoch": means}
    run.write_stage(f"distill_{module}", record)
    return record


def qat_stage(
    run: CompressionRun, recipe: QatRecipe, *, resume: bool = False, progress: bool = True
) -> Path:
    """Quantize the student's split graphs with NNCF, fine-tune them, save ``RUN/qat/qat.pth``."""
    from torch.utils.data import DataLoader

    from optimization.data.viton import VitonPairs
    from optimization.graphs import SplitTryOn
    from optimization.qat import graph_network, quantize_split, save_qat

    if recipe.distill is None:
        raise ValueError("QAT needs a distillation recipe (data and schedule)")
    if not recipe.modules or not set(recipe.modules) <= set(MODULES):
        raise ValueError(f"QAT modules must be from {tuple(MODULES)}, got {recipe.modules}")
    networks = tuple(MODULES[module] for module in recipe.modules)
    warp_model, gen_model = run.student()
    warp_model.eval(), gen_model.eval()
    samples = []
    for batch in DataLoader(VitonPairs(recipe.distill.data), batch_size=1):
        samples.append(tuple(batch[k] for k in ("person", "clothes", "edge")))
        if len(samples) == recipe.calibration_pairs:
            break
    quantized = quantize_split(
        SplitTryOn.from_models(warp_model, gen_model), samples, networks, recipe.float_graphs
    )
    warp_widths, gen_widths = measure_widths(warp_model), measure_widths(gen_model)
    path = run.root / "qat" / "qat.pth"

    def save(epoch: int) -> None:
        save_qat(
            path, quantized, warp_widths, gen_widths, networks, recipe.float_graphs, epoch=epoch
        )

    trainable = [g for p, g in quantized.graphs().items() if graph_network(p) in networks]
    distill_recipe = replace(recipe.distill, train=networks, feature_weight=0.0)
    if distill_recipe.epochs == 0:
        save(0)
    else:
        distill(
            distill_recipe,
            TorchTryOn(*run.teacher()),
            quantized,
            run.root / "qat",
            trainable=trainable,
            save=save,
            resume=resume,
            progress=progress,
        )
    # Record the distillation as it ran (trained networks, no feature matching), not as given.
    resolved = {**asdict(recipe), "distill": asdict(distill_recipe)}
    run.write_stage("qat", {"stage": "qat", "recipe": resolved, "checkpoint": str(path)})
    return path


def export_stage(
    run: CompressionRun,
    variant: str,
    *,
    precision: str = "fp32",
    quantizer: str = "nncf",
    qat: bool = False,
    calibration_data: Path | None = None,
    teacher: bool = False,
) -> Path:
    """Export the student (or the teacher, or the QAT graphs) to ``RUN/artifacts/<variant>``."""
    from optimization.export import export_artifact

    out = run.artifact_dir(variant)
    provenance = {
        "run": str(run.root),
        "teacher": {k: str(v) for k, v in zip(("warp", "gen"), run.teacher_paths, strict=True)},
    }
    if qat:
        from optimization.qat import load_qat

        quantized, warp_model, gen_model = load_qat(run.root / "qat" / "qat.pth")
        return export_artifact(
            warp_model,
            gen_model,
            out,
            precision="int8",
            quantized=quantized,
            metadata={
                "provenance": {**provenance, "quantization": "NNCF quantization-aware training"}
            },
        )
    warp_model, gen_model = run.teacher() if teacher else run.student()
    calibration = None
    if precision == "int8":
        from optimization.quantize import load_calibration

        calibration = load_calibration(calibration_data, 32)
    extra: dict[str, Any] = {}
    if quantizer != "nncf":
        extra["quantizer"] = quantizer
    return export_artifact(
        warp_model,
        gen_model,
        out,
        precision=precision,
        calibration=calibration,
        metadata={"provenance": provenance},
        **extra,
    )
