"""Studio light of a realistic scene: a soft key light with fill, and how surfaces catch it.

Surfaces are shaded from their normals (nx, ny in camera space: x right, y down, the third
component towards the camera). The key light is wrapped (soft-box light reaches a little past the
terminator) and the fill lifts the shadows; a tint colours the light. Cast shadows are soft copies
of the occluder's coverage shifted away from the light by the occluder's height above what it
shades.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Light:
    direction: tuple[float, float, float]  # unit vector towards the key light
    fill: float  # share of light that reaches every surface
    wrap: float  # 0 hard terminator .. 1 very soft
    tint: tuple[float, float, float]  # colour of the light, channel gains near 1
    shadow: float  # darkness of cast shadows, 0 .. 1
    falloff: float  # how much dimmer the light is 1.5 m below the crown


def sample_light(rng: np.random.Generator) -> Light:
    """A soft studio key from the front, a little above and to one side, with a fill."""
    azimuth = math.radians(rng.uniform(-38, 38))
    elevation = math.radians(rng.uniform(12, 40))
    direction = (
        math.sin(azimuth) * math.cos(elevation),
        -math.sin(elevation),
        math.cos(azimuth) * math.cos(elevation),
    )
    warmth = rng.normal(0.0, 0.025)
    return Light(
        direction=direction,
        fill=rng.uniform(0.3, 0.5),
        wrap=rng.uniform(0.3, 0.7),
        tint=(1.0 + warmth, 1.0, 1.0 - warmth),
        shadow=rng.uniform(0.25, 0.5),
        falloff=rng.uniform(0.0, 0.18),
    )


def _normal_z(nx: np.ndarray, ny: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip(1.0 - nx * nx - ny * ny, 0.0, 1.0))


def diffuse(light: Light, nx: np.ndarray, ny: np.ndarray) -> np.ndarray:
    """Brightness (h, w) float32 of a matte surface, about 1 where it faces the key light."""
    lx, ly, lz = light.direction
    facing = nx * np.float32(lx) + ny * np.float32(ly) + _normal_z(nx, ny) * np.float32(lz)
    wrapped = np.clip((facing + light.wrap) / (1.0 + light.wrap), 0.0, 1.0)
    front = (lz + light.wrap) / (1.0 + light.wrap)  # a surface facing the camera reads as 1
    return (np.float32(light.fill) + np.float32((1.0 - light.fill) / front) * wrapped).astype(
        np.float32
    )


def glint(light: Light, nx: np.ndarray, ny: np.ndarray, power: float) -> np.ndarray:
    """Blinn-Phong highlight in [0, 1] (h, w) float32 for a camera looking along z."""
    lx, ly, lz = light.direction
    half = np.array([lx, ly, lz + 1.0])
    half /= np.linalg.norm(half)
    facing = (
        nx * np.float32(half[0])
        + ny * np.float32(half[1])
        + _normal_z(nx, ny) * np.float32(half[2])
    )
    return (np.clip(facing, 0.0, 1.0) ** np.float32(power)).astype(np.float32)


def rim(nx: np.ndarray, ny: np.ndarray) -> np.ndarray:
    """How far a surface turns away from the camera, 0 facing it .. 1 edge-on (for sheen)."""
    return (1.0 - _normal_z(nx, ny)).astype(np.float32)


def shadow_offset(light: Light, height_cm: float) -> tuple[float, float]:
    """World offset (cm) of the shadow an occluder `height_cm` in front of a surface casts on it."""
    lx, ly, lz = light.direction
    return (-lx / max(lz, 0.3) * height_cm, -ly / max(lz, 0.3) * height_cm)
