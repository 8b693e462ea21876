"""Build hook: a wheel carries the shipped model and the sample photos as package data.

The repository keeps them in `models/default/` and `assets/`, where a checkout, an editable install
and the PyInstaller bundle read them. A wheel installs them as `tryon_app/_data/models/default/`
and `tryon_app/_data/assets/`, where `tryon_app.core.paths` looks first. `models/teacher/` (torch
checkpoints for `optimize`) and any other exported models stay out. The metadata is in
pyproject.toml; MANIFEST.in puts the same folders into the sdist, so a wheel built from it has them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PACKAGE_DATA_DIR = Path("tryon_app", "_data")
# Folders of the source tree copied into PACKAGE_DATA_DIR, under the same relative paths.
SHIPPED_FOLDERS = ("models/default", "assets")


class BuildWithShippedData(build_py):
    """build_py that also copies SHIPPED_FOLDERS into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads them in the source tree
        for folder in SHIPPED_FOLDERS:
            source = HERE / folder
            if not source.is_dir():
                raise SystemExit(f"setup.py: {source} is missing: a wheel without it has no model")
            target = Path(self.build_lib) / PACKAGE_DATA_DIR / folder
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))


setup(cmdclass={"build_py": BuildWithShippedData})
