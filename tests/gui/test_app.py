"""The app as a program: entry points, a fresh interpreter without torch, the screenshot script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[2]
HEAVY_PACKAGES = ("torch", "nncf", "torch_pruning", "optimization")

# Runs in a fresh interpreter: the window, one try-on on the tiny model, then what was imported.
_APP_RUN = """
import json, sys, time
from pathlib import Path
from tryon_app.gui.app import create_application
from tryon_app.gui.settings import AppSettings
from tryon_app.gui.window import MainWindow

model, person, garment, settings = (Path(arg) for arg in sys.argv[1:5])
heavy_roots = set(sys.argv[5].split(","))
app = create_application()
window = MainWindow(AppSettings.open(settings), model_dirs=[model], search_dirs=[], start_model=model, restore_session=False)
window.show()
window.open_person(person)
window.open_garment(garment)
deadline = time.monotonic() + 240
while not window.controller.results_shown and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.01)
result = window.controller.result
window.close()
heavy = sorted(name for name in sys.modules if name.split(".")[0] in heavy_roots)
print(json.dumps({
    "shape": list(result.outcome.result.image.shape) if result else None,
    "banner": window.banner.text(),
    "heavy": heavy,
    "threads": window.controller.worker_threads_alive(),
}))
"""


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for variable, folder in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_DATA_HOME", "data"),
    ):
        (tmp_path / folder).mkdir(exist_ok=True)
        env[variable] = str(tmp_path / folder)
    # This checkout, whatever an installed copy of the project may hold.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


@pytest.mark.slow
def test_the_app_never_imports_torch(tiny_artifact, photos, tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            _APP_RUN,
            str(tiny_artifact),
            str(photos.person),
            str(photos.garments[2]),
            str(tmp_path / "settings.ini"),
            ",".join(HEAVY_PACKAGES),
        ],
        cwd=REPO,
        env=_environment(tmp_path, QT_QPA_PLATFORM="offscreen"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["shape"] == list(photos.person_rgb.shape), report["banner"]
    assert report["heavy"] == []
    assert report["threads"] == []


# Runs main() in a fresh interpreter whose model load never ends, and closes the window at once.
_QUIT_DURING_COMPILE = """
import sys, threading
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from tryon_app.core import session
from tryon_app.gui import app

def compile_forever(self, request):
    print("compiling", flush=True)
    threading.Event().wait()

session.TryOnSession.load = compile_forever
app.create_application()
QTimer.singleShot(1500, QApplication.closeAllWindows)
sys.exit(app.main(sys.argv[1:]))
"""


def test_quitting_while_the_model_compiles_ends_the_process_cleanly(tiny_artifact, tmp_path):
    settings = tmp_path / "settings.ini"
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            _QUIT_DURING_COMPILE,
            "--model",
            str(tiny_artifact),
            "--settings",
            str(settings),
        ],
        cwd=REPO,
        env=_environment(tmp_path, QT_QPA_PLATFORM="offscreen"),
        capture_output=True,
        text=True,
        # Well under the half minute the window used to wait for its worker.
        timeout=20,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "compiling" in completed.stdout
    assert completed.stderr == ""
    assert settings.is_file()


def test_main_without_a_display_explains_and_fails(tmp_path):
    env = _environment(tmp_path)
    for variable in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(variable, None)
    completed = subprocess.run(
        [sys.executable, "-m", "tryon_app.gui"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1
    assert "no display" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_main_help_and_bad_arguments(capsys):
    from tryon_app.gui.app import main

    assert main(["--help"]) == 0
    assert "--model" in capsys.readouterr().out
    assert main(["--no-such-option"]) == 2


@pytest.mark.slow
def test_screenshot_script_writes_the_window(tiny_artifact, photos, tmp_path):
    out = tmp_path / "shot.png"
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "gui_screenshot.py"),
            "--platform",
            "offscreen",
            "--model",
            str(tiny_artifact),
            "--person",
            str(photos.person),
            "--garment",
            str(photos.garments[1]),
            "--out",
            str(out),
            "--timeout",
            "240",
        ],
        cwd=REPO,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "wrote" in completed.stdout
    image = cv2.imread(str(out))
    assert image.shape[:2] == (800, 1280)
    # Not a blank grab: the photos and the result are on it.
    assert np.std(image) > 20


def test_version_flags(capsys):
    from tryon_app import __version__
    from tryon_app.cli import main as cli_main
    from tryon_app.gui.app import main as gui_main

    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"tryon {__version__}\n"
    assert gui_main(["--version"]) == 0
    assert capsys.readouterr().out == f"tryon {__version__}\n"


def test_windows_carry_the_app_icon_and_desktop_file_name(make_window):
    from PySide6.QtGui import QGuiApplication

    window = make_window(show=False)
    # The name of installer/linux/openvino-tryon.desktop: Wayland docks find the icon through it.
    assert QGuiApplication.desktopFileName() == "openvino-tryon"
    assert (REPO / "installer" / "linux" / f"{QGuiApplication.desktopFileName()}.desktop").is_file()
    icon = window.windowIcon()
    assert not icon.isNull()
    assert icon.pixmap(64, 64).toImage().pixelColor(32, 32).alpha() > 0


def test_the_icon_is_found_in_the_installed_bundle(tmp_path, monkeypatch):
    from tryon_app.gui.app import icon_path

    bundle = tmp_path / "_internal"
    (bundle / "assets" / "icons").mkdir(parents=True)
    shipped = bundle / "assets" / "icons" / "openvino-tryon.png"
    shipped.write_bytes((REPO / "assets" / "icons" / "openvino-tryon.png").read_bytes())
    assert icon_path() == REPO / "assets" / "icons" / "openvino-tryon.png"
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert icon_path() == shipped
