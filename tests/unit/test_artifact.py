"""Artifact folders: schema, file list and hashes are checked before anything is compiled."""

from __future__ import annotations

import json

import pytest

from tryon_app.core.artifact import (
    COMPOSITION_OUTPUTS,
    FUSED_GRAPH,
    MODEL_INPUTS,
    SPLIT_FEATURES_GRAPH,
    SPLIT_RENDER_GRAPH,
    Layouts,
    SplitLayout,
    graph_role,
    graph_tensors,
    load_artifact,
    metadata_document,
    sha256_of,
    write_metadata,
)
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


def rewrite_metadata(root, change) -> None:
    meta_path = root / "metadata.json"
    document = json.loads(meta_path.read_text())
    change(document)
    meta_path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema": "someone-else/model"}, "unknown schema"),
        ({"schema_version": 99}, "schema_version: not supported .*got 99"),
        ({"files": {}}, "files: expected the file list"),
    ],
)
def test_unknown_schema_is_refused(artifact_dir, change, message):
    rewrite_metadata(artifact_dir, lambda document: document.update(change))
    with pytest.raises(TryOnError, match=message):
        load_artifact(artifact_dir)


SPLIT = {
    "features": "split/features.xml",
    "levels": [f"split/level_{i}.xml" for i in range(5)],
    "render": "split/render.xml",
}


def nested_lists(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("raw_change", "message"),
    [
        # Each of these ended in a traceback (ValueError, RecursionError, KeyError, TypeError).
        (
            lambda text: text.replace('"schema_version": 1', '"schema_version": ' + "7" * 5000),
            "unreadable metadata \\(Exceeds the limit",
        ),
        (
            lambda text: text.replace('"schema_version": 1', '"schema_version": ' + "7" * 4000),
            "schema_version: not supported .*over 12 digits",
        ),
        (
            lambda text: text.replace('"name": "toy"', '"name": ' + nested_lists(100_000)),
            "nested too deeply",
        ),
        (lambda text: nested_lists(100_000), "nested too deeply"),
        (
            lambda text: text.replace('"name": "toy"', '"name": ' + nested_lists(500)),
            "name: expected a name, got a list of 1",
        ),
        (lambda text: "[1, 2]", "expected a JSON object, got a list of 2"),
    ],
    ids=[
        "5000-digit-version",
        "4000-digit-version",
        "deep-name",
        "deep-document",
        "list-name",
        "list",
    ],
)
def test_hostile_metadata_text_is_refused_in_one_line(artifact_dir, raw_change, message):
    meta_path = artifact_dir / "metadata.json"
    meta_path.write_text(raw_change(meta_path.read_text()))
    with pytest.raises(TryOnError, match=message) as caught:
        load_artifact(artifact_dir)
    assert str(caught.value).startswith(f"{meta_path}: ") and len(str(caught.value)) < 300


@pytest.mark.parametrize(
    ("layouts", "message"),
    [
        ({"split": {}}, "layouts.split: expected features, levels and render, got {}"),
        ({"split": {**SPLIT, "levels": 5}}, "layouts.split.levels: expected a list of 5 graphs, got 5"),
        ({"split": {**SPLIT, "levels": SPLIT["levels"][:4]}}, "layouts.split.levels: .*got a list of 4"),
        ({"split": {**SPLIT, "render": None}}, "layouts.split.render: expected a relative file path, got null"),
        ({"split": {**SPLIT, "render": "../../elsewhere/render.xml"}}, "inside the artifact folder"),
        ({"split": {**SPLIT, "render": "/abs/render.xml"}}, "inside the artifact folder"),
        ({"split": {**SPLIT, "render": "split/render.bin"}}, "expected a .xml file"),
        ({"fused": 5}, "layouts.fused: expected a relative file path, got 5"),
        ({"fused": "fused.xml", "tiled": "tiled.xml"}, "layouts: expected split and/or fused, got a list of 1"),
        ({}, "layouts: expected layouts, got {}"),
        ([], "layouts: expected layouts, got a list of 0"),
    ],
    ids=["empty-split", "levels-5", "four-levels", "null-render", "outside", "absolute", "bin", "fused-5", "unknown", "none", "list"],
)  # fmt: skip
def test_malformed_layouts_are_refused(artifact_dir, layouts, message):
    rewrite_metadata(artifact_dir, lambda document: document.update(layouts=layouts))
    with pytest.raises(TryOnError, match=message):
        load_artifact(artifact_dir)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"precision": "int4"}, "precision: expected one of fp32, fp16, int8, got 'int4'"),
        ({"name": 7}, "name: expected a name, got 7"),
        ({"provenance": "made by hand"}, "provenance: expected a JSON object"),
        ({"quantized_graphs": "fused.xml"}, "quantized_graphs: expected a list of names"),
        ({"input": {"height": 512, "width": 192}}, "input.height: this app runs models of 192x256"),
        ({"files": {"fused.xml": "not-a-hash"}}, "sha256"),
        ({"files": {"../fused.xml": "0" * 64}}, "inside the artifact folder"),
    ],
)
def test_fields_of_the_wrong_type_are_refused(artifact_dir, change, message):
    rewrite_metadata(artifact_dir, lambda document: document.update(change))
    with pytest.raises(TryOnError, match=message):
        load_artifact(artifact_dir)


