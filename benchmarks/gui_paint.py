"""How long the result view takes to paint a phone photo's try-on: fitted, while the wheel zooms,
once it rests, and panning at 1:1.

    python benchmarks/gui_paint.py [--size 3024x4032] [--platform offscreen]

Prints the median and worst paint per stage in milliseconds (a shared machine makes single
paints noisy; compare medians, on one machine, in one run).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import cv2
import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="3024x4032", help="photo WxH (default 3024x4032)")
    parser.add_argument("--platform", default="offscreen", help="Qt platform (default offscreen)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", args.platform)
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QImage

    from tryon_app.gui.app import create_application
    from tryon_app.gui.imaging import Picture
    from tryon_app.gui.widgets import CompareView

    app = create_application()
    width, height = (int(side) for side in args.size.lower().split("x"))
    rng = np.random.default_rng(1)
    photo = cv2.resize(rng.integers(0, 256, (63, 47, 3), dtype=np.uint8), (width, height))
    start = time.perf_counter()
    pictures = Picture.from_rgb(photo), Picture.from_rgb(photo[::-1].copy())
    convert_ms = (time.perf_counter() - start) * 1e3 / 2
    view = CompareView("")
    view.resize(900, 1000)
    view.set_images(*pictures)
    view.show()
    app.processEvents()
    canvas = QImage(view.size(), QImage.Format.Format_ARGB32_Premultiplied)
    timings: dict[str, list[float]] = {}

    def paint(stage: str) -> None:
        begin = time.perf_counter()
        view.render(canvas)
        timings.setdefault(stage, []).append((time.perf_counter() - begin) * 1e3)

    paint("warm-up")
    view.set_images(Picture.from_rgb(photo[:, ::-1].copy()), pictures[1])
    paint("new result")
    for _ in range(10):
        paint("fitted")
    centre = QPointF(view.width() / 2, view.height() / 2)
    for _ in range(12):
        view.zoom_by(1.25, centre)
        paint("zooming")
    view.actual_size()
    for _ in range(20):
        view.pan_by(QPointF(37, 23))
        paint("panning at 1:1")
    del timings["warm-up"]
    print(f"{width}x{height}: converting a result {convert_ms:.0f} ms (on a worker thread)")
    for stage, values in timings.items():
        print(f"{stage:<16} median {np.median(values):6.1f} ms   worst {np.max(values):6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
