"""Where a face is in a photo and how large, from the layout of its dark features.

Eyes, brows and mouth are darker than the skin around them whatever the skin's tone and the
light, and lie in a layout that scales with the face: the eyes side by side, the brows above
them, the mouth about one eye distance below. A grey closing takes these small features out of
the face; what it took, relative to the skin's brightness, is matched against that layout drawn
as soft blobs, one size after another (normalised cross-correlation: coarse at half resolution,
then finely around the best size and place). Auto-framing uses the eyes' distance as the
person's scale and their line as an anchor for the box's top (`tryon_app.core.framing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

# The layout, in eye distances from the midpoint between the eyes (x right, y down), and each
# feature's blob (standard deviations along x and y, weight): a typical adult face, checked on
# our synthetic scenes (tuning seeds 43 and 53), where a mouth 0.95 below the eyes, or brows
# weighing as much as the eyes, measured the face's size worse.
_EYE = (0.5, 0.0, 0.17, 0.07, 1.0)
_BROW = (0.5, -0.4, 0.22, 0.05, 0.5)
_MOUTH = (0.0, 1.05, 0.27, 0.07, 1.0)
# The closing's width that takes the features out: wider than an eye, a brow or a closed mouth
# is tall, narrower than the skin between them.
_CLOSING = 0.45
# The search: sizes from 0.5 to 1.6 of the expected eye distance (ten at half resolution, 14%
# apart, then five across the best one's neighbours at full resolution); for each, the eyes'
# midpoint within 1.4 of its eye distances of the head's axis and 1.4 to 5 below the crown. A
# bare head's eyes lie about 1.9 eye distances below its crown and hair adds to that; deeper
# down, the nostrils and the corners of the mouth pass for a smaller face's brows and eyes. On
# the tuning scenes (seeds 43, 53, 62 and 63) the faces were 0.6 to 1.2 times the size expected
# from the body, 2.0 to 4.0 of their eye distances below the crown, about half of one off the
# axis.
_SIZES = (0.5, 1.6, 10)
_FINE_SIZES = 5
_AXIS_SLACK = 1.4
_EYE_DEPTH = (1.4, 5.0)
# The head is cut this far around the crown (across, down) and resampled so that the expected
# eye distance spans this many pixels: at 24, half the tuning faces' sizes were measured within
# 1.6% (at 16: 1.9%, with a longer tail; at 30 no better, and slower). At 20, a dark face with
# faint brows, two thirds of the expected size, was missed (tests/unit/test_framing_face.py).
_HEAD_CUT = (3.4, 6.0)
_CUT_EYE_DISTANCE = 24.0
# How far a coarse match may move at full resolution, in pixels there.
_FINE_SLACK = 3
# Lighter than this (L, 0-255) counts as this light when the features' darkness is made relative.
_DARKEST_SKIN = 20.0
# Darkness spread less than this (per pixel, under the layout) is taken as this much: about a
# plain patch's noise (the cut of a featureless head spreads 0.03 in all, of a tuning face 0.07
# and more).
_FLAT_DARKNESS = 0.02
# Lips differ from skin more in hue than in lightness: a feature this much redder (a*, 0-255)
# than around it counts as one black. Without it, pale lips let the layout's mouth slide onto
# the nose's shadow, at a fifth too small a size, in 4 tuning faces (with it: 1).
_RED_AS_DARK = 50.0


@dataclass(frozen=True)
class Face:
    """A face found in a photo, in the photo's pixels.

    Attributes:
        eye_x: the midpoint between the eyes, across.
        eye_y: the eye line.
        eye_distance: between the two eyes' centres.
        score: how well the dark features match the layout (normalised cross-correlation, at
            most 1).
        eye_darkness: how much darker than the skin around them the eyes are, the lesser of
            the two, as a share of the skin's lightness (a face's: 0.1 and more).
    """

    eye_x: float
    eye_y: float
    eye_distance: float
    score: float
    eye_darkness: float


def find_face(rgb: np.ndarray, crown: tuple[float, float], eye_distance: float) -> Face | None:
    """The face below `crown` (x, y in photo pixels), about `eye_distance` pixels between the eyes.

    Returns the best match of the features' layout, however weak (the caller decides from its
    score and the eyes' darkness), or None when the head lies too near the photo's edge or is
    too small to look at.
    """
    height, width = rgb.shape[:2]
    scale = _CUT_EYE_DISTANCE / eye_distance  # cut pixels per photo pixel
    crown_x, crown_y = crown
    x0 = max(0, round(crown_x - _HEAD_CUT[0] * eye_distance))
    x1 = min(width, round(crown_x + _HEAD_CUT[0] * eye_distance))
    y0 = max(0, round(crown_y))
    y1 = min(height, round(crown_y + _HEAD_CUT[1] * eye_distance))
    shrunk = _shrunk(rgb[y0:y1, x0:x1], scale)
    if shrunk is None:
        return None
    head, scale_x, scale_y = shrunk
    darkness = _feature_darkness(head)
    half = cv2.resize(
        darkness, (darkness.shape[1] // 2, darkness.shape[0] // 2), interpolation=cv2.INTER_AREA
    )
    axis = (crown_x - x0) * scale_x
    depth = (crown_y - y0) * scale_y
    sizes = np.geomspace(_SIZES[0], _SIZES[1], _SIZES[2]) * _CUT_EYE_DISTANCE
    best = None
    for distance in sizes:
        # Where the eyes' midpoint may be for eyes this far apart, at half resolution (whose
        # pixel centre i is the full resolution's 2 i + 0.5).
        window = (
            axis - _AXIS_SLACK * distance,
            axis + _AXIS_SLACK * distance,
            depth + _EYE_DEPTH[0] * distance,
            depth + _EYE_DEPTH[1] * distance,
        )
        half_window = tuple((edge - 0.5) / 2 for edge in window)
        found = _best_match(half, distance / 2, half_window)
        if found is not None and (best is None or found[0] > best[0]):
            best = (found[0], distance, 2 * found[1] + 0.5, 2 * found[2] + 0.5)
    if best is None:
        return None
    _, distance, x, y = best
    step = sizes[1] / sizes[0]
    fine_sizes = distance * np.geomspace(1 / step, step, _FINE_SIZES)
    near = (x - _FINE_SLACK, x + _FINE_SLACK, y - _FINE_SLACK, y + _FINE_SLACK)
    fine = [_best_match(darkness, size, near) for size in fine_sizes]
    scores = [-np.inf if match is None else match[0] for match in fine]
    index = int(np.argmax(scores))
    if fine[index] is None:
        return None
    score, x, y = fine[index]
    distance = float(fine_sizes[index]) * _parabola_peak(
        scores, index, fine_sizes[1] / fine_sizes[0]
    )
    eyes = min(
        _darkness_at(darkness, x + side * _EYE[0] * distance, y, distance) for side in (-1, 1)
    )
    return Face(x0 + x / scale_x, y0 + y / scale_y, distance / scale_x, score, eyes)


def _shrunk(region: np.ndarray, scale: float) -> tuple[np.ndarray, float, float] | None:
    """`region` (uint8 RGB) resampled by about `scale`, with the exact scales across and down
    (cut pixels per region pixel), or None when that leaves it smaller than a face.

    A phone photo's head shrinks by five or more: bilinearly to twice the cut's size first (four
    pixels read per output pixel), then by area averaging, so that each cut pixel averages
    sixteen samples. A fifth of the time of area averaging it all (0.2 ms against 1.1 ms, the
    fast whole-factor path included); the features are tens of pixels large there.
    """
    rows, columns = region.shape[:2]
    size = (round(columns * scale), round(rows * scale))
    if min(size) < 2 * _CUT_EYE_DISTANCE:
        return None
    if scale < 0.5:
        double = (2 * size[0], 2 * size[1])
        region = cv2.resize(region, double, interpolation=cv2.INTER_LINEAR)
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    head = cv2.resize(region, size, interpolation=interpolation)
    return head, size[0] / columns, size[1] / rows


def _feature_darkness(head: np.ndarray) -> np.ndarray:
    """How much darker than the skin around it each pixel of `head` (uint8 RGB) is, as a share
    of that skin's lightness, plus how much redder (`_RED_AS_DARK`): float32 (H, W), 0 on skin
    and on anything wider than a feature."""
    lab = cv2.cvtColor(head, cv2.COLOR_RGB2LAB).astype(np.float32)
    lightness = lab[..., 0]
    side = max(3, round(_CLOSING * _CUT_EYE_DISTANCE) | 1)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    around = cv2.morphologyEx(lightness, cv2.MORPH_CLOSE, disc)
    darkness = (around - lightness) / np.maximum(around, _DARKEST_SKIN)
    redness = lab[..., 1] - cv2.morphologyEx(lab[..., 1], cv2.MORPH_OPEN, disc)
    return darkness + redness / _RED_AS_DARK


def _darkness_at(darkness: np.ndarray, x: float, y: float, distance: float) -> float:
    """The mean of `darkness` over an eye's blob (one standard deviation about (x, y)) for eyes
    `distance` pixels apart."""
    half_x = max(1, round(_EYE[2] * distance))
    half_y = max(1, round(_EYE[3] * distance))
    column, row = round(x), round(y)
    patch = darkness[
        max(0, row - half_y) : row + half_y + 1, max(0, column - half_x) : column + half_x + 1
    ]
    return float(patch.mean()) if patch.size else 0.0


@lru_cache(maxsize=64)  # the search's sizes are a fixed set (coarse, and fine around each)
def _layout(distance: float) -> tuple[np.ndarray, float, int, int]:
    """The features' layout for eyes `distance` pixels apart: float32 (H, W), read-only; its
    spread (the root of its squared deviations from its mean, summed); the row and column of the
    eyes' midpoint in it."""
    half_width = int(np.ceil(0.9 * distance))
    above = int(np.ceil(0.6 * distance))
    below = int(np.ceil(1.35 * distance))
    xs = np.arange(-half_width, half_width + 1, dtype=np.float32) / distance
    ys = np.arange(-above, below + 1, dtype=np.float32) / distance
    layout = np.zeros((ys.size, xs.size), dtype=np.float32)
    for x, y, spread_x, spread_y, weight in (_EYE, _BROW, _MOUTH):
        across = np.exp(-0.5 * ((xs - x) / spread_x) ** 2)
        if x:  # a pair, mirrored about the midline
            across = across + across[::-1]
        layout += weight * np.outer(np.exp(-0.5 * ((ys - y) / spread_y) ** 2), across)
    layout.flags.writeable = False
    return layout, float(np.linalg.norm(layout - layout.mean())), above, half_width


