"""Desktop entry point: `tryon` with no arguments, or `python -m tryon_app.gui`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("tryon.gui")

DESKTOP_FILE_NAME = "openvino-tryon"
"""installer/linux/openvino-tryon.desktop: Wayland docks find the window's icon through it."""


def build_parser() -> argparse.ArgumentParser:
    from tryon_app import __version__

    parser = argparse.ArgumentParser(
        prog="tryon-gui", description="Virtual try-on desktop app (OpenVINO, CPU)."
    )
    parser.add_argument("--version", action="version", version=f"tryon {__version__}")
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="artifact folder to load first (also added to the model list)",
    )
    parser.add_argument("--person", type=Path, default=None, help="person photo to open at start")
    parser.add_argument("--garment", type=Path, default=None, help="garment photo to open at start")
    parser.add_argument(
        "--settings",
        type=Path,
        default=None,
        help="keep settings in this ini file instead of the user's",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def display_problem() -> str | None:
    """Why Qt could not open a window here, or None (Linux without X11/Wayland aborts in Qt)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "no display: set DISPLAY (X11) or WAYLAND_DISPLAY, or use the `tryon run` command line"


def icon_path() -> Path:
    """The app's icon, from the assets shipped beside the code (or in the installed bundle)."""
    from tryon_app.core.paths import bundled_assets_dir

    return bundled_assets_dir() / "icons" / "openvino-tryon.png"


def create_application(argv: list[str] | None = None):
    """The QApplication (made once), high-DPI aware, styled, with the app's icon."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    from tryon_app import __version__
    from tryon_app.gui import style
    from tryon_app.gui.settings import APPLICATION, ORGANIZATION

    app = QApplication.instance()
    if app is None:
        # Fractional scales (125 %, 150 %) stay fractional instead of rounding to 1x or 2x.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication([sys.argv[0] if sys.argv else "tryon", *(argv or [])])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Virtual Try-On")
    app.setApplicationVersion(__version__)
    QGuiApplication.setDesktopFileName(DESKTOP_FILE_NAME)
    icon = QIcon(str(icon_path()))
    if icon.isNull():
        log.warning("no app icon at %s", icon_path())
    else:
        app.setWindowIcon(icon)
    style.apply(app)
    return app


def _python_tick() -> None:
    """Nothing: a timer calls it so that Python gets to run its signal handlers."""


def _close_on_interrupt(window) -> None:
    """Ctrl+C in the terminal closes the window as the close button would (no traceback).

    Python handles signals only between its own bytecodes, and Qt's event loop runs none while
    idle; a slow timer calling into Python lets the handler run.
    """
    import signal

    from PySide6.QtCore import QTimer

    signal.signal(signal.SIGINT, lambda *_: window.close())
    ticker = QTimer(window)
    ticker.timeout.connect(_python_tick)
    ticker.start(300)


def main(argv: list[str] | None = None) -> int:
    """Open the window and run until it is closed.

    Returns:
        0 on a normal exit, 1 when no window can be opened, 2 for bad arguments.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exit_request:
        return int(exit_request.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    problem = display_problem()
    if problem is not None:
        print(f"tryon: {problem}", file=sys.stderr)
        return 1

    app = create_application()
    from tryon_app.gui.settings import AppSettings
    from tryon_app.gui.window import MainWindow

    window = MainWindow(
        AppSettings.open(args.settings),
        model_dirs=[args.model] if args.model is not None else [],
        start_model=args.model,
        restore_session=args.person is None and args.garment is None,
    )
    app.aboutToQuit.connect(window.shutdown)
    _close_on_interrupt(window)
    window.show()
    if args.person is not None:
        window.open_person(args.person)
    if args.garment is not None:
        window.open_garment(args.garment)
    code = app.exec()
    window.shutdown()
    if window.controller.worker_threads_alive():
        _end_process_now(code)
    return code


def _end_process_now(code: int) -> None:
    """Exit at once, skipping Python's finalisation, while a worker thread is still in a job.

    The settings are already saved. A thread left inside OpenVINO's or numba's native code when
    the interpreter finalises is torn down mid-call, which C++ answers with std::terminate (an
    abort), so a worker that is still compiling must not outlive a normal exit.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
