"""The `tryon` command: a try-on from files, and one clear line (exit 1) for every bad input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tryon_app.cli import main


def _write_photo(path: Path, width: int, height: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), 235, np.uint8)
    cv2.ellipse(
        image,
        (width // 2, height // 2),
        (width // 4, height // 3),
        0,
        0,
        360,
        tuple(int(v) for v in rng.integers(0, 255, 3)),
        -1,
    )
    cv2.imwrite(str(path), image)
    return path


@pytest.fixture
def photos(tmp_path):
    return {
        "person": _write_photo(tmp_path / "person.jpg", 300, 500, 1),
        "cloth": _write_photo(tmp_path / "cloth.jpg", 192, 256, 2),
    }


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_writes_result_in_the_photo_framing(tiny_artifact, photos, tmp_path, capsys):
    out = tmp_path / "result.png"
    code, stdout, stderr = _run(
        capsys,
        "run",
        "--person",
        photos["person"],
        "--cloth",
        photos["cloth"],
        "--model",
        tiny_artifact,
        "--out",
        out,
    )
    assert code == 0, stderr
    result = cv2.imread(str(out))
    assert result.shape == (500, 300, 3)
    assert "generator" in stdout


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda p: p.unlink(), "person.jpg"),
        (lambda p: p.write_bytes(b""), "person.jpg"),
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "person.jpg"),
        (lambda p: p.write_text("this is not an image"), "person.jpg"),
    ],
    ids=["missing", "empty", "truncated", "text"],
)
def test_bad_person_photo_gives_one_line_and_no_output(
    tiny_artifact, photos, tmp_path, capsys, damage, expected
):
    damage(photos["person"])
    out = tmp_path / "result.png"
    code, _, stderr = _run(
        capsys,
        "run",
        "--person",
        photos["person"],
        "--cloth",
        photos["cloth"],
        "--model",
        tiny_artifact,
        "--out",
        out,
    )
    assert code == 1
    assert len(stderr.strip().splitlines()) == 1
    assert expected in stderr and "Traceback" not in stderr
    assert not out.exists()


def test_damaged_tiffs_leave_one_line_on_stderr(tmp_path):
    import io
    import struct

    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "Camera"  # Make, the IFD's only entry past the image description
    buffer = io.BytesIO()
    Image.new("RGB", (24, 32), (90, 120, 150)).save(
        buffer, format="TIFF", compression="tiff_lzw", exif=exif
    )
    tiff = buffer.getvalue()
    (ifd,) = struct.unpack_from("<I", tiff, 4)
    (entries,) = struct.unpack_from("<H", tiff, ifd)
    make = next(
        ifd + 2 + 12 * i
        for i in range(entries)
        if struct.unpack_from("<H", tiff, ifd + 2 + 12 * i)[0] == 0x010F
    )
    # Make becomes an EXIF block pointer past the end: Pillow warns "Corrupt EXIF data".
    person = tmp_path / "person.tif"
    person.write_bytes(
        tiff[:make] + struct.pack("<HHII", 0x8769, 4, 1, 0xFFFFFF00) + tiff[make + 12 :]
    )
    # LZW codes that make libtiff print "Using code not yet in table" on the process's stderr.
    cloth = tmp_path / "cloth.tif"
    cloth.write_bytes(tiff[:8] + b"\xff" * 40 + tiff[48:])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "tryon_app.cli", "run", "--person", str(person), "--cloth",
         str(cloth), "--model", str(tmp_path / "no-model"), "--out", str(tmp_path / "out.png")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"tryon run: {cloth}: corrupt image data (Using code not yet in table)"
    ]


def test_unwritable_output_is_reported_before_work(tiny_artifact, photos, tmp_path, capsys):
    out = tmp_path / "no-such-folder" / "result.png"
    code, _, stderr = _run(
        capsys,
        "run",
        "--person",
        photos["person"],
        "--cloth",
        photos["cloth"],
        "--model",
        tiny_artifact,
        "--out",
        out,
    )
    assert code == 1 and "result.png" in stderr and len(stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("warped", "message"),
    [
        ("w.xyz", r"w\.xyz: unknown image type \('\.xyz'"),
        ("no-such-folder/w.png", "the folder .*no-such-folder does not exist"),
    ],
)
def test_every_output_path_is_checked_before_any_work(
    tiny_artifact, photos, tmp_path, capsys, warped, message
):
    out = tmp_path / "result.png"
    code, _, stderr = _run(
        capsys, "run", "--person", photos["person"], "--cloth", photos["cloth"],
        "--model", tiny_artifact, "--out", out, "--warped", tmp_path / warped,
    )  # fmt: skip
    assert code == 1 and len(stderr.splitlines()) == 1
    assert re.search(message, stderr), stderr
    assert not out.exists()  # the try-on was not even started


@pytest.mark.parametrize("target", ["person", "cloth"])
def test_run_refuses_to_overwrite_an_input_photo(tiny_artifact, photos, tmp_path, capsys, target):
    original = photos[target].read_bytes()
    link = tmp_path / "album" / "link.jpg"
    link.parent.mkdir()
    link.symlink_to(photos[target])
    for out in (photos[target], tmp_path / "album" / ".." / photos[target].name, link):
        code, _, stderr = _run(
            capsys, "run", "--person", photos["person"], "--cloth", photos["cloth"],
            "--model", tiny_artifact, "--out", out,
        )  # fmt: skip
        assert code == 1 and len(stderr.splitlines()) == 1
        assert f"{out}: the result would overwrite the" in stderr
        assert photos[target].read_bytes() == original


def test_result_must_be_an_image_file(photos, tmp_path, capsys):
    code, _, stderr = _run(
        capsys, "run", "--person", photos["person"], "--cloth", photos["cloth"],
        "--model", tmp_path / "no-model", "--out", tmp_path / "result.json",
    )  # fmt: skip
    assert code == 1 and "result.json: unknown image type ('.json'" in stderr


def test_damaged_artifact_is_named(tiny_artifact, photos, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_artifact, broken)
    level = broken / "split" / "level_2.bin"
    level.write_bytes(level.read_bytes()[:-4] + b"\x00\x00\x00\x01")
    out = tmp_path / "result.png"
    code, _, stderr = _run(
        capsys,
        "run",
        "--person",
        photos["person"],
        "--cloth",
        photos["cloth"],
        "--model",
        broken,
        "--out",
        out,
    )
    assert code == 1 and "level_2.bin" in stderr and "sha256" in stderr
    assert not out.exists()
    (broken / "split" / "render.xml").unlink()
    code, _, stderr = _run(
        capsys,
        "run",
        "--person",
        photos["person"],
        "--cloth",
        photos["cloth"],
        "--model",
        broken,
        "--out",
        out,
    )
    assert code == 1 and "render.xml" in stderr


def test_a_graph_file_dropped_from_the_list_is_still_verified(
    tiny_artifact, photos, tmp_path, capsys, monkeypatch
):
    import json
    import shutil

    from tryon_app.core import paths

    broken = tmp_path / "models" / "unlisted"
    shutil.copytree(tiny_artifact, broken)
    meta_path = broken / "metadata.json"
    document = json.loads(meta_path.read_text())
    del document["files"]["split/render.bin"]
    meta_path.write_text(json.dumps(document))
    render = broken / "split" / "render.bin"
    render.write_bytes(bytes(255 - byte for byte in render.read_bytes()))
    out = tmp_path / "result.png"
    code, _, stderr = _run(
        capsys, "run", "--person", photos["person"], "--cloth", photos["cloth"],
        "--model", broken, "--out", out,
    )  # fmt: skip
    assert code == 1 and not out.exists()
    assert stderr.startswith(f"tryon run: {render}: the split layout uses it but metadata.json")
    monkeypatch.setattr(paths, "model_search_dirs", lambda: [broken.parent])
    with pytest.raises(SystemExit):
        main(["models"])
    assert capsys.readouterr().out.startswith(f"BROKEN  {render}: ")


def test_cli_runs_without_torch_in_a_fresh_interpreter(tiny_artifact, photos, tmp_path):
    out = tmp_path / "fresh.png"
    script = (
        "import sys\n"
        "from tryon_app.cli import main\n"
        f"code = main(['run', '--person', {str(photos['person'])!r}, '--cloth', {str(photos['cloth'])!r},"
        f" '--model', {str(tiny_artifact)!r}, '--out', {str(out)!r}])\n"
        "heavy = sorted(m for m in ('torch', 'nncf', 'torch_pruning', 'torchvision') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout
    assert out.is_file()


def test_models_lists_and_validates(tiny_artifact, capsys, monkeypatch):
    from tryon_app.core import paths

    monkeypatch.setattr(paths, "model_search_dirs", lambda: [tiny_artifact.parent])
    code, stdout, _ = _run(capsys, "models")
    assert code == 0 and "tiny" in stdout and "fp32" in stdout


def _stand_in_artifact(root: Path, layouts: object = None) -> Path:
    """A folder that passes the artifact checks (stand-in graphs), with other layouts if given."""
    import json

    from tryon_app.core.artifact import write_metadata

    root.mkdir(parents=True)
    (root / "fused.xml").write_text("<net/>")
    (root / "fused.bin").write_bytes(b"\0" * 8)
    write_metadata(root, {"name": root.name, "layouts": {"fused": "fused.xml"}})
    if layouts is not None:
        meta_path = root / "metadata.json"
        document = json.loads(meta_path.read_text())
        document["layouts"] = layouts
        meta_path.write_text(json.dumps(document))
    return root


def test_models_reports_broken_and_skipped_folders(tmp_path, capsys, monkeypatch):
    from tryon_app.core import paths

    models = tmp_path / "models"
    _stand_in_artifact(models / "good")
    _stand_in_artifact(models / "empty-split", {"split": {}})
    _stand_in_artifact(models / "five-levels", {"split": {"features": "f.xml", "levels": 5}})
    deep = _stand_in_artifact(models / "deep")
    (deep / "metadata.json").write_text("[" * 100_000 + "]" * 100_000)
    (models / "notes").mkdir()
    monkeypatch.setattr(paths, "model_search_dirs", lambda: [models, tmp_path / "user-models"])
    with pytest.raises(SystemExit) as exit_info:
        main(["models"])
    assert exit_info.value.code == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"BROKEN  {models / 'deep' / 'metadata.json'}: ")
    assert "nested too deeply" in lines[0]
    assert lines[1].startswith(f"BROKEN  {models / 'empty-split' / 'metadata.json'}: layouts.split")
    assert lines[2].startswith(f"BROKEN  {models / 'five-levels' / 'metadata.json'}: layouts.split")
    assert lines[3].startswith("ok      good ")
    assert lines[4] == f"skipped {models / 'notes'}: no metadata.json, not a model artifact"
    assert lines[5] == f"skipped {tmp_path / 'user-models'}: no such folder"
    assert len(lines) == 6


def test_run_refuses_malformed_metadata_in_one_line(photos, tmp_path, capsys):
    broken = _stand_in_artifact(tmp_path / "broken", {"split": {}})
    out = tmp_path / "result.png"
    code, _, stderr = _run(
        capsys, "run", "--person", photos["person"], "--cloth", photos["cloth"],
        "--model", broken, "--out", out,
    )  # fmt: skip
    assert code == 1 and not out.exists()
    assert stderr.splitlines() == [
        f"tryon run: {broken / 'metadata.json'}: layouts.split: expected features, levels and "
        "render, got {}"
    ]


def test_bench_compares_models_in_one_run(tiny_artifact, tmp_path, capsys):
    import json
    import shutil

    twin = tmp_path / "twin"
    shutil.copytree(tiny_artifact, twin)
    report = tmp_path / "bench.json"
    code, out, err = _run(
        capsys,
        "bench",
        "--model",
        tiny_artifact,
        "--compare",
        twin,
        "--runs",
        2,
        "--warmup",
        1,
        "--json",
        report,
    )
    assert code == 0, err
    document = json.loads(report.read_text())
    assert [Path(r["model"]).name for r in document["reports"]] == ["tiny", "twin"]
    assert all(r["runs"] == 2 and r["tryons_per_second"] > 0 for r in document["reports"])
    assert "speed-up" in out and "1.00x" in out


@pytest.fixture
def viton_folder(tmp_path):
    """Four VITON-layout pairs (person, garment, garment mask) at the model's 192x256."""
    root = tmp_path / "viton"
    lines = []
    for index in range(4):
        person, cloth = f"{index:06d}_0.jpg", f"{index:06d}_1.jpg"
        for folder, name, seed in (
            ("test_img", person, index),
            ("test_clothes", cloth, 10 + index),
        ):
            (root / folder).mkdir(parents=True, exist_ok=True)
            _write_photo(root / folder / name, 192, 256, seed)
        (root / "test_edge").mkdir(exist_ok=True)
        mask = np.zeros((256, 192), np.uint8)
        mask[64:192, 48:144] = 255
        cv2.imwrite(str(root / "test_edge" / cloth), mask)
        lines.append(f"{person} {cloth}")
    (root / "pairs.txt").write_text("\n".join(lines) + "\n")
    return root


