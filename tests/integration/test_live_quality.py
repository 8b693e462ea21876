"""The live path on the synthetic clip with the shipped model: smoothing steadies a still person
without moving the try-on away from the ground truth, and the framing box follows the step."""

from __future__ import annotations

import numpy as np
import pytest

from tryon_app.core.paths import bundled_models_dir

DEFAULT = bundled_models_dir() / "default"

# The clip comes from the synthetic generator: the optimize extra.
pytestmark = [
    pytest.mark.optimize,
    pytest.mark.slow,
    pytest.mark.skipif(not (DEFAULT / "metadata.json").is_file(), reason="no shipped model"),
]


def play(clip, smooth: bool, frames):
    from tryon_app.core.engine import TryOnEngine
    from tryon_app.core.live import LiveTryOn

    session = LiveTryOn(TryOnEngine(DEFAULT), smooth=smooth)
    session.set_garment(clip.cloth, clip.cloth_mask)
    results = [session.process(clip.person[i]) for i in frames]
    return (
        [r.image for r in results],
        [r.composition.changed_mask() > 127 for r in results],
        [r.framing.box for r in results],
    )


def flicker(images, regions) -> float:
    return float(
        np.mean(
            [
                np.abs(images[i].astype(np.int16) - images[i - 1])
                .mean(axis=2)[regions[i] | regions[i - 1]]
                .mean()
                for i in range(3, len(images))
            ]
        )
    )


def test_smoothing_halves_the_flicker_of_a_still_person_at_no_cost_in_ssim():
    from optimization.data.synth_clip import render_clip
    from optimization.metrics import photo_ssim

    clip = render_clip(0, size=(360, 480))
    frames = clip.still_frames(0)  # breathing and camera noise only
    steady, steady_regions, _ = play(clip, True, frames)
    raw, raw_regions, _ = play(clip, False, frames)
    assert flicker(steady, steady_regions) < 0.5 * flicker(raw, raw_regions)
    ssim_steady = np.mean(
        [photo_ssim(image, clip.gt[i]) for i, image in zip(frames, steady, strict=True)]
    )
    ssim_raw = np.mean(
        [photo_ssim(image, clip.gt[i]) for i, image in zip(frames, raw, strict=True)]
    )
    assert ssim_steady > ssim_raw - 0.01


def test_the_framing_box_holds_still_then_follows_the_step():
    from optimization.data.synth_clip import render_clip

    clip = render_clip(1, size=(240, 320))
    _, _, boxes = play(clip, True, range(len(clip.frames)))
    opening = clip.still_frames(0)
    assert len({(b.x, b.y, b.w, b.h) for b in boxes[: opening[-1] + 1]}) == 1
    step = clip.frames[-1]["shift"]
    assert boxes[-1].x - boxes[0].x == pytest.approx(step, abs=0.25 * step)
    moves = np.abs(np.diff([b.x for b in boxes]))
    assert moves.max() < 0.6 * step  # it glides, it does not jump
