"""Qt-free side of the desktop app: a worker thread where the newest request wins, and its jobs.

Nothing here imports Qt, so the scheduling and the jobs can be reasoned about (and tested) on
their own; `tryon_app/gui/controller.py` bridges the worker's events onto the GUI thread. Heavy
modules (OpenVINO, numba, OpenCV) are imported inside the jobs, which run on worker threads, so
the window can appear before any of them is loaded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tryon_app.core.errors import TryOnError

if TYPE_CHECKING:
    from tryon_app.core.framing import Box, Framing

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".avif"})
MASK_SUFFIX = "_mask"
"""A garment photo `shirt.jpg` may ship with its mask as `shirt_mask.png` beside it."""

PRECISION_CHOICES = ("f32", "bf16", "f16", "auto")
"""What the precision picker offers; `auto` leaves the choice to the device (bf16 where fast)."""


# --------------------------------------------------------------------------- the worker


@dataclass(frozen=True)
class JobEvent:
    """What a worker reports about one job, on the worker's thread.

    Attributes:
        slot: the mailbox slot the job came from ("model", "tryon", ...).
        serial: the number the job was submitted with.
        kind: "started", "done", "failed", or "dropped" (replaced by a newer job before it ran).
        value: the job's return value ("done" only).
        message: one line for the user ("failed" only).
        seconds: wall time of the job ("done" and "failed").
    """

    slot: str
    serial: int
    kind: str
    value: Any = None
    message: str = ""
    seconds: float = 0.0


class LatestWinsWorker:
    """One background thread fed through a mailbox with one place per slot.

    Submitting a job to a slot replaces the job still waiting there (that one is reported as
    "dropped" and never runs), so a burst of requests costs one run, not a queue of them. Slots are
    served in the order given: with ("model", "tryon"), a pending model switch always runs before
    a pending try-on. The job that is running is never interrupted.

    Args:
        name: thread name (shows in debuggers and in the test that no thread outlives the app).
        slots: slot names, highest priority first.
        on_event: called with every `JobEvent`, on the worker's thread (or, for "dropped", on
            the submitting thread). Must not block.
    """

    def __init__(self, name: str, slots: Sequence[str], on_event: Callable[[JobEvent], None]):
        self.name = name
        self._slots = tuple(slots)
        self._on_event = on_event
        self._pending: dict[str, tuple[int, Callable[[], Any]]] = {}
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.dropped = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, slot: str, serial: int, job: Callable[[], Any]) -> None:
        """Queue `job` in `slot`, replacing whatever waits there. Ignored once stopping."""
        if slot not in self._slots:
            raise ValueError(f"unknown slot {slot!r}; this worker has {', '.join(self._slots)}")
        with self._wake:
            if self._stopping:
                return
            replaced = self._pending.get(slot)
            self._pending[slot] = (serial, job)
            self._wake.notify()
        if replaced is not None:
            self.dropped += 1
            self._on_event(JobEvent(slot, replaced[0], "dropped"))

    def has_pending(self, slot: str | None = None) -> bool:
        with self._wake:
            return bool(self._pending) if slot is None else slot in self._pending

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float | None = 30.0) -> bool:
        """Drop what waits, let the running job finish, and join the thread.

        Returns:
            True when the thread has ended (False only if `timeout` ran out first).
        """
        with self._wake:
            self._stopping = True
            self._pending.clear()
            self._wake.notify_all()
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _next_job(self) -> tuple[str, int, Callable[[], Any]] | None:
        with self._wake:
            while not self._pending and not self._stopping:
                self._wake.wait()
            if self._stopping:
                return None
            slot = next(name for name in self._slots if name in self._pending)
            serial, job = self._pending.pop(slot)
            return slot, serial, job

    def _run(self) -> None:
        while (taken := self._next_job()) is not None:
            slot, serial, job = taken
            self._on_event(JobEvent(slot, serial, "started"))
            start = time.perf_counter()
            try:
                value = job()
            except TryOnError as error:
                event = JobEvent(slot, serial, "failed", message=error.message)
            except Exception as error:  # noqa: BLE001 - the app must outlive any failure of a job
                log.exception("%s job %d in %s failed", slot, serial, self.name)
                event = JobEvent(slot, serial, "failed", message=unexpected_error_message(error))
            else:
                event = JobEvent(slot, serial, "done", value=value)
            event = _with_seconds(event, time.perf_counter() - start)
            if self._stopping:
                return
            self._on_event(event)


def _with_seconds(event: JobEvent, seconds: float) -> JobEvent:
    return JobEvent(event.slot, event.serial, event.kind, event.value, event.message, seconds)


def unexpected_error_message(error: BaseException) -> str:
    """One line for an error we did not foresee (the traceback goes to the log, not the user)."""
    lines = str(error).strip().splitlines()
    detail = lines[0] if lines else ""
    if isinstance(error, MemoryError):
        return "out of memory: try a smaller photo or a smaller model"
    return f"unexpected error: {type(error).__name__}" + (f": {detail}" if detail else "")


# --------------------------------------------------------------------------- photos


@dataclass(frozen=True)
class PersonPhoto:
    """A person photo as read from disk, and where the automatic framing puts the model's box.

    Attributes:
        path: the photo's file.
        rgb: uint8 (H, W, 3) RGB photo.
        framing: `choose_framing(rgb, "auto")`: the 3:4 box around the person, or the whole
            photo (letterbox) with a note when no person was found.
    """

    path: Path
    rgb: np.ndarray = field(repr=False)
    framing: Framing


@dataclass(frozen=True)
class GarmentPhoto:
    """A garment photo and the mask the try-on will use.

    Attributes:
        path: the photo's file.
        rgb: uint8 (H, W, 3) RGB photo.
        mask: the user's mask, uint8 (H, W) grey levels at the photo's size, or None when the
            mask is computed.
        mask_path: the file `mask` came from, or None.
        overlay: uint8 (H, W) {0, 255}: the mask the model will see, brought back to the photo's
            framing, for showing over the photo.
    """

    path: Path
    rgb: np.ndarray = field(repr=False)
    mask: np.ndarray | None = field(repr=False)
    mask_path: Path | None
    overlay: np.ndarray = field(repr=False)


def load_person(path: str | Path) -> PersonPhoto:
    """Read a person photo and find its framing (tens of milliseconds at 12 megapixels)."""
    from tryon_app.core.framing import choose_framing
    from tryon_app.core.images import load_image

    path = Path(path)
    rgb = load_image(path, what="person photo")
    return PersonPhoto(path, rgb, choose_framing(rgb, "auto"))


def sibling_mask(path: Path) -> Path | None:
    """`shirt_mask.png` (any image suffix) beside `shirt.jpg`, when there is one."""
    for suffix in (".png", ".jpg", ".jpeg", ".webp", ".bmp"):
        candidate = path.with_name(f"{path.stem}{MASK_SUFFIX}{suffix}")
        if candidate.is_file():
            return candidate
    return None


def load_garment(
    path: str | Path, mask_path: str | Path | None = None, *, find_mask: bool = True
) -> GarmentPhoto:
    """Read a garment photo, its mask file (given, or found beside it) and the mask to show.

    Raises:
        TryOnError: unreadable photo or mask, or a mask whose size differs from the photo's.
    """
    from tryon_app.core.images import load_image

    path = Path(path)
    rgb = load_image(path, what="garment photo")
    if mask_path is None and find_mask:
        mask_path = sibling_mask(path)
    return _garment_with_mask(path, rgb, Path(mask_path) if mask_path is not None else None)


def replace_mask(garment: GarmentPhoto, mask_path: str | Path | None) -> GarmentPhoto:
    """The same garment with the mask from `mask_path`, or with a computed mask when None."""
    return _garment_with_mask(
        garment.path, garment.rgb, Path(mask_path) if mask_path is not None else None
    )


def _garment_with_mask(path: Path, rgb: np.ndarray, mask_path: Path | None) -> GarmentPhoto:
    from tryon_app.core.images import load_mask

    mask = load_mask(mask_path) if mask_path is not None else None
    return GarmentPhoto(path, rgb, mask, mask_path, mask_overlay(rgb, mask, mask_path))


def mask_overlay(
    cloth_rgb: np.ndarray, mask: np.ndarray | None, mask_path: Path | None = None
) -> np.ndarray:
    """The garment mask the model will use, at the photo's size: uint8 (H, W) {0, 255}.

    The model's mask lives on the 256x192 canvas (the photo letterboxed); it is mapped back onto
    the photo so the overlay lines up with what the user sees.
    """
    from tryon_app.core.engine import garment_on_canvas
    from tryon_app.core.errors import InputImageError
    from tryon_app.core.framing import fit_to_canvas, restore_framing

    try:
        _, canvas_mask, _ = garment_on_canvas(cloth_rgb, mask)
    except InputImageError as error:
        # The core names no file (it only has arrays); the user needs to know which one.
        if mask_path is None:
            raise
        raise InputImageError(f"{mask_path}: {error.message}", path=mask_path) from None
    import cv2

    _, framing = fit_to_canvas(cloth_rgb, mode="letterbox")
    restored = restore_framing(np.repeat(canvas_mask[..., None], 3, axis=2), framing)[..., 0]
    # Enlarged, the canvas' pixel steps become jagged edges; soften them by about one canvas
    # pixel before thresholding (this is only what the user sees, not what the model takes). An
    # edge that falls half-way between canvas pixels blurs to ~128 and would threshold into a
    # dotted line at 128, hence the higher cut.
    softened = cv2.GaussianBlur(restored, (0, 0), max(1.0, 1.0 / framing.scale))
    return np.where(softened >= 150, 255, 0).astype(np.uint8)


def image_files(folder: Path) -> list[Path]:
    """Photos directly in `folder`, by name, leaving out `*_mask.*` files."""
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and path.suffix.lower() in IMAGE_SUFFIXES
        and not path.stem.endswith(MASK_SUFFIX)
    )


def sample_images(kind: str) -> list[Path]:
    """The sample photos shipped in `assets/persons` or `assets/garments` (kind "person"/"garment")."""
    from tryon_app.core.paths import bundled_assets_dir

    folder = {"person": "persons", "garment": "garments"}[kind]
    return image_files(bundled_assets_dir() / folder)


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelEntry:
    """An artifact folder as the model picker lists it (read, not yet verified).

    Attributes:
        path: the artifact folder.
        name: its name from metadata.json (the folder name when unreadable).
        precision: weights precision from metadata.json ("fp32", "fp16", "int8"), "" if unknown.
        size_bytes: total size of its model files, 0 if unknown.
        problem: why it cannot be used, "" when it looks fine.
    """

    path: Path
    name: str
    precision: str = ""
    size_bytes: int = 0
    problem: str = ""

    @property
    def label(self) -> str:
        # Copies of one artifact share its name; the folder tells them apart.
        name = self.name if self.name == self.path.name else f"{self.name} ({self.path.name})"
        if self.problem:
            return f"{name}  (unusable)"
        return f"{name}  ·  {self.precision}  ·  {format_size(self.size_bytes)}"


def format_size(size_bytes: int) -> str:
    if size_bytes >= 1e9:
        return f"{size_bytes / 1e9:.1f} GB"
    if size_bytes >= 1e6:
        return f"{size_bytes / 1e6:.1f} MB"
    return f"{max(size_bytes, 0) / 1e3:.0f} kB"


def list_models(
    extra_dirs: Iterable[Path] = (), search_dirs: Iterable[Path] | None = None
) -> list[ModelEntry]:
    """Every artifact in the model search folders, plus `extra_dirs` (artifact folders).

    Only metadata is read here (fast); file hashes are checked when a model is compiled.
    """
    from tryon_app.core.artifact import find_artifacts, load_artifact
    from tryon_app.core.paths import model_search_dirs

    folders: list[Path] = []
    for folder in [
        *extra_dirs,
        *find_artifacts(list(search_dirs) if search_dirs is not None else model_search_dirs()),
    ]:
        folder = Path(folder)
        if all(folder.resolve() != known.resolve() for known in folders):
            folders.append(folder)
    entries = []
    for folder in folders:
        try:
            artifact = load_artifact(folder, verify_hashes=False)
            entries.append(
                ModelEntry(folder, artifact.name, artifact.precision, artifact.size_bytes())
            )
        except TryOnError as error:
            entries.append(ModelEntry(folder, folder.name, problem=error.message))
        except OSError as error:
            entries.append(
                ModelEntry(folder, folder.name, problem=f"{folder}: {error.strerror or error}")
            )
    return entries


def detect_devices() -> list[str]:
    """OpenVINO's device names (CPU, GPU, NPU, ...) as the device picker offers them."""
    from tryon_app.core.pipeline import available_devices

    try:
        return available_devices()
    except RuntimeError as error:
        raise TryOnError(
            f"OpenVINO cannot list its devices ({unexpected_error_message(error)})"
        ) from None


