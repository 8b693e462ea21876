"""Live try-on on the synthetic clip: frames per second, the garment cached, flicker with smoothing.

    python benchmarks/live.py [--seed 0] [--seconds 4] [--model DIR]

Renders the test clip (`optimization.data.synth_clip`, 640x480, a person breathing, swaying and
stepping sideways, camera noise, ground truth per frame), writes it as mp4 and plays it through
`tryon_app.core.live.LiveTryOn` one frame at a time, end to end: decode, steadied framing, model,
composition at the frame's resolution, conversion for display (RGB to BGR, what a window or a
video writer takes). Everything runs with the f32 hint. Two passes, each interleaving its two
variants frame by frame so that both see the same machine:

1. speed: the garment prepared once (its branch of the model cached) against a full try-on
   per frame (the garment branch run every frame), both smoothed;
2. steadiness: smoothing (`--smooth`: the flow and the try-on's pixels) on against off, both
   cached. Flicker is the mean absolute change from one frame to the next (0..255, mean over
   channels) inside the try-on region (where either frame's composition weight is over half)
   over the opening still part (breathing and camera noise only); the ground truth's own change
   inside the requested garment is printed for scale. SSIM is against the ground truth frame,
   inside the person's framing box, over the whole clip and the still part.

Floors (issue 24): at least 25 frames per second cached, cached at least 15% below full,
smoothed flicker at most half the unsmoothed, smoothed SSIM no worse than 0.01 below.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from optimization.data.synth_clip import render_clip, write_clip
from optimization.metrics import photo_ssim
from tryon_app.core.engine import TryOnEngine
from tryon_app.core.live import LiveRunner, LiveTryOn, open_video
from tryon_app.core.pipeline import RuntimeOptions


def _play(video: Path, variants: dict[str, LiveTryOn], on_frame) -> dict[str, list[float]]:
    """Every frame through every variant in turn; per-variant end-to-end milliseconds.

    Decoding is timed once per frame and charged to each variant (each would decode it alone).
    """
    costs = {name: [] for name in variants}
    with open_video(video) as source:
        index = 0
        while True:
            start = time.perf_counter()
            frame = source.read()
            if frame is None:
                break
            decode = time.perf_counter() - start
            for name, live in variants.items():
                start = time.perf_counter()
                result = live.process(frame)
                shown = cv2.cvtColor(result.image, cv2.COLOR_RGB2BGR)
                costs[name].append((decode + time.perf_counter() - start) * 1e3)
                on_frame(name, index, result, shown)
            index += 1
    return costs


def _as_a_camera(video: Path, live: LiveTryOn) -> dict[str, float]:
    """The clip played in real time through `LiveRunner`, as `tryon live --video` plays it."""
    shown: list[float] = []
    with open_video(video) as source:
        runner = LiveRunner(
            source,
            lambda frame: cv2.cvtColor(live.process(frame.rgb).image, cv2.COLOR_RGB2BGR),
            lambda result, frame, stats: shown.append(time.perf_counter()),
            pace=True,
        )
        start = time.perf_counter()
        runner.start()
        runner.join()
    stats = runner.stats()
    elapsed = (shown[-1] - start) if shown else float("nan")
    return {
        "fps": len(shown) / elapsed,
        "latency_ms": stats.latency_ms,
        "dropped": stats.dropped,
    }


def _box(frame_meta: dict, shape: tuple[int, int]) -> tuple[slice, slice]:
    x, y, w, h = frame_meta["viton_box"]
    height, width = shape
    x0, y0 = max(0, int(x)), max(0, int(y))
    return slice(y0, min(height, int(y + h))), slice(x0, min(width, int(x + w)))


def _flicker(frames, regions, indices: list[int]) -> float:
    """Mean absolute change from frame i - 1 to i inside either frame's region, over `indices`."""
    changes = []
    for i in indices:
        change = np.abs(frames[i].astype(np.int16) - frames[i - 1]).mean(axis=2)
        changes.append(float(change[regions[i] | regions[i - 1]].mean()))
    return float(np.mean(changes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--model", default=None)
    args = parser.parse_args(argv)

    clip = render_clip(args.seed, seconds=args.seconds)
    folder = Path(tempfile.mkdtemp(prefix="live-bench-"))
    video = write_clip(clip, folder, pngs=False)
    engine = TryOnEngine(args.model, RuntimeOptions(precision="f32"))
    for _ in range(3):  # compile, fill the caches
        engine.try_on(clip.person[0], clip.cloth, clip.cloth_mask)

    def variant(**options) -> LiveTryOn:
        live = LiveTryOn(engine, **options)
        live.set_garment(clip.cloth, clip.cloth_mask)
        return live

    stages: dict[str, dict[str, list[float]]] = {"cached": {}, "full": {}}

    def note_stages(name, index, result, shown):
        for stage, ms in result.timings_ms.items():
            stages[name].setdefault(stage, []).append(ms)

    speed = _play(video, {"cached": variant(), "full": variant(cached=False)}, note_stages)
    live_view = _as_a_camera(video, variant())
    outputs: dict[str, dict[int, np.ndarray]] = {"smoothed": {}, "unsmoothed": {}}
    regions: dict[str, dict[int, np.ndarray]] = {"smoothed": {}, "unsmoothed": {}}

    def keep(name, index, result, shown):
        outputs[name][index] = result.image
        regions[name][index] = result.composition.changed_mask() > 127

    _play(video, {"smoothed": variant(), "unsmoothed": variant(smooth=False)}, keep)

    still = [i for i in clip.still_frames(0) if i > 0]
    report = {}
    for name, frames in outputs.items():
        ssim = []
        for i, frame in enumerate(frames.values()):
            box = _box(clip.frames[i], frame.shape[:2])
            ssim.append(photo_ssim(frame[box], clip.gt[i][box]))
        report[name] = {
            "flicker": _flicker(frames, regions[name], still),
            "ssim": float(np.mean(ssim)),
            "ssim_still": float(np.mean([ssim[i] for i in still])),
        }
    truth_flicker = _flicker(clip.gt, clip.gt_cloth_mask > 0, still)

    cached, full = np.array(speed["cached"]), np.array(speed["full"])
    height, width = clip.person.shape[1:3]
    print(
        f"clip: {len(clip.frames)} frames {width}x{height}, seed {args.seed}, "
        f"still part {still[0]}-{still[-1]}; model {engine.artifact.name}, f32 hint"
    )
    print(f"{'per frame, end to end':<28}{'mean ms':>9}{'p50 ms':>9}{'p90 ms':>9}{'fps':>8}")
    for name, costs in (("garment cached", cached), ("full try-on", full)):
        print(
            f"{name:<28}{costs.mean():9.1f}{np.median(costs):9.1f}"
            f"{np.percentile(costs, 90):9.1f}{1e3 / costs.mean():8.1f}"
        )
    for name in ("cached", "full"):
        medians = ", ".join(
            f"{stage} {np.median(ms):.1f}" for stage, ms in stages[name].items() if stage != "total"
        )
        print(f"  {name} p50 stages (ms): {medians}")
    print(
        f"as a camera (the mp4 played at {clip.fps:g} fps, read and tried on on two threads, "
        f"newest frame wins): {live_view['fps']:.1f} try-ons/s, latency "
        f"{live_view['latency_ms']:.0f} ms, {live_view['dropped']} of {len(clip.frames)} "
        "frames dropped"
    )
    saving = 1 - cached.mean() / full.mean()
    print(
        f"cached / full: {cached.mean() / full.mean():.3f} (cost {saving:.1%} below full; "
        f"floor 15%); cached fps {1e3 / cached.mean():.1f} (floor 25)"
    )
    smoothed, unsmoothed = report["smoothed"], report["unsmoothed"]
    print(f"{'':<28}{'flicker':>9}{'SSIM box':>10}{'SSIM still':>11}")
    for name in ("unsmoothed", "smoothed"):
        row = report[name]
        print(f"{name:<28}{row['flicker']:9.3f}{row['ssim']:10.4f}{row['ssim_still']:11.4f}")
    print(f"{'ground truth':<28}{truth_flicker:9.3f}")
    print(
        f"flicker smoothed / unsmoothed: {smoothed['flicker'] / unsmoothed['flicker']:.3f} "
        f"(floor 0.5); SSIM smoothed - unsmoothed: {smoothed['ssim'] - unsmoothed['ssim']:+.4f} "
        f"(whole clip), {smoothed['ssim_still'] - unsmoothed['ssim_still']:+.4f} (still part; "
        "floor -0.01)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
