"""Photo-level try-on: any person photo and garment photo in, a picture in the photo's framing out.

Wraps the model-space `TryOnPipeline` with what a user's pictures need: fitting to the model's
3:4 canvas and back, the garment mask (given, or computed), and conversion to and from the
official [-1, 1] tensors.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tryon_app.core.artifact import Artifact, find_artifacts, load_artifact
from tryon_app.core.errors import ArtifactError, InputImageError
from tryon_app.core.images import (
    binarize_mask,
    fit_to_canvas,
    from_model_output,
    restore_framing,
    to_model_input,
)
from tryon_app.core.masks import garment_mask
from tryon_app.core.paths import bundled_models_dir, model_search_dirs
from tryon_app.core.pipeline import RuntimeOptions, TryOnPipeline

DEFAULT_MODEL_NAME = "default"


@dataclass(frozen=True)
class TryOnResult:
    """One try-on.

    Attributes:
        image: uint8 RGB result in the person photo's own size and framing.
        canvas: uint8 RGB 256x192 result as the model produced it.
        person_canvas: the person photo fitted to the model canvas (before/after comparisons).
        warped_cloth: uint8 RGB 256x192 garment after warping.
        garment_mask: uint8 256x192 {0, 255} mask that was used.
        timings_ms: per-stage wall times of the model.
    """

    image: np.ndarray
    canvas: np.ndarray
    person_canvas: np.ndarray
    warped_cloth: np.ndarray
    garment_mask: np.ndarray
    timings_ms: dict[str, float]


def default_model_dir() -> Path:
    """The shipped default artifact, else the first one found in the search folders."""
    shipped = bundled_models_dir() / DEFAULT_MODEL_NAME
    if shipped.is_dir():
        return shipped
    found = find_artifacts(model_search_dirs())
    if not found:
        raise ArtifactError(f"{shipped}: no model installed (run `optimize export` or reinstall)")
    return found[0]


def prepare_garment(
    cloth_rgb: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Garment photo and mask on the model canvas: (uint8 256x192x3, uint8 256x192 {0, 255}).

    A given mask is fitted with the photo and binarised at 128 as the official code does; without
    one the mask is computed from the fitted photo.
    """
    canvas, _ = fit_to_canvas(cloth_rgb, mode="letterbox")
    if mask is None:
        return canvas, garment_mask(canvas)
    if mask.shape[:2] != cloth_rgb.shape[:2]:
        raise InputImageError(
            f"mask is {mask.shape[1]}x{mask.shape[0]} but the garment photo is "
            f"{cloth_rgb.shape[1]}x{cloth_rgb.shape[0]}"
        )
    mask_rgb = np.repeat(mask[..., None], 3, axis=2)
    fitted_mask, _ = fit_to_canvas(mask_rgb, mode="letterbox", pad_value=0)
    return canvas, (binarize_mask(fitted_mask[..., 0]) * 255).astype(np.uint8)


class TryOnEngine:
    """A loaded model ready for photos: `engine.try_on(person_rgb, cloth_rgb) -> TryOnResult`.

    Safe to share between threads: the model runs one try-on at a time (its pipeline holds the
    inputs and intermediate tensors of the try-on in flight, and OpenVINO refuses a second
    inference on a busy request), while the photo preparation and composition around it run
    concurrently. Each call gets its own result. For several try-ons in flight at once, see
    `TryOnPipeline.fork` and `tryon batch`.
    """

    def __init__(self, model_dir: str | Path | None = None, options: RuntimeOptions | None = None):
        self.artifact: Artifact = load_artifact(model_dir or default_model_dir())
        self.pipeline = TryOnPipeline(self.artifact, options)
        self._model_lock = threading.Lock()

    def try_on(
        self,
        person_rgb: np.ndarray,
        cloth_rgb: np.ndarray,
        mask: np.ndarray | None = None,
        *,
        fit: str = "letterbox",
    ) -> TryOnResult:
        person_canvas, framing = fit_to_canvas(person_rgb, mode=fit)
        cloth_canvas, cloth_mask = prepare_garment(cloth_rgb, mask)
        model_inputs = (
            to_model_input(person_canvas),
            to_model_input(cloth_canvas),
            (cloth_mask[None, None] / 255.0).astype(np.float32),
        )
        with self._model_lock:
            # The output holds copies, so no later try-on can change it once the lock is free.
            output = self.pipeline.run(*model_inputs)
        canvas = from_model_output(output.p_tryon)
        return TryOnResult(
            image=restore_framing(canvas, framing),
            canvas=canvas,
            person_canvas=person_canvas,
            warped_cloth=from_model_output(output.warped_cloth),
            garment_mask=cloth_mask,
            timings_ms=output.timings_ms,
        )
