"""Artifact folders: schema, file list and hashes are checked before anything is compiled."""

from __future__ import annotations

import json

import pytest

from tryon_app.core.artifact import load_artifact, sha256_of, write_metadata
from tryon_app.core.errors import TryOnError


@pytest.fixture
def artifact_dir(tmp_path):
    root = tmp_path / "model"
    (root / "split").mkdir(parents=True)
    (root / "fused.xml").write_text("<net/>")
    (root / "fused.bin").write_bytes(b"\x00" * 64)
    (root / "split" / "features.xml").write_text("<net/>")
    write_metadata(root, {"name": "toy", "precision": "fp32", "layouts": {"fused": "fused.xml"}})
    return root


def test_valid_artifact_loads_with_every_file_hashed(artifact_dir):
    artifact = load_artifact(artifact_dir)
    assert artifact.name == "toy"
    assert set(artifact.metadata["files"]) == {"fused.xml", "fused.bin", "split/features.xml"}
    assert artifact.metadata["files"]["fused.bin"] == sha256_of(artifact_dir / "fused.bin")
    assert artifact.size_bytes() == sum(
        p.stat().st_size for p in artifact_dir.rglob("*.*") if p.suffix != ".json"
    )


def test_damaged_file_is_named(artifact_dir):
    (artifact_dir / "fused.bin").write_bytes(b"\x01" * 64)
    with pytest.raises(TryOnError, match=r"fused\.bin.*sha256"):
        load_artifact(artifact_dir)


def test_missing_file_is_named(artifact_dir):
    (artifact_dir / "split" / "features.xml").unlink()
    with pytest.raises(TryOnError, match=r"features\.xml: missing"):
        load_artifact(artifact_dir)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema": "someone-else/model"}, "unknown schema"),
        ({"schema_version": 99}, "schema version 99"),
        ({"files": {}}, "no file list"),
    ],
)
def test_unknown_schema_is_refused(artifact_dir, change, message):
    meta_path = artifact_dir / "metadata.json"
    document = json.loads(meta_path.read_text())
    document.update(change)
    meta_path.write_text(json.dumps(document))
    with pytest.raises(TryOnError, match=message):
        load_artifact(artifact_dir)


def test_not_json_and_not_a_folder(artifact_dir, tmp_path):
    (artifact_dir / "metadata.json").write_text("{not json")
    with pytest.raises(TryOnError, match="unreadable metadata"):
        load_artifact(artifact_dir)
    with pytest.raises(TryOnError, match="model folder not found"):
        load_artifact(tmp_path / "nowhere")