@dataclass(frozen=True)
class ModelRequest:
    """Which model to compile, where, and how: `precision` None is the device's default."""

    model_dir: Path | None
    device: str = "CPU"
    precision: str | None = "f32"


@dataclass(frozen=True)
class ModelInfo:
    """A compiled model, as the window reports it."""

    request: ModelRequest
    name: str
    precision: str
    layout: str
    seconds: float


@dataclass(frozen=True)
class TryOnRequest:
    """One try-on: the photos as they were when it was asked for, and the box the model sees.

    `framing` is anything `TryOnEngine.try_on` takes: the window passes the photo's automatic
    `Framing` (found when it was opened; finding it again costs every try-on tens of
    milliseconds) or the box the user set.
    """

    person: PersonPhoto
    garment: GarmentPhoto
    framing: Framing | Box | str = "auto"


@dataclass(frozen=True)
class TryOnOutcome:
    """A finished try-on: the request, the engine's `TryOnResult`, and the wall time it took."""

    request: TryOnRequest
    result: Any
    wall_ms: float

    @property
    def per_second(self) -> float:
        return 1000.0 / self.wall_ms if self.wall_ms > 0 else 0.0


class TryOnSession:
    """The compiled engine and the two jobs that use it.

    Only the inference worker's thread calls `load` and `try_on`, one at a time, so the engine
    needs no lock.
    """

    def __init__(self) -> None:
        self.engine = None
        self._kernels_warm = False

    def warm_up(self) -> None:
        """Compile the numba correlation kernel (seconds on the first run, cached afterwards)."""
        if not self._kernels_warm:
            import kernels

            kernels.warmup()
            self._kernels_warm = True

    def load(self, request: ModelRequest) -> ModelInfo:
        from tryon_app.core.engine import TryOnEngine
        from tryon_app.core.pipeline import RuntimeOptions

        start = time.perf_counter()
        self.warm_up()
        # Let the old model go first: two compiled models at once can double the memory.
        self.engine = None
        options = RuntimeOptions(device=request.device, precision=request.precision)
        engine = TryOnEngine(request.model_dir, options)
        self.engine = engine
        artifact = engine.artifact
        return ModelInfo(
            request,
            artifact.name,
            artifact.precision,
            engine.pipeline.layout,
            time.perf_counter() - start,
        )

    def try_on(self, request: TryOnRequest) -> TryOnOutcome | None:
        """Run one try-on; None when no model is loaded (its failure was already reported)."""
        engine = self.engine
        if engine is None:
            return None
        start = time.perf_counter()
        result = engine.try_on(
            request.person.rgb, request.garment.rgb, request.garment.mask, framing=request.framing
        )
        return TryOnOutcome(request, result, (time.perf_counter() - start) * 1e3)


