"""Contact sheet of synthetic try-on pairs, and the generator's speed on one core.

Each cell of the sheet is one pair: person | garment | edge | ground truth | ground-truth mask.
With `--model`, a model's results instead: person | garment | warped garment | try-on | ground
truth, each try-on run through the app's split pipeline (f32 hint). Without `--data` it first
generates `--n` pairs with `--seed` (and `--style`, `--size`) into a temporary folder, timing
`optimize synth`'s writer and the in-memory renderer (single-threaded OpenCV). With `--scene
full-body` or `offset` each cell shows the whole photo with its VITON box drawn in, the box's
crop scaled to 192x256, the ground truth, its mask and the changed mask.

    python benchmarks/synth_contact_sheet.py --out docs/synth_contact_sheet_realistic.png --n 24 --seed 1
    python benchmarks/synth_contact_sheet.py --scene full-body,offset --out docs/synth_contact_sheet_scenes.png --n 4 --per-row 2 --scale 1 --seed 1
    python benchmarks/synth_contact_sheet.py --style flat --out docs/synth_contact_sheet.png --n 24 --seed 1
    python benchmarks/synth_contact_sheet.py --data DIR --out sheet.png --n 24
    python benchmarks/synth_contact_sheet.py --model models/default --seed 2 --out results.png
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from optimization.data.synthetic import pair_names, render_pair, write_dataset

COLUMNS = ("person", "cloth", "edge", "gt", "gt_cloth_mask")
TITLES = ("person", "garment", "edge", "ground truth", "gt mask")
# With --model: "warped" and "tryon" are the model's outputs, the rest are read from the data.
RESULT_COLUMNS = ("person", "cloth", "warped", "tryon", "gt")
RESULT_TITLES = ("person", "garment", "warped", "try-on", "ground truth")
# With another scene: the photo with its VITON box, the crop of the box, and the ground truth.
SCENE_COLUMNS = ("person", "crop", "gt", "gt_cloth_mask", "changed")
SCENE_TITLES = ("photo + VITON box", "box crop", "ground truth", "gt mask", "changed")


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"{path}: missing or unreadable")
    return image


def model_outputs(data: Path, index: int, pipeline) -> dict[str, np.ndarray]:
    """BGR warped garment and try-on of pair `index` through `pipeline`."""
    from tryon_app.core.images import from_model_output, load_mask, to_model_input

    names = pair_names(index)
    person, cloth = (to_model_input(_read(data / names[k])[..., ::-1]) for k in ("person", "cloth"))
    edge = (load_mask(data / names["edge"])[None, None] / 255.0).astype(np.float32)
    output = pipeline.run(person, cloth, edge)
    return {
        "warped": from_model_output(output.warped_cloth)[..., ::-1],
        "tryon": from_model_output(output.p_tryon)[..., ::-1],
    }


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """`image` scaled to fit `width` x `height`, centred on white."""
    factor = min(width / image.shape[1], height / image.shape[0])
    size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    tile = np.full((height, width, 3), 255, np.uint8)
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    if small.ndim == 2:
        small = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    y, x = (height - size[1]) // 2, (width - size[0]) // 2
    tile[y : y + size[1], x : x + size[0]] = small
    return tile


def scene_outputs(data: Path, index: int) -> dict[str, np.ndarray]:
    """The photo with its VITON box drawn in, and the box's crop at 192x256 (BGR)."""
    names = pair_names(index, extras=True)
    photo = _read(data / names["person"])
    x, y, w, h = json.loads((data / names["framing"]).read_text())["viton_box"]
    sx, sy = w / 192, h / 256
    matrix = np.array([[sx, 0, x - 0.5 + sx / 2], [0, sy, y - 0.5 + sy / 2]], np.float64)
    crop = cv2.warpAffine(photo, matrix, (192, 256), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP)
    boxed = photo.copy()
    thickness = max(1, round(photo.shape[0] / 200))
    cv2.rectangle(
        boxed, (round(x), round(y)), (round(x + w) - 1, round(y + h) - 1), (40, 40, 230), thickness
    )
    return {"person": boxed, "crop": crop}


