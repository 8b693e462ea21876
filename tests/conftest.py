"""Fixtures shared by every test folder. Torch is imported lazily: the app tests run without it."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from tests.data.make_tiny_artifact import TINY_ARTIFACT, build_tiny_models

TORCH_INSTALLED = importlib.util.find_spec("torch") is not None


def pytest_collection_modifyitems(config, items):
    """Without torch (a runtime-only venv), the tests marked `optimize` are skipped, saying why."""
    if TORCH_INSTALLED:
        return
    needs_torch = pytest.mark.skip(
        reason="marked optimize: needs the optimize extra (no torch here)"
    )
    for item in items:
        if item.get_closest_marker("optimize") is not None:
            item.add_marker(needs_torch)


# Small, non-square, divisible by 32: the coarsest flow level is 3x2.
TINY_HEIGHT, TINY_WIDTH = 96, 64


def _tiny_models():
    pytest.importorskip("torch", reason="the tiny networks need torch (the optimize extra)")
    return build_tiny_models()


@pytest.fixture
def tiny_torch_models():
    """Freshly initialised tiny (AFWM, ResUnetGenerator) in eval mode, seeded: a test may change
    them."""
    return _tiny_models()


@pytest.fixture(scope="session")
def tiny_models():
    """The same tiny networks, shared by the whole session: a test must not change them."""
    return _tiny_models()


@pytest.fixture(scope="session")
def tiny_artifact(request, tmp_path_factory) -> Path:
    """`tiny_models` as an artifact (fp32, both layouts), once per session, in a folder of its own.

    Exported through the real export path where torch is installed; without torch, a copy of
    the committed tests/data/tiny_artifact, the same networks exported by
    tests/data/make_tiny_artifact.py, so that the app's tests run in a runtime-only venv.
    """
    folder = tmp_path_factory.mktemp("models") / "tiny"
    if not TORCH_INSTALLED:
        shutil.copytree(TINY_ARTIFACT, folder)
        return folder
    from optimization.export import export_artifact

    warp_model, gen_model = request.getfixturevalue("tiny_models")
    return export_artifact(warp_model, gen_model, folder, precision="fp32")


def save_scaled_teacher(folder: Path, width_factor: float) -> Path:
    """Freshly initialised networks at `width_factor` of the official widths (seed 0), saved as
    `folder`/warp.pth and gen.pth: a teacher for the compression commands' end-to-end tests."""
    import torch

    from optimization.archs.tryon import build_models
    from optimization.archs.widths import GenWidths, WarpWidths
    from optimization.checkpoints import save_checkpoint

    torch.manual_seed(0)
    warp_widths, gen_widths = WarpWidths().scaled(width_factor), GenWidths().scaled(width_factor)
    warp_model, gen_model = build_models(warp_widths, gen_widths)
    save_checkpoint(folder / "warp.pth", warp_model, warp_widths)
    save_checkpoint(folder / "gen.pth", gen_model, gen_widths)
    return folder


def teacher_run_arguments(root: Path, run: Path) -> list[str]:
    """`--out run` and the teacher and data `root` holds (`save_scaled_teacher` into
    root/teacher, pairs in root/data), as a compression command takes them."""
    teacher = root / "teacher"
    return [
        *("--out", str(run), "--warp", str(teacher / "warp.pth")),
        *("--gen", str(teacher / "gen.pth"), "--data", str(root / "data")),
    ]


@pytest.fixture
def tiny_tryon_inputs():
    """(person, clothes, edge) at 96x64: images in [-1, 1], edge a JPEG-like mask in [0, 1]."""
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(1)
    person = torch.rand(1, 3, TINY_HEIGHT, TINY_WIDTH, generator=generator) * 2 - 1
    clothes = torch.rand(1, 3, TINY_HEIGHT, TINY_WIDTH, generator=generator) * 2 - 1
    edge = torch.zeros(1, 1, TINY_HEIGHT, TINY_WIDTH)
    edge[:, :, 20:, 12:52] = 0.9  # reaches the bottom border, as garments on a photo do
    edge[:, :, 18:20, 12:52] = 0.3  # compression fringe that must fall below the threshold
    return person, clothes, edge
