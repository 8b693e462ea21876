"""The computed garment mask's cost next to the try-on it precedes, side by side in one run.

Times `tryon_app.core.masks.opencv_garment_mask` on a synthetic product photo at the model's
192x256 and at 960x1280 (a phone-sized garment photo, masked small and scaled back), interleaved
with a model-space try-on of the shipped default (f32 hint), and prints the medians and the
mask's share of a try-on. The tests check what the mask is; how fast it is belongs here.

    python benchmarks/garment_mask.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from tryon_app.core.engine import TryOnEngine
from tryon_app.core.masks import opencv_garment_mask
from tryon_app.core.pipeline import RuntimeOptions


def product_photo(height: int = 256, width: int = 192) -> np.ndarray:
    """A dark tee on white, the shape of a product photo."""
    photo = np.full((height, width, 3), 255, dtype=np.uint8)
    body = np.array([[0.3, 0.15], [0.7, 0.15], [0.72, 0.9], [0.28, 0.9]]) * (width, height)
    sleeves = np.array([[0.3, 0.15], [0.1, 0.35], [0.2, 0.42], [0.32, 0.3]]) * (width, height)
    cv2.fillPoly(photo, [body.astype(np.int32)], (20, 30, 90))
    for polygon in (sleeves, sleeves * (-1, 1) + (width, 0)):
        cv2.fillPoly(photo, [polygon.astype(np.int32)], (20, 30, 90))
    return photo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed runs of each (default 30)")
    args = parser.parse_args(argv)
    small = product_photo()
    large = cv2.resize(small, (960, 1280), interpolation=cv2.INTER_CUBIC)
    engine = TryOnEngine(None, RuntimeOptions(precision="f32"))
    person = np.full((256, 192, 3), 230, dtype=np.uint8)
    mask = opencv_garment_mask(small)
    jobs = {
        "mask at 192x256": lambda: opencv_garment_mask(small),
        "mask at 960x1280": lambda: opencv_garment_mask(large),
        "try-on at 192x256 (mask given)": lambda: engine.try_on(
            person, small, mask, framing="letterbox", resolution="model"
        ),
    }
    for job in jobs.values():  # warm caches and compiled kernels first
        job()
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(args.repeats):  # interleaved: the machine's load hits every job alike
        for name, job in jobs.items():
            start = time.perf_counter()
            job()
            times[name].append((time.perf_counter() - start) * 1e3)
    try_on = float(np.median(times["try-on at 192x256 (mask given)"]))
    for name, values in times.items():
        median = float(np.median(values))
        print(f"{name:32s} {median:7.1f} ms median  ({median / try_on:.2f} of a try-on)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
