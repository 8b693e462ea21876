"""Folds and wrinkles: where a garment creases as it is worn or laid out, and their height field.

A `Fold` is a ridge (positive depth) or a valley along a polyline, `width` cm across. The drape
of a worn garment is sampled from its cut and the pose: drape folds hanging from the bust to the
hem, tension folds from the armpits, folds pulled towards hands on the hips, in a pocket or
across crossed arms, compression rings at the elbow and the wrist of long sleeves. Torso folds
live in canonical garment coordinates, sleeve folds in arm coordinates (u along the arm, `across`
from its axis); the wearer maps them into the picture and `height_field` rasterises them. The
shading reads slopes of this field, so a fold catches the light on one flank and falls into
shadow on the other, whatever the light's direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from optimization.data.synth_apparel import FLAT_WIDTH, Cut
from optimization.data.synth_canvas import Box, View, blur
from optimization.data.synth_noise import fbm, lattice
from optimization.data.synth_person import Pose

_TUCKED = {"tee": 0.2, "shirt": 0.35, "blouse": 0.4, "sleeveless": 0.25, "polo": 0.25}


@dataclass(frozen=True)
class Fold:
    points: tuple[tuple[float, float], ...]
    depth: float  # cm, ridges positive, valleys negative
    width: float  # cm


@dataclass(frozen=True)
class Drape:
    wrap: float  # cylinder wrap of the body map (radians)
    sway: tuple[float, float, float]  # hem waviness: amplitude (cm), wavelength (cm), phase
    torso: tuple[Fold, ...]
    sleeves: tuple[tuple[Fold, ...], tuple[Fold, ...]]  # image left, image right
    crumple: float  # depth (cm) of the small random wrinkles all over
    seed: int  # of the wrinkles' random field
    tucked: bool  # the hem is tucked into the lower garment


def _fold(points, depth: float, width: float) -> Fold:
    return Fold(
        tuple((round(float(x), 3), round(float(y), 3)) for x, y in points),
        round(float(depth), 3),
        round(float(width), 3),
    )


def _curve(rng: np.random.Generator, start, end, bend: float) -> list:
    start, end = np.asarray(start, float), np.asarray(end, float)
    middle = (start + end) / 2 + np.array([end[1] - start[1], start[0] - end[0]]) * bend
    middle += rng.normal(0, 0.3, 2)
    return [start, middle, end]


def sample_drape(rng: np.random.Generator, cut: Cut, pose: Pose, bust: float) -> Drape:
    """How `cut` hangs on a body in `pose` (folds in garment and arm coordinates)."""
    u = rng.uniform
    looseness = max(cut.chest_half / FLAT_WIDTH - 16.6, 0.0) / 4.0
    folds = []
    hem = cut.hem_y
    # Drape folds from the chest to the hem; more and deeper on loose garments.
    for _ in range(int(rng.integers(2, 5 + int(3 * looseness)))):
        x = u(-0.75, 0.75) * cut.hem_half
        start = (x * u(0.5, 0.9), u(18, 30))
        end = (x + u(-2.5, 2.5), hem - u(0, 3))
        folds.append(
            _fold(
                _curve(rng, start, end, u(-0.08, 0.08)), u(0.35, 0.9) + 0.5 * looseness, u(1.2, 2.6)
            )
        )
    # Tension folds from the armpits.
    for side in (-1, 1):
        for _ in range(int(rng.integers(1, 3))):
            start = (side * cut.chest_half * u(0.85, 1.0), cut.armpit_y + u(-1, 4))
            end = (side * cut.chest_half * u(0.15, 0.55), cut.armpit_y + u(10, 26))
            folds.append(_fold(_curve(rng, start, end, u(-0.15, 0.15)), u(0.35, 0.9), u(0.9, 1.8)))
    # Small ripples at the hem.
    for _ in range(int(rng.integers(2, 6))):
        x = u(-0.9, 0.9) * cut.hem_half
        folds.append(
            _fold([(x, hem - u(5, 10)), (x + u(-1, 1), hem + 0.5)], u(0.2, 0.45), u(0.8, 1.5))
        )
    if bust > 0.4:
        for side in (-1, 1):
            folds.append(
                _fold(
                    [
                        (side * 3.0, 23.0 + 2 * bust),
                        (side * 11.0, 21.0 + 2 * bust),
                        (side * 15.0, 18.0),
                    ],
                    -0.35 * bust,
                    1.6,
                )
            )
    waist = 31.0
    for index, arm in enumerate(pose.arms):
        side = -1 if index == 0 else 1
        if arm.mode == "hip":
            for _ in range(int(rng.integers(2, 4))):
                start = (side * cut.chest_half * u(0.7, 0.95), cut.armpit_y + u(2, 8))
                end = (side * (cut.waist_half + 0.5), waist + u(-3, 5))
                folds.append(_fold(_curve(rng, start, end, u(-0.1, 0.1)), u(0.3, 0.7), u(0.9, 1.6)))
        elif arm.mode == "pocket":
            start = (side * cut.chest_half * u(0.6, 0.9), waist - u(0, 8))
            end = (side * cut.hem_half * u(0.5, 0.8), hem - u(0, 4))
            folds.append(_fold(_curve(rng, start, end, u(-0.1, 0.1)), u(0.3, 0.6), u(1.0, 2.0)))
        elif arm.mode == "crossed":
            for _ in range(int(rng.integers(1, 3))):
                start = (side * cut.chest_half * u(0.8, 1.0), cut.armpit_y + u(0, 6))
                end = (side * u(0, 6), u(22, 34))
                folds.append(_fold(_curve(rng, start, end, u(-0.1, 0.1)), u(0.3, 0.7), u(1.0, 1.8)))
    if cut.hem_y > waist + 6 and rng.random() < 0.5:
        y = waist + u(2, 10)
        folds.append(
            _fold(
                [
                    (-cut.waist_half * u(0.3, 0.8), y),
                    (0, y + u(-1.5, 1.5)),
                    (cut.waist_half * u(0.3, 0.8), y + u(-1, 1)),
                ],
                u(0.2, 0.45),
                u(1.0, 2.0),
            )
        )

    sleeves = []
    for index in range(2):
        sleeve_folds = []
        sleeve = cut.sleeve
        if sleeve is not None:
            mode = pose.arms[index].mode
            for _ in range(int(rng.integers(1, 3))):
                start = (u(0, 6), u(2, 5))
                end = (u(8, 16) if sleeve.length > 20 else sleeve.length * u(0.5, 0.9), -u(2, 5))
                sleeve_folds.append(_fold([start, end], u(0.2, 0.5), u(0.8, 1.4)))
            if sleeve.length > 36:
                bent = mode != "down"
                elbow = 29.0
                for _ in range(int(rng.integers(2, 5 if bent else 3))):
                    centre = elbow + u(-5, 5)
                    tilt = u(-4, 4)
                    sleeve_folds.append(
                        _fold(
                            [(centre - tilt, -5.0), (centre + u(-1, 1), 0.0), (centre + tilt, 5.0)],
                            u(0.3, 0.8) * (1.5 if bent else 1.0),
                            u(0.6, 1.2),
                        )
                    )
            if sleeve.length > 48:
                for _ in range(int(rng.integers(1, 4))):
                    at = sleeve.length - sleeve.cuff_band - u(1, 9)
                    sleeve_folds.append(
                        _fold(
                            [(at - u(-2, 2), -5.0), (at + u(-2, 2), 5.0)], u(0.2, 0.5), u(0.5, 1.0)
                        )
                    )
        sleeves.append(tuple(sleeve_folds))
    return Drape(
        wrap=u(0.55, 1.05),
        sway=(u(0.2, 0.9), u(12, 30), u(0, 2 * np.pi)),
        torso=tuple(folds),
        sleeves=(sleeves[0], sleeves[1]),
        crumple=u(0.08, 0.3),
        seed=int(rng.integers(2**31)),
        tucked=bool(rng.random() < _TUCKED.get(cut.kind, 0.0) and cut.hem_y > 40),
    )


def sample_flat_folds(rng: np.random.Generator, bounds, ghost: bool) -> tuple[Fold, ...]:
    """Gentle wrinkles of a garment in a product photo (canonical coordinates)."""
    u = rng.uniform
    x0, y0, x1, y1 = bounds
    folds = []
    for _ in range(int(rng.integers(2, 7))):
        x = u(x0 * 0.6, x1 * 0.6)
        start = (x, u(y0 + 12, y0 + 35))
        end = (x + u(-4, 4), y1 - u(0, 6))
        folds.append(_fold([start, end], u(0.1, 0.35) * (1.5 if ghost else 1.0), u(1.5, 3.5)))
    return tuple(folds)


def crumples(view: View, box: Box, depth: float, seed: int) -> np.ndarray:
    """Small random wrinkles (height in cm) over `box`: cloth is never perfectly smooth."""
    xs, ys = view.grid(box)
    values = lattice(np.random.default_rng(seed))
    return fbm(values, xs, ys, 4.0, 3, 1.0 / view.scale) * np.float32(depth)


def height_field(view: View, box: Box, lines: list[tuple[np.ndarray, float, float]]) -> np.ndarray:
    """Height (cm) over `box` of ridges along world polylines: (points (N, 2), depth, width)."""
    heights = np.zeros(box.shape, np.float32)
    if box.empty:
        return heights
    by_width: dict[int, list] = {}
    for points, depth, width in lines:
        by_width.setdefault(int(round(width * 4)), []).append((points, depth))
    origin = np.array([box.x0, box.y0], np.float64)
    for quarter_cm, group in by_width.items():
        canvas = np.zeros(box.shape, np.float32)
        sigma = view.px(quarter_cm / 4.0) * 0.6
        thickness = max(1, int(round(sigma)))
        for points, depth in group:
            pixels = np.round((view.to_pixels(points) - origin) * 16).astype(np.int32)
            cv2.polylines(canvas, [pixels], False, float(depth), thickness, cv2.LINE_8, 4)
        # A blurred line of one pixel has a peak of ~1/(sqrt(2 pi) sigma); renormalise so `depth`
        # is the ridge's height.
        peak = blur(_impulse(sigma, thickness), sigma).max()
        heights += blur(canvas, sigma) / np.float32(max(peak, 1e-6))
    return heights


def _impulse(sigma: float, thickness: int) -> np.ndarray:
    size = int(6 * sigma) + thickness + 3
    line = np.zeros((size, size), np.float32)
    centre = size // 2
    line[:, centre - thickness // 2 : centre - thickness // 2 + thickness] = 1.0
    return line


def slopes(height: np.ndarray, px_per_cm: float) -> tuple[np.ndarray, np.ndarray]:
    """Surface normal components (nx, ny) of a height field (cm) sampled every 1/px_per_cm cm."""
    if height.size == 0 or min(height.shape) < 2:
        return np.zeros_like(height), np.zeros_like(height)
    gy, gx = np.gradient(height)
    scale = np.float32(px_per_cm)
    return (-gx * scale).astype(np.float32), (-gy * scale).astype(np.float32)