def test_batch_with_requests_in_flight_matches_one_at_a_time(
    tiny_artifact, viton_folder, tmp_path, capsys
):
    outputs = {}
    for requests in ("1", "3"):
        out = tmp_path / f"out-{requests}"
        code, stdout, stderr = _run(
            capsys,
            "-q",
            "batch",
            "--dataroot",
            viton_folder,
            "--pairs",
            viton_folder / "pairs.txt",
            "--out",
            out,
            "--model",
            tiny_artifact,
            "--requests",
            requests,
        )
        assert code == 0, stderr
        assert "wrote 4 try-ons" in stdout
        outputs[requests] = {p.name: cv2.imread(str(p)) for p in sorted(out.glob("*.png"))}

    assert sorted(outputs["1"]) == [f"{i:06d}_0__{i:06d}_1.png" for i in range(4)]
    # Concurrent forks share compiled graphs but not buffers: every pair gets its own result.
    for name, image in outputs["1"].items():
        assert np.abs(image.astype(int) - outputs["3"][name].astype(int)).max() <= 1
    first, second = (outputs["3"][f"{i:06d}_0__{i:06d}_1.png"] for i in (0, 1))
    assert np.abs(first.astype(int) - second.astype(int)).mean() > 1


def test_batch_removes_the_temporary_files_a_killed_batch_left(
    tiny_artifact, viton_folder, tmp_path, capsys
):
    out = tmp_path / "out"
    out.mkdir()
    leftovers = [".000001_0__000001_1.png.0123456789ab.tmp", ".000009_0__x.png.ffffffffffff.tmp"]
    strangers = [".holiday.jpg.0123456789ab.tmp", ".notes.tmp", "keep.txt"]
    for name in leftovers + strangers:
        (out / name).write_bytes(b"half a png")
    code, _, stderr = _run(
        capsys, "-q", "batch", "--dataroot", viton_folder, "--pairs", viton_folder / "pairs.txt",
        "--out", out, "--model", tiny_artifact,
    )  # fmt: skip
    assert code == 0, stderr
    expected = sorted(strangers + [f"{i:06d}_0__{i:06d}_1.png" for i in range(4)])
    assert sorted(path.name for path in out.iterdir()) == expected


