"""Full-resolution try-ons against ground truth: composition vs scaling the 192x256 result up, and
auto-framing of full-body and off-centre scenes.

    optimize synth --size 1024x768 --n 200 --seed 31 --out runs/synth-1024
    optimize synth --scene full-body --size 1024x768 --n 100 --seed 32 --out runs/synth-full-body
    optimize synth --scene offset --size 1024x768 --n 100 --seed 33 --out runs/synth-offset
    python benchmarks/full_resolution.py --data runs/synth-1024 --scenes runs/synth-full-body runs/synth-offset

For the VITON-framed pairs it prints the SSIM of each path against the ground truth at full
resolution, and how many of the pixels the ground truth leaves unchanged come back bit for bit;
for the scenes, the IoU of the auto-framing box with the true VITON box and the SSIM of the
auto-framed try-on next to the same photo framed by the true box. The garment masks are the
dataset's (`test_edge/`), as `tryon batch` uses them. Everything runs with the f32 hint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from optimization.data.viton import read_gray, read_rgb
from optimization.metrics import photo_ssim
from tryon_app.core.engine import TryOnEngine
from tryon_app.core.framing import Box
from tryon_app.core.pipeline import RuntimeOptions


def _pairs(folder: Path, limit: int | None) -> list[tuple[str, str]]:
    lines = (folder / "pairs.txt").read_text().split("\n")
    pairs = [tuple(line.split()) for line in lines if line.strip()]
    return pairs[:limit] if limit else pairs


def _inputs(folder: Path, person: str, cloth: str):
    return (
        read_rgb(folder / "test_img" / person),
        read_rgb(folder / "test_clothes" / cloth),
        read_gray(folder / "test_edge" / cloth),
        read_rgb(folder / "gt" / person),
    )


def composition_vs_scaling(engine: TryOnEngine, folder: Path, limit: int | None) -> dict:
    full, scaled, kept = [], [], []
    for person_name, cloth_name in _pairs(folder, limit):
        person, cloth, mask, truth = _inputs(folder, person_name, cloth_name)
        composed = engine.try_on(person, cloth, mask)
        upscaled = engine.try_on(
            person, cloth, mask, framing=composed.framing.box, resolution="model"
        )
        full.append(photo_ssim(composed.image, truth))
        scaled.append(photo_ssim(upscaled.image, truth))
        unchanged = read_gray(folder / "changed" / Path(person_name).with_suffix(".png")) == 0
        same = (composed.image == person).all(axis=2)
        kept.append(float(same[unchanged].mean()))
    full, scaled = np.array(full), np.array(scaled)
    return {
        "pairs": len(full),
        "ssim_full_resolution": float(full.mean()),
        "ssim_scaled_up": float(scaled.mean()),
        "gain": float((full - scaled).mean()),
        "share_of_pairs_better": float((full > scaled).mean()),
        "unchanged_pixels_kept": float(np.mean(kept)),
        "worst_pair_unchanged_pixels_kept": float(np.min(kept)),
    }


def framing_of_scenes(engine: TryOnEngine, folder: Path, limit: int | None) -> dict:
    ious, auto, given = [], [], []
    for person_name, cloth_name in _pairs(folder, limit):
        person, cloth, mask, truth = _inputs(folder, person_name, cloth_name)
        record = json.loads(
            (folder / "framing" / Path(person_name).with_suffix(".json")).read_text()
        )
        true_box = Box(*(round(value) for value in record["viton_box"]))
        framed = engine.try_on(person, cloth, mask)
        ious.append(framed.framing.box.iou(true_box))
        auto.append(photo_ssim(framed.image, truth))
        given.append(photo_ssim(engine.try_on(person, cloth, mask, framing=true_box).image, truth))
    return {
        "scenes": len(ious),
        "iou_mean": float(np.mean(ious)),
        "iou_worst": float(np.min(ious)),
        "ssim_auto_framing": float(np.mean(auto)),
        "ssim_true_box": float(np.mean(given)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="artifact folder (default: the shipped one)")
    parser.add_argument("--data", type=Path, help="VITON-framed pairs with changed/ (any size)")
    parser.add_argument(
        "--scenes", type=Path, nargs="*", default=[], help="scene folders with framing/"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N pairs of each folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    engine = TryOnEngine(args.model, RuntimeOptions(precision="f32"))
    results = {"model": str(engine.artifact.root)}
    if args.data:
        results["composition"] = composition_vs_scaling(engine, args.data, args.limit)
    for folder in args.scenes:
        results[f"framing:{folder.name}"] = framing_of_scenes(engine, folder, args.limit)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
