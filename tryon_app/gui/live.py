"""Live try-on in Qt: a camera or a video as the person, each try-on shown as it comes.

`LiveFeed` runs the core's `LiveRunner` (reading and trying on off the GUI thread, newest frame
wins) and hands the GUI thread only the newest result, converted for the screen on the worker:
when painting falls behind, results are dropped here too rather than queued in the event loop.
`LiveMode` adds it to the main window (a source row in the person panel; the result pane shows
the live try-on with its rate and latency; Pause freezes a frame as an ordinary result, to save
or copy). `run_live_window` is `tryon live`'s window of its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tryon_app.core.engine import TryOnResult
from tryon_app.core.errors import TryOnError
from tryon_app.core.live import Frame, LiveRunner, LiveStats, LiveTryOn, Recorder
from tryon_app.core.session import PersonPhoto, TryOnOutcome, TryOnRequest
from tryon_app.gui.imaging import Picture, rgb_to_qimage

CAMERAS_OFFERED = 3
VIDEO_FILTER = "Videos (*.mp4 *.m4v *.mov *.avi *.mkv *.webm);;All files (*)"


@dataclass(frozen=True)
class LiveFrame:
    """One live try-on ready to show: the frame and the result as Pictures, and the numbers."""

    frame: Frame
    result: TryOnResult
    before: Picture
    after: Picture
    warped: QImage
    stats: LiveStats

    def caption(self) -> str:
        return f"{self.stats.fps:.1f} fps · latency {self.stats.latency_ms:.0f} ms"


class LiveFeed(QObject):
    """A source tried on live; `frame_ready(LiveFrame)` on the GUI thread, newest only.

    Signals:
        frame_ready(LiveFrame): a new try-on to show.
        failed(str): the try-on stopped with this message.
        ended(): the source ran out (a video's end) or the feed was stopped.
    """

    frame_ready = Signal(object)
    failed = Signal(str)
    ended = Signal()
    _posted = Signal()
    _stopped = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._runner: LiveRunner | None = None
        self._lock = threading.Lock()
        self._newest: LiveFrame | None = None
        self._waiting = False
        self.latest: LiveFrame | None = None
        self.shown = 0
        self._posted.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._stopped.connect(self._finished, Qt.ConnectionType.QueuedConnection)

    @property
    def running(self) -> bool:
        return self._runner is not None and self._runner.running

    def start(self, source, session: LiveTryOn, recorder: Recorder | None = None) -> None:
        """Try `session`'s garment on `source`'s frames until `stop` or the source's end."""
        self.stop()

        def show(result: TryOnResult, frame: Frame, stats: LiveStats) -> None:
            if recorder is not None:
                recorder.add(result, frame, stats)
            ready = LiveFrame(
                frame,
                result,
                Picture.from_rgb(frame.rgb),
                Picture.from_rgb(result.image),
                rgb_to_qimage(result.warped_cloth),
                stats,
            )
            with self._lock:
                self._newest = ready
                post = not self._waiting
                self._waiting = True
            if post:
                self._posted.emit()

        def failed(error: BaseException) -> None:
            message = error.message if isinstance(error, TryOnError) else repr(error)
            self._failure = message

        self._failure: str | None = None
        self._runner = LiveRunner(
            source, lambda frame: session.process(frame.rgb), show, on_error=failed
        )
        self._runner.start()
        self._watcher = threading.Thread(
            target=self._watch, args=(self._runner,), name="tryon-live-watch", daemon=True
        )
        self._watcher.start()

    def _watch(self, runner: LiveRunner) -> None:
        runner.join()
        self._stopped.emit(runner)

    def _finished(self, runner: LiveRunner) -> None:
        """The runner ended by itself (not by `stop`): the source's end, or a failure."""
        if runner is not self._runner:
            return
        self._deliver()
        self._runner = None
        if self._failure is not None:
            message, self._failure = self._failure, None
            self.failed.emit(message)
        else:
            self.ended.emit()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop reading and trying on; True when the threads have ended within `timeout`."""
        runner, self._runner = self._runner, None
        if runner is None:
            return True
        runner.stop()
        ended = runner.join(timeout)
        self._watcher.join(timeout)
        return ended and not self._watcher.is_alive()

    def stats(self) -> LiveStats | None:
        return self._runner.stats() if self._runner is not None else None

    def _deliver(self) -> None:
        with self._lock:
            ready, self._newest = self._newest, None
            self._waiting = False
        if ready is not None and self._runner is not None:
            self.latest = ready
            self.shown += 1
            self.frame_ready.emit(ready)


class LiveMode(QObject):
    """The main window's live mode: the person is a camera or a video, the result follows it.

    Adds a row to the person panel (the source: photo, camera N or video file; Pause) and shows the
    live try-on in the result pane with its rate and latency. Pause freezes the frame in view as
    the window's result, to save or copy like any other; Photo goes back to the photo.
    """

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.feed = LiveFeed(self)
        self.source = None
        self.session: LiveTryOn | None = None
        self.paused = False
        # One combo box and one button: the person panel must stay narrow (the window works
        # from 800x600 and the result is the largest thing in it).
        row = QHBoxLayout()
        row.setSpacing(6)
        self.source_combo = QComboBox()
        self.source_combo.addItems(
            ["Photo", *(f"Camera {index}" for index in range(CAMERAS_OFFERED)), "Video file…"]
        )
        self.source_combo.setToolTip("The person: the photo, a camera (live) or a video file")
        self.source_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.source_combo.setMinimumContentsLength(6)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Freeze the live try-on: a paused frame saves like any result")
        row.addWidget(self.source_combo, 1)
        row.addWidget(self.pause_button)
        window.person_panel.layout_.insertLayout(1, row)
        self.source_combo.activated.connect(self._source_chosen)
        self.pause_button.toggled.connect(self.set_paused)
        self.feed.frame_ready.connect(self._show)
        self.feed.failed.connect(self._failed)
        self.feed.ended.connect(self._ended)
        window.controller.garment_changed.connect(self._garment_changed)
        # Opening a person photo is choosing the photo over the live source.
        window.controller.person_changed.connect(lambda person: self.stop())
        self._sync_buttons()

    @property
    def active(self) -> bool:
        return self.source is not None

    def use_camera(self, index: int = 0) -> bool:
        from tryon_app.core.live import open_camera

        return self._start(lambda: open_camera(index), min(index + 1, CAMERAS_OFFERED))

    def use_video(self, path: str | Path) -> bool:
        from tryon_app.core.live import open_video

        return self._start(lambda: open_video(path), CAMERAS_OFFERED + 1)

    def use_source(self, source) -> bool:
        """Any object with `read()` and `close()` (and optionally `name`, `fps`, `live`)."""
        return self._start(lambda: source, CAMERAS_OFFERED + 1)

    def _source_chosen(self, index: int) -> None:
        if index == 0:
            self.use_photo()
        elif index <= CAMERAS_OFFERED:
            self.use_camera(index - 1)
        else:
            name, _ = QFileDialog.getOpenFileName(self.window, "Open a video", "", VIDEO_FILTER)
            if name:
                self.use_video(name)
        self._sync_buttons()

    def _start(self, open_source, combo_index: int) -> bool:
        controller = self.window.controller
        engine = controller.engine
        if engine is None:
            self.window.show_error("live", "the model is not ready yet: try again in a moment")
            return False
        if controller.garment is None:
            self.window.show_error("live", "pick a garment first")
            return False
        self.stop()
        try:
            source = open_source()
        except TryOnError as error:
            self.window.show_error("live", error.message)
            return False
        self.window._clear_banner("live")
        garment = controller.garment.photo
        self.session = LiveTryOn(engine)
        self.session.set_garment(garment.rgb, garment.mask)
        self.source, self.paused = source, False
        self.pause_button.setChecked(False)
        self.feed.start(source, self.session)
        self.window.result_panel.info.setText(f"Live: {getattr(source, 'name', 'source')}")
        self.source_combo.setCurrentIndex(combo_index)
        self._sync_buttons()
        return True

    def set_paused(self, paused: bool) -> None:
        """Freeze the frame in view (it becomes the window's result) or go on from the source."""
        if not self.active or paused == self.paused:
            self.pause_button.setChecked(self.paused)
            return
        self.paused = paused
        if paused:
            self.feed.stop()
            if self.feed.latest is not None:
                self._freeze(self.feed.latest)
        else:
            self.session.reset()
            self.feed.start(self.source, self.session)
        self._sync_buttons()

    def use_photo(self) -> None:
        """Back to the person photo: stop the live feed, try on the photo again."""
        self.stop()
        self.window.controller.request_try_on()

    def stop(self) -> None:
        """Stop the feed and close the source (idempotent); joins the feed's threads."""
        self.feed.stop()
        was_live = self.source is not None
        if was_live:
            self.source.close()
        self.source = None
        self.paused = False
        self.pause_button.setChecked(False)
        self._sync_buttons()
        if was_live:
            self._show_person_photo()

    def _show_person_photo(self) -> None:
        """The person card back on the photo (or empty) after the live frames."""
        controller = self.window.controller
        panel = self.window.person_panel
        if controller.person is None:
            panel.show_no_person()
        else:
            panel.show_person(
                controller.person, controller.framing_box(), controller.framing_is_automatic()
            )

    def _sync_buttons(self) -> None:
        """Pause only while live; the combo box back on Photo when no source is (a camera that
        failed to open, a cancelled file dialog)."""
        self.pause_button.setEnabled(self.active)
        if not self.active:
            self.source_combo.setCurrentIndex(0)

    def _garment_changed(self, garment) -> None:
        if self.session is not None:
            self.session.set_garment(garment.photo.rgb, garment.photo.mask)

    def _show(self, frame: LiveFrame) -> None:
        panel = self.window.result_panel
        panel.compare.set_images(frame.before, frame.after, frame.warped)
        panel.set_has_result(True)
        panel.info.setText(frame.caption())
        self.window.person_panel.show_live_frame(
            frame.before.display,
            frame.frame.rgb.shape[:2],
            frame.result.framing.box,
            Path(getattr(self.source, "name", "live")).name,  # a video's file name, "camera 0"
        )

    def _freeze(self, frame: LiveFrame) -> None:
        """The frame in view as the window's result: saved and copied like a photo's try-on."""
        from tryon_app.gui.controller import ResultView

        controller = self.window.controller
        name = Path(getattr(self.source, "name", "live")).stem.replace(" ", "-")
        person = PersonPhoto(
            Path(f"{name}-frame-{frame.frame.index:05d}.png"), frame.frame.rgb, frame.result.framing
        )
        request = TryOnRequest(person, controller.garment.photo, frame.result.framing)
        outcome = TryOnOutcome(request, frame.result, frame.stats.latency_ms)
        view = ResultView(outcome, frame.before, frame.after, frame.warped, frame.caption())
        controller.result = view
        self.window.result_panel.show_result(view)
        self.window.result_panel.info.setText(f"Paused: {person.path.stem}")

    def _failed(self, message: str) -> None:
        self.window.show_error("live", message)
        self.stop()

    def _ended(self) -> None:
        if self.active and not self.paused:
            if self.feed.latest is not None:
                self._freeze(self.feed.latest)
            self.paused = True
            self.pause_button.setChecked(True)
            self.window.result_panel.info.setText("Live: the video has ended")


class LiveWindow(QWidget):
    """`tryon live`'s window: the try-on, fitted; the rate and latency in the title bar.

    Esc or Q closes it.
    """

    closed = Signal()

    def __init__(self, feed: LiveFeed, title: str):
        super().__init__()
        self.feed, self.title = feed, title
        self.setWindowTitle(title)
        self.label = QLabel("Starting…")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setMinimumSize(320, 240)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        self.resize(800, 600)
        self._pixmap: QPixmap | None = None
        feed.frame_ready.connect(self._show)

    def _show(self, frame: LiveFrame) -> None:
        self._pixmap = QPixmap.fromImage(frame.after.display)
        self._fit()
        self.setWindowTitle(f"{self.title} · {frame.caption()}")

    def _fit(self) -> None:
        if self._pixmap is not None:
            self.label.setPixmap(
                self._pixmap.scaled(
                    self.label.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def closeEvent(self, event) -> None:
        super().closeEvent(event)
        self.closed.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_Q):
            self.close()
        else:
            super().keyPressEvent(event)


def run_live_window(source, session: LiveTryOn, sink=None, *, seconds: float | None = None):
    """Show the live try-on of `source` in a window until Esc, the source's end or `seconds`.

    Returns:
        The `LiveStats` at the end.
    """
    if QApplication.instance() is None:
        QApplication([])
    feed = LiveFeed()
    window = LiveWindow(feed, f"Try-on · {getattr(source, 'name', 'live')}")
    failures: list[str] = []
    feed.failed.connect(lambda message: (failures.append(message), window.close()))
    feed.ended.connect(window.close)
    recorder = Recorder(sink) if sink is not None else None
    feed.start(source, session, recorder)
    last_stats = [LiveStats(0.0, 0.0, 0, 0)]

    def remember(frame: LiveFrame) -> None:
        last_stats[0] = frame.stats

    feed.frame_ready.connect(remember)
    if seconds is not None:
        QTimer.singleShot(int(seconds * 1000), window.close)
    loop = QEventLoop()
    window.closed.connect(loop.quit)
    window.show()
    loop.exec()
    stats = feed.stats() or last_stats[0]
    feed.stop()
    if failures:
        raise TryOnError(failures[0])
    return stats
