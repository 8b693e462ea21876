"""Shared fixtures: a tiny exported model artifact (built once per session)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_models():
    torch = pytest.importorskip("torch")
    from optimization.archs.tryon import build_models
    from optimization.archs.widths import tiny_gen_widths, tiny_warp_widths

    torch.manual_seed(0)
    return build_models(tiny_warp_widths(), tiny_gen_widths())


@pytest.fixture(scope="session")
def tiny_artifact(tiny_models, tmp_path_factory):
    from optimization.export import export_artifact

    warp_model, gen_model = tiny_models
    return export_artifact(
        warp_model, gen_model, tmp_path_factory.mktemp("models") / "tiny", precision="fp32"
    )
