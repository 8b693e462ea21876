"""The window's live mode with a fake camera: the try-on follows the frames, Pause freezes one as a
result to save, a missing camera is one message and the rest of the app goes on working."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tryon_app.core import live
from tryon_app.core.errors import TryOnError
from tryon_app.core.images import load_image
from tryon_app.gui.imaging import qimage_to_rgb

pytestmark = pytest.mark.gui


class FakeCamera:
    """The person photo with fresh noise each frame, a few milliseconds apart, `total` frames."""

    live = True
    fps = None
    name = "fake camera"

    def __init__(self, rgb: np.ndarray, total: int = 10_000):
        self.rgb, self.total = rgb, total
        self.read_count = 0
        self.closed = threading.Event()
        self.rng = np.random.default_rng(0)

    def read(self):
        if self.read_count >= self.total or self.closed.is_set():
            return None
        time.sleep(0.002)
        self.read_count += 1
        noise = self.rng.integers(-2, 3, self.rgb.shape)
        return np.clip(self.rgb.astype(int) + noise, 0, 255).astype(np.uint8)

    def close(self):
        self.closed.set()


@pytest.fixture
def ready_window(make_window, photos, wait_result):
    window = make_window()
    window.open_person(photos.person)
    window.open_garment(photos.garments[1])
    wait_result(window)
    return window


def test_live_mode_shows_try_ons_of_the_newest_frames(ready_window, photos, qtbot, tmp_path):
    window, mode = ready_window, ready_window.live_mode
    camera = FakeCamera(photos.person_rgb)
    assert mode.use_source(camera)
    qtbot.waitUntil(lambda: mode.feed.shown >= 3, timeout=60_000)
    assert "fps" in window.result_panel.info.text() and "latency" in window.result_panel.info.text()
    latest = mode.feed.latest
    # The person card shows the live frames and the box that follows the person, not the photo.
    person_view = window.person_panel.view
    assert not person_view.box_editable
    assert person_view.box() == mode.feed.latest.result.framing.box
    assert "fake camera" in window.person_panel.caption.text()
    assert "follows the person" in window.person_panel.framing_status.text()
    shown = qimage_to_rgb(window.result_panel.compare.after().full)
    assert shown.shape == photos.person_rgb.shape
    stats = mode.feed.stats()
    # The camera outpaces the tiny model's try-ons and its composition: frames are dropped.
    assert stats.processed + stats.dropped <= camera.read_count

    mode.set_paused(True)
    assert mode.paused and not mode.feed.running
    frozen = window.controller.result
    assert frozen.outcome.result is mode.feed.latest.result
    assert frozen.outcome.request.person.path.name.startswith("fake-camera-frame-")
    np.testing.assert_array_equal(
        qimage_to_rgb(window.result_panel.compare.after().full), frozen.outcome.result.image
    )
    saved = []
    window.controller.saved.connect(saved.append)
    assert window.save_result(tmp_path / "frozen.png")
    qtbot.waitUntil(lambda: saved == [tmp_path / "frozen.png"], timeout=30_000)
    np.testing.assert_array_equal(load_image(tmp_path / "frozen.png"), frozen.outcome.result.image)
    assert latest is not None

    mode.set_paused(False)
    shown_before = mode.feed.shown
    qtbot.waitUntil(lambda: mode.feed.shown > shown_before, timeout=60_000)
    mode.use_photo()
    assert not mode.active and camera.closed.is_set()
    # The person card is back on the photo, its box movable by hand again.
    person_view = window.person_panel.view
    assert person_view.box_editable and person_view.box() == window.controller.framing_box()
    assert window.person_panel.caption.text().startswith(photos.person.name)
    assert [t.name for t in threading.enumerate() if t.name.startswith("tryon-live")] == []


def test_a_source_that_ends_leaves_its_last_try_on_as_the_result(ready_window, photos, qtbot):
    mode = ready_window.live_mode
    camera = FakeCamera(photos.person_rgb, total=3)
    assert mode.use_source(camera)
    qtbot.waitUntil(lambda: mode.paused, timeout=60_000)
    assert ready_window.controller.result.outcome.result is mode.feed.latest.result
    assert "ended" in ready_window.result_panel.info.text()


def test_no_camera_is_one_message_and_the_app_goes_on(
    ready_window, photos, qtbot, monkeypatch, wait_result
):
    class NoCamera:
        def __init__(self, *args):
            pass

        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(live.cv2, "VideoCapture", NoCamera)
    window = ready_window
    assert not window.live_mode.use_camera(4)
    assert window.banner.isVisible() and "camera 4: no camera found" in window.banner.text()
    assert not window.live_mode.active
    shown = window.controller.results_shown
    window.open_garment(photos.garments[2])
    wait_result(window, shown + 1)
    assert window.controller.result.outcome.request.garment.path == photos.garments[2]


def test_a_failing_try_on_stops_the_live_mode_with_a_message(
    ready_window, photos, qtbot, monkeypatch
):
    def broken(self, rgb):
        raise TryOnError("the model stopped")

    monkeypatch.setattr(live.LiveTryOn, "process", broken)
    mode = ready_window.live_mode
    assert mode.use_source(FakeCamera(photos.person_rgb))
    qtbot.waitUntil(lambda: not mode.active, timeout=30_000)
    assert "the model stopped" in ready_window.banner.text()


def test_tryon_live_window_shows_the_try_on_and_records_in_real_time(
    tiny_artifact, photos, tmp_path, qtbot
):
    from tryon_app.core.engine import TryOnEngine
    from tryon_app.core.live import LiveTryOn, VideoSink, open_video
    from tryon_app.gui.app import create_application
    from tryon_app.gui.live import run_live_window

    create_application()
    session = LiveTryOn(TryOnEngine(tiny_artifact), framing="letterbox")
    session.set_garment(load_image(photos.garments[0]))
    camera = FakeCamera(photos.person_rgb, total=12)
    height, width = photos.person_rgb.shape[:2]
    with VideoSink(tmp_path / "live.mp4", 30.0, (height, width)) as sink:
        stats = run_live_window(camera, session, sink)  # closes itself when the source ends
    assert stats.processed >= 1
    with open_video(tmp_path / "live.mp4") as recorded:
        assert len(list(recorded)) == 12  # every camera frame, a try-on held over those dropped
    assert [t.name for t in threading.enumerate() if t.name.startswith("tryon-live")] == []


def test_photo_mode_prepares_a_garment_once_for_every_person(
    make_window, photos, wait_result, tmp_path
):
    import cv2

    window = make_window()
    window.open_person(photos.person)
    window.open_garment(photos.garments[3])
    wait_result(window)
    preparations = window.controller.engine.garments.preparations
    other = tmp_path / "other_person.png"
    cv2.imwrite(str(other), cv2.cvtColor(photos.person_rgb[:, ::-1].copy(), cv2.COLOR_RGB2BGR))
    shown = window.controller.results_shown
    window.open_person(other)
    wait_result(window, shown + 1)
    assert window.controller.result.outcome.request.person.path == other
    assert window.controller.engine.garments.preparations == preparations


def test_opening_a_person_photo_ends_the_live_mode(ready_window, photos, qtbot, wait_result):
    mode = ready_window.live_mode
    camera = FakeCamera(photos.person_rgb)
    assert mode.use_source(camera)
    qtbot.waitUntil(lambda: mode.feed.shown >= 1, timeout=60_000)
    shown = ready_window.controller.results_shown
    ready_window.open_person(photos.person)
    wait_result(ready_window, shown + 1)
    assert not mode.active and camera.closed.is_set()
    assert mode.source_combo.currentText() == "Photo"
