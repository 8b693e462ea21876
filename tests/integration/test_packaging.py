"""The project as a wheel: built from its sdist, it carries the shipped model and runs from anywhere."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds an sdist and a wheel (about 5 s)

REPO = Path(__file__).resolve().parents[2]
DATA = "tryon_app/_data"
# What a wheel is built from: the packaging files, the packages and the shipped data.
SOURCES = (
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "tryon_app",
    "kernels",
    "optimization",
    "models",
    "assets",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from an sdist of a copy of this checkout (the checkout itself stays clean)."""
    # Built without isolation, with this venv's setuptools: pyproject.toml's build-system needs
    # 68 or newer, which torch's requirements bring in; a runtime-only venv may have an older one.
    setuptools = pytest.importorskip(
        "setuptools", reason="building the wheel needs setuptools (pyproject.toml build-system)"
    )
    if int(setuptools.__version__.split(".")[0]) < 68:
        pytest.skip(
            f"building the wheel needs setuptools>=68, this venv has {setuptools.__version__}"
        )
    scratch = tmp_path_factory.mktemp("packaging")
    source = scratch / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "_data")
            shutil.copytree(REPO / name, source / name, ignore=ignore)
        elif (REPO / name).is_file():
            shutil.copy2(REPO / name, source / name)
    sdists, wheels = scratch / "sdist", scratch / "wheel"
    # setuptools' PEP 517 hook makes the sdist; pip builds the wheel from it, as from PyPI.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])",
            str(sdists),
        ],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (sdist,) = sdists.glob("openvino_tryon-*.tar.gz")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(sdist),
        ],
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (built,) = wheels.glob("openvino_tryon-*.whl")
    return built


def test_the_wheel_carries_the_shipped_model_and_samples(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = json.loads(archive.read(f"{DATA}/models/default/metadata.json"))
        for relative, sha256 in metadata["files"].items():
            member = f"{DATA}/models/default/{relative}"
            assert member in names, member
            assert hashlib.sha256(archive.read(member)).hexdigest() == sha256, member
    for kind in ("persons", "garments"):
        assert any(name.startswith(f"{DATA}/assets/{kind}/") for name in names), kind
    assert f"{DATA}/assets/icons/openvino-tryon.png" in names
    # The torch checkpoints are for `optimize` in a checkout, not for the app.
    assert not [name for name in names if name.endswith(".pth") or "/teacher/" in name]


def test_the_installed_wheel_tries_on_from_an_empty_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    if not python.exists():
        python = venv / "Scripts" / "python.exe"
    # The dependencies come from this environment's site-packages, appended after the new
    # venv's own (a path line in a .pth file: this environment's editable install of the
    # project is not activated through it, so the project comes from the wheel only).
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site_packages) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    tryon = python.parent / ("tryon.exe" if os.name == "nt" else "tryon")

    empty = tmp_path / "empty"
    empty.mkdir()
    environment = {
        key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    environment.update(
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "home" / "data"),
        XDG_CACHE_HOME=str(tmp_path / "home" / "cache"),
        APPDATA=str(tmp_path / "home" / "data"),
        LOCALAPPDATA=str(tmp_path / "home" / "cache"),
        # The model and the samples are what is checked here; numba's half-minute compile is not.
        TRYON_CORRELATION_BACKEND="numpy",
    )
    where = subprocess.run(
        [str(python), "-c", "import tryon_app; print(tryon_app.__file__)"],
        cwd=empty,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Path(where).resolve().is_relative_to(venv.resolve()), where

    samples = Path(site_packages) / DATA / "assets"
    person = sorted((samples / "persons").glob("*.jpg"))[0]
    garment = sorted((samples / "garments").glob("*.jpg"))[0]
    completed = subprocess.run(
        [str(tryon), "run", "--person", str(person), "--cloth", str(garment), "--out", "out.png"],
        cwd=empty,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (empty / "out.png").stat().st_size > 0
