"""The live try-on's test clip: its motion is what clip.json says, its ground truth moves with it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optimization.cli import main
from optimization.data.synth_clip import render_clip

# The generator needs tqdm and matplotlib's fonts: the optimize extra.
pytestmark = pytest.mark.optimize


@pytest.fixture(scope="module")
def clip():
    return render_clip(4, size=(120, 160), fps=10, seconds=4.0)


def test_the_clip_opens_and_ends_still_and_steps_sideways_between(clip):
    assert clip.person.shape == (40, 120, 160, 3) == clip.gt.shape
    opening, closing = clip.still_frames(0), clip.still_frames(1)
    assert opening[0] == 0 and len(opening) == 15 and closing[-1] == 39
    assert all(f["shift"] == 0 for f in clip.frames[: opening[-1] + 1])
    boxes = [f["viton_box"] for f in clip.frames]
    step = clip.frames[-1]["shift"]
    assert step > 0.1 * 160
    assert boxes[-1][0] - boxes[0][0] == pytest.approx(step, abs=1.0)
    assert any(f["sway"] != 0 for f in clip.frames if f["phase"] == "sway")


def test_still_frames_differ_by_camera_noise_only(clip):
    change = np.abs(clip.person[1].astype(int) - clip.person[0]).mean()
    assert 0.5 < change < 4  # noise of a couple of levels, breathing moves a few edges


def test_person_and_ground_truth_agree_outside_the_garment(clip):
    for i in (0, 20, 39):
        outside = clip.gt_cloth_mask[i] == 0
        same = np.all(clip.person[i] == clip.gt[i], axis=2)
        assert same[outside].mean() > 0.9
        assert not same[~outside].all()


def test_synth_clip_command_writes_the_video_and_ground_truth(tmp_path, capsys):
    code = main(
        ["synth-clip", "--out", str(tmp_path), "--size", "96x128", "--fps", "8", "--seconds", "1"]
    )
    assert code == 0
    document = json.loads((tmp_path / "clip.json").read_text())
    assert len(document["frames"]) == 8
    assert sorted(p.name for p in (tmp_path / "gt").iterdir())[-1] == "0007.png"
    assert (tmp_path / "person.mp4").stat().st_size > 0
    assert (tmp_path / "cloth.png").is_file() and (tmp_path / "cloth_mask.png").is_file()