def test_unknown_extra_sections_are_kept(artifact_dir):
    rewrite_metadata(artifact_dir, lambda document: document.update(source={"warp": "w.pth"}))
    assert load_artifact(artifact_dir).metadata["source"] == {"warp": "w.pth"}


def split_artifact(root):
    """An artifact with both layouts, every graph a stand-in .xml with its .bin."""
    for graph in (*SPLIT["levels"], SPLIT["features"], SPLIT["render"], "fused.xml"):
        (root / graph).parent.mkdir(parents=True, exist_ok=True)
        (root / graph).write_text("<net/>")
        (root / graph).with_suffix(".bin").write_bytes(graph.encode())
    write_metadata(root, {"name": "both", "layouts": {"split": SPLIT, "fused": "fused.xml"}})
    return root


def test_every_file_a_layout_uses_must_be_listed(tmp_path):
    root = split_artifact(tmp_path / "model")
    assert load_artifact(root).spec.layouts.files("split")[-2:] == (
        "split/render.xml",
        "split/render.bin",
    )
    # Dropping a file from the list used to exempt it from the hash check: it was not verified.
    rewrite_metadata(root, lambda document: document["files"].pop("split/render.bin"))
    (root / "split" / "render.bin").write_bytes(b"garbage")
    with pytest.raises(TryOnError, match=r"split/render\.bin: the split layout uses it but"):
        load_artifact(root)
    with pytest.raises(TryOnError, match=r"split/render\.bin: the split layout uses it but"):
        load_artifact(root, verify_hashes=False)


def test_writing_metadata_that_the_app_would_refuse_fails(tmp_path):
    root = split_artifact(tmp_path / "model")
    (root / "split" / "level_3.bin").unlink()
    with pytest.raises(TryOnError, match=r"split/level_3\.bin: the split layout uses it"):
        write_metadata(root, {"layouts": {"split": SPLIT}})


def test_not_json_and_not_a_folder(artifact_dir, tmp_path):
    (artifact_dir / "metadata.json").write_text("{not json")
    with pytest.raises(TryOnError, match="unreadable metadata"):
        load_artifact(artifact_dir)
    with pytest.raises(TryOnError, match="model folder not found"):
        load_artifact(tmp_path / "nowhere")


def test_the_document_export_writes_passes_the_schema_with_both_layouts(tmp_path):
    layouts = Layouts()
    for layout in layouts.names():
        for relative in layouts.files(layout):
            (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / relative).write_bytes(b"\x00")
    document = metadata_document(
        "toy",
        "int8",
        architecture={"warp": {}, "gen": {}},
        tools={"python": "3"},
        quantizer="nncf",
        quantized_graphs=[SPLIT_RENDER_GRAPH],
        extra={"provenance": {"run": "here"}},
    )
    write_metadata(tmp_path, document)
    artifact = load_artifact(tmp_path)
    assert artifact.spec.layouts == layouts and artifact.precision == "int8"
    assert artifact.metadata["input"]["person_and_clothes"].endswith("(1, 3, 256, 192)")
    assert artifact.metadata["quantized_graphs"] == [SPLIT_RENDER_GRAPH]
    assert artifact.metadata["provenance"] == {"run": "here"}


def test_every_graph_of_both_layouts_names_its_tensors():
    levels = SplitLayout().levels
    assert graph_tensors(levels[0]).inputs == ("corr", "cloth_feature", "person_feature")
    assert all(graph_tensors(level).inputs[-1] == "last_flow" for level in levels[1:])
    assert graph_tensors(SPLIT_FEATURES_GRAPH).outputs[0] == "cloth_0"
    assert set(COMPOSITION_OUTPUTS) <= set(graph_tensors(SPLIT_RENDER_GRAPH).outputs)
    assert graph_tensors(FUSED_GRAPH).inputs == MODEL_INPUTS
    assert [graph_role(graph) for graph in Layouts().graphs("split")] == [
        "features",
        *["levels"] * len(levels),
        "render",
    ]
    assert graph_role(FUSED_GRAPH) is None
    with pytest.raises(KeyError):
        graph_tensors("split/other.xml")
