"""Model files OpenVINO cannot read: the message names the file and says what is wrong with it.

The graphs come from the shipped model (no torch needed). The artifacts here are re-hashed after
the damage, as a faulty export would write them, so that the damage reaches OpenVINO.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from PIL import Image

from tryon_app.cli import main
from tryon_app.core.artifact import graph_read_error, load_artifact, write_metadata
from tryon_app.core.errors import ArtifactError, openvino_reason
from tryon_app.core.paths import bundled_models_dir

SHIPPED_SPLIT = bundled_models_dir() / "default" / "split"

pytestmark = pytest.mark.skipif(
    not (SHIPPED_SPLIT / "features.xml").is_file(), reason="no shipped model"
)


def test_openvino_reason_drops_the_source_locations():
    error = RuntimeError(
        "Exception from src/inference/src/cpp/core.cpp:84:\n"
        "Check 'is_valid_weights_range(m_weights_provider->size(), offset, size)' failed at "
        "src/core/xml_util/src/xml_deserialize_util.cpp:900:\n"
        "Incorrect weights in bin file!\n\n"
    )
    assert openvino_reason(error) == "Incorrect weights in bin file"
    assert openvino_reason(RuntimeError("Exception from src/a.cpp:1:\n")) == "RuntimeError"
    assert len(openvino_reason(RuntimeError("x" * 5000))) == 200


def _cut(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize(
    ("damaged", "blamed", "reason"),
    [
        ("render.xml", "render.xml", r"cannot read the model graph \(Error parsing .* at offset"),
        ("render.bin", "render.bin", r"cannot read the weights of render\.xml \(Incorrect weights"),
    ],
)
def test_truncated_graph_files_are_named_with_openvino_s_reason(tmp_path, damaged, blamed, reason):
    import openvino as ov

    for name in ("render.xml", "render.bin"):
        shutil.copy(SHIPPED_SPLIT / name, tmp_path / name)
    _cut(tmp_path / damaged)
    with pytest.raises(RuntimeError) as raised:
        ov.Core().read_model(str(tmp_path / "render.xml"))
    message = str(graph_read_error(tmp_path / "render.xml", raised.value))
    assert message.startswith(f"{tmp_path / blamed}: ")
    assert "core.cpp" not in message and "\n" not in message
    assert re.search(reason, message), message


def _rehashed_split_artifact(root, damaged: str):
    """The shipped split graphs with `damaged` cut in half, hashed as if exported that way."""
    shutil.copytree(SHIPPED_SPLIT, root / "split")
    _cut(root / "split" / damaged)
    split = {
        "features": "split/features.xml",
        "levels": [f"split/level_{i}.xml" for i in range(5)],
        "render": "split/render.xml",
    }
    write_metadata(root, {"name": "damaged", "precision": "int8", "layouts": {"split": split}})
    return root


@pytest.mark.parametrize(
    ("damaged", "expected"),
    [
        ("features.xml", "features.xml: cannot read the model graph ("),
        ("level_0.bin", "level_0.bin: cannot read the weights of level_0.xml (Incorrect weights"),
    ],
)
def test_the_pipeline_names_the_file_openvino_cannot_read(tmp_path, damaged, expected):
    from tryon_app.core.pipeline import TryOnPipeline

    artifact = load_artifact(_rehashed_split_artifact(tmp_path / "model", damaged))
    with pytest.raises(ArtifactError) as raised:
        TryOnPipeline(artifact)
    assert str(raised.value).startswith(str(tmp_path / "model" / "split" / expected))


def test_tryon_run_reports_a_truncated_graph_in_one_line(tmp_path, capsys):
    model = _rehashed_split_artifact(tmp_path / "model", "features.xml")
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((256, 192, 3), 128, np.uint8)).save(photo)
    code = main(
        ["run", "--person", str(photo), "--cloth", str(photo), "--model", str(model),
         "--out", str(tmp_path / "out.png")]
    )  # fmt: skip
    # The error is the last line (a progress line about the kernel may come first).
    error = capsys.readouterr().err.splitlines()[-1]
    assert code == 1
    features = model / "split" / "features.xml"
    assert re.fullmatch(
        rf"tryon run: {re.escape(str(features))}: cannot read the model graph \([^()]+ at offset "
        r"\d+; the file is truncated, damaged or not an OpenVINO IR\)",
        error,
    ), error
