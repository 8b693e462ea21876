"""Per-user folders: where compiled-model caches and user-installed artifacts live."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR_NAME = "openvino-tryon"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Where an installed wheel keeps the shipped models/ and assets/ (setup.py copies them there).
PACKAGE_DATA_DIR = Path(__file__).resolve().parents[1] / "_data"


def user_cache_dir() -> Path:
    """The OS's per-user cache folder for this app (not created here)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / APP_DIR_NAME / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP_DIR_NAME
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / APP_DIR_NAME


def user_data_dir() -> Path:
    """The OS's per-user data folder for this app (models the user installed live in `models/`)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
        return base / APP_DIR_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_DIR_NAME
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / APP_DIR_NAME


def _shipped_root() -> Path:
    """The folder holding the shipped `models/` and `assets/`: the installer's bundle, an
    installed wheel's package data, or else the repository (a checkout or an editable install)."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    if PACKAGE_DATA_DIR.is_dir():
        return PACKAGE_DATA_DIR
    return REPO_ROOT


def bundled_models_dir() -> Path:
    """`models/` shipped with the app (its `default/` is the model used when none is chosen)."""
    return _shipped_root() / "models"


def bundled_assets_dir() -> Path:
    """`assets/` shipped with the app: sample persons and garments, icons."""
    return _shipped_root() / "assets"


def model_search_dirs() -> list[Path]:
    """Folders scanned for model artifacts, shipped ones first."""
    return [bundled_models_dir(), user_data_dir() / "models"]
