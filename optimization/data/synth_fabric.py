"""Fabric colour at garment coordinates: yarn-dyed patterns and the weave or knit that shows in them.

`fabric_albedo` paints a `Fabric` over a grid of canonical centimetres. Patterns (stripes,
gingham, tartan, dots, an all-over floral print) are anti-aliased at the grid's texel size; the
weave or knit adds its structure (jersey wales, 1x1 rib, pique cells, heather flecks, fleece
mottle, chunky stockinette and cables, twill diagonals, chambray slubs) as a brightness and colour
modulation that fades out where it is finer than a texel, so a 256x192 render shows its average
and mottle and a 1024x768 render its loops.
"""

from __future__ import annotations

import math

import numpy as np

from optimization.data.synth_apparel import Fabric
from optimization.data.synth_noise import band_limit, fbm, field, lattice


def _rotate(x: np.ndarray, y: np.ndarray, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    angle = math.radians(angle_deg)
    c, s = np.float32(math.cos(angle)), np.float32(math.sin(angle))
    return x * c + y * s, -x * s + y * c


def _bands(position: np.ndarray, period: float, duty: float, texel: float) -> np.ndarray:
    """Coverage in [0, 1] of stripes `duty * period` wide every `period`, anti-aliased."""
    phase = np.mod(position, np.float32(period)) - np.float32(period / 2)
    half = duty * period / 2
    coverage = np.clip((np.float32(half) - np.abs(phase)) / np.float32(texel) + 0.5, 0, 1)
    # Stripes thinner than a texel blend to their average instead of aliasing.
    fade = band_limit(period * min(duty, 1 - duty) * 2, texel)
    return coverage * np.float32(fade) + np.float32(duty * (1 - fade))


def _hash(cx: np.ndarray, cy: np.ndarray, salt: float) -> np.ndarray:
    """A repeatable pseudo-random value in [0, 1) per integer cell."""
    value = np.sin(cx * np.float32(12.9898) + cy * np.float32(78.233) + np.float32(salt))
    return np.mod(value * np.float32(43758.547), 1.0).astype(np.float32)


def _floral(x: np.ndarray, y: np.ndarray, period: float, texel: float) -> tuple[np.ndarray, ...]:
    """Coverage of petals and of flower centres of an all-over print, on a jittered grid."""
    petals = np.zeros(x.shape, np.float32)
    centres = np.zeros(x.shape, np.float32)
    for layer, (shift, scale) in enumerate(((0.0, 1.0), (0.5, 0.65))):
        gx = x / np.float32(period) + np.float32(shift)
        gy = y / np.float32(period) + np.float32(shift * 0.7)
        cx, cy = np.floor(gx), np.floor(gy)
        jitter_x = _hash(cx, cy, 1.0 + layer) * 0.5 + 0.25
        jitter_y = _hash(cx, cy, 2.0 + layer) * 0.5 + 0.25
        dx = (gx - cx - jitter_x) * np.float32(period)
        dy = (gy - cy - jitter_y) * np.float32(period)
        radius = np.hypot(dx, dy)
        turn = _hash(cx, cy, 3.0 + layer) * np.float32(2 * math.pi)
        count = 5 + np.floor(_hash(cx, cy, 4.0 + layer) * 3)
        size = np.float32(period * 0.28 * scale) * (0.7 + 0.6 * _hash(cx, cy, 5.0 + layer))
        shape = size * (0.55 + 0.45 * np.abs(np.cos(count * (np.arctan2(dy, dx) + turn) / 2)))
        petals = np.maximum(petals, np.clip((shape - radius) / np.float32(texel) + 0.5, 0, 1))
        centres = np.maximum(
            centres, np.clip((size * 0.25 - radius) / np.float32(texel) + 0.5, 0, 1)
        )
    return petals, centres


def _pattern(fabric: Fabric, x: np.ndarray, y: np.ndarray, texel: float) -> np.ndarray:
    base = np.asarray(fabric.rgb, np.float32)
    second = np.asarray(fabric.second_rgb, np.float32)
    rgb = np.empty((*x.shape, 3), np.float32)
    rgb[:] = base
    u, v = _rotate(x, y, fabric.angle)
    kind, period, duty = fabric.pattern, fabric.period, fabric.duty
    if kind == "stripes":
        rgb += (second - base) * _bands(v, period, duty, texel)[..., None]
    elif kind == "checks":
        across = _bands(u, period, 0.5, texel)
        down = _bands(v, period, 0.5, texel)
        rgb += (second - base) * (0.5 * across + 0.5 * down)[..., None]
    elif kind == "plaid":
        third = base * 0.5 + np.array([230.0, 225.0, 210.0], np.float32) * 0.5
        for colour, width, offset in (
            (second, 0.35, 0.0),
            (third, 0.06, 0.31),
            (second * 0.7, 0.12, 0.62),
        ):
            across = _bands(u + np.float32(offset * period), period, width, texel)
            down = _bands(v + np.float32(offset * period), period, width, texel)
            rgb += (colour - rgb) * (0.5 * (across + down))[..., None]
    elif kind == "dots":
        cell_u = np.mod(u, np.float32(period)) - np.float32(period / 2)
        row = np.floor(v / np.float32(period))
        cell_u = np.where(np.mod(row, 2) == 0, cell_u, np.mod(u + period / 2, period) - period / 2)
        cell_v = np.mod(v, np.float32(period)) - np.float32(period / 2)
        radius = period * (0.12 + 0.2 * duty)
        dots = np.clip(
            (np.float32(radius) - np.hypot(cell_u, cell_v)) / np.float32(texel) + 0.5, 0, 1
        )
        fade = band_limit(2 * radius, texel)
        dots = dots * np.float32(fade) + np.float32((1 - fade) * math.pi * radius**2 / period**2)
        rgb += (second - base) * dots[..., None]
    elif kind == "floral":
        petals, centres = _floral(x, y, period, texel)
        leaf = np.array([70.0, 110.0, 60.0], np.float32) * 0.5 + second * 0.5
        rgb += (second - rgb) * petals[..., None]
        rgb += (leaf * 0.6 + base * 0.4 - rgb) * (centres * 0.8)[..., None]
    return rgb


def _weave(fabric: Fabric, x: np.ndarray, y: np.ndarray, texel: float, rng: np.random.Generator):
    """Brightness factor (h, w) of the fabric's structure, and a colour mix towards `second_rgb`."""
    noise = lattice(rng)
    weave = fabric.weave
    shade = np.ones(x.shape, np.float32)
    mix = np.zeros(x.shape, np.float32)
    mottle = fbm(noise, x, y, 6.0, 3, texel)
    shade += np.float32(0.012) * mottle
    if weave in ("jersey", "rib", "pique", "heather", "fleece"):
        wale = {"rib": 0.32, "pique": 0.18}.get(weave, 0.14)
        depth = {"rib": 0.16, "pique": 0.08}.get(weave, 0.05)
        shade += np.float32(depth * band_limit(wale, texel)) * np.cos(
            x * np.float32(2 * math.pi / wale)
        ).astype(np.float32)
        if weave == "pique":
            shade += (
                np.float32(0.06 * band_limit(0.18, texel))
                * np.cos(y * np.float32(2 * math.pi / 0.18))
                * np.cos(x * np.float32(2 * math.pi / 0.18))
            )
    if weave == "heather":
        flecks = field(noise, x, y, (0.5, 0.12), (3.3, 9.1))
        keep = band_limit(0.12, texel)
        mix = np.clip(
            0.5 + 0.5 * flecks * np.float32(keep) + 0.1 * fbm(noise, x, y, 2.0, 2, texel), 0, 1
        )
        mix *= np.float32(0.6)
    elif weave == "fleece":
        shade += np.float32(0.02) * fbm(noise, x, y, 0.8, 3, texel)
    elif weave in ("knit", "cable"):
        wale, course = 0.7, 0.55
        keep = band_limit(course, texel)
        column = np.abs(np.mod(x / np.float32(wale), 1.0) - 0.5)
        loops = np.cos((y / np.float32(course) + column * 1.2) * np.float32(2 * math.pi))
        shade += np.float32(0.12 * keep) * loops - np.float32(0.08 * keep) * (column * 2) ** 4
        if weave == "cable":
            cable_width, pitch = 5.0, 6.0
            local = np.mod(x, np.float32(cable_width * 1.6)) - np.float32(cable_width * 0.8)
            inside = np.clip((cable_width / 2 - np.abs(local)) * 3.0, 0, 1)
            twist = np.sin(
                (y / np.float32(pitch) + np.sign(local) * 0.25) * np.float32(2 * math.pi)
            )
            ridge = np.cos(local / np.float32(cable_width) * np.float32(math.pi))
            shade += inside * (np.float32(0.14) * twist * ridge - np.float32(0.06))
            shade -= np.float32(0.1) * np.clip(
                1 - np.abs(np.abs(local) - cable_width / 2) * 4, 0, 1
            )
        shade += np.float32(0.04) * fbm(noise, x, y, 2.0, 2, texel)
    elif weave in ("twill", "chambray", "oxford"):
        pitch = 0.22 if weave == "twill" else 0.12
        keep = band_limit(pitch, texel)
        diagonal = np.cos((x + y) * np.float32(2 * math.pi / pitch))
        shade += np.float32(0.07 * keep) * diagonal
        slubs = field(noise, x, y, (0.3, 4.0), (8.2, 1.3))
        mix = np.clip(0.16 + 0.03 * slubs + 0.2 * np.float32(keep) * diagonal, 0, 0.6)
        shade += np.float32(0.02) * field(noise, x, y, (0.5, 7.0), (2.1, 4.4))
    elif weave in ("poplin", "satin", "chiffon"):
        shade += np.float32(0.01) * fbm(noise, x, y, 1.0, 2, texel)
    return shade, mix


def fabric_albedo(
    fabric: Fabric, x: np.ndarray, y: np.ndarray, texel_cm: float, rng: np.random.Generator
) -> np.ndarray:
    """Colour (h, w, 3) float32 in [0, 255] of `fabric` at canonical points (x, y) cm.

    Args:
        fabric: the fabric.
        x, y: (h, w) float32 canonical coordinates of the texels.
        texel_cm: the size of one texel, for anti-aliasing and band-limiting.
        rng: draws the fabric's random structure (the same generator state gives the same cloth).
    """
    rgb = _pattern(fabric, x, y, texel_cm)
    shade, mix = _weave(fabric, x, y, texel_cm, rng)
    if fabric.weave in ("twill", "chambray", "oxford"):
        white = np.array([236.0, 236.0, 232.0], np.float32)
        rgb += (white - rgb) * mix[..., None]
    elif fabric.weave == "heather":
        rgb += (np.asarray(fabric.second_rgb, np.float32) - rgb) * mix[..., None]
    return np.clip(rgb * shade[..., None], 0, 255)
