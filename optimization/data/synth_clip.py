"""A short synthetic video for the live try-on: a person breathing, swaying, stepping sideways.

No recording of a real person goes into the repository, so the live view's tests and benchmark
(`benchmarks/live.py`) run on this clip. One realistic full-body pair of the generator
(`render_pair`, scene `full-body`) is staged in a landscape frame, and every frame moves it by an
affine map about the feet: breathing (the figure rises and falls by a fraction of a percent),
swaying (a shear, the head moving most) and a step sideways (a shift). The backdrop is smooth
paper, so moving the whole staged photo reads as the person moving in front of it. The person and
its ground truth (the same person in the requested garment) move by the same map and get the same
fresh camera noise per frame, so outside the garment they stay the same pixels, as in the pairs.

The clip opens and ends with still parts (breathing and noise only): their frame-to-frame change
is what the live view's flicker is measured on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from optimization.data.synthetic import render_pair

CLIP_SIZE = (480, 640)
"""(height, width): a webcam's VGA frame."""
FPS = 30.0
SECONDS = 4.0
NOISE_LEVELS = 2.0
"""Camera noise per frame, Gaussian sigma in 8-bit levels (fresh every frame)."""
_BREATH_SHARE = 0.004  # rise and fall of the figure, a share of its height
_BREATH_PERIOD_S = 3.2
_SWAY_SHARE = 0.03  # the head's sideways travel while swaying, a share of the figure's height
_STEP_SHARE = 0.14  # the step sideways, a share of the frame's width
# The clip's timeline in seconds: (phase, start, end).
PHASES = (("still", 0.0, 1.5), ("sway", 1.5, 2.5), ("step", 2.5, 3.3), ("still", 3.3, SECONDS))


@dataclass(frozen=True)
class Clip:
    """A synthetic clip and its ground truth, in memory.

    Attributes:
        person: uint8 (N, H, W, 3) RGB frames, what a camera would give.
        gt: uint8 (N, H, W, 3) the same frames in the requested garment.
        gt_cloth_mask: uint8 (N, H, W) 255 where the requested garment is visible.
        cloth: uint8 RGB product photo of the requested garment; `cloth_mask` its silhouette.
        frames: per frame: index, time, phase, whether it is still, the motion (shift, sway and
            breath in pixels) and `viton_box` (x, y, w, h), the model's framing of the person.
        fps: frames per second.
    """

    person: np.ndarray
    gt: np.ndarray
    gt_cloth_mask: np.ndarray
    cloth: np.ndarray
    cloth_mask: np.ndarray
    frames: tuple[dict, ...]
    fps: float

    def still_frames(self, part: int = 0) -> range:
        """The indices of still part `part` (0 the opening one, 1 the closing one)."""
        indices = [f["index"] for f in self.frames if f["still"] == part + 1]
        return range(indices[0], indices[-1] + 1) if indices else range(0)


def _phase(t: float) -> tuple[str, float]:
    """The phase at `t` seconds and how far through it (0 to 1)."""
    for name, start, end in PHASES:
        if t < end:
            return name, (t - start) / (end - start)
    return PHASES[-1][0], 1.0


def _smoothstep(u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    return u * u * (3 - 2 * u)


def motion(t: float, stature_px: float, width: int) -> dict:
    """The person's motion at `t` seconds: shift, sway (at the crown) and breath, in pixels."""
    name, through = _phase(t)
    breath = _BREATH_SHARE * stature_px * np.sin(2 * np.pi * t / _BREATH_PERIOD_S)
    sway = _SWAY_SHARE * stature_px * np.sin(2 * np.pi * through) if name == "sway" else 0.0
    step_done = 1.0 if t >= PHASES[2][2] else _smoothstep(through) if name == "step" else 0.0
    return {
        "phase": name,
        "shift": float(_STEP_SHARE * width * step_done),
        "sway": float(sway),
        "breath": float(breath),
    }


def _affine(move: dict, feet: tuple[float, float], stature_px: float) -> np.ndarray:
    """The 2x3 map of a frame: breath scales about the feet, sway shears about them, then shift."""
    fx, fy = feet
    scale_y = 1.0 + move["breath"] / stature_px
    shear = -move["sway"] / stature_px  # per pixel above the feet (y grows downwards)
    # x' = x + shear * (y - fy) + shift; y' = fy + (y - fy) * scale_y
    return np.array(
        [[1.0, shear, -shear * fy + move["shift"]], [0.0, scale_y, fy - fy * scale_y]],
        dtype=np.float64,
    )


def _moved_box(box: tuple[float, float, float, float], matrix: np.ndarray) -> list[float]:
    """The bounding box (x, y, w, h) of `box`'s corners under `matrix`."""
    x, y, w, h = box
    corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]], float)
    moved = corners @ matrix.T
    x0, y0 = moved.min(axis=0)
    x1, y1 = moved.max(axis=0)
    return [round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)]