def test_sigterm_ends_a_batch_as_ctrl_c_does(tiny_artifact, viton_folder, tmp_path):
    import signal
    import time

    pairs = viton_folder / "many.txt"
    pairs.write_text((viton_folder / "pairs.txt").read_text() * 2000)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [
        sys.executable, "-m", "tryon_app.cli", "-q", "batch", "--dataroot", str(viton_folder),
        "--pairs", str(pairs), "--out", str(out), "--model", str(tiny_artifact), "--requests", "2",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob("*.png")) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    # The last line, as after Ctrl+C; a first run may say before that it compiles the kernel.
    assert stderr.splitlines()[-1] == "tryon batch: interrupted", stderr
    assert "Traceback" not in stderr and "wrote" not in stdout
    assert [path.name for path in out.iterdir() if path.suffix == ".tmp"] == []


def test_batch_stops_at_a_broken_pair_in_one_line(tiny_artifact, viton_folder, tmp_path, capsys):
    (viton_folder / "test_clothes" / "000002_1.jpg").write_bytes(b"not a jpeg")
    code, _, stderr = _run(
        capsys,
        "-q",
        "batch",
        "--dataroot",
        viton_folder,
        "--pairs",
        viton_folder / "pairs.txt",
        "--out",
        tmp_path / "out",
        "--model",
        tiny_artifact,
    )
    assert code == 1
    assert len(stderr.strip().splitlines()) == 1 and "000002_1.jpg" in stderr
    assert not (tmp_path / "out" / "000002_0__000002_1.png").exists()


def test_batch_refuses_zero_requests(viton_folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "batch",
                "--dataroot",
                str(viton_folder),
                "--pairs",
                "p",
                "--out",
                "o",
                "--requests",
                "0",
            ]
        )
    assert exit_info.value.code == 2
    assert "at least 1" in capsys.readouterr().err
