"""The Qt-free worker and jobs behind the window: newest request wins, failures become messages."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tryon_app.core.errors import TryOnError
from tryon_app.core.session import (
    LatestWinsWorker,
    ModelEntry,
    SaveQueue,
    SaveRequest,
    format_size,
    image_files,
    list_models,
    load_garment,
    load_person,
    replace_mask,
    sibling_mask,
    unexpected_error_message,
)

pytestmark = pytest.mark.gui


class Recorder:
    """Collects worker events; `wait_for` blocks until a predicate over them holds."""

    def __init__(self):
        self.events = []
        self._changed = threading.Condition()

    def __call__(self, event):
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: predicate(self.events), timeout), self.events

    def of(self, kind: str):
        return [event for event in self.events if event.kind == kind]


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def worker(recorder):
    workers = []

    def make(slots=("model", "tryon")) -> LatestWinsWorker:
        created = LatestWinsWorker("tryon-test", slots, recorder)
        created.start()
        workers.append(created)
        return created

    yield make
    for created in workers:
        assert created.stop(timeout=10)
        assert not created.is_alive()


def test_newest_request_wins_and_stale_ones_never_run(worker, recorder):
    gate = threading.Event()
    ran = []
    busy = worker()
    busy.submit("tryon", 0, lambda: gate.wait(10))
    recorder.wait_for(lambda events: any(e.kind == "started" for e in events))
    for serial in range(1, 21):
        busy.submit("tryon", serial, lambda serial=serial: ran.append(serial) or serial)
    gate.set()
    recorder.wait_for(lambda events: any(e.kind == "done" and e.serial == 20 for e in events))
    assert ran == [20]
    assert [e.serial for e in recorder.of("dropped")] == list(range(1, 20))
    assert busy.dropped == 19


def test_slots_run_in_priority_order(worker, recorder):
    gate = threading.Event()
    order = []
    busy = worker(("devices", "model", "tryon"))
    busy.submit("tryon", 0, lambda: gate.wait(10))
    recorder.wait_for(lambda events: len(events) >= 1)
    busy.submit("tryon", 1, lambda: order.append("tryon"))
    busy.submit("model", 2, lambda: order.append("model"))
    busy.submit("devices", 3, lambda: order.append("devices"))
    gate.set()
    recorder.wait_for(lambda events: len([e for e in events if e.kind == "done"]) == 4)
    assert order == ["devices", "model", "tryon"]


def test_failures_are_one_line_messages_and_the_worker_goes_on(worker, recorder):
    busy = worker()

    def user_error():
        raise TryOnError("shirt.jpg: not an image\n(cannot identify)")

    def bug():
        raise KeyError("boom")

    busy.submit("model", 1, user_error)
    recorder.wait_for(lambda events: any(e.kind == "failed" for e in events))
    busy.submit("tryon", 2, bug)
    recorder.wait_for(lambda events: len(recorder.of("failed")) == 2)
    busy.submit("tryon", 3, lambda: "fine")
    recorder.wait_for(lambda events: any(e.kind == "done" for e in events))
    first, second = recorder.of("failed")
    assert first.message == "shirt.jpg: not an image (cannot identify)"
    assert second.message == "unexpected error: KeyError: 'boom'"
    assert recorder.of("done")[0].value == "fine"


def test_stop_joins_the_thread_and_ignores_later_requests(recorder):
    busy = LatestWinsWorker("tryon-stop", ("tryon",), recorder)
    busy.start()
    busy.submit("tryon", 1, lambda: time.sleep(0.05))
    assert busy.stop(timeout=10)
    assert not busy.is_alive()
    busy.submit("tryon", 2, lambda: pytest.fail("ran after stop"))
    assert not busy.has_pending()


def test_unknown_slot_is_refused(worker):
    with pytest.raises(ValueError, match="unknown slot"):
        worker().submit("nope", 1, lambda: None)


def test_memory_error_message():
    assert "out of memory" in unexpected_error_message(MemoryError())


def test_photos_and_masks(photos):
    person = load_person(photos.person)
    assert person.rgb.shape == (*photos.person_rgb.shape[:2], 3)
    with_shipped_mask = load_garment(photos.garments[0])
    assert with_shipped_mask.mask_path == photos.shipped_mask == sibling_mask(photos.garments[0])
    assert with_shipped_mask.overlay.shape == with_shipped_mask.rgb.shape[:2]
    assert set(np.unique(with_shipped_mask.overlay)) <= {0, 255}
    computed = load_garment(photos.maskless_garment)
    assert computed.mask is None and computed.mask_path is None
    assert 0.1 < (computed.overlay > 0).mean() < 0.9
    replaced = replace_mask(computed, photos.other_mask)
    assert replaced.mask_path == photos.other_mask
    # The other mask is the garment's complement, mirrored: the overlay must follow the file.
    assert not np.array_equal(replaced.overlay, computed.overlay)
    with pytest.raises(TryOnError, match="small_mask.png"):
        replace_mask(computed, photos.wrong_size_mask)
    with pytest.raises(TryOnError, match="notes.jpg"):
        load_person(photos.not_an_image)


def test_person_photos_come_with_their_framing(tmp_path):
    import cv2

    from tryon_app.core.bench import sample_person_photo
    from tryon_app.core.framing import Box

    person_box = Box(300, 120, 420, 560)
    path = tmp_path / "person.png"
    cv2.imwrite(str(path), sample_person_photo(900, 1200, person_box)[..., ::-1])
    framing = load_person(path).framing
    assert framing.how == "auto" and framing.note is None
    assert framing.box.iou(person_box) >= 0.85

    plain = tmp_path / "plain.png"
    cv2.imwrite(str(plain), np.full((300, 400, 3), 128, dtype=np.uint8))
    fallback = load_person(plain).framing
    assert fallback.how == "letterbox" and "no person found" in fallback.note


def test_save_queue_writes_every_file_asked_for(tmp_path):
    from tryon_app.core.images import load_image

    queue = SaveQueue()
    images = [np.full((40, 30, 3), value, dtype=np.uint8) for value in (10, 120, 240)]
    paths = [tmp_path / "a.png", tmp_path / "missing" / "b.png", tmp_path / "c.jpg"]
    for path, image in zip(paths, images, strict=True):
        queue.put(SaveRequest(path, image))
    outcomes = queue.write_all()
    assert [outcome.path for outcome in outcomes] == paths
    assert outcomes[0].message == "" and outcomes[2].message == ""
    assert "missing" in outcomes[1].message and "\n" not in outcomes[1].message
    np.testing.assert_array_equal(load_image(paths[0]), images[0])
    assert load_image(paths[2]).shape == (40, 30, 3)
    assert queue.write_all() == []


def test_galleries_leave_masks_out(photos):
    names = [path.name for path in image_files(photos.garments[0].parent)]
    assert "shirt_0.png" in names
    assert not [name for name in names if "_mask" in name]


def test_model_list_reports_unusable_folders(tmp_path):
    broken = tmp_path / "models" / "broken"
    broken.mkdir(parents=True)
    (broken / "metadata.json").write_text("{not json", encoding="utf-8")
    entries = list_models(search_dirs=[tmp_path / "models"])
    assert [entry.name for entry in entries] == ["broken"]
    assert "metadata" in entries[0].problem
    assert "unusable" in entries[0].label
    assert ModelEntry(tmp_path / "m", "m", "fp16", 2_500_000).label == "m  ·  fp16  ·  2.5 MB"
    assert ModelEntry(tmp_path / "copy", "m", "int8", 900).label == "m (copy)  ·  int8  ·  1 kB"
    assert format_size(1500) == "2 kB"
