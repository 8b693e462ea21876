"""The camera of a realistic scene: lens blur, vignetting, exposure, white balance, tone, sensor noise.

`develop` turns the rendered scene (linear-ish RGB in [0, 255]) into the photo's uint8 pixels; the
JPEG quality is applied when the photo is written. Blur and noise are specified for a 256-pixel-
high frame of the VITON framing and scaled by `reference_scale` (pixels per VITON pixel), so a
1024x768 render downscaled to 256x192 has about the grain and softness of a 256x192 render: the
noise is drawn on the reference grid and upsampled, plus a little per-pixel grain that averages
away.

Person and ground truth are developed with the same camera and the same noise realisation: the
ground truth is the same photo with another garment, so every pixel the garment swap does not
reach stays bit-identical, which makes the "changed" mask exact and teaches a model to leave
those pixels alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from optimization.data.synth_canvas import blur


@dataclass(frozen=True)
class Camera:
    exposure: float
    white_balance: tuple[float, float, float]
    contrast: float
    saturation: float
    vignette: float
    blur: float  # Gaussian sigma in reference pixels
    noise: float  # grain at mid grey, in 8-bit levels, on the reference grid
    chroma: float  # share of the grain that differs between channels
    jpeg_quality: int
    noise_seed: int


def sample_camera(rng: np.random.Generator) -> Camera:
    """Camera settings of a studio catalogue photo, varied."""
    temperature = rng.normal(0.0, 0.03)
    tint = rng.normal(0.0, 0.012)
    return Camera(
        exposure=float(np.exp(rng.normal(0.0, 0.06))),
        white_balance=(1.0 + temperature, 1.0 + tint, 1.0 - temperature),
        contrast=rng.uniform(0.92, 1.12),
        saturation=rng.uniform(0.85, 1.1),
        vignette=rng.uniform(0.0, 0.12),
        blur=rng.uniform(0.2, 0.6),
        noise=rng.uniform(0.8, 3.0),
        chroma=rng.uniform(0.15, 0.5),
        jpeg_quality=int(rng.integers(70, 96)),
        noise_seed=int(rng.integers(2**31)),
    )


def _grain(camera: Camera, shape: tuple[int, int], reference_scale: float) -> np.ndarray:
    """Unit-variance grain (H, W, 3): shared luminance plus some per-channel chroma."""
    rng = np.random.default_rng(camera.noise_seed)
    height, width = shape
    coarse = (max(1, round(height / reference_scale)), max(1, round(width / reference_scale)))
    luma = rng.standard_normal(coarse, dtype=np.float32)
    chroma = rng.standard_normal((*coarse, 3), dtype=np.float32)
    grain = luma[..., None] * np.float32(1 - camera.chroma) + chroma * np.float32(camera.chroma)
    grain /= np.float32(np.hypot(1 - camera.chroma, camera.chroma))
    if coarse != shape:
        grain = cv2.resize(grain, (width, height), interpolation=cv2.INTER_LINEAR)
        # Upsampling smooths the grain; fine per-pixel grain (which averages away when the photo
        # is scaled down) keeps it from looking blotchy.
        fine = rng.standard_normal((height, width, 3), dtype=np.float32)
        grain += fine * np.float32(0.5)
    return grain


def develop(camera: Camera, scene: np.ndarray, reference_scale: float = 1.0) -> np.ndarray:
    """The photo (H, W, 3) uint8 of `scene` (H, W, 3) float32 RGB in [0, 255].

    Args:
        camera: the settings.
        scene: the rendered scene.
        reference_scale: frame pixels per pixel of the 256-high VITON reference (1 at 256x192).
    """
    height, width = scene.shape[:2]
    image = blur(scene, camera.blur * reference_scale)
    ys = (np.arange(height, dtype=np.float32) - (height - 1) / 2) / np.float32(height / 2)
    xs = (np.arange(width, dtype=np.float32) - (width - 1) / 2) / np.float32(width / 2)
    radius2 = xs[None, :] ** 2 * np.float32(0.6) + ys[:, None] ** 2 * np.float32(0.4)
    gain = np.float32(camera.exposure) * (1.0 - np.float32(camera.vignette) * radius2)
    image = image * gain[..., None] * np.asarray(camera.white_balance, np.float32)
    level = np.sqrt(np.clip(image, 0, 255) / np.float32(255))
    image = image + _grain(camera, (height, width), reference_scale) * (
        np.float32(camera.noise) * (0.55 + 0.9 * level)
    )
    t = image / np.float32(255)
    # A gentle filmic curve: contrast about mid grey, highlights rolled off instead of clipped.
    t = 0.5 + (t - 0.5) * np.float32(camera.contrast)
    t = np.where(t > 0.85, 0.85 + 0.15 * np.tanh((t - 0.85) / 0.15), t)
    grey = t @ np.array([0.299, 0.587, 0.114], np.float32)
    t = grey[..., None] + (t - grey[..., None]) * np.float32(camera.saturation)
    return np.clip(t * 255 + 0.5, 0, 255).astype(np.uint8)
