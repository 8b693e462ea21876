"""Photo-level try-on: any person photo and garment photo in, a try-on at the photo's size out.

Wraps the model-space `TryOnPipeline` with what a user's pictures need: the framing box the model
sees (`framing`), the garment mask (given, or computed), conversion to and from the official
[-1, 1] tensors, and the composition of the result into the photo at its own resolution
(`compose`).

A garment tried on many persons (frames of a video, a camera, another photo) is prepared once:
`engine.prepare_garment(cloth_rgb, mask)` fits it to the canvas, computes its mask and runs the
garment's branch of the model; `engine.try_on(person_rgb, prepared)` then runs only the rest.
`try_on` given a garment photo goes through `engine.garments`, which keeps the last garment
prepared: another person in the same garment (a new photo in the app) skips its branch too.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tryon_app.core.artifact import Artifact, find_artifacts, load_artifact
from tryon_app.core.compose import Composition, GarmentSource, compose_output, paste_canvas
from tryon_app.core.errors import ArtifactError, InputImageError
from tryon_app.core.framing import (
    Box,
    Framing,
    choose_framing,
    cut_to_canvas,
    edge_colour,
    fit_to_canvas,
)
from tryon_app.core.images import binarize_mask, from_model_output, to_model_input
from tryon_app.core.masks import garment_mask
from tryon_app.core.paths import bundled_models_dir, model_search_dirs
from tryon_app.core.pipeline import ClothesFeatures, FlowFilter, RuntimeOptions, TryOnPipeline

DEFAULT_MODEL_NAME = "default"
RESOLUTIONS = ("full", "model")
"""full: composed into the photo at its own size; model: the 192x256 result scaled into it."""
OLD_ARTIFACT_NOTE = (
    "this model predates full-resolution composition (`optimize upgrade DIR` adds it): "
    "the result is the model's 192x256 output scaled up"
)


@dataclass(frozen=True)
class TryOnResult:
    """One try-on.

    Attributes:
        image: uint8 RGB result at the person photo's own size.
        canvas: uint8 RGB 256x192 result as the model produced it.
        person_canvas: the part of the person photo the model saw, on its canvas.
        warped_cloth: uint8 RGB 256x192 garment after warping.
        garment_mask: uint8 256x192 {0, 255} mask that was used.
        timings_ms: per-stage wall times: the model's stages, then "framing" and "composition".
        framing: the box the model saw and how it was chosen.
        composition: the full-resolution composition (its changed region and the garment
            warped at full resolution, for inspection); None at model resolution.
        notes: one-line remarks for the user (a framing that fell back, an old model).
    """

    image: np.ndarray
    canvas: np.ndarray
    person_canvas: np.ndarray
    warped_cloth: np.ndarray
    garment_mask: np.ndarray
    timings_ms: dict[str, float]
    framing: Framing
    composition: Composition | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class PreparedGarment:
    """A garment ready to be tried on many persons (`TryOnEngine.prepare_garment`).

    Attributes:
        canvas: uint8 (256, 192, 3) the garment photo fitted to the model's canvas.
        mask: uint8 (256, 192) {0, 255} the mask the model sees.
        source: the garment photo at full resolution, for composition.
        features: the model's garment branch, computed once (it belongs to the engine's model).
        timings_ms: {"garment mask": ..., "garment": ...} wall times of the preparation.
    """

    canvas: np.ndarray
    mask: np.ndarray
    source: GarmentSource
    features: ClothesFeatures
    timings_ms: dict[str, float]


class GarmentCache:
    """The last garment an engine prepared, prepared again only when the garment or mask changes.

    The very arrays of the last call are the same garment (the app and a live view pass the same
    arrays again; do not edit one in place between try-ons); other arrays are compared by their
    pixels (a digest): a garment photo loaded again from the same file is the same garment.
    Hashing costs a few milliseconds a megapixel, against about 10 ms for the mask and the
    garment's branch of the model, hence the arrays first.
    """

    def __init__(self, engine: TryOnEngine):
        self.engine = engine
        self._key: bytes | None = None
        self._arrays: tuple[np.ndarray, np.ndarray | None] | None = None
        self._prepared: PreparedGarment | None = None
        self._lock = threading.Lock()
        self.preparations = 0

    def get(
        self, cloth_rgb: np.ndarray, mask: np.ndarray | None = None
    ) -> tuple[PreparedGarment, bool]:
        """The prepared garment, and whether it was prepared now (a new garment or mask)."""
        with self._lock:
            last = self._arrays
            if last is not None and last[0] is cloth_rgb and last[1] is mask:
                return self._prepared, False
            key = _digest(cloth_rgb) + _digest(mask)
            changed = key != self._key or self._prepared is None
            if changed:
                self._prepared = self.engine.prepare_garment(cloth_rgb, mask)
                self._key = key
                self.preparations += 1
            self._arrays = (cloth_rgb, mask)
            return self._prepared, changed


def _digest(array: np.ndarray | None) -> bytes:
    if array is None:
        return b"none"
    contiguous = np.ascontiguousarray(array)
    digest = hashlib.blake2b(f"{contiguous.dtype}{contiguous.shape}".encode(), digest_size=16)
    digest.update(contiguous.data)  # hashed where it lies: no copy of a 12-megapixel photo
    return digest.digest()


def default_model_dir() -> Path:
    """The shipped default artifact, else the first one found in the search folders."""
    shipped = bundled_models_dir() / DEFAULT_MODEL_NAME
    if shipped.is_dir():
        return shipped
    found = find_artifacts(model_search_dirs())
    if not found:
        raise ArtifactError(f"{shipped}: no model installed (run `optimize export` or reinstall)")
    return found[0]


def garment_on_canvas(
    cloth_rgb: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, GarmentSource]:
    """Garment photo and mask on the model canvas (uint8 256x192x3, uint8 256x192 {0, 255}), and
    the garment at full size for composition.

    A given mask is fitted with the photo and binarised at 128 as the official code does; without
    one the mask is computed from the fitted photo.
    """
    canvas, framing = fit_to_canvas(cloth_rgb, mode="letterbox")
    full_mask = None
    if mask is None:
        mask_canvas = garment_mask(canvas)
    else:
        if mask.shape[:2] != cloth_rgb.shape[:2]:
            raise InputImageError(
                f"mask is {mask.shape[1]}x{mask.shape[0]} but the garment photo is "
                f"{cloth_rgb.shape[1]}x{cloth_rgb.shape[0]}"
            )
        mask_rgb = np.repeat(mask[..., None], 3, axis=2)
        fitted_mask, _ = fit_to_canvas(mask_rgb, mode="letterbox", pad_value=0)
        mask_canvas = (binarize_mask(fitted_mask[..., 0]) * 255).astype(np.uint8)
        full_mask = (binarize_mask(mask) * 255).astype(np.uint8)
    return canvas, mask_canvas, GarmentSource(cloth_rgb, mask_canvas, framing.canvas_box, full_mask)


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
        self.garments = GarmentCache(self)

    @classmethod
    def from_pipeline(cls, pipeline: TryOnPipeline) -> TryOnEngine:
        """An engine around a pipeline already compiled (benchmarks time several side by side)."""
        engine = cls.__new__(cls)
        engine.artifact, engine.pipeline = pipeline.artifact, pipeline
        engine._model_lock = threading.Lock()
        engine.garments = GarmentCache(engine)
        return engine

    def prepare_garment(
        self, cloth_rgb: np.ndarray, mask: np.ndarray | None = None
    ) -> PreparedGarment:
        """`cloth_rgb` ready for `try_on`: on the canvas, its mask, and the model's garment branch.

        Args:
            cloth_rgb: uint8 (H, W, 3) garment photo of any size.
            mask: its mask at the photo's size (computed when None).
        """
        start = time.perf_counter()
        cloth_canvas, cloth_mask, source = garment_on_canvas(cloth_rgb, mask)
        mask_ms = (time.perf_counter() - start) * 1e3
        clothes, edge = _garment_inputs(cloth_canvas, cloth_mask)
        with self._model_lock:
            features = self.pipeline.prepare_clothes(clothes, edge)
        timings = {"garment mask": mask_ms, **features.timings_ms}
        return PreparedGarment(cloth_canvas, cloth_mask, source, features, timings)

    def try_on(
        self,
        person_rgb: np.ndarray,
        cloth: np.ndarray | PreparedGarment,
        mask: np.ndarray | None = None,
        *,
        framing: str | Box | Framing = "auto",
        resolution: str = "full",
        flow_filter: FlowFilter | None = None,
    ) -> TryOnResult:
        """Try a garment on `person_rgb`.

        Args:
            person_rgb: uint8 (H, W, 3) photo of any size.
            cloth: the garment: a uint8 (H, W, 3) photo (prepared through `self.garments`, so
                the same photo again is not prepared again), or a `PreparedGarment` of this
                engine.
            mask: the garment's mask at the garment photo's size (computed when None); a
                prepared garment has its own.
            framing: "auto", "letterbox", "crop" or a `Box` (see `framing.choose_framing`), or a
                `Framing` already chosen for this photo (an app that showed it keeps it).
            resolution: "full" (the photo's own size, only the changed region from the model)
                or "model" (the model's result scaled into the framing box).
            flow_filter: called with the model's final flow before its generator runs (see
                `pipeline.FlowFilter`; the split layout only).

        Raises:
            TryOnError: a prepared garment of another engine or model.
        """
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS}, not {resolution!r}")
        if isinstance(cloth, PreparedGarment) and mask is not None:
            raise ValueError("a prepared garment has its mask: prepare it with the mask instead")
        clock = time.perf_counter
        start = clock()
        chosen = framing if isinstance(framing, Framing) else choose_framing(person_rgb, framing)
        person_canvas = cut_to_canvas(person_rgb, chosen.box, _pad_colour(person_rgb, chosen.box))
        framing_ms = (clock() - start) * 1e3
        person_input = to_model_input(person_canvas)
        if isinstance(cloth, PreparedGarment):
            prepared = cloth
        else:
            prepared, _ = self.garments.get(cloth, mask)
        cloth_mask, garment = prepared.mask, prepared.source
        with self._model_lock:
            # The output holds copies, so no later try-on can change it once the lock is free.
            output = self.pipeline.run_prepared(
                person_input, prepared.features, flow_filter=flow_filter
            )
        canvas = from_model_output(output.p_tryon)
        notes = (chosen.note,) if chosen.note else ()
        start = clock()
        composition = None
        if resolution == "model":
            image = paste_canvas(person_rgb, chosen.box, canvas)
        elif output.p_rendered is None or output.m_composite is None:
            image = paste_canvas(person_rgb, chosen.box, canvas)
            notes += (OLD_ARTIFACT_NOTE,)
        else:
            composition = compose_output(person_rgb, chosen.box, person_canvas, output, garment)
            image = composition.image
        timings = {
            **output.timings_ms,
            "framing": framing_ms,
            "composition": (clock() - start) * 1e3,
        }
        return TryOnResult(
            image=image,
            canvas=canvas,
            person_canvas=person_canvas,
            warped_cloth=from_model_output(output.warped_cloth),
            garment_mask=cloth_mask,
            timings_ms=timings,
            framing=chosen,
            composition=composition,
            notes=notes,
        )


def _garment_inputs(canvas: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The garment canvas and its mask as the model's clothes and edge inputs."""
    return to_model_input(canvas), (mask[None, None] / 255.0).astype(np.float32)


def _pad_colour(rgb: np.ndarray, box: Box) -> tuple[int, int, int]:
    """The colour a box reaching outside the photo is padded with: the touched edges' colour."""
    height, width = rgb.shape[:2]
    pad_sides = box.x < 0 or box.right > width
    pad_top_bottom = box.y < 0 or box.bottom > height
    return edge_colour(rgb, pad_sides=pad_sides, pad_top_bottom=pad_top_bottom)
