"""The committed tiny artifact (tests/data): it loads, says how it was made, and is still what the
tiny networks export today."""

from __future__ import annotations

import importlib.util

import pytest

from tests.data.make_tiny_artifact import COMMAND, SEED, TINY_ARTIFACT
from tryon_app.core.artifact import LAYOUT_NAMES, load_artifact

OUT_OF_DATE = "tests/data/tiny_artifact is out of date: run python tests/data/make_tiny_artifact.py"

requires_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="compares with a fresh export of the tiny networks, which needs torch",
)


def test_the_committed_artifact_loads_and_records_how_it_was_made():
    artifact = load_artifact(TINY_ARTIFACT)  # schema and every file's hash
    assert artifact.name == "tiny" and artifact.precision == "fp32"
    assert artifact.spec.layouts.names() == LAYOUT_NAMES
    provenance = artifact.metadata["provenance"]
    assert provenance["commands"] == [COMMAND] and provenance["seed"] == SEED
    assert len(provenance["commit"].removesuffix("+changes")) == 40
    size = artifact.size_bytes()
    assert size < 5_000_000, f"{size} bytes: the test data should stay small"


@pytest.mark.optimize
@requires_torch
def test_the_committed_artifact_declares_and_exposes_what_a_fresh_export_does(tiny_artifact):
    import openvino as ov

    committed, fresh = load_artifact(TINY_ARTIFACT), load_artifact(tiny_artifact)
    assert "provenance" not in fresh.metadata, "the fixture should be a fresh export here"
    for section in ("schema_version", "precision", "input", "architecture", "layouts"):
        assert committed.metadata[section] == fresh.metadata[section], f"{section}: {OUT_OF_DATE}"
    assert committed.spec.files.keys() == fresh.spec.files.keys(), OUT_OF_DATE
    core = ov.Core()
    for name in LAYOUT_NAMES:
        for graph in fresh.spec.layouts.graphs(name):
            ports = [
                [
                    (sorted(port.get_names()), str(port.get_partial_shape()))
                    for port in (*model.inputs, *model.outputs)
                ]
                for model in (
                    core.read_model(folder / graph) for folder in (TINY_ARTIFACT, tiny_artifact)
                )
            ]
            assert ports[0] == ports[1], f"{graph}: {OUT_OF_DATE}"


@pytest.mark.optimize
@requires_torch
def test_the_committed_artifact_reproduces_the_tiny_networks(tiny_models):
    from optimization.export import TOLERANCE, VerificationError, verify_artifact
    from optimization.graphs import SplitTryOn

    try:
        verify_artifact(TINY_ARTIFACT, SplitTryOn.from_models(*tiny_models), TOLERANCE["fp32"])
    except VerificationError as error:
        pytest.fail(f"{error}; {OUT_OF_DATE}")
