"""Contact sheet of synthetic try-on pairs, and the generator's speed on one core.

Each cell of the sheet is one pair: person | garment | edge | ground truth | ground-truth mask.
Without `--data` it first generates `--n` pairs with `--seed` into a temporary folder, timing
`optimize synth`'s writer and the in-memory renderer (single-threaded OpenCV).

    python benchmarks/synth_contact_sheet.py --out docs/synth_contact_sheet.png --n 24 --seed 1
    python benchmarks/synth_contact_sheet.py --data DIR --out sheet.png --n 24
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from optimization.data.synthetic import pair_names, render_pair, write_dataset

COLUMNS = ("person", "cloth", "edge", "gt", "gt_cloth_mask")
TITLES = ("person", "garment", "edge", "ground truth", "gt mask")


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"{path}: missing or unreadable")
    return image


def contact_sheet(data: Path, count: int, pairs_per_row: int, scale: float) -> np.ndarray:
    """BGR sheet of the first `count` pairs listed in `data/pairs.txt`."""
    lines = [line.split() for line in (data / "pairs.txt").read_text().splitlines() if line.strip()]
    count = min(count, len(lines))
    tile_w, tile_h = int(round(192 * scale)), int(round(256 * scale))
    gap, header = 6, 18
    cell_w = tile_w * len(COLUMNS) + gap
    rows = -(-count // pairs_per_row)
    sheet = np.full((header + rows * (tile_h + gap), pairs_per_row * cell_w, 3), 255, np.uint8)
    for column in range(pairs_per_row):
        for position, title in enumerate(TITLES):
            x = column * cell_w + position * tile_w + 3
            cv2.putText(
                sheet, title, (x, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (60, 60, 60), 1, cv2.LINE_AA
            )
    for number in range(count):
        index = int(lines[number][0].split("_")[0])
        names = pair_names(index)
        row, column = divmod(number, pairs_per_row)
        y = header + row * (tile_h + gap)
        for position, key in enumerate(COLUMNS):
            tile = cv2.resize(
                _read(data / names[key]), (tile_w, tile_h), interpolation=cv2.INTER_AREA
            )
            x = column * cell_w + position * tile_w
            sheet[y : y + tile_h, x : x + tile_w] = tile
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, help="synthetic dataset folder (default: generate one)"
    )
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--n", type=int, default=24, help="pairs on the sheet (default 24)")
    parser.add_argument("--seed", type=int, default=1, help="seed when generating (default 1)")
    parser.add_argument("--per-row", type=int, default=3, help="pairs per sheet row (default 3)")
    parser.add_argument(
        "--scale", type=float, default=0.75, help="tile size relative to 192x256 (default 0.75)"
    )
    args = parser.parse_args()

    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="synth-sheet-") as scratch:
        data = args.data
        if data is None:
            data = Path(scratch) / "synth"
            start = time.perf_counter()
            write_dataset(data, n_pairs=args.n, seed=args.seed, progress=False)
            written = time.perf_counter() - start
            start = time.perf_counter()
            for index in range(args.n):
                render_pair(args.seed, index)
            rendered = time.perf_counter() - start
            print(
                f"write_dataset: {args.n / written:.1f} pairs/s (files included); "
                f"render_pair: {args.n / rendered:.1f} pairs/s (one thread)"
            )
        sheet = contact_sheet(data, args.n, args.per_row, args.scale)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise SystemExit(f"{args.out}: could not write")
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
