"""Try-ons at the photo's own resolution through the engine and `tryon run`, old artifacts, upgrade."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from tryon_app.core.bench import sample_person_photo, sample_photos
from tryon_app.core.engine import OLD_ARTIFACT_NOTE, TryOnEngine
from tryon_app.core.framing import Box
from tryon_app.core.images import load_image
from tryon_app.core.pipeline import RuntimeOptions

F32 = RuntimeOptions(precision="f32")


@pytest.fixture
def run_cli(capsys):
    """run_cli(*argv) -> (exit code, stdout, stderr) of `tryon`, in this process."""
    from tryon_app.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main([str(arg) for arg in argv])
        except SystemExit as exit_request:  # argparse refusing an argument
            code = int(exit_request.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture(scope="module")
def old_artifact(tiny_artifact, tmp_path_factory):
    """The tiny artifact as an exporter before the composition outputs would have written it."""
    import openvino as ov

    from tryon_app.core.artifact import write_metadata

    root = tmp_path_factory.mktemp("old") / "old"
    shutil.copytree(tiny_artifact, root)
    core = ov.Core()
    for relative in ("split/render.xml", "fused.xml"):
        model = core.read_model(str(root / relative))
        kept = [
            result
            for result in model.get_results()
            if not {"p_rendered", "m_composite"} & result.output(0).get_names()
        ]
        old = ov.Model(kept, model.get_parameters(), model.get_friendly_name())
        # Beside, then over: the weights being read are memory-mapped from the original file.
        staged = root / "staged.xml"
        ov.save_model(old, staged, compress_to_fp16=False)
        del model, old, kept
        staged.replace(root / relative)
        staged.with_suffix(".bin").replace((root / relative).with_suffix(".bin"))
    document = json.loads((root / "metadata.json").read_text())
    for key in ("schema", "schema_version", "files"):
        document.pop(key)
    write_metadata(root, document)
    return root


def test_full_resolution_keeps_the_photo_size_and_everything_outside_the_change(tiny_artifact):
    person, garment = sample_photos((1024, 768))
    engine = TryOnEngine(tiny_artifact, F32)
    result = engine.try_on(person, garment)
    assert result.image.shape == person.shape
    assert result.framing.how == "auto"
    assert {"framing", "composition"} <= result.timings_ms.keys()
    changed = result.composition.changed_mask()
    assert changed.shape == person.shape[:2]
    np.testing.assert_array_equal(result.image[changed == 0], person[changed == 0])
    model_size = engine.try_on(person, garment, resolution="model")
    assert model_size.composition is None and model_size.image.shape == person.shape


def test_an_old_artifact_works_at_model_resolution_and_says_so(old_artifact):
    person, garment = sample_photos((600, 450))
    result = TryOnEngine(old_artifact, F32).try_on(person, garment)
    assert result.image.shape == person.shape
    assert result.composition is None
    assert result.notes == (OLD_ARTIFACT_NOTE,)


def test_upgrade_adds_the_outputs_and_keeps_the_try_on(old_artifact, tmp_path):
    from optimization.upgrade import upgrade_artifact

    copy = tmp_path / "copy"
    shutil.copytree(old_artifact, copy)
    person, garment = sample_photos((256, 192))
    before = TryOnEngine(copy, F32).try_on(person, garment, resolution="model")
    assert upgrade_artifact(copy) == ["split/render.xml", "fused.xml"]
    assert upgrade_artifact(copy) == []
    after = TryOnEngine(copy, F32).try_on(person, garment)
    assert after.notes == () and after.composition is not None
    np.testing.assert_allclose(after.canvas, before.canvas, atol=1)


def test_tryon_run_frames_composes_and_writes_the_debug_images(run_cli, tiny_artifact, tmp_path):
    box = Box(150, 40, 360, 480)
    person = sample_person_photo(900, 700, box)
    _, garment = sample_photos((900, 700))
    Image.fromarray(person).save(tmp_path / "person.png")
    Image.fromarray(garment).save(tmp_path / "garment.png")
    debug = tmp_path / "debug"
    code, out, err = run_cli(
        "run",
        "--model",
        str(tiny_artifact),
        "--person",
        str(tmp_path / "person.png"),
        "--cloth",
        str(tmp_path / "garment.png"),
        "--out",
        str(tmp_path / "out.png"),
        "--debug-dir",
        str(debug),
    )
    assert code == 0, err
    assert "framing" in out and "composition" in out
    assert np.asarray(Image.open(tmp_path / "out.png")).shape == person.shape
    found = Box.parse((debug / "framing.txt").read_text().splitlines()[0])
    assert found.iou(box) > 0.8
    for name in ("framing.png", "warped_garment.png", "changed.png", "model_result.png"):
        assert (debug / name).is_file(), name
    code, _, err = run_cli(
        "run",
        "--model",
        str(tiny_artifact),
        "--person",
        str(tmp_path / "person.png"),
        "--cloth",
        str(tmp_path / "garment.png"),
        "--out",
        str(tmp_path / "boxed.png"),
        "--framing",
        "10,20,300,400",
        "--resolution",
        "model",
    )
    assert code == 0, err
    code, _, err = run_cli(
        "run",
        "--person",
        str(tmp_path / "person.png"),
        "--cloth",
        str(tmp_path / "garment.png"),
        "--out",
        str(tmp_path / "x.png"),
        "--framing",
        "middle",
    )
    assert code == 2 and "X,Y,W,H" in err


def test_an_exif_rotated_odd_sized_photo_comes_back_upright_at_its_size(
    run_cli, tiny_artifact, tmp_path
):
    person = sample_person_photo(517, 333, Box(40, 20, 240, 320))
    _, garment = sample_photos((400, 300))
    # Stored sideways with the EXIF orientation that turns it upright (6: rotate 90 cw).
    sideways = Image.fromarray(np.ascontiguousarray(np.rot90(person, 1)))
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways.save(tmp_path / "person.jpg", exif=exif, quality=95)
    Image.fromarray(garment).save(tmp_path / "garment.png")
    code, _, err = run_cli(
        "run",
        "--model",
        str(tiny_artifact),
        "--person",
        str(tmp_path / "person.jpg"),
        "--cloth",
        str(tmp_path / "garment.png"),
        "--out",
        str(tmp_path / "out.png"),
    )
    assert code == 0, err
    result = np.asarray(Image.open(tmp_path / "out.png"))
    assert result.shape == (517, 333, 3)
    # Upright: the wall is at the top, the trousers at the bottom.
    assert result[:15].mean() > 200 and result[-30:, 140:190].mean() < 120


@pytest.mark.optimize  # its pairs come from the synthetic generator (tqdm, the optimize extra)
def test_batch_composes_at_full_resolution_when_asked(run_cli, tiny_artifact, tmp_path):
    from optimization.data.synthetic import write_dataset

    data = write_dataset(tmp_path / "data", 3, seed=6, progress=False)
    outputs = {}
    for resolution in ("model", "full"):
        out = tmp_path / resolution
        code, _, err = run_cli(
            "batch",
            "--dataroot",
            data,
            "--pairs",
            data / "pairs.txt",
            "--out",
            out,
            "--model",
            tiny_artifact,
            "--resolution",
            resolution,
        )
        assert code == 0, err
        outputs[resolution] = sorted(out.glob("*.png"))
        assert len(outputs[resolution]) == 3
    person = load_image(data / "test_img" / "000000_0.jpg")
    kept = {
        resolution: (load_image(paths[0]) == person).all(axis=2).mean()
        for resolution, paths in outputs.items()
    }
    # The model re-renders every pixel; the composition keeps the photo outside the garment.
    assert kept["model"] < 0.05 and kept["full"] > 0.15