def _stage(
    pair: dict, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple, float]:
    """The pair's photos scaled to the frame's height and widened with the backdrop's edges.

    The person stands left of centre so that the step sideways keeps them in the frame.
    """
    height, width = size
    photo_h, photo_w = pair["person"].shape[:2]
    scale = height / photo_h
    staged_w = max(1, round(photo_w * scale))
    left = max(0, round(width * 0.42 - staged_w / 2))
    right = max(0, width - staged_w - left)

    def stage(image: np.ndarray, interpolation: int, border: int) -> np.ndarray:
        resized = cv2.resize(image, (staged_w, height), interpolation=interpolation)
        return cv2.copyMakeBorder(resized, 0, 0, left, right, border, value=0)[:, :width]

    person = stage(pair["person"], cv2.INTER_AREA, cv2.BORDER_REPLICATE)
    gt = stage(pair["gt"], cv2.INTER_AREA, cv2.BORDER_REPLICATE)
    mask = stage(pair["gt_cloth_mask"], cv2.INTER_NEAREST, cv2.BORDER_CONSTANT)
    bx, by, bw, bh = pair["viton_box"]
    box = (bx * scale + left, by * scale, bw * scale, bh * scale)
    return person, gt, mask, box, scale


def render_clip(
    seed: int = 0,
    *,
    size: tuple[int, int] = CLIP_SIZE,
    fps: float = FPS,
    seconds: float = SECONDS,
    index: int = 0,
) -> Clip:
    """The clip of pair `(seed, index)` of the realistic generator, `seconds` long.

    Args:
        seed: the generator's seed; the clip depends only on `(seed, index, size, fps, seconds)`.
        size: (height, width) of the frames.
        fps: frames per second.
        seconds: length; the phases (`PHASES`) are laid out over 4 s and scaled to it.
        index: which pair of the seed.
    """
    height, width = size
    pair = render_pair(
        seed, index, style="realistic", size=(height, round(height * 0.75)), scene="full-body"
    )
    person, gt, mask, box, _ = _stage(pair, size)
    # The figure's height and feet from its VITON box, which is this share of the crown-to-soles
    # height (tryon_app.core.framing measured it on the generator's full-body scenes).
    stature = box[3] / 0.635
    feet = (box[0] + box[2] / 2, min(box[1] + stature, height - 1.0))
    count = max(1, round(seconds * fps))
    frames_person = np.empty((count, height, width, 3), np.uint8)
    frames_gt = np.empty_like(frames_person)
    frames_mask = np.empty((count, height, width), np.uint8)
    meta = []
    timeline = SECONDS / seconds
    for i in range(count):
        t = i / fps
        move = motion(t * timeline, stature, width)
        matrix = _affine(move, feet, stature)

        noise = np.random.default_rng([seed, index, i]).normal(
            0.0, NOISE_LEVELS, (height, width, 3)
        )
        frames_person[i] = np.clip(_warp(person, matrix) + noise, 0, 255).round().astype(np.uint8)
        frames_gt[i] = np.clip(_warp(gt, matrix) + noise, 0, 255).round().astype(np.uint8)
        frames_mask[i] = _warp(mask, matrix, nearest=True)
        still = 0
        if move["phase"] == "still":
            still = 1 if t * timeline < PHASES[1][1] else 2
        meta.append(
            {
                "index": i,
                "t": round(t, 4),
                **move,
                "still": still,
                "viton_box": _moved_box(box, matrix),
            }
        )
    return Clip(
        frames_person, frames_gt, frames_mask, pair["cloth"], pair["edge"], tuple(meta), fps
    )


def _warp(image: np.ndarray, matrix: np.ndarray, *, nearest: bool = False) -> np.ndarray:
    """`image` moved by `matrix`; the backdrop's edge fills in, a mask's outside is empty."""
    height, width = image.shape[:2]
    return cv2.warpAffine(
        image,
        matrix,
        (width, height),
        flags=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT if nearest else cv2.BORDER_REPLICATE,
    )


def write_clip(clip: Clip, out: Path, *, pngs: bool = True) -> Path:
    """Write the clip: `person.mp4` (what a camera gives), the ground truth, `clip.json`.

    Layout: person.mp4; person/NNNN.png (the lossless frames), gt/NNNN.png and
    gt_cloth_mask/NNNN.png (per frame); cloth.png and cloth_mask.png (the garment to try on);
    clip.json (fps, size, per-frame motion, phase and framing box).

    Returns:
        The path of person.mp4.
    """
    out.mkdir(parents=True, exist_ok=True)
    height, width = clip.person.shape[1:3]
    video = out / "person.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), clip.fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"{video}: OpenCV cannot write mp4 here")
    try:
        for frame in clip.person:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    if pngs:
        for folder, frames in (
            ("person", clip.person),
            ("gt", clip.gt),
            ("gt_cloth_mask", clip.gt_cloth_mask),
        ):
            (out / folder).mkdir(exist_ok=True)
            for i, frame in enumerate(frames):
                image = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) if frame.ndim == 3 else frame
                cv2.imwrite(str(out / folder / f"{i:04d}.png"), image)
    cv2.imwrite(str(out / "cloth.png"), cv2.cvtColor(clip.cloth, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(out / "cloth_mask.png"), clip.cloth_mask)
    document = {
        "fps": clip.fps,
        "size": [height, width],
        "noise_levels": NOISE_LEVELS,
        "phases": [list(p) for p in PHASES],
        "frames": list(clip.frames),
    }
    (out / "clip.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return video
