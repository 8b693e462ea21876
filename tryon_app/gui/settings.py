"""What the app remembers between runs (QSettings): folders, recent photos, model, device, precision."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

ORGANIZATION = "openvino-tryon"
APPLICATION = "openvino-tryon"
MAX_RECENT = 12


class AppSettings:
    """Typed access to a QSettings store.

    Args:
        store: where to keep them; tests pass an ini file in a temporary folder so the user's
            own settings are never read or touched.
    """

    def __init__(self, store: QSettings):
        self.store = store

    @classmethod
    def open(cls, path: str | Path | None = None) -> AppSettings:
        """The user's settings, or the ini file at `path` when given."""
        if path is not None:
            return cls(QSettings(str(path), QSettings.Format.IniFormat))
        return cls(
            QSettings(
                QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
            )
        )

    def _text(self, key: str, default: str = "") -> str:
        value = self.store.value(key, default)
        return value if isinstance(value, str) else default

    def folder(self, kind: str) -> str:
        """Last folder a file of `kind` ("person", "garment", "mask", "save") was picked from."""
        return self._text(f"folders/{kind}")

    def set_folder(self, kind: str, folder: str | Path) -> None:
        """Remember `folder` for `kind`; a folder of the application itself is never remembered
        (its samples are read from there, but nothing of the user's belongs in it)."""
        if inside_application(Path(folder)):
            return
        self.store.setValue(f"folders/{kind}", str(folder))

    def save_folder(self) -> Path:
        """Where to propose saving a result: the folder the user last saved to, while it exists,
        can be written and is not the application's; else the Pictures folder; else home."""
        remembered = self.folder("save")
        if remembered and _usable_for_saving(Path(remembered)):
            return Path(remembered)
        return pictures_folder()

    def recent(self, kind: str) -> list[Path]:
        """Recently used photos of `kind`, newest first, those that still exist."""
        try:
            names = json.loads(self._text(f"recent/{kind}", "[]"))
        except json.JSONDecodeError:
            return []
        if not isinstance(names, list):
            return []
        return [Path(name) for name in names if isinstance(name, str) and Path(name).is_file()]

    def add_recent(self, kind: str, path: str | Path) -> list[Path]:
        path = Path(path).resolve()
        paths = [path, *(known for known in self.recent(kind) if known.resolve() != path)][
            :MAX_RECENT
        ]
        # JSON keeps a one-element list a list (QSettings' ini lists come back as a bare string).
        self.store.setValue(f"recent/{kind}", json.dumps([str(known) for known in paths]))
        return paths

    @property
    def model_dir(self) -> str:
        return self._text("runtime/model")

    @model_dir.setter
    def model_dir(self, value: str | Path) -> None:
        self.store.setValue("runtime/model", str(value))

    @property
    def device(self) -> str:
        return self._text("runtime/device", "CPU") or "CPU"

    @device.setter
    def device(self, value: str) -> None:
        self.store.setValue("runtime/device", value)

    @property
    def precision(self) -> str:
        return self._text("runtime/precision", "f32") or "f32"

    @precision.setter
    def precision(self, value: str) -> None:
        self.store.setValue("runtime/precision", value)

    def geometry(self) -> QByteArray | None:
        value = self.store.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, geometry: QByteArray) -> None:
        self.store.setValue("window/geometry", geometry)

    def sync(self) -> None:
        self.store.sync()


def pictures_folder() -> Path:
    """The user's Pictures folder (XDG's, Windows' or macOS'), or home when there is none."""
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    if pictures and _usable_for_saving(Path(pictures)):
        return Path(pictures)
    return Path.home()


def application_folders() -> list[Path]:
    """The folders the application ships in: its assets and models, and in an installed bundle
    the whole install folder (`/opt/openvino-tryon`, `C:\\Program Files\\...`)."""
    from tryon_app.core.paths import bundled_assets_dir, bundled_models_dir

    folders = [bundled_assets_dir(), bundled_models_dir()]
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        folders.append(Path(frozen_root))
    if getattr(sys, "frozen", False):
        folders.append(Path(sys.executable).parent)
    return folders


def inside_application(folder: Path) -> bool:
    """True when `folder` is one of `application_folders()` or inside one."""
    folder = folder.resolve()
    return any(folder.is_relative_to(app_folder.resolve()) for app_folder in application_folders())


def _usable_for_saving(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK) and not inside_application(folder)
