"""Entry point of the packaged app: the `tryon` command (no arguments: the desktop app).

Only what a frozen build needs on top of `tryon_app.cli:main`:

* numba's compile cache goes to the user's cache folder, with OpenVINO's. The bundle ships the
  kernels' sources (see tryon.spec), which numba needs before it honours NUMBA_CACHE_DIR; unset,
  numba would write beside the install where that is writable (and the uninstaller would leave
  it behind), else into a folder of its own. It must be set before numba is imported.
* The build compiled the kernels for common CPU levels (`numba-seed/`, see build_linux.sh and
  kernels.precompiled); the best level this CPU runs goes into that cache, so a fresh install's
  first try-on does not spend half a minute compiling.
* TRYON_QUIT_AFTER_MS=N closes the desktop app's windows N ms after start, as the close button
  would. Installer smoke tests use it to start and quit the GUI without a person at the screen.
"""

from __future__ import annotations

import os
import sys


def _direct_numba_cache() -> None:
    from pathlib import Path

    from tryon_app.core.paths import user_cache_dir

    cache = user_cache_dir() / "numba"
    if sys.platform == "win32":
        # A frozen program's cache entries are stamped with its executable, so tryon.exe and
        # tryon-gui.exe sharing one folder would each invalidate the other's compiled kernels.
        cache /= Path(sys.executable).stem
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache))
    seed = Path(getattr(sys, "_MEIPASS", "")) / "numba-seed" / Path(sys.executable).stem
    if getattr(sys, "frozen", False) and seed.is_dir():
        from kernels.precompiled import use_seed

        try:
            use_seed(seed)
        except OSError as error:  # an unwritable cache folder: numba then compiles, as without
            print(f"tryon: cannot use the precompiled kernels: {error}", file=sys.stderr)


def _schedule_quit(delay_ms: int) -> None:
    """Create the app's QApplication now and close every window after `delay_ms`."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from tryon_app.gui.app import create_application, display_problem

    if display_problem() is not None:
        return  # the GUI's main() explains it; Qt would abort here
    create_application()  # the GUI's main() reuses this instance
    QTimer.singleShot(delay_ms, QApplication.closeAllWindows)


def main() -> int:
    _direct_numba_cache()
    quit_after = os.environ.get("TRYON_QUIT_AFTER_MS", "")
    if quit_after and len(sys.argv) == 1:
        if not quit_after.isdigit():
            print(
                f"tryon: TRYON_QUIT_AFTER_MS must be milliseconds, not {quit_after!r}",
                file=sys.stderr,
            )
            return 2
        _schedule_quit(int(quit_after))
    from tryon_app.cli import main as tryon_main

    return tryon_main()


if __name__ == "__main__":
    sys.exit(main())
