"""Live try-on machinery: newest frame wins, sources fail cleanly, the garment is prepared once,
and the smoothing and framing steady what barely moves while following what does."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from tryon_app.core import live
from tryon_app.core.engine import GarmentCache, TryOnEngine
from tryon_app.core.errors import OutputError, TryOnError, VideoError
from tryon_app.core.framing import Box, Framing
from tryon_app.core.live import (
    FlowSmoother,
    LatestFrame,
    LiveRunner,
    LiveTryOn,
    RegionSmoother,
    SteadyFraming,
    VideoSink,
    open_camera,
    open_source,
    open_video,
)


class CountingSource:
    """Frames numbered 0, 1, 2, ... each filled with its number; `produced` says how many."""

    live = True
    fps = None
    name = "counting"

    def __init__(self, total: int, gate: threading.Event | None = None):
        self.total = total
        self.produced = 0
        self.condition = threading.Condition()
        self.gate = gate  # frame 1 on waits for it

    def read(self):
        if self.produced == 1 and self.gate is not None:
            assert self.gate.wait(10)
        with self.condition:
            if self.produced >= self.total:
                return None
            frame = np.full((4, 4, 3), self.produced % 256, np.uint8)
            self.produced += 1
            self.condition.notify_all()
            return frame

    def wait_for(self, count: int) -> None:
        with self.condition:
            assert self.condition.wait_for(lambda: self.produced >= count, timeout=10)

    def close(self):
        pass


def test_frames_arriving_during_a_try_on_are_dropped_not_queued():
    """The worker holds the first frame until the source has produced ten more: of those only
    the newest is processed next, the nine before it are dropped."""
    taken, release = threading.Event(), threading.Event()
    source = CountingSource(total=11, gate=taken)
    seen = []

    def process(frame):
        if frame.index == 0:
            taken.set()
            source.wait_for(11)  # every other frame arrives while this one is "tried on"
            release.set()
        return frame.index

    runner = LiveRunner(source, process, lambda result, frame, stats: seen.append(result))
    runner.start()
    assert release.wait(10)
    assert runner.join(10)
    assert seen == [0, 10]
    assert runner.dropped == 9
    assert runner.processed == 2
    assert runner.frames_read == 11


def test_latest_frame_keeps_one_frame_and_counts_the_replaced():
    mailbox = LatestFrame()
    for item in range(5):
        mailbox.put(item)
    assert mailbox.take(timeout=0) == 4
    assert mailbox.dropped == 4
    assert mailbox.take(timeout=0) is None
    mailbox.close()
    assert mailbox.take() is None


def test_a_failing_try_on_stops_the_runner_and_reports_once():
    errors = []

    def process(frame):
        raise ValueError("broken model")

    runner = LiveRunner(
        CountingSource(total=1000), process, lambda *a: None, on_error=errors.append
    )
    runner.start()
    assert runner.join(10)
    assert [str(e) for e in errors] == ["broken model"]


class ClosedCapture:
    """What OpenCV gives for a camera index with nothing behind it."""

    def __init__(self, *args):
        pass

    def isOpened(self):
        return False

    def read(self):
        return False, None

    def release(self):
        pass


def test_missing_camera_is_one_clean_message(monkeypatch):
    monkeypatch.setattr(live.cv2, "VideoCapture", ClosedCapture)
    with pytest.raises(VideoError, match=r"^camera 3: no camera found"):
        open_camera(3)


def test_a_camera_index_that_does_not_exist_fails_cleanly():
    with pytest.raises(VideoError, match="camera 97"):
        open_source("97")


def write_video(path, frames: int = 6, size=(48, 64)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size[::-1])
    for i in range(frames):
        writer.write(np.full((*size, 3), 20 * i, np.uint8))
    writer.release()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(20000)), "not a video"),
        (
            lambda p: (
                cv2.imwrite(str(p.with_suffix(".png")), np.zeros((8, 8), np.uint8))
                and p.with_suffix(".png").rename(p)
            ),
            "is a still image",
        ),
    ],
    ids=["missing", "empty", "folder", "random bytes", "a still image"],
)
def test_unreadable_videos_are_one_clean_message(tmp_path, make, message, capfd):
    path = tmp_path / "clip.mp4"
    make(path)
    with pytest.raises(VideoError, match=message) as raised:
        open_video(path)
    assert str(path) in str(raised.value)
    assert "\n" not in str(raised.value)
    assert "moov" not in capfd.readouterr().err  # FFmpeg's own lines stay off the screen


def test_a_truncated_video_is_not_a_video(tmp_path):
    whole = tmp_path / "whole.mp4"
    write_video(whole)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(VideoError, match="cut.mp4"):
        open_video(cut)


def test_a_video_gives_every_frame_in_rgb(tmp_path):
    path = tmp_path / "clip.mp4"
    write_video(path, frames=6)
    with open_video(path) as source:
        frames = list(source)
    assert source.frame_count == 6 and source.fps == pytest.approx(10.0)
    assert len(frames) == 6 and frames[0].shape == (48, 64, 3)
    assert [int(round(f.mean())) for f in frames] == pytest.approx(
        [20 * i for i in range(6)], abs=6
    )


def test_video_sink_leaves_no_partial_file_on_error(tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError), VideoSink(out, 10.0, (48, 64)) as sink:
        sink.write(np.zeros((48, 64, 3), np.uint8))
        raise RuntimeError("the try-on failed")
    assert list(tmp_path.iterdir()) == []
    with VideoSink(out, 10.0, (48, 64)) as sink:
        for _ in range(3):
            sink.write(np.zeros((48, 64, 3), np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
    with open_video(out) as source:
        assert len(list(source)) == 3


def test_video_sink_refuses_unknown_types_and_missing_folders(tmp_path):
    with pytest.raises(OutputError, match="unknown video type"):
        VideoSink(tmp_path / "out.gif", 10.0, (8, 8))
    with pytest.raises(OutputError, match="does not exist"):
        VideoSink(tmp_path / "nowhere" / "out.mp4", 10.0, (8, 8))


def garment(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cloth = np.full((128, 96, 3), 255, np.uint8)
    cloth[20:110, 15:80] = rng.integers(0, 200, (90, 65, 3), dtype=np.uint8)
    mask = np.zeros((128, 96), np.uint8)
    mask[20:110, 15:80] = 255
    return cloth, mask


def test_garment_cache_prepares_again_only_when_the_garment_or_mask_changes(tiny_artifact):
    cache = GarmentCache(TryOnEngine(tiny_artifact))
    cloth, mask = garment()
    first, changed = cache.get(cloth, mask)
    assert changed
    assert cache.get(cloth.copy(), mask.copy()) == (first, False)  # same pixels, other arrays
    other_cloth = cloth.copy()
    other_cloth[50, 50] ^= 1
    second, changed = cache.get(other_cloth, mask)
    assert changed and second is not first
    other_mask = mask.copy()
    other_mask[25:30, 20:30] = 0
    third, changed = cache.get(other_cloth, other_mask)
    assert changed and third is not second
    assert not np.array_equal(third.mask, second.mask)
    _, changed = cache.get(other_cloth, None)  # the computed mask is another mask
    assert changed
    assert cache.preparations == 4


def test_flow_smoother_steadies_noise_and_follows_motion():
    rng = np.random.default_rng(0)
    base = rng.uniform(-0.5, 0.5, (1, 2, 8, 6)).astype(np.float32)
    pixel = 2.0 / 6  # one canvas pixel of this 8x6 grid, along x
    smoother = FlowSmoother()
    raw_steps, smoothed_steps, last = [], [], None
    for _ in range(30):
        flow = base + rng.normal(0, 0.2 * pixel, base.shape).astype(np.float32)
        raw = flow.copy()
        smoother(flow)
        if last is not None:
            raw_steps.append(np.abs(raw - last[0]).mean())
            smoothed_steps.append(np.abs(flow - last[1]).mean())
        last = (raw, flow.copy())
    assert np.mean(smoothed_steps) < 0.5 * np.mean(raw_steps)
    moved = base + 10 * pixel  # the person moved ten pixels: no trailing behind
    flow = moved.copy()
    smoother(flow)
    np.testing.assert_allclose(flow, moved, atol=1e-6)
    smoother.reset()
    flow = base.copy()
    smoother(flow)
    np.testing.assert_array_equal(flow, base)


def test_region_smoother_keeps_untouched_pixels_bit_for_bit():
    class Composition:
        region = (2, 2, 6, 6)
        changed = np.full((4, 4), 255, np.uint8)

    smoother = RegionSmoother()
    rng = np.random.default_rng(1)
    first = rng.integers(100, 110, (8, 8, 3), dtype=np.uint8)
    smoother(first, Composition)
    second = first.copy()
    second += 4
    shown = smoother(second, Composition)
    outside = np.ones((8, 8), bool)
    outside[2:6, 2:6] = False
    np.testing.assert_array_equal(shown[outside], second[outside])
    assert np.all(np.abs(shown[2:6, 2:6].astype(int) - first[2:6, 2:6]) < 4)
    jump = second.copy()
    jump[2:6, 2:6] = 250  # the person moved: shown as it is
    np.testing.assert_array_equal(smoother(jump, Composition), jump)


def test_steady_framing_ignores_jitter_and_glides_to_a_new_place(monkeypatch):
    found = {"box": Box(100, 20, 150, 200)}
    monkeypatch.setattr(live, "choose_framing", lambda rgb, how: Framing(found["box"], "auto"))
    framing = SteadyFraming(every=1)
    frame = np.zeros((480, 640, 3), np.uint8)
    first = framing(frame).box
    for dx in (2, -3, 1, 3):  # a few pixels of noise in where the person is found
        found["box"] = Box(100 + dx, 20 + dx % 2, 150, 200)
        assert framing(frame).box == first
    found["box"] = Box(200, 20, 150, 200)  # a step sideways
    xs = [framing(frame).box.x for _ in range(30)]
    assert xs[0] > first.x and xs[0] < 200  # moves, but does not jump
    assert all(b >= a for a, b in zip(xs, xs[1:], strict=False))
    assert xs[-1] == 200


def test_steady_framing_keeps_the_box_through_a_few_misses(monkeypatch):
    box = Box(100, 20, 150, 200)
    answers = iter(
        [Framing(box, "auto")] + [Framing(Box(0, 0, 360, 480), "letterbox", "nobody")] * 3
    )
    monkeypatch.setattr(live, "choose_framing", lambda rgb, how: next(answers))
    framing = SteadyFraming(every=1, patience=2)
    frame = np.zeros((480, 640, 3), np.uint8)
    assert framing(frame).box == box
    assert framing(frame).box == box
    assert framing(frame).box == box
    third_miss = framing(frame)
    assert third_miss.how == "letterbox" and third_miss.note == "nobody"


def test_live_try_on_prepares_the_garment_once(tiny_artifact):
    engine = TryOnEngine(tiny_artifact)
    session = LiveTryOn(engine, framing="letterbox")
    cloth, mask = garment()
    session.set_garment(cloth, mask)
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(3)]
    results = [session.process(frame) for frame in frames]
    assert engine.garments.preparations == 1
    assert all(r.image.shape == (120, 160, 3) for r in results)
    session.set_garment(*garment(seed=1))
    session.process(frames[0])
    assert engine.garments.preparations == 2
    with pytest.raises(ValueError, match="set_garment"):
        LiveTryOn(engine).process(frames[0])


def test_a_garment_photo_tried_on_another_person_is_not_prepared_again(tiny_artifact):
    engine = TryOnEngine(tiny_artifact)
    cloth, mask = garment()
    rng = np.random.default_rng(3)
    for _ in range(3):  # a new person photo each time, the garment as loaded again
        person = rng.integers(0, 255, (200, 150, 3), dtype=np.uint8)
        engine.try_on(person, cloth.copy(), mask.copy(), framing="letterbox")
    assert engine.garments.preparations == 1
    engine.try_on(person, cloth, None, framing="letterbox")  # its mask computed: another garment
    assert engine.garments.preparations == 2


def test_a_garment_that_fails_to_prepare_is_not_taken_for_the_last_one(tiny_artifact):
    cache = GarmentCache(TryOnEngine(tiny_artifact))
    cloth, mask = garment()
    first, _ = cache.get(cloth, mask)
    wrong_mask = np.zeros((10, 10), np.uint8)
    for _ in range(2):  # the same failing arrays twice: still refused, not the last garment
        with pytest.raises(TryOnError, match="mask is 10x10"):
            cache.get(cloth, wrong_mask)
    assert cache.get(cloth, mask) == (first, False)
