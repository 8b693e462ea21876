"""Screenshot of the desktop app after a try-on on the sample photos.

    python benchmarks/gui_screenshot.py --out docs/gui_screenshot.png
    python benchmarks/gui_screenshot.py --person big.jpg --zoom 1:1 --framing 800,400,1500,2000

The app runs in a child process: on a real X server window under Xvfb when Xvfb is installed
(Debian: `apt-get install xvfb libxcb-icccm4 libxcb-keysyms1`), else on Qt's offscreen platform.
Settings go to a temporary file, so the user's own are neither read nor changed.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("gui_screenshot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=Path("docs/gui_screenshot.png"), help="PNG to write"
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="artifact folder (default: the shipped default)"
    )
    parser.add_argument(
        "--person", type=Path, default=None, help="person photo (default: the first sample)"
    )
    parser.add_argument(
        "--garment",
        type=Path,
        default=None,
        help="garment photo (default: the second sample, else the first)",
    )
    parser.add_argument(
        "--size", default="1280x800", help="window size WIDTHxHEIGHT (default 1280x800)"
    )
    parser.add_argument(
        "--platform",
        choices=("auto", "xcb", "offscreen"),
        default="auto",
        help="auto: Xvfb when available, else offscreen",
    )
    parser.add_argument(
        "--split", type=float, default=0.5, help="before/after divider position, 0..1 (default 0.5)"
    )
    parser.add_argument(
        "--no-mask", action="store_true", help="do not show the garment mask overlay"
    )
    parser.add_argument(
        "--zoom",
        default="fit",
        help="the result's zoom: fit, 1:1, or screen pixels per photo pixel (e.g. 0.5); "
        "around --zoom-at (default fit)",
    )
    parser.add_argument(
        "--zoom-at",
        default="0.5,0.3",
        help="the point of the result kept in view when zooming, as shares of its width and "
        "height (default 0.5,0.3: the chest)",
    )
    parser.add_argument(
        "--framing",
        default=None,
        help="a framing box X,Y,W,H in person photo pixels, set as a user would drag it "
        "(default: the automatic one)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for the try-on (default 300)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


@contextlib.contextmanager
def xvfb_display(width: int, height: int) -> Iterator[str]:
    """Start Xvfb on a free display, yield its name (":N"), stop it afterwards."""
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write_end),
            "-screen",
            "0",
            f"{width + 64}x{height + 64}x24",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as stream:
            number = stream.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not report a display")
        yield f":{number}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_child(
    args: argparse.Namespace, argv: list[str], platform: str, width: int, height: int
) -> int:
    command = [sys.executable, str(Path(__file__).resolve()), *argv, "--child"]
    env = dict(os.environ, QT_QPA_PLATFORM=platform)
    if platform == "offscreen":
        return subprocess.run(command, env=env).returncode
    with xvfb_display(width, height) as display:
        env["DISPLAY"] = display
        return subprocess.run(command, env=env).returncode


def capture(args: argparse.Namespace, width: int, height: int) -> int:
    """In the child: open the window, try on, wait, grab, save."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtGui import QGuiApplication

    from tryon_app.core.framing import Box
    from tryon_app.core.session import sample_images
    from tryon_app.gui.app import create_application
    from tryon_app.gui.settings import AppSettings
    from tryon_app.gui.window import MainWindow

    persons, garments = sample_images("person"), sample_images("garment")
    person = args.person or (persons[0] if persons else None)
    garment = args.garment or (garments[min(1, len(garments) - 1)] if garments else None)
    if person is None or garment is None:
        print(
            "gui_screenshot: no sample photos in assets/; pass --person and --garment",
            file=sys.stderr,
        )
        return 1

    zoom = None if args.zoom == "fit" else 1.0 if args.zoom == "1:1" else float(args.zoom)
    zoom_at = tuple(float(share) for share in args.zoom_at.split(","))
    app = create_application()
    with tempfile.TemporaryDirectory(prefix="tryon-screenshot-") as folder:
        window = MainWindow(
            AppSettings.open(Path(folder) / "settings.ini"),
            model_dirs=[args.model] if args.model else [],
            start_model=args.model,
            restore_session=False,
        )
        window.resize(width, height)
        window.show()
        window.open_person(person)
        window.open_garment(garment)

        deadline = time.monotonic() + args.timeout
        while not window.controller.results_shown and time.monotonic() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            if window.model_unavailable() and window.controller.is_idle():
                break
            time.sleep(0.02)
        if not window.controller.results_shown:
            print(
                f"gui_screenshot: no try-on: {window.banner.text() or f'none within {args.timeout:.0f} s'}",
                file=sys.stderr,
            )
            window.close()
            return 1

        if args.framing is not None:
            shown = window.controller.results_shown
            window.controller.set_framing(Box.parse(args.framing))
            while window.controller.results_shown == shown and time.monotonic() < deadline:
                app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
                time.sleep(0.02)
        window.garment_panel.show_mask.setChecked(not args.no_mask)
        window.result_panel.slider.setValue(round(args.split * 1000))
        app.processEvents()
        zoom_to(window.result_panel.compare, zoom, zoom_at)
        window.thumbnails.wait(10_000)
        settle_until = time.monotonic() + 0.5
        while time.monotonic() < settle_until:
            app.processEvents()
            time.sleep(0.02)
        image = window.grab()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(args.out)):
            print(f"gui_screenshot: cannot write {args.out}", file=sys.stderr)
            window.close()
            return 1
        platform = QGuiApplication.platformName()
        print(
            f"wrote {args.out} ({image.width()}x{image.height()}, {platform}, {window.timings_label.text()})"
        )
        window.close()
    return 0


def zoom_to(compare, zoom: float | None, at: tuple[float, float]) -> None:
    """Zoom the result view to `zoom` (None: fit) with the photo point at shares `at` in view."""
    from PySide6.QtCore import QPointF

    if zoom is None:
        compare.fit()
        return
    size = compare.photo_size()
    compare.fit()
    compare.set_zoom(zoom, compare.picture_rect().topLeft())
    wanted = QPointF(at[0] * size.width(), at[1] * size.height())
    shown = compare.photo_point(compare.visible_rect().center())
    compare.pan_by((shown - wanted) * zoom / compare.devicePixelRatioF())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s"
    )
    try:
        width, height = (int(part) for part in args.size.lower().split("x"))
    except ValueError:
        print(f"gui_screenshot: --size {args.size!r}: expected WIDTHxHEIGHT", file=sys.stderr)
        return 2
    try:
        if args.zoom not in ("fit", "1:1"):
            float(args.zoom)
        at_x, at_y = (float(share) for share in args.zoom_at.split(","))
    except ValueError:
        print(
            f"gui_screenshot: --zoom {args.zoom!r} / --zoom-at {args.zoom_at!r}: expected fit, "
            "1:1 or a number, and two shares X,Y",
            file=sys.stderr,
        )
        return 2
    if args.child:
        return capture(args, width, height)
    if args.platform == "auto":
        platforms = (["xcb"] if shutil.which("Xvfb") else []) + ["offscreen"]
    else:
        platforms = [args.platform]
    for platform in platforms:
        log.info("trying the %s platform", platform)
        code = run_child(args, argv, platform, width, height)
        if code in (0, 1):
            # 1 is the app's own failure (already explained); only a crashed platform plugin
            # (a signal, or Qt's abort) is worth another try on the next platform.
            return code
        log.warning("the %s platform failed (exit %d)", platform, code)
    return 1


if __name__ == "__main__":
    sys.exit(main())
