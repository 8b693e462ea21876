"""Live try-on: frames from a camera or a video file, the garment prepared once, the newest frame wins.

A live view is a loop of try-ons of one garment on frames that keep coming. What makes it live:

* `LiveRunner` reads the source on one thread and tries on on another. A frame that arrives while
  a try-on runs replaces the one waiting (`LatestFrame`): frames are dropped, never queued, so
  the picture is at most one try-on behind the camera.
* The engine's `GarmentCache` prepares the garment (its mask and the model's garment branch)
  once, and again only when the garment photo or its mask changes.
* `SteadyFraming` reuses the photo framing (`framing.choose_framing`) on a moving person: it looks
  for the person every few frames and glides the box towards a new place only once the person
  has left a dead band around the old one, so the crop neither jitters nor jumps.
* `FlowSmoother` steadies the garment over frames (`--smooth`): the model's final appearance
  flow is averaged over time where it barely changes (camera noise) and followed where it moves.

`LiveTryOn` puts them together for one frame at a time; the CLI (`tryon video`, `tryon live`),
the GUI and `benchmarks/live.py` drive it. Nothing here imports Qt.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Generic, TypeVar

import cv2
import numpy as np

from tryon_app.core.engine import PreparedGarment, TryOnEngine, TryOnResult
from tryon_app.core.errors import OutputError, VideoError
from tryon_app.core.framing import (
    Box,
    Framing,
    box_3_4,
    choose_framing,
    letterbox_box,
    snapped,
)

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
"""Extensions `VideoSink` writes, and the codec of each (both ship with OpenCV's wheels)."""

Result = TypeVar("Result")


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Frame:
    """One frame of a source: uint8 (H, W, 3) RGB, its index, and when it was captured."""

    index: int
    rgb: np.ndarray
    captured: float  # time.perf_counter()


class FrameSource:
    """A camera or a video file read through OpenCV; `read()` gives RGB frames, None at the end.

    Attributes:
        name: what to call it in a message ("camera 0", the file's path).
        fps: the frames per second it announces (None when it does not say).
        frame_count: frames in a file (None for a camera, or when the file does not say).
        size: (height, width) of the frames.
        live: a camera (frames come at their own pace) rather than a file (read as fast as
            asked, unless paced).
    """

    def __init__(self, capture, name: str, *, live: bool, first: np.ndarray):
        self._capture = capture
        self._first: np.ndarray | None = first
        self.name, self.live = name, live
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if 0 < fps < 1000 else None
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count = int(count) if not live and 0 < count < 1e9 else None
        self.size: tuple[int, int] = first.shape[:2]
        self.frames_read = 0

    def read(self) -> np.ndarray | None:
        """The next frame, uint8 (H, W, 3) RGB, or None when the source has ended."""
        if self._first is not None:
            frame, self._first = self._first, None
        else:
            ok, bgr = self._capture.read()
            if not ok or bgr is None:
                return None
            frame = _to_rgb(bgr)
        self.frames_read += 1
        return frame

    def __iter__(self) -> Iterator[np.ndarray]:
        """The frames left, to the end."""
        while (frame := self.read()) is not None:
            yield frame

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _to_rgb(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    if bgr.shape[2] == 4:
        return cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@contextlib.contextmanager
def _quiet_capture() -> Iterator[None]:
    """Keep OpenCV's and FFmpeg's own lines about a missing camera or a damaged file off stderr.

    The user hears about a source from us, in one line. FFmpeg prints on file descriptor 2
    itself ("moov atom not found"), so while a source opens that descriptor points at a temporary
    file, whose lines go to the debug log.
    """
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    saved = sink = None
    try:
        sys.stderr.flush()
        sink = tempfile.TemporaryFile()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
    except (OSError, AttributeError, ValueError):  # no stderr at all (a windowed app)
        saved = None
    try:
        yield
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
        if sink is not None:
            sink.seek(0)
            said = sink.read().decode("utf-8", "replace").strip()
            sink.close()
            if said:
                log.debug("OpenCV said: %s", " | ".join(said.splitlines()))
        cv2.utils.logging.setLogLevel(previous)


def open_camera(index: int = 0) -> FrameSource:
    """The camera at OpenCV's `index` (0: the first), with a first frame read.

    Raises:
        VideoError: no camera there, or it gives no picture (another app may hold it).
    """
    with _quiet_capture():
        capture = cv2.VideoCapture(index)
        ok, bgr = capture.read() if capture.isOpened() else (False, None)
    if not capture.isOpened():
        raise VideoError(f"camera {index}: no camera found (is one connected and switched on?)")
    if not ok or bgr is None:
        capture.release()
        raise VideoError(f"camera {index}: it gives no picture (another app may be using it)")
    return FrameSource(capture, f"camera {index}", live=True, first=_to_rgb(bgr))


_IMAGE_SIGNATURES = (
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"P6",
    b"P5",
)


def open_video(path: str | os.PathLike[str]) -> FrameSource:
    """A video file, with its first frame decoded (so that a damaged file fails here, cleanly).

    Raises:
        VideoError: missing, empty, a folder, not a video, or no frame can be decoded.
    """
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: no such file", path=path)
    if path.is_dir():
        raise VideoError(f"{path}: is a folder, expected a video file", path=path)
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: the file is empty", path=path)
    with open(path, "rb") as file:
        head = file.read(12)
    # FFmpeg opens a still image as a one-frame "video"; a try-on of one photo is `tryon run`.
    if head.startswith(_IMAGE_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        raise VideoError(f"{path}: is a still image, not a video (see `tryon run`)", path=path)
    with _quiet_capture():
        capture = cv2.VideoCapture(str(path))
        opened = capture.isOpened()
        ok, bgr = capture.read() if opened else (False, None)
    if not opened:
        capture.release()
        raise VideoError(
            f"{path}: not a video OpenCV can read (damaged, or an unknown format)", path=path
        )
    if not ok or bgr is None:
        capture.release()
        raise VideoError(f"{path}: no frame could be decoded (the video is damaged)", path=path)
    return FrameSource(capture, str(path), live=False, first=_to_rgb(bgr))


def open_source(spec: str | int) -> FrameSource:
    """A camera index (an int, or a string of digits) or a video file's path."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return open_camera(int(spec))
    return open_video(spec)


# --------------------------------------------------------------------------- newest frame wins


class LatestFrame(Generic[Result]):
    """A one-frame mailbox: a new frame replaces the one waiting, which counts as dropped."""

    def __init__(self):
        self._condition = threading.Condition()
        self._waiting: Result | None = None
        self._closed = False
        self.dropped = 0

    def put(self, item: Result) -> None:
        with self._condition:
            if self._waiting is not None:
                self.dropped += 1
            self._waiting = item
            self._condition.notify()

    def take(self, timeout: float | None = None) -> Result | None:
        """The waiting frame (removing it), waiting for one; None once closed and empty."""
        with self._condition:
            self._condition.wait_for(lambda: self._waiting is not None or self._closed, timeout)
            item, self._waiting = self._waiting, None
            return item

    def close(self) -> None:
        """No more frames: `take` returns what waits, then None."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


class FrameRate:
    """Results per second and capture-to-result latency over the last `window_s` seconds."""

    def __init__(self, window_s: float = 2.0):
        self.window_s = window_s
        self._done: deque[tuple[float, float]] = deque()  # (finished, latency in s)

    def add(self, captured: float, finished: float) -> None:
        self._done.append((finished, finished - captured))
        while self._done and self._done[0][0] < finished - self.window_s:
            self._done.popleft()

    @property
    def fps(self) -> float:
        if len(self._done) < 2:
            return 0.0
        span = self._done[-1][0] - self._done[0][0]
        return (len(self._done) - 1) / span if span > 0 else 0.0

    @property
    def latency_ms(self) -> float:
        if not self._done:
            return 0.0
        return 1e3 * sum(latency for _, latency in self._done) / len(self._done)


@dataclass(frozen=True)
class LiveStats:
    """Where a live view stands: results per second, capture-to-result latency, frames dropped."""

    fps: float
    latency_ms: float
    processed: int
    dropped: int


class LiveRunner(Generic[Result]):
    """Reads a source on one thread and processes the newest frame on another.

    The reader never waits for the processing: a frame that arrives while one is processed
    replaces the frame waiting (dropped, counted), so the latency stays one frame and memory
    stays flat however slow the processing is. A file is paced at its frame rate (as a camera
    would deliver it) unless `pace=False`.

    Args:
        source: what to read (`FrameSource`, or any object with `read()` and `close()`).
        process: called on the worker thread with each frame taken; returns the result.
        on_result: called on the worker thread with (result, frame, stats).
        on_error: called on the worker thread with an exception `process` raised; the runner
            then stops. Without it the exception is logged and the runner stops.
        pace: sleep between reads to the source's `fps` (files); None: pace files, not cameras.
    """

    def __init__(
        self,
        source,
        process: Callable[[Frame], Result],
        on_result: Callable[[Result, Frame, LiveStats], None],
        *,
        on_error: Callable[[BaseException], None] | None = None,
        pace: bool | None = None,
    ):
        self.source = source
        self._process, self._on_result, self._on_error = process, on_result, on_error
        live = getattr(source, "live", True)
        fps = getattr(source, "fps", None)
        self._interval = 1.0 / fps if (pace if pace is not None else not live) and fps else 0.0
        self._mailbox: LatestFrame[Frame] = LatestFrame()
        self._stop = threading.Event()
        self._rate = FrameRate()
        self.processed = 0
        self.frames_read = 0
        self._threads: list[threading.Thread] = []

    @property
    def dropped(self) -> int:
        return self._mailbox.dropped

    def stats(self) -> LiveStats:
        return LiveStats(self._rate.fps, self._rate.latency_ms, self.processed, self.dropped)

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._read, name="tryon-live-reader", daemon=True),
            threading.Thread(target=self._work, name="tryon-live-worker", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Ask both threads to end (they finish the frame in hand); `join` waits for them."""
        self._stop.set()
        self._mailbox.close()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the threads; True when both have ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(left)
        return not self.running

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def _read(self) -> None:
        next_due = time.perf_counter()
        try:
            while not self._stop.is_set():
                rgb = self.source.read()
                if rgb is None:
                    break
                self._mailbox.put(Frame(self.frames_read, rgb, time.perf_counter()))
                self.frames_read += 1
                if self._interval:
                    next_due += self._interval
                    delay = next_due - time.perf_counter()
                    if delay > 0:
                        self._stop.wait(delay)
                    else:
                        next_due = time.perf_counter()  # behind: do not catch up in a burst
        except Exception as error:  # a camera unplugged mid-stream: end as a source does
            log.warning("%s: reading stopped (%s)", getattr(self.source, "name", "source"), error)
        finally:
            self._mailbox.close()

    def _work(self) -> None:
        while True:
            frame = self._mailbox.take()
            if frame is None or self._stop.is_set():
                return
            try:
                result = self._process(frame)
            except Exception as error:
                self._stop.set()
                self._mailbox.close()
                if self._on_error is None:
                    log.error("live try-on stopped: %s", error)
                else:
                    self._on_error(error)
                return
            self.processed += 1
            self._rate.add(frame.captured, time.perf_counter())
            self._on_result(result, frame, self.stats())


# --------------------------------------------------------------------------- steady output


class FlowSmoother:
    """A `pipeline.FlowFilter` that averages the final appearance flow over frames.

    Where the flow moves by less than `follow_px` canvas pixels from its running average (camera
    noise, breathing), the average keeps `strength` of its past; where it moves more (the person
    moving), it follows the new flow at once, so the garment does not trail the body. Reset it
    when the scene cuts or the garment changes: the past then describes another picture.
    """

    def __init__(self, strength: float = 0.9, follow_px: float = 2.0):
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"strength must be in [0, 1), not {strength}")
        self.strength, self.follow_px = strength, follow_px
        self._average: np.ndarray | None = None

    def reset(self) -> None:
        self._average = None

    def __call__(self, flow: np.ndarray) -> None:
        if self._average is None or self._average.shape != flow.shape:
            self._average = flow.astype(np.float32, copy=True)
            return
        height, width = flow.shape[2:]
        # The flow is a grid over the garment canvas in [-1, 1]: one pixel is 2 / size.
        to_pixels = np.array([width / 2, height / 2], np.float32)[None, :, None, None]
        change = np.abs(flow - self._average) * to_pixels
        moved = np.max(change, axis=1, keepdims=True) / np.float32(self.follow_px)
        keep = np.float32(self.strength) * np.clip(1.0 - moved, 0.0, 1.0)
        self._average += (flow - self._average) * (1.0 - keep)
        np.copyto(flow, self._average)


class RegionSmoother:
    """Steadies the try-on's own pixels over frames, after composition; the photo's stay its own.

    The flow is not all that moves: the generator renders the garment's shading and blend from
    the camera's noisy frame, and the seam mixes in that frame's noise. Where a pixel of the try-on
    changes by less than `follow_levels` from the last frame shown, `strength` of the last one is
    kept, scaled by how much of the pixel is the try-on's (its composition weight); a pixel that
    changes more (the person moving) is shown as it is. Pixels the try-on did not touch are the
    frame's, bit for bit.
    """

    def __init__(self, strength: float = 0.7, follow_levels: float = 12.0):
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"strength must be in [0, 1), not {strength}")
        self.strength, self.follow_levels = strength, follow_levels
        self._shown: np.ndarray | None = None

    def reset(self) -> None:
        self._shown = None

    def __call__(self, image: np.ndarray, composition) -> np.ndarray:
        """`image` (the try-on, uint8 RGB) steadied where `composition` (its `Composition`) says."""
        shown = self._shown
        self._shown = image
        if composition is None or shown is None or shown.shape != image.shape:
            return image
        x0, y0, x1, y1 = composition.region
        if x1 <= x0 or y1 <= y0:
            return image
        new = image[y0:y1, x0:x1].astype(np.float32)
        last = shown[y0:y1, x0:x1].astype(np.float32)
        moved = np.max(np.abs(new - last), axis=2) / np.float32(self.follow_levels)
        weight = composition.changed.astype(np.float32) * np.float32(self.strength / 255.0)
        keep = (weight * np.clip(1.0 - moved, 0.0, 1.0))[..., None]
        steadied = image.copy()
        steadied[y0:y1, x0:x1] = np.rint(new + (last - new) * keep).astype(np.uint8)
        self._shown = steadied
        return steadied


class SteadyFraming:
    """The framing box of a moving person: found every `every` frames, moved with hysteresis.

    The box is found as for a photo (`choose_framing(frame, "auto")`), which costs about half a
    try-on at 640x480, hence a few times a second, not every frame. The found box becomes the
    target only when it leaves a dead band around the current target (`dead_band`, a share of the
    box's height, on its centre, top and height); the box shown glides a share `glide` of the way to
    the target each frame. With no person found the last box stays for `patience` looks, then the
    whole frame is used.
    """

    def __init__(
        self, every: int = 10, dead_band: float = 0.05, glide: float = 0.3, patience: int = 3
    ):
        self.every, self.dead_band, self.glide, self.patience = every, dead_band, glide, patience
        self.reset()

    def reset(self) -> None:
        """Forget the person: the next frame is looked at afresh and its box taken at once."""
        self._target: np.ndarray | None = None  # (centre x, top, height)
        self._shown: np.ndarray | None = None
        self._frames = 0
        self._misses = 0
        self._note: str | None = None
        self._size: tuple[int, int] | None = None

    def __call__(self, rgb: np.ndarray) -> Framing:
        height, width = rgb.shape[:2]
        if self._size != (height, width):
            self.reset()
            self._size = (height, width)
        if self._frames % self.every == 0:
            self._look(rgb)
        self._frames += 1
        assert self._target is not None
        if self._shown is None:
            self._shown = self._target.copy()
        else:
            self._shown += (self._target - self._shown) * self.glide
            close = np.abs(self._target - self._shown) < 0.5
            self._shown[close] = self._target[close]
        centre_x, top, box_h = self._shown
        box = snapped(box_3_4(centre_x, top, box_h))
        return Framing(box, "auto" if self._note is None else "letterbox", self._note)

    def _look(self, rgb: np.ndarray) -> None:
        found = choose_framing(rgb, "auto")
        if found.how != "auto":
            self._misses += 1
            if self._target is not None and self._misses <= self.patience:
                return
            box, self._note = letterbox_box(*rgb.shape[:2]), found.note
            self._target = _box_state(box)
            return
        self._misses, self._note = 0, None
        new = _box_state(found.box)
        if self._target is None or np.any(
            np.abs(new - self._target) > self.dead_band * self._target[2]
        ):
            self._target = new


def _box_state(box: Box) -> np.ndarray:
    return np.array([box.x + box.w / 2, box.y, box.h], np.float64)


class SceneCut:
    """Says when a frame is another picture than the last (a cut, a camera switched, a jump)."""

    def __init__(self, threshold: float = 25.0):
        self.threshold = threshold
        self._last: np.ndarray | None = None

    def __call__(self, rgb: np.ndarray) -> bool:
        small = cv2.resize(
            cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (32, 24), interpolation=cv2.INTER_AREA
        ).astype(np.float32)
        cut = self._last is None or float(np.mean(np.abs(small - self._last))) > self.threshold
        self._last = small
        return cut


# --------------------------------------------------------------------------- one frame


class LiveTryOn:
    """Try-ons of one garment on a stream of frames: prepared once, steadied, smoothed.

    Not thread-safe: one worker calls `process` (see `LiveRunner`); `set_garment` may be called
    between frames from the same thread, or from another one (it takes effect on the next frame).

    Args:
        engine: the loaded model.
        smooth: steady the try-on over frames: its flow (`FlowSmoother`) and its pixels
            (`RegionSmoother`).
        resolution: "full" or "model", as `TryOnEngine.try_on`.
        framing: a `SteadyFraming`, or "letterbox"/"crop"/a `Box` for a fixed one.
        cached: keep the prepared garment (False prepares it again every frame, as a try-on
            with nothing kept would: for comparison).
    """

    def __init__(
        self,
        engine: TryOnEngine,
        *,
        smooth: bool = True,
        resolution: str = "full",
        framing: SteadyFraming | str | Box | None = None,
        cached: bool = True,
    ):
        self.engine = engine
        self.smoother = FlowSmoother() if smooth else None
        self.region_smoother = RegionSmoother() if smooth else None
        self.framing = framing if framing is not None else SteadyFraming()
        self.resolution = resolution
        self.cached = cached
        self._scene_cut = SceneCut()
        self._garment: tuple[np.ndarray, np.ndarray | None] | None = None
        self._garment_set = False  # a garment given since the last frame: look it up
        self._prepared: PreparedGarment | None = None
        self._lock = threading.Lock()

    def set_garment(self, cloth_rgb: np.ndarray, mask: np.ndarray | None = None) -> None:
        """The garment to try on from the next frame (prepared then, unless it is the same)."""
        with self._lock:
            self._garment = (cloth_rgb, mask)
            self._garment_set = True

    def reset(self) -> None:
        """Forget the frames so far (a cut, a new garment, a pause): the next one starts afresh."""
        for past in (self.smoother, self.region_smoother, self.framing):
            if isinstance(past, (FlowSmoother, RegionSmoother, SteadyFraming)):
                past.reset()

    def process(self, rgb: np.ndarray) -> TryOnResult:
        """The try-on of one frame, uint8 (H, W, 3) RGB."""
        with self._lock:
            garment, garment_set, self._garment_set = self._garment, self._garment_set, False
        if garment is None:
            raise ValueError("no garment: call set_garment first")
        changed = False
        if garment_set or self._prepared is None:  # hashing a garment photo costs milliseconds
            self._prepared, changed = self.engine.garments.get(*garment)
        prepared = self._prepared
        if self._scene_cut(rgb) or changed:
            self.reset()
        framing = self.framing(rgb) if isinstance(self.framing, SteadyFraming) else self.framing
        if not self.cached:  # what a try-on of a garment photo costs when nothing is kept
            prepared = self.engine.prepare_garment(*garment)
        result = self.engine.try_on(
            rgb, prepared, framing=framing, resolution=self.resolution, flow_filter=self.smoother
        )
        if self.region_smoother is None:
            return result
        return replace(result, image=self.region_smoother(result.image, result.composition))


# --------------------------------------------------------------------------- writing video


class VideoSink:
    """Writes frames to a video file that appears only when complete.

    Frames go to a hidden temporary file beside `path`; `close()` renames it into place, and
    `discard()` (or leaving a `with` block by an exception) deletes it: an interrupted or failed
    conversion leaves no partial video behind.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float, size: tuple[int, int]):
        self.path = Path(path)
        codec = VIDEO_SUFFIXES.get(self.path.suffix.lower())
        if codec is None:
            known = ", ".join(sorted(VIDEO_SUFFIXES))
            raise OutputError(f"{self.path}: unknown video type (use one of {known})", path=path)
        if self.path.is_dir():
            raise OutputError(f"{self.path}: is a folder, expected a file name", path=path)
        folder = self.path.parent
        if not folder.is_dir():
            raise OutputError(f"{self.path}: cannot write here, the folder {folder} does not exist")
        self._temporary = self.path.with_name(
            f".{self.path.stem}.{os.getpid()}-{threading.get_ident() % 10**6}.tmp{self.path.suffix}"
        )
        height, width = size
        with _quiet_capture():
            self._writer = cv2.VideoWriter(
                str(self._temporary), cv2.VideoWriter_fourcc(*codec), fps or 30.0, (width, height)
            )
        if not self._writer.isOpened():
            self._temporary.unlink(missing_ok=True)
            raise OutputError(f"{self.path}: cannot write a video here", path=path)
        self.size = size
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        """One frame, uint8 RGB of the size given (another size is scaled to it)."""
        height, width = self.size
        if rgb.shape[:2] != (height, width):
            rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and put it in place."""
        self._writer.release()
        try:
            os.replace(self._temporary, self.path)
        except OSError as error:
            self._temporary.unlink(missing_ok=True)
            raise OutputError(f"{self.path}: cannot write here ({error.strerror})") from None
        return self.path

    def discard(self) -> None:
        self._writer.release()
        self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> VideoSink:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.discard()


class Recorder:
    """A `LiveRunner` result handler that records what a live view shows, in real time.

    Each try-on is written once for every source frame since the last one written (the frames
    dropped meanwhile), so the recording plays at the source's rate and shows what a viewer saw.
    """

    def __init__(self, sink: VideoSink | None):
        self.sink = sink
        self._next_index = 0

    def add(self, result: TryOnResult, frame: Frame, stats: LiveStats) -> None:
        if self.sink is None:
            return
        for _ in range(max(1, frame.index + 1 - self._next_index)):
            self.sink.write(result.image)
        self._next_index = frame.index + 1