def contact_sheet(
    data: Path, count: int, pairs_per_row: int, scale: float, model: Path | None = None
) -> np.ndarray:
    """BGR sheet of the first `count` pairs listed in `data/pairs.txt` (with `model`'s results)."""
    scenes = (data / "framing").is_dir()
    columns, titles = (RESULT_COLUMNS, RESULT_TITLES) if model else (COLUMNS, TITLES)
    if scenes and not model:
        columns, titles = SCENE_COLUMNS, SCENE_TITLES
    pipeline = None
    if model is not None:
        from tryon_app.core.artifact import load_artifact
        from tryon_app.core.pipeline import RuntimeOptions, TryOnPipeline

        options = RuntimeOptions(precision="f32", layout="split", cache_dir=None)
        pipeline = TryOnPipeline(load_artifact(model), options)
    lines = [line.split() for line in (data / "pairs.txt").read_text().splitlines() if line.strip()]
    count = min(count, len(lines))
    tile_w, tile_h = int(round(192 * scale)), int(round(256 * scale))
    gap, header = 6, 18
    cell_w = tile_w * len(columns) + gap
    rows = -(-count // pairs_per_row)
    sheet = np.full((header + rows * (tile_h + gap), pairs_per_row * cell_w, 3), 255, np.uint8)
    for column in range(pairs_per_row):
        for position, title in enumerate(titles):
            x = column * cell_w + position * tile_w + 3
            cv2.putText(
                sheet, title, (x, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (60, 60, 60), 1, cv2.LINE_AA
            )
    for number in range(count):
        index = int(lines[number][0].split("_")[0])
        names = pair_names(index, extras=scenes)
        outputs = model_outputs(data, index, pipeline) if pipeline else {}
        if scenes and not model:
            outputs = scene_outputs(data, index)
        row, column = divmod(number, pairs_per_row)
        y = header + row * (tile_h + gap)
        for position, key in enumerate(columns):
            image = outputs[key] if key in outputs else _read(data / names[key])
            tile = _fit(image, tile_w, tile_h)
            x = column * cell_w + position * tile_w
            sheet[y : y + tile_h, x : x + tile_w] = tile
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, help="synthetic dataset folder (default: generate one)"
    )
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument(
        "--model", type=Path, help="artifact folder: show its warped garments and try-ons"
    )
    parser.add_argument("--n", type=int, default=24, help="pairs on the sheet (default 24)")
    parser.add_argument("--seed", type=int, default=1, help="seed when generating (default 1)")
    parser.add_argument(
        "--style",
        choices=("realistic", "flat"),
        default="realistic",
        help="style when generating (default realistic)",
    )
    parser.add_argument(
        "--scene",
        default="viton",
        help="scene when generating: viton (default), full-body, offset, or several separated "
        "by commas (one block of rows each)",
    )
    parser.add_argument(
        "--size", default="256x192", help="photo size HxW when generating (default 256x192)"
    )
    parser.add_argument("--per-row", type=int, default=3, help="pairs per sheet row (default 3)")
    parser.add_argument(
        "--scale", type=float, default=0.75, help="tile size relative to 192x256 (default 0.75)"
    )
    args = parser.parse_args()

    cv2.setNumThreads(1)
    scenes = args.scene.split(",")
    if args.data is not None or args.model is not None:
        scenes = scenes[:1]
    blocks = []
    with tempfile.TemporaryDirectory(prefix="synth-sheet-") as scratch:
        for scene in scenes:
            data = args.data
            if data is None:
                data = Path(scratch) / scene
                size = tuple(int(v) for v in args.size.lower().split("x"))
                options = {"style": args.style, "size": size, "scene": scene}
                start = time.perf_counter()
                write_dataset(data, n_pairs=args.n, seed=args.seed, progress=False, **options)
                written = time.perf_counter() - start
                start = time.perf_counter()
                for index in range(args.n):
                    render_pair(args.seed, index, **options)
                rendered = time.perf_counter() - start
                print(
                    f"{scene}: write_dataset: {args.n / written:.2f} pairs/s (files included); "
                    f"render_pair: {args.n / rendered:.2f} pairs/s (one thread)"
                )
            blocks.append(contact_sheet(data, args.n, args.per_row, args.scale, args.model))
    width = max(block.shape[1] for block in blocks)
    sheet = np.concatenate(
        [np.pad(b, ((0, 0), (0, width - b.shape[1]), (0, 0)), constant_values=255) for b in blocks]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise SystemExit(f"{args.out}: could not write")
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