def _best_match(
    darkness: np.ndarray, distance: float, window: tuple[float, float, float, float]
) -> tuple[float, float, float] | None:
    """The layout for `distance` matched over `darkness` with the eyes' midpoint in `window`
    (left, right, top, bottom, pixels): (score, x, y) of the best place, or None when the
    window holds no place where the whole layout fits.

    The score is the normalised cross-correlation, but for a floor under the darkness's spread
    (`_FLAT_DARKNESS`): without it, a flat patch (a plain shirt, hair of one tone) correlated
    through its faint noise alone as well as a face does.
    """
    layout, layout_spread, above, half_width = _layout(distance)
    rows, columns = darkness.shape
    left = max(0, int(np.ceil(window[0])) - half_width)
    top = max(0, int(np.ceil(window[2])) - above)
    right = min(columns, int(np.floor(window[1])) + half_width + 1)
    bottom = min(rows, int(np.floor(window[3])) + layout.shape[0] - above)
    height, width = layout.shape
    if right - left < width or bottom - top < height:
        return None
    region = np.ascontiguousarray(darkness[top:bottom, left:right])
    # Each place's sum and sum of squares under the layout, from the integral images.
    sums, squares = cv2.integral2(region, sdepth=cv2.CV_64F, sqdepth=cv2.CV_64F)
    total, total_sq = (
        image[height:, width:]
        - image[:-height, width:]
        - image[height:, :-width]
        + image[:-height, :-width]
        for image in (sums, squares)
    )
    count = height * width
    spread = np.sqrt(np.maximum(total_sq - total**2 / count, count * _FLAT_DARKNESS**2))
    scores = cv2.matchTemplate(region, layout, cv2.TM_CCOEFF) / (layout_spread * spread)
    row, column = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[row, column]), float(left + column + half_width), float(top + row + above)


def _parabola_peak(scores: list[float], index: int, step: float) -> float:
    """The factor from size `index` to where a parabola through its neighbours' scores peaks
    (sizes `step` apart by ratio); 1 at either end of the list or next to a size not scored."""
    if not 0 < index < len(scores) - 1:
        return 1.0
    before, at, after = scores[index - 1 : index + 2]
    if not np.isfinite(before + after):
        return 1.0
    curvature = before - 2 * at + after
    if curvature >= 0:
        return 1.0
    return float(step ** (0.5 * (before - after) / curvature))
