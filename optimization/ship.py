"""`optimize ship`: install an exported artifact as a shipped model, with its full provenance.

Copies an artifact into ``models/<name>`` and merges into its ``metadata.json`` how it was made:
the teacher's training recipe and data seed, the exact commands, the compression stages of its
run folder and measured quality (``optimize evaluate --json`` results). Optionally copies the
teacher checkpoints into ``models/teacher`` (the default teacher of ``optimize cwm|igm``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tryon_app.core.artifact import METADATA_FILE, load_artifact, sha256_of, write_metadata


def ship_artifact(
    artifact_dir: str | Path,
    out_dir: str | Path,
    *,
    training_run: str | Path | None = None,
    teacher_record: str | Path | None = None,
    compression_run: str | Path | None = None,
    evaluations: dict[str, str | Path] | None = None,
    commands: list[str] | None = None,
) -> Path:
    """Copy `artifact_dir` to `out_dir` and record provenance and quality in its metadata.

    Args:
        training_run: folder of ``optimize train`` (its ``recipe.json`` and ``history.jsonl``).
        teacher_record: a shipped teacher's ``checkpoint.json`` (hashes, recipe, commands), for
            when the training run folder is gone.
        compression_run: run folder of ``optimize cwm|igm|qat`` (its ``stages/*.json``).
        evaluations: label -> ``optimize evaluate --json`` file (e.g. "shipped", "teacher").
        commands: the exact commands that made the model, in order.
    """
    source = load_artifact(artifact_dir)
    out_dir = Path(out_dir)
    if out_dir.resolve() == source.root.resolve():
        raise ValueError("the artifact is already in place")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    shutil.copytree(source.root, out_dir)
    metadata: dict[str, Any] = {
        k: v for k, v in source.metadata.items() if k not in ("schema", "schema_version", "files")
    }
    metadata["name"] = out_dir.name
    provenance = dict(metadata.get("provenance", {}))
    # Paths of the machine that made it mean nothing to a user; keep the names and hashes.
    provenance.pop("run", None)
    provenance.pop("teacher", None)
    if training_run is not None:
        run = Path(training_run)
        recipe = json.loads((run / "recipe.json").read_text())
        history = [
            json.loads(line) for line in (run / "history.jsonl").read_text().splitlines() if line
        ]
        provenance["teacher_training"] = {
            "recipe": recipe,
            "last_epoch": history[-1] if history else None,
        }
    if teacher_record is not None:
        provenance["teacher_checkpoints"] = json.loads(Path(teacher_record).read_text())
    if compression_run is not None:
        stages = sorted((Path(compression_run) / "stages").glob("*.json"))
        provenance["compression"] = {
            path.stem: _without_paths(json.loads(path.read_text())) for path in stages
        }
    if commands:
        provenance["commands"] = list(commands)
    metadata["provenance"] = provenance
    if evaluations:
        metadata["quality"] = {
            label: json.loads(Path(path).read_text(encoding="utf-8"))
            for label, path in evaluations.items()
        }
    (out_dir / METADATA_FILE).unlink()
    write_metadata(out_dir, metadata)
    load_artifact(out_dir)  # hashes and schema check out
    return out_dir


def ship_teacher(
    warp: str | Path,
    gen: str | Path,
    out_dir: str | Path,
    *,
    training_run: str | Path | None = None,
    commands: list[str] | None = None,
    half: bool = False,
) -> Path:
    """Copy trained checkpoints to `out_dir` as ``warp.pth``/``gen.pth`` with ``checkpoint.json``.

    Args:
        half: store the float tensors as float16, halving the files within the shipped size
            budget; loading casts them back to float32 (the try-on moves by ~4e-4 on average,
            as with an fp16 export). The record keeps the float32 originals' hashes.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {}
    for name, path in (("warp", warp), ("gen", gen)):
        target = out_dir / f"{name}.pth"
        if half:
            record[f"{name}_float32_sha256"] = sha256_of(path)
            _save_half(path, target)
        else:
            shutil.copyfile(path, target)
        record[f"{name}_sha256"] = sha256_of(target)
    if half:
        record["storage"] = "float16 (float tensors rounded from the float32 training result)"
    if training_run is not None:
        record["recipe"] = json.loads((Path(training_run) / "recipe.json").read_text())
    if commands:
        record["commands"] = list(commands)
    (out_dir / "checkpoint.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return out_dir


def _save_half(source: str | Path, target: Path) -> None:
    import torch

    from optimization.checkpoints import read_checkpoint

    payload = read_checkpoint(source)
    payload["state_dict"] = {
        key: value.half() if value.is_floating_point() else value
        for key, value in payload["state_dict"].items()
    }
    torch.save(payload, target)


def _without_paths(record: dict[str, Any]) -> dict[str, Any]:
    recipe = record.get("recipe")
    if isinstance(recipe, dict) and "data" in recipe:
        record = {**record, "recipe": {**recipe, "data": Path(str(recipe["data"])).name}}
    return record
