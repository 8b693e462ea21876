"""`tryon video` and `tryon live`: every frame tried on, and one clear line (exit 1) with no partial
output file for a bad video, a missing camera, a missing display or a failure halfway."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tryon_app.cli import build_parser, main
from tryon_app.core import live
from tryon_app.core.errors import TryOnError

FRAMES = 5


def write_clip(path: Path, frames: int = FRAMES, size=(120, 160)) -> Path:
    """A figure on a plain backdrop, stepping right a little every frame."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size[::-1])
    for i in range(frames):
        image = np.full((*size, 3), 230, np.uint8)
        cv2.ellipse(image, (60 + 3 * i, 70), (22, 40), 0, 0, 360, (40, 90, 160), -1)
        cv2.circle(image, (60 + 3 * i, 22), 12, (150, 120, 100), -1)
        writer.write(image)
    writer.release()
    return path


@pytest.fixture
def inputs(tmp_path):
    cloth = np.full((128, 96, 3), 255, np.uint8)
    cv2.rectangle(cloth, (20, 20), (76, 110), (30, 30, 200), -1)
    cv2.imwrite(str(tmp_path / "cloth.png"), cloth)
    return {"video": write_clip(tmp_path / "in.mp4"), "cloth": tmp_path / "cloth.png"}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_video_tries_on_every_frame(tiny_artifact, inputs, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    code, stdout, _ = run(
        capsys, "-q", "video", "--in", inputs["video"], "--cloth", inputs["cloth"],
        "--out", out, "--model", tiny_artifact,
    )  # fmt: skip
    assert code == 0, stdout
    assert f"{FRAMES} frames" in stdout
    with live.open_video(out) as source:
        frames = list(source)
    assert len(frames) == FRAMES and frames[0].shape == (120, 160, 3)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000)), "not a video"),
        (lambda p: p.write_bytes(p.read_bytes()[:2000]), "not a video"),
        (lambda p: p.unlink(), "no such file"),
    ],
    ids=["random bytes", "truncated", "missing"],
)
def test_a_bad_video_is_one_line_and_no_output(
    tiny_artifact, inputs, tmp_path, capsys, damage, message
):
    damage(inputs["video"])
    out = tmp_path / "out.mp4"
    code, _, stderr = run(
        capsys, "video", "--in", inputs["video"], "--cloth", inputs["cloth"], "--out", out,
        "--model", tiny_artifact,
    )  # fmt: skip
    assert code == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tryon video: ") and message in lines[0]
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_failure_halfway_leaves_no_partial_video(
    tiny_artifact, inputs, tmp_path, capsys, monkeypatch
):
    original = live.LiveTryOn.process
    calls = []

    def failing(self, rgb):
        calls.append(1)
        if len(calls) == 3:
            raise TryOnError("the model stopped")
        return original(self, rgb)

    monkeypatch.setattr(live.LiveTryOn, "process", failing)
    out = tmp_path / "out.mp4"
    code, _, stderr = run(
        capsys, "-q", "video", "--in", inputs["video"], "--cloth", inputs["cloth"],
        "--out", out, "--model", tiny_artifact,
    )  # fmt: skip
    assert code == 1 and "the model stopped" in stderr
    assert not out.exists() and leftovers(tmp_path) == []


def test_video_refuses_to_overwrite_its_input(inputs, capsys):
    code, _, stderr = run(
        capsys, "video", "--in", inputs["video"], "--cloth", inputs["cloth"],
        "--out", inputs["video"],
    )  # fmt: skip
    assert code == 1 and "overwrite" in stderr


def test_live_without_a_display_says_so_and_offers_record(inputs, capsys, monkeypatch):
    for variable in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    code, _, stderr = run(capsys, "live", "--cloth", inputs["cloth"])
    assert code == 1
    assert "no display" in stderr and "--record" in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_live_without_a_camera_is_one_line_and_records_nothing(
    inputs, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(live.cv2, "VideoCapture", lambda *a: _Closed())
    record = tmp_path / "rec.mp4"
    code, _, stderr = run(
        capsys, "live", "--camera", "2", "--cloth", inputs["cloth"], "--record", record
    )
    assert code == 1
    assert (
        stderr.strip()
        == "tryon live: camera 2: no camera found (is one connected and switched on?)"
    )
    assert not record.exists() and leftovers(tmp_path) == []


class _Closed:
    def isOpened(self):
        return False

    def release(self):
        pass


def test_live_records_a_video_file_headless(tiny_artifact, inputs, tmp_path, capsys, monkeypatch):
    for variable in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    record = tmp_path / "rec.mp4"
    code, stdout, stderr = run(
        capsys, "live", "--video", inputs["video"], "--cloth", inputs["cloth"],
        "--record", record, "--model", tiny_artifact,
    )  # fmt: skip
    assert code == 0, stderr
    assert "try-ons" in stdout and "dropped" in stdout
    with live.open_video(record) as source:
        assert len(list(source)) == FRAMES  # one recorded frame per source frame, dropped or not
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("command", ["video", "live"])
def test_help_explains(command):
    text = build_parser()._subparsers._group_actions[0].choices[command].format_help()
    assert "--smooth" in text and "--cloth" in text
    if command == "live":
        assert "Esc" in text and "dropped" in text and "--record" in text
    else:
        assert "partial" in text
