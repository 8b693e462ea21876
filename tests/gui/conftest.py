"""GUI test fixtures: offscreen Qt, settings and caches in temporary folders, a tiny model, photos."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

# Before anything imports Qt: no display is needed (an explicit platform, e.g. xcb under Xvfb, wins).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

PERSON_SIZE = (512, 384)  # (height, width): a 3:4 photo twice the model's canvas
GARMENT_COLOURS = [
    (200, 40, 40),
    (40, 120, 200),
    (30, 150, 80),
    (230, 180, 30),
    (120, 60, 160),
    (20, 20, 20),
]


@pytest.fixture(scope="session", autouse=True)
def isolated_user_folders(tmp_path_factory):
    """Point every per-user folder (settings, caches, data) into a temporary folder for the session."""
    home = tmp_path_factory.mktemp("user")
    patch = pytest.MonkeyPatch()
    for variable, folder in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_DATA_HOME", "data"),
    ):
        (home / folder).mkdir()
        patch.setenv(variable, str(home / folder))
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(home / "config"))
    QSettings.setPath(
        QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(home / "config")
    )
    yield home
    patch.undo()


@pytest.fixture(scope="session")
def damaged_artifact(tiny_artifact, tmp_path_factory) -> Path:
    """A copy of the tiny artifact with one weights file altered after its hash was recorded."""
    copy = tmp_path_factory.mktemp("damaged") / "damaged"
    shutil.copytree(tiny_artifact, copy)
    weights = sorted(copy.rglob("*.bin"))[0]
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    return copy


def _person(height: int, width: int, shirt: tuple[int, int, int]) -> np.ndarray:
    """A simple figure on a pale wall: head, neck, a shirt, arms and trousers."""
    photo = np.full((height, width, 3), (236, 232, 226), dtype=np.uint8)
    cx = width // 2
    skin = (224, 172, 140)
    cv2.ellipse(photo, (cx, height // 7), (width // 12, height // 11), 0, 0, 360, skin, -1)
    cv2.rectangle(photo, (cx - width // 30, height // 5), (cx + width // 30, height // 4), skin, -1)
    torso = np.array(
        [
            [cx - width // 5, height // 4],
            [cx + width // 5, height // 4],
            [cx + width // 6, int(height * 0.6)],
            [cx - width // 6, int(height * 0.6)],
        ]
    )
    cv2.fillPoly(photo, [torso], shirt)
    cv2.line(
        photo,
        (cx - width // 5, height // 4),
        (cx - width // 3, int(height * 0.55)),
        skin,
        width // 16,
    )
    cv2.line(
        photo,
        (cx + width // 5, height // 4),
        (cx + width // 3, int(height * 0.55)),
        skin,
        width // 16,
    )
    cv2.rectangle(
        photo, (cx - width // 6, int(height * 0.6)), (cx + width // 6, height), (60, 70, 110), -1
    )
    return photo


def _garment(
    height: int, width: int, colour: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """A T-shirt shape on white, and its mask (white on black)."""
    mask = np.zeros((height, width), dtype=np.uint8)
    body = np.array(
        [
            [width * 0.30, height * 0.15],
            [width * 0.70, height * 0.15],
            [width * 0.92, height * 0.32],
            [width * 0.80, height * 0.42],
            [width * 0.72, height * 0.36],
            [width * 0.72, height * 0.88],
            [width * 0.28, height * 0.88],
            [width * 0.28, height * 0.36],
            [width * 0.20, height * 0.42],
            [width * 0.08, height * 0.32],
        ]
    ).astype(np.int32)
    cv2.fillPoly(mask, [body], 255)
    photo = np.full((height, width, 3), 255, dtype=np.uint8)
    photo[mask > 0] = colour
    return photo, mask


def _save(path: Path, rgb: np.ndarray) -> Path:
    image = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(path), image)
    return path


class Photos:
    """Test photos on disk: `person`, `garments` (distinct colours), `garment_masks`, broken files."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.person = _save(folder / "person.png", _person(*PERSON_SIZE, (90, 90, 90)))
        self.person_rgb = cv2.cvtColor(cv2.imread(str(self.person)), cv2.COLOR_BGR2RGB)
        garments = folder / "garments"
        garments.mkdir()
        self.garments: list[Path] = []
        for index, colour in enumerate(GARMENT_COLOURS):
            photo, mask = _garment(320, 240, colour)
            self.garments.append(_save(garments / f"shirt_{index}.png", photo))
            if index == 0:
                self.shipped_mask = _save(garments / "shirt_0_mask.png", mask)
        loose = folder / "loose"
        loose.mkdir()
        photo, mask = _garment(320, 240, (200, 100, 40))
        self.maskless_garment = _save(loose / "plain_shirt.png", photo)
        self.other_mask = _save(
            loose / "other_mask.png", np.where(mask > 0, 0, 255).astype(np.uint8)[:, ::-1].copy()
        )
        self.wrong_size_mask = _save(
            loose / "small_mask.png", np.full((10, 10), 255, dtype=np.uint8)
        )
        self.not_an_image = folder / "notes.jpg"
        self.not_an_image.write_text("this is not a JPEG\n", encoding="utf-8")
        self.truncated = folder / "truncated.jpg"
        encoded = cv2.imencode(".jpg", cv2.cvtColor(self.person_rgb, cv2.COLOR_RGB2BGR))[
            1
        ].tobytes()
        self.truncated.write_bytes(encoded[: len(encoded) // 3])
        self.missing = folder / "nowhere.png"


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Photos:
    return Photos(tmp_path_factory.mktemp("photos"))


def worker_threads() -> list[str]:
    """Threads this app starts that are still running."""
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("tryon-")]


@pytest.fixture
def settings_file(tmp_path) -> Path:
    return tmp_path / "settings.ini"


@pytest.fixture
def make_window(qtbot, tiny_artifact, settings_file, tmp_path):
    """Build a shown MainWindow on the tiny model; every window is closed and checked afterwards."""
    from tryon_app.gui.app import create_application
    from tryon_app.gui.settings import AppSettings
    from tryon_app.gui.window import MainWindow

    create_application()
    empty_search = tmp_path / "no-models-here"
    empty_search.mkdir()
    windows = []

    def make(
        *, model_dirs=(), settings=None, start_model=None, restore_session=False, show=True
    ) -> MainWindow:
        window = MainWindow(
            settings or AppSettings.open(settings_file),
            model_dirs=[tiny_artifact, *model_dirs],
            search_dirs=[empty_search],
            start_model=start_model or tiny_artifact,
            restore_session=restore_session,
        )
        qtbot.addWidget(window)
        windows.append(window)
        if show:
            window.show()
            qtbot.waitExposed(window)
        return window

    yield make
    for window in windows:
        window.close()
    # napari's rule: a test that leaves a thread running fails.
    assert worker_threads() == []


@pytest.fixture
def wait_model(qtbot):
    """wait_model(window): until a model is compiled (or fail after the timeout)."""

    def wait(window, timeout: int = 120_000) -> None:
        qtbot.waitUntil(lambda: window.controller.model is not None, timeout=timeout)

    return wait


@pytest.fixture
def wait_idle(qtbot):
    """wait_idle(window): until every request so far has been handled."""

    def wait(window, timeout: int = 120_000) -> None:
        qtbot.waitUntil(window.controller.is_idle, timeout=timeout)

    return wait


@pytest.fixture
def wait_result(qtbot):
    """wait_result(window, count): until at least `count` results have been shown."""

    def wait(window, count: int = 1, timeout: int = 120_000) -> None:
        qtbot.waitUntil(lambda: window.controller.results_shown >= count, timeout=timeout)

    return wait
