"""The window's state and its background work: photos in, requests to the workers, signals back.

Three `LatestWinsWorker` threads do everything slow: "tryon-inference" (device discovery, model
compilation, try-ons: one engine, one thread), "tryon-io" (reading photos, finding the person's
framing, computing garment masks) and "tryon-save" (writing results: a 12-megapixel PNG takes
seconds). Their events cross to the GUI thread through a queued signal; a result whose request has
since been superseded is dropped there, so what the window shows is always the newest request.
Everything a view needs (QImages at full resolution and smaller copies) is made on the workers.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage

from tryon_app.core.session import (
    GarmentPhoto,
    JobEvent,
    LatestWinsWorker,
    ModelInfo,
    ModelRequest,
    PersonPhoto,
    SaveQueue,
    SaveRequest,
    TryOnOutcome,
    TryOnRequest,
    TryOnSession,
    detect_devices,
    format_timings,
    load_garment,
    load_person,
    replace_mask,
)
from tryon_app.gui.imaging import (
    DISPLAY_MAX_SIDE,
    Picture,
    display_image,
    mask_overlay_image,
    rgb_to_qimage,
)

if TYPE_CHECKING:
    from tryon_app.core.framing import Box

log = logging.getLogger(__name__)

QUIT_GRACE_S = 2.0
"""How long closing waits for a running job: a try-on ends well within it, a compilation may not."""
SAVE_GRACE_S = 30.0
"""How long closing waits for results still being written: a file asked for is not given up."""

# What `busy_changed` says is running.
STARTING = "Starting OpenVINO…"
PREPARING = "Preparing the model…"
"""The first model of a start: it also compiles the correlation kernel when the cache is cold."""
COMPILING = "Compiling the model…"
TRYING_ON = "Trying on…"
READING = "Reading the photo…"
SAVING = "Saving the try-on…"


@dataclass(frozen=True)
class PersonView:
    """A person photo ready to show: `picture.display` in the person panel, `picture.full` as
    the "before" of the comparison."""

    photo: PersonPhoto
    picture: Picture

    @property
    def image(self) -> QImage:
        return self.picture.display


@dataclass(frozen=True)
class GarmentView:
    photo: GarmentPhoto
    image: QImage
    overlay: QImage


@dataclass(frozen=True)
class ResultView:
    """A try-on ready to show: `before` is the person photo, `after` the result, both at the
    photo's full resolution (with copies for fitted views); `warped` the model's warped garment."""

    outcome: TryOnOutcome
    before: Picture
    after: Picture
    warped: QImage
    timings: str


def _person_view(photo: PersonPhoto) -> PersonView:
    return PersonView(photo, Picture.from_rgb(photo.rgb))


def _garment_view(photo: GarmentPhoto) -> GarmentView:
    overlay = photo.overlay
    if max(overlay.shape) > DISPLAY_MAX_SIDE:
        import cv2

        image = display_image(photo.rgb)
        overlay = cv2.resize(overlay, (image.width(), image.height()), interpolation=cv2.INTER_AREA)
        return GarmentView(photo, image, mask_overlay_image(overlay))
    return GarmentView(photo, display_image(photo.rgb), mask_overlay_image(overlay))


def _result_view(outcome: TryOnOutcome | None, before: Picture) -> ResultView | None:
    if outcome is None:
        return None
    result = outcome.result
    return ResultView(
        outcome,
        before,
        Picture.from_rgb(result.image),
        rgb_to_qimage(result.warped_cloth),
        format_timings(outcome),
    )


class TryOnController(QObject):
    """Holds the current photos, model choice and result; runs everything slow off the GUI thread.

    Signals carry the views above. `error` carries (topic, message) with topic one of "person",
    "garment", "model", "tryon", "devices", "save"; the message is one line for the user.
    `busy_changed` carries what is running, one of the texts above ("" when idle).
    `framing_changed` carries the box the try-ons use now (after the user moved it, or went back
    to the automatic one); `saved` the path of each result written.
    """

    person_changed = Signal(object)
    framing_changed = Signal(object)
    saved = Signal(Path)
    garment_changed = Signal(object)
    result_ready = Signal(object)
    model_ready = Signal(object)
    devices_ready = Signal(list)
    error = Signal(str, str)
    busy_changed = Signal(str)
    _worker_event = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.person: PersonView | None = None
        self.garment: GarmentView | None = None
        self.result: ResultView | None = None
        self.model: ModelInfo | None = None
        self.model_request: ModelRequest | None = None
        self._framing: Box | None = None  # the user's box; None: the photo's automatic one
        self._saves = SaveQueue()
        self.results_shown = 0
        self._serials = itertools.count(1)
        self._latest: dict[str, int] = {}
        self._running: set[str] = set()
        self._outstanding = 0
        self._busy = ""
        self._closed = False
        self._model_failed = False
        self._models_ready = 0
        self._session = TryOnSession()
        self._worker_event.connect(self._on_worker_event, Qt.ConnectionType.QueuedConnection)
        self._inference = LatestWinsWorker(
            "tryon-inference", ("devices", "model", "tryon"), self._worker_event.emit
        )
        self._io = LatestWinsWorker("tryon-io", ("person", "garment"), self._worker_event.emit)
        self._saver = LatestWinsWorker("tryon-save", ("save",), self._worker_event.emit)
        self._inference.start()
        self._io.start()
        self._saver.start()

    # ------------------------------------------------------------------ requests

    def open_person(self, path: str | Path) -> None:
        self._submit(self._io, "person", lambda: _person_view(load_person(path)))

    def open_garment(self, path: str | Path, mask_path: str | Path | None = None) -> None:
        self._submit(self._io, "garment", lambda: _garment_view(load_garment(path, mask_path)))

    def open_mask(self, mask_path: str | Path | None) -> None:
        """Use the mask in `mask_path` for the current garment; None goes back to a computed one."""
        if self.garment is None:
            self.error.emit("garment", "open a garment photo before its mask")
            return
        garment = self.garment.photo
        self._submit(self._io, "garment", lambda: _garment_view(replace_mask(garment, mask_path)))

    def detect_devices(self) -> None:
        self._submit(self._inference, "devices", detect_devices)

    def load_model(self, request: ModelRequest) -> None:
        """Compile a model in the background; the current photos are tried on again with it."""
        self.model_request = request
        session = self._session
        self._submit(self._inference, "model", lambda: session.load(request))
        self._update_busy()
        self.request_try_on()

    @property
    def engine(self):
        """The loaded model's `TryOnEngine` (None until one is ready), for the live mode: the
        engine is thread-safe, and a live view runs its try-ons on a worker of its own."""
        return self._session.engine

    def framing_box(self) -> Box | None:
        """The box the model sees in the person photo: the user's, else the automatic one."""
        if self.person is None:
            return None
        return self._framing if self._framing is not None else self.person.photo.framing.box

    def framing_is_automatic(self) -> bool:
        return self._framing is None

    def set_framing(self, box: Box | None) -> None:
        """Frame the try-on with `box` (person photo pixels; None: the automatic framing) and try
        on again. The box is trimmed as the engine would trim it (`framing.snapped`), so the box
        shown is exactly the one the result reports."""
        from tryon_app.core.framing import snapped

        if self.person is None:
            return
        box = snapped(box) if box is not None else None
        if box == self._framing:
            return
        self._framing = box
        self.framing_changed.emit(self.framing_box())
        self.request_try_on()

    def reset_framing(self) -> None:
        self.set_framing(None)

    def save_result(self, path: str | Path) -> bool:
        """Write the current result at full resolution in the background; `saved` or `error`
        ("save") tells how it went. False when there is no result to save."""
        if self.result is None:
            return False
        self._saves.put(SaveRequest(Path(path), self.result.outcome.result.image))
        self._submit(self._saver, "save", self._saves.write_all)
        self._update_busy()
        return True

    def request_try_on(self) -> None:
        """Queue a try-on of the current photos (replacing any that has not started yet)."""
        if self.person is None or self.garment is None:
            return
        # The automatic framing found when the photo was opened goes as it is (with how it was
        # chosen and its note); a box the user set goes as a box.
        framing = self._framing if self._framing is not None else self.person.photo.framing
        request = TryOnRequest(self.person.photo, self.garment.photo, framing)
        before = self.person.picture
        session = self._session
        self._submit(
            self._inference, "tryon", lambda: _result_view(session.try_on(request), before)
        )

    def model_failed(self) -> bool:
        """True when the last model asked for could not be loaded (nothing can be tried on)."""
        return self._model_failed

    def is_busy(self) -> bool:
        return bool(self._busy)

    def activity(self) -> str:
        """What is running, as `busy_changed` last said ("" when idle)."""
        return self._busy

    def is_idle(self) -> bool:
        """True when every job submitted so far has been run (or dropped) and its event handled."""
        return self._outstanding == 0

    @property
    def dropped_requests(self) -> int:
        return self._inference.dropped + self._io.dropped + self._saver.dropped

    def worker_threads_alive(self) -> list[str]:
        return [
            worker.name for worker in (self._inference, self._io, self._saver) if worker.is_alive()
        ]

    def shutdown(self, timeout: float = QUIT_GRACE_S) -> bool:
        """Stop the workers: drop what waits and give a running job `timeout` seconds to end
        (results being saved get `SAVE_GRACE_S`).

        A job cannot be interrupted, and a first-start compilation can run for half a minute, so
        quitting does not wait for it: the caller ends the process instead (see `app.main`).

        Returns:
            True when every worker thread has ended.
        """
        self._closed = True
        deadline = time.monotonic() + timeout
        stopped = [
            worker.stop(max(0.0, deadline - time.monotonic()))
            for worker in (self._io, self._inference)
        ]
        # Files the user asked for are written before the app goes: the save job running goes
        # on until none waits, and a job dropped before it started leaves its files to us.
        stopped.append(self._saver.stop(max(timeout, SAVE_GRACE_S)))
        for outcome in self._saves.write_all():
            if outcome.message:
                log.warning("closing: %s", outcome.message)
        if not all(stopped):
            log.info("closing while %s still runs: not waiting for it", self._busy or "a job")
        return all(stopped)

    # ------------------------------------------------------------------ events

    def _submit(self, worker: LatestWinsWorker, slot: str, job: Callable[[], Any]) -> None:
        if self._closed:
            return
        serial = next(self._serials)
        self._latest[slot] = serial
        self._outstanding += 1
        worker.submit(slot, serial, job)

    def _on_worker_event(self, event: JobEvent) -> None:
        if self._closed:
            return
        if event.kind == "started":
            self._running.add(event.slot)
        elif event.kind == "dropped":
            self._outstanding -= 1
        elif event.kind in ("done", "failed"):
            self._outstanding -= 1
            self._running.discard(event.slot)
            # Every save job reports the files it wrote, not only the newest job.
            if event.serial == self._latest.get(event.slot) or event.slot == "save":
                if event.kind == "done":
                    self._finished(event.slot, event.value)
                else:
                    self._failed(event.slot, event.message)
        self._update_busy()

    def _finished(self, slot: str, value: Any) -> None:
        if slot == "person":
            self.person = value
            self._framing = None
            self.person_changed.emit(value)
            self.request_try_on()
        elif slot == "save":
            for outcome in value:
                if outcome.message:
                    self.error.emit("save", outcome.message)
                else:
                    self.saved.emit(outcome.path)
        elif slot == "garment":
            self.garment = value
            self.garment_changed.emit(value)
            self.request_try_on()
        elif slot == "model":
            self.model = value
            self._model_failed = False
            self._models_ready += 1
            self.model_ready.emit(value)
        elif slot == "devices":
            self.devices_ready.emit(list(value))
        elif slot == "tryon" and value is not None:
            self.result = value
            self.results_shown += 1
            self.result_ready.emit(value)

    def _failed(self, slot: str, message: str) -> None:
        if slot == "model":
            self.model = None
            self._model_failed = True
        self.error.emit(slot, message)

    def _update_busy(self) -> None:
        if "model" in self._running or self._inference.has_pending("model"):
            busy = COMPILING if self._models_ready else PREPARING
        elif "devices" in self._running:
            busy = STARTING
        elif "tryon" in self._running:
            busy = TRYING_ON
        elif self._running & {"person", "garment"}:
            busy = READING
        elif "save" in self._running or self._saver.has_pending():
            busy = SAVING
        else:
            busy = ""
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)
