"""Fixtures shared by every test folder. Torch is imported lazily: the app tests run without it."""

from __future__ import annotations

from pathlib import Path

import pytest

# Small, non-square, divisible by 32: the coarsest flow level is 3x2.
TINY_HEIGHT, TINY_WIDTH = 96, 64


def _tiny_models():
    torch = pytest.importorskip("torch")
    from optimization.archs.tryon import build_models
    from optimization.archs.widths import tiny_gen_widths, tiny_warp_widths

    torch.manual_seed(0)
    return build_models(tiny_warp_widths(), tiny_gen_widths())


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
def tiny_artifact(tiny_models, tmp_path_factory) -> Path:
    """`tiny_models` exported (fp32) through the real export path, once per session."""
    from optimization.export import export_artifact

    warp_model, gen_model = tiny_models
    return export_artifact(
        warp_model, gen_model, tmp_path_factory.mktemp("models") / "tiny", precision="fp32"
    )


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
