"""The window's state and its background work: photos in, requests to the workers, signals back.

Two `LatestWinsWorker` threads do everything slow: "tryon-inference" (device discovery, model
compilation, try-ons: one engine, one thread) and "tryon-io" (reading photos and computing garment
masks). Their events cross to the GUI thread through a queued signal; a result whose request has
since been superseded is dropped there, so what the window shows is always the newest request.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage

from tryon_app.gui.imaging import DISPLAY_MAX_SIDE, display_image, mask_overlay_image, rgb_to_qimage
from tryon_app.gui.session import (
    GarmentPhoto,
    JobEvent,
    LatestWinsWorker,
    ModelInfo,
    ModelRequest,
    PersonPhoto,
    TryOnOutcome,
    TryOnRequest,
    TryOnSession,
    detect_devices,
    format_timings,
    load_garment,
    load_person,
    replace_mask,
)

log = logging.getLogger(__name__)

QUIT_GRACE_S = 2.0
"""How long closing waits for a running job: a try-on ends well within it, a compilation may not."""

# What `busy_changed` says is running.
STARTING = "Starting OpenVINO…"
PREPARING = "Preparing the model…"
"""The first model of a start: it also compiles the correlation kernel when the cache is cold."""
COMPILING = "Compiling the model…"
TRYING_ON = "Trying on…"
READING = "Reading the photo…"


@dataclass(frozen=True)
class PersonView:
    photo: PersonPhoto
    image: QImage


@dataclass(frozen=True)
class GarmentView:
    photo: GarmentPhoto
    image: QImage
    overlay: QImage


@dataclass(frozen=True)
class ResultView:
    """A try-on ready to show: `before` is the person photo, `after` the result in its framing
    (both at most `DISPLAY_MAX_SIDE` pixels long; the full-size result is `outcome.result.image`)."""

    outcome: TryOnOutcome
    before: QImage
    after: QImage
    warped: QImage
    timings: str


def _person_view(photo: PersonPhoto) -> PersonView:
    return PersonView(photo, display_image(photo.rgb))


def _garment_view(photo: GarmentPhoto) -> GarmentView:
    overlay = photo.overlay
    if max(overlay.shape) > DISPLAY_MAX_SIDE:
        import cv2

        image = display_image(photo.rgb)
        overlay = cv2.resize(overlay, (image.width(), image.height()), interpolation=cv2.INTER_AREA)
        return GarmentView(photo, image, mask_overlay_image(overlay))
    return GarmentView(photo, display_image(photo.rgb), mask_overlay_image(overlay))


def _result_view(outcome: TryOnOutcome | None, before: QImage) -> ResultView | None:
    if outcome is None:
        return None
    result = outcome.result
    return ResultView(
        outcome,
        before,
        display_image(result.image),
        rgb_to_qimage(result.warped_cloth),
        format_timings(outcome),
    )


class TryOnController(QObject):
    """Holds the current photos, model choice and result; runs everything slow off the GUI thread.

    Signals carry the views above. `error` carries (topic, message) with topic one of "person",
    "garment", "model", "tryon", "devices", "save"; the message is one line for the user.
    `busy_changed` carries what is running, one of the texts above ("" when idle).
    """

    person_changed = Signal(object)
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
        self._inference.start()
        self._io.start()

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

    def request_try_on(self) -> None:
        """Queue a try-on of the current photos (replacing any that has not started yet)."""
        if self.person is None or self.garment is None:
            return
        request = TryOnRequest(self.person.photo, self.garment.photo)
        before = self.person.image
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
        return self._inference.dropped + self._io.dropped

    def worker_threads_alive(self) -> list[str]:
        return [worker.name for worker in (self._inference, self._io) if worker.is_alive()]

    def shutdown(self, timeout: float = QUIT_GRACE_S) -> bool:
        """Stop both workers: drop what waits and give a running job `timeout` seconds to end.

        A job cannot be interrupted, and a first-start compilation can run for half a minute, so
        quitting does not wait for it: the caller ends the process instead (see `app.main`).

        Returns:
            True when both threads have ended.
        """
        self._closed = True
        deadline = time.monotonic() + timeout
        stopped = [
            worker.stop(max(0.0, deadline - time.monotonic()))
            for worker in (self._io, self._inference)
        ]
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
            if event.serial == self._latest.get(event.slot):
                if event.kind == "done":
                    self._finished(event.slot, event.value)
                else:
                    self._failed(event.slot, event.message)
        self._update_busy()

    def _finished(self, slot: str, value: Any) -> None:
        if slot == "person":
            self.person = value
            self.person_changed.emit(value)
            self.request_try_on()
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
        else:
            busy = ""
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)
