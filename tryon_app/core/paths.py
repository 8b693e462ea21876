"""Per-user folders: where compiled-model caches and user-installed artifacts live."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR_NAME = "openvino-tryon"
REPO_ROOT = Path(__file__).resolve().parents[2]


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


def bundled_models_dir() -> Path:
    """`models/` shipped beside the code (the repository, or the installer's bundle)."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    return Path(frozen_root) / "models" if frozen_root else REPO_ROOT / "models"


def bundled_assets_dir() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)
    return Path(frozen_root) / "assets" if frozen_root else REPO_ROOT / "assets"


def model_search_dirs() -> list[Path]:
    """Folders scanned for model artifacts, shipped ones first."""
    return [bundled_models_dir(), user_data_dir() / "models"]
