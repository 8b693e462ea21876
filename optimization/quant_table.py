"""The quantization table: PTQ, KD, QAT and KD + QAT of one pruned student, side by side.

As LW-GAN compares them, four ways to get a deployable model out of the same compressed student
(the run's student when the table starts, typically right after ``optimize prune``):

* ``ptq``: NNCF post-training INT8, no training.
* ``kd``: distillation from the teacher, float (``optimize distill``'s loss, both networks of
  the quantized modules trained together).
* ``qat``: NNCF quantization-aware training on the ground truth alone (PF-AFN's supervised
  losses, no teacher), then INT8.
* ``kd-qat``: NNCF quantization-aware training with the distillation loss (``optimize qat``).

The three trained ones get the same epochs on the same data. Each starts from a copy of the
student in ``RUN/quant_table/<method>/`` (a run folder of its own, so the run's student is left
as it was) and is exported to ``RUN/artifacts/<variant>``; ``RUN/quant_table.json`` names the
four variants and the recipes, and ``optimize report RUN`` puts them in one table.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from optimization.recipes import MODULES, OUTPUT_WEIGHTS, DistillRecipe, QatRecipe

log = logging.getLogger(__name__)

METHODS = ("ptq", "kd", "qat", "kd-qat")
LABELS = {
    "ptq": "PTQ (NNCF), no training",
    "kd": "KD only, float",
    "qat": "QAT, ground truth only",
    "kd-qat": "KD + QAT",
}
MANIFEST = "quant_table.json"
BRANCHES = "quant_table"
PTQ_CALIBRATION_PAIRS = 32  # what `optimize ptq` calibrates on


def _branch(run, method: str):
    """A fresh run folder ``RUN/quant_table/<method>`` holding a copy of the run's student."""
    from optimization.compress import CompressionRun

    root = run.root / BRANCHES / method
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    shutil.copy2(run.root / "teacher.json", root / "teacher.json")
    for folder in ("student", "stages"):
        if (run.root / folder).is_dir():
            shutil.copytree(run.root / folder, root / folder)
    return CompressionRun(root)


def _metadata(run, method: str, recipe: dict[str, Any] | None) -> dict[str, Any]:
    teacher = {k: str(v) for k, v in zip(("warp", "gen"), run.teacher_paths, strict=True)}
    return {
        "provenance": {
            "run": str(run.root),
            "teacher": teacher,
            "quant_table": {"method": method, "label": LABELS[method], "recipe": recipe},
        }
    }


def _distill_networks(branch, recipe: DistillRecipe, networks: tuple[str, ...], progress: bool):
    """Distil the branch's student, `networks` trained together, and save them every epoch."""
    from optimization.archs.tryon import TorchTryOn
    from optimization.distill import distill, feature_layers

    teacher_models = dict(zip(("warp", "gen"), branch.teacher(), strict=True))
    student_models = dict(zip(("warp", "gen"), branch.student(), strict=True))
    teacher_layers, student_layers = [], []
    for network in networks:
        teacher_layers += feature_layers(teacher_models[network], student_models[network])
        student_layers += feature_layers(student_models[network], teacher_models[network])

    def save(epoch: int) -> None:
        for network in networks:
            branch.save_student(network, student_models[network], stage="quant-table kd")

    return distill(
        replace(recipe, train=networks),
        TorchTryOn(*teacher_models.values()),
        TorchTryOn(*student_models.values()),
        branch.root / "distill",
        teacher_layers=teacher_layers,
        student_layers=student_layers,
        trainable=[student_models[network] for network in networks],
        save=save,
        progress=progress,
    )


def ground_truth_recipe(recipe: DistillRecipe) -> DistillRecipe:
    """`recipe` learning from the ground truth alone: no teacher term, no feature matching."""
    return replace(
        recipe,
        output_weights=dict.fromkeys(OUTPUT_WEIGHTS, 0.0),
        feature_weight=0.0,
        supervised_weight=1.0,
    )


