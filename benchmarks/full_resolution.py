"""Full-resolution try-ons against ground truth: composition vs scaling the 192x256 result up, and
auto-framing of full-body and off-centre scenes.

    optimize synth --size 1024x768 --n 200 --seed 31 --out runs/synth-1024
    optimize synth --scene full-body --size 1024x768 --n 100 --seed 32 --out runs/synth-full-body
    optimize synth --scene offset --size 1024x768 --n 100 --seed 33 --out runs/synth-offset
    python benchmarks/full_resolution.py --data runs/synth-1024 --scenes runs/synth-full-body runs/synth-offset \
        --sheet docs/full_resolution_before_after.jpg

For the VITON-framed pairs it prints the SSIM of each path against the ground truth at full
resolution, and how many of the pixels the ground truth leaves unchanged come back bit for bit,
next to the ground truth itself brought down to 192x256 and back up (what a perfect model scores
on the scaled-up path: one minus it is the gain a perfect model would show on these photos);
for the scenes, the IoU of the auto-framing box with the true VITON box and the SSIM of the
auto-framed try-on next to the same photo framed by the true box. The garment masks are the
dataset's (`test_edge/`), as `tryon batch` uses them. Everything runs with the f32 hint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from optimization.data.viton import read_gray, read_rgb
from optimization.metrics import photo_ssim
from tryon_app.core.engine import TryOnEngine
from tryon_app.core.framing import CANVAS_SIZE, Box
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


def _through_model_size(image: np.ndarray) -> np.ndarray:
    """`image` brought down to the model's 192x256 and back up, as the scaled-up path does."""
    height, width = image.shape[:2]
    small = cv2.resize(image, CANVAS_SIZE[::-1], interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def composition_vs_scaling(engine: TryOnEngine, folder: Path, limit: int | None) -> dict:
    full, scaled, kept, ceiling = [], [], [], []
    for person_name, cloth_name in _pairs(folder, limit):
        person, cloth, mask, truth = _inputs(folder, person_name, cloth_name)
        composed = engine.try_on(person, cloth, mask)
        upscaled = engine.try_on(
            person, cloth, mask, framing=composed.framing.box, resolution="model"
        )
        full.append(photo_ssim(composed.image, truth))
        # What a perfect model scores on the scaled-up path, and so how much detail these photos
        # hold beyond 192x256: one minus it is the gain a perfect model would show.
        ceiling.append(photo_ssim(_through_model_size(truth), truth))
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
        "ssim_ground_truth_scaled_up": float(np.mean(ceiling)),
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


SHEET_HEIGHT = 384
CROP = 192


def before_after_sheet(engine: TryOnEngine, folder: Path, count: int, out: Path) -> None:
    """A row per pair: person, scaled-up 192x256 result, full-resolution result, ground truth,
    then the same three at the photo's own pixels around the chest, where the garment is."""
    rows = []
    for person_name, cloth_name in _pairs(folder, count):
        person, cloth, mask, truth = _inputs(folder, person_name, cloth_name)
        composed = engine.try_on(person, cloth, mask)
        upscaled = engine.try_on(
            person, cloth, mask, framing=composed.framing.box, resolution="model"
        )
        height, width = person.shape[:2]
        scale = SHEET_HEIGHT / height
        size = (round(width * scale), SHEET_HEIGHT)
        whole = [
            cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            for image in (person, upscaled.image, composed.image, truth)
        ]
        y, x = int(height * 0.42), width // 2
        crops = [
            image[y - CROP : y + CROP, x - CROP : x + CROP]
            for image in (upscaled.image, composed.image, truth)
        ]
        crops = [
            cv2.resize(crop, (SHEET_HEIGHT, SHEET_HEIGHT), interpolation=cv2.INTER_AREA)
            for crop in crops
        ]
        rows.append(np.concatenate(whole + crops, axis=1))
    width = max(row.shape[1] for row in rows)
    rows = [
        np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=255)
        for row in rows
    ]
    sheet = np.concatenate(rows, axis=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="artifact folder (default: the shipped one)")
    parser.add_argument("--data", type=Path, help="VITON-framed pairs with changed/ (any size)")
    parser.add_argument(
        "--scenes", type=Path, nargs="*", default=[], help="scene folders with framing/"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N pairs of each folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--sheet",
        type=Path,
        default=None,
        help="also write a before/after sheet of the first pairs of --data here (PNG or JPEG)",
    )
    parser.add_argument("--sheet-pairs", type=int, default=3, help="pairs on the sheet")
    args = parser.parse_args(argv)
    engine = TryOnEngine(args.model, RuntimeOptions(precision="f32"))
    results = {"model": str(engine.artifact.root)}
    if args.data:
        results["composition"] = composition_vs_scaling(engine, args.data, args.limit)
    if args.data and args.sheet:
        before_after_sheet(engine, args.data, args.sheet_pairs, args.sheet)
    for folder in args.scenes:
        results[f"framing:{folder.name}"] = framing_of_scenes(engine, folder, args.limit)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