@dataclass(frozen=True)
class SaveRequest:
    """A result image to write: uint8 (H, W, 3) RGB, PNG or JPEG by the path's extension."""

    path: Path
    image: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class SaveOutcome:
    """What became of one `SaveRequest`: `message` is "" when written, else one line why not."""

    path: Path
    message: str = ""


class SaveQueue:
    """Results waiting to be written, in the order asked for.

    A 12-megapixel PNG takes seconds to encode, so saving runs on a worker; that worker keeps only
    the newest job per slot, so each job writes whatever is queued here by then and no save asked
    for is ever dropped.
    """

    def __init__(self) -> None:
        self._waiting: deque[SaveRequest] = deque()
        self._lock = threading.Lock()

    def put(self, request: SaveRequest) -> None:
        with self._lock:
            self._waiting.append(request)

    def write_all(self) -> list[SaveOutcome]:
        """Write every waiting image (a job for the worker); one outcome per image."""
        from tryon_app.core.images import save_image

        outcomes = []
        while True:
            with self._lock:
                if not self._waiting:
                    return outcomes
                request = self._waiting.popleft()
            try:
                save_image(request.path, request.image)
            except TryOnError as error:
                outcomes.append(SaveOutcome(request.path, error.message))
            except Exception as error:  # noqa: BLE001 - one failed file must not lose the others
                log.exception("saving %s failed", request.path)
                outcomes.append(SaveOutcome(request.path, unexpected_error_message(error)))
            else:
                outcomes.append(SaveOutcome(request.path))


def format_timings(outcome: TryOnOutcome) -> str:
    """Status-bar line: the whole try-on and try-ons per second, then the per-stage times (the
    status bar shortens it from the end)."""
    stages = "  ·  ".join(
        f"{name} {ms:.1f} ms" for name, ms in outcome.result.timings_ms.items() if name != "total"
    )
    whole = f"try-on {outcome.wall_ms:.0f} ms  ·  {outcome.per_second:.1f} try-ons/s"
    return f"{whole}   |   {stages}" if stages else whole