def quant_table(
    run,
    recipe: DistillRecipe,
    *,
    qat_lr: float,
    modules: tuple[str, ...] = tuple(MODULES),
    calibration_pairs: int = 32,
    methods: tuple[str, ...] = METHODS,
    progress: bool = True,
) -> dict[str, Any]:
    """Make the table's variants from the run's student and write ``RUN/quant_table.json``.

    Args:
        run: a `optimization.compress.CompressionRun` whose student is the starting point.
        recipe: data, epochs and loss of the trained methods (``kd`` uses its learning rate).
        qat_lr: learning rate of the two quantization-aware trainings.
        modules: the modules quantized (and trained), ``cwm`` and/or ``igm``; the others stay
            float and frozen in every method.
        calibration_pairs: pairs NNCF calibrates QAT's quantizers on (PTQ uses 32, as
            ``optimize ptq``).
        methods: a subset of `METHODS`.

    Raises:
        ValueError: an unknown method or module, or ``qat`` on data without ground truth.
    """
    from optimization.compress import qat_stage
    from optimization.data.viton import VitonPairs
    from optimization.export import export_artifact
    from optimization.qat import NETWORK_ROLES, load_qat
    from optimization.quantize import load_calibration

    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        raise ValueError(f"quant-table methods must be from {METHODS}, got {list(methods)}")
    if not modules or not set(modules) <= set(MODULES):
        raise ValueError(f"modules must be from {tuple(MODULES)}, got {list(modules)}")
    if "qat" in methods and not VitonPairs(recipe.data).has_ground_truth:
        raise ValueError(f"{recipe.data}: the qat row learns from ground truth, which it lacks")
    networks = tuple(MODULES[module] for module in modules)
    # PTQ quantizes what QAT quantizes: the graphs of the other network stay float.
    float_roles = tuple(
        role
        for network, roles in NETWORK_ROLES.items()
        if network not in networks
        for role in roles
    )
    qat_recipes = {
        "qat": ground_truth_recipe(replace(recipe, lr=qat_lr)),
        "kd-qat": replace(recipe, lr=qat_lr),
    }
    rows = []
    for method in methods:
        branch = _branch(run, method)
        precision = "fp32" if method == "kd" else "int8"
        variant = branch.variant_name(f"qt-{method}-{precision}")
        out = run.artifact_dir(variant)
        log.info("quant-table %s -> %s", method, out)
        if method == "ptq":
            used = {"calibration_pairs": PTQ_CALIBRATION_PAIRS, "float_graphs": list(float_roles)}
            export_artifact(
                *branch.student(),
                out,
                precision="int8",
                calibration=load_calibration(recipe.data, PTQ_CALIBRATION_PAIRS),
                float_graphs=float_roles,
                metadata=_metadata(run, method, used),
            )
        elif method == "kd":
            used = asdict(replace(recipe, train=networks))
            last = _distill_networks(branch, recipe, networks, progress)
            used["last_epoch"] = last
            export_artifact(*branch.student(), out, metadata=_metadata(run, method, used))
        else:
            qat = QatRecipe(calibration_pairs, qat_recipes[method], modules)
            qat_stage(branch, qat, progress=progress)
            used = branch.read_stage("qat")["recipe"]
            quantized, warp_model, gen_model = load_qat(branch.root / "qat" / "qat.pth")
            export_artifact(
                warp_model,
                gen_model,
                out,
                precision="int8",
                quantized=quantized,
                metadata=_metadata(run, method, used),
            )
        rows.append({"method": method, "label": LABELS[method], "variant": variant})
    manifest = {
        "rows": rows,
        "modules": list(modules),
        "epochs": recipe.epochs,
        "data": recipe.data,
        "pairs": len(VitonPairs(recipe.data)),
        "start": {
            name: run.read_stage(name)
            for name in sorted(p.stem for p in (run.root / "stages").glob("*.json"))
        }
        if (run.root / "stages").is_dir()
        else {},
    }
    (run.root / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


# ---------------------------------------------------------------------------------------------
# Report


QUANT_COLUMNS = (
    "precision",
    "total MB",
    "SSIM vs teacher",
    "SSIM vs GT",
    "mask IoU",
    "p50 ms",
    "try-ons/s",
)


def read_manifest(run: Path) -> dict[str, Any] | None:
    """``RUN/quant_table.json``, None when the run has no quantization table."""
    path = Path(run) / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def quant_table_section(run: Path, variants: list, baseline) -> list[str]:
    """The report's lines for the table (empty without a manifest): one row per method, the
    cells of the report's main table (`optimization.report.table_rows`)."""
    from optimization.report import table_rows

    manifest = read_manifest(run)
    if manifest is None:
        return []
    by_name = {variant.name: variant for variant in variants}
    found = [
        (row, by_name[row["variant"]]) for row in manifest["rows"] if row["variant"] in by_name
    ]
    if not found:
        return []
    cells = {
        variant.name: row
        for variant, row in zip(
            [baseline] + [variant for _, variant in found],
            table_rows([baseline] + [variant for _, variant in found], baseline),
            strict=True,
        )
    }
    headers = ["method", "variant", *QUANT_COLUMNS]
    lines = [
        "| " + " | ".join(headers) + " |",
        "|---|---|---|" + "|".join("---:" for _ in QUANT_COLUMNS[1:]) + "|",
    ]
    for row, variant in found:
        table = cells[variant.name]
        values = [row["label"], variant.name, *(table[column] for column in QUANT_COLUMNS)]
        lines.append("| " + " | ".join(values) + " |")
    trained = ", ".join(LABELS[row["method"]] for row, _ in found if row["method"] != "ptq")
    note = (
        f"All four start from the same student (the run's stages before the table: "
        f"{', '.join(manifest['start']) or 'none'}); {trained}: {manifest['epochs']} epoch(s) "
        f"each on the same {manifest['pairs']} pairs ({manifest['data']}); quantized modules: "
        f"{', '.join(manifest['modules'])}. Quality and speed as in the table above."
    )
    return ["", "## PTQ, KD and QAT of one pruned student", "", *lines, "", note]
