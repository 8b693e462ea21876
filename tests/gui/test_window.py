"""The main window on the offscreen platform, driven as a user would, against a tiny model."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication

from tryon_app.gui.imaging import qimage_to_rgb

pytestmark = pytest.mark.gui


def test_try_on_runs_when_both_photos_are_set(make_window, photos, wait_result, wait_model):
    window = make_window()
    wait_model(window)
    window.open_person(photos.person)
    window.open_garment(photos.garments[1])
    wait_result(window)

    result = window.controller.result.outcome.result
    assert result.image.shape == photos.person_rgb.shape
    assert result.canvas.shape == (256, 192, 3)
    assert np.abs(result.image.astype(int) - photos.person_rgb.astype(int)).mean() > 1.0
    shown = qimage_to_rgb(window.result_panel.compare.after().full)
    np.testing.assert_array_equal(shown, result.image)
    assert window.result_panel.compare.has_result()
    assert "try-ons/s" in window.timings_label.text()
    assert "tiny" in window.model_label.text()
    assert window.result_panel.save.isEnabled()
    assert not window.banner.isVisible()


def test_request_storm_ends_with_the_last_garment(
    make_window, photos, wait_result, wait_idle, wait_model
):
    window = make_window()
    wait_model(window)
    window.open_person(photos.person)
    window.open_garment(photos.garments[0])
    wait_result(window)
    shown_before = window.controller.results_shown

    storm = [photos.garments[i % 5] for i in range(19)] + [photos.garments[5]]
    for path in storm:
        window.open_garment(path)
    wait_idle(window)

    controller = window.controller
    assert controller.garment.photo.path == photos.garments[5]
    assert controller.result.outcome.request.garment.path == photos.garments[5]
    assert window.garment_panel.caption.text().startswith("shirt_5.png")
    # Stale requests were dropped, not queued: far fewer than 20 photo loads and try-ons ran.
    assert controller.dropped_requests > 0
    assert controller.results_shown - shown_before < len(storm)


@pytest.mark.parametrize("bad", ["not_an_image", "truncated", "missing"])
def test_bad_photo_shows_a_message_and_the_app_stays_usable(
    make_window, photos, wait_result, wait_idle, bad
):
    window = make_window()
    bad_path: Path = getattr(photos, bad)
    window.open_person(bad_path)
    window.open_garment(photos.garments[2])
    wait_idle(window)
    assert window.banner.isVisible()
    assert bad_path.name in window.banner.text()
    assert window.banner.text().startswith("Could not open the person photo")
    assert "Traceback" not in window.banner.text()
    assert window.controller.person is None

    window.open_person(photos.person)
    wait_result(window)
    assert window.controller.result.outcome.request.person.path == photos.person
    assert not window.banner.isVisible()


def test_bad_mask_keeps_the_garment_and_its_mask(make_window, photos, wait_idle, wait_result):
    window = make_window()
    window.open_garment(photos.maskless_garment)
    window.open_person(photos.person)
    wait_result(window)
    window.open_mask(photos.wrong_size_mask)
    wait_idle(window)
    assert "small_mask.png" in window.banner.text()
    assert window.controller.garment.photo.mask_path is None

    window.open_mask(photos.other_mask)
    wait_result(window, 2)
    assert window.controller.garment.photo.mask_path == photos.other_mask
    assert "other_mask.png" in window.garment_panel.mask_status.text()
    assert window.garment_panel.auto_mask.isEnabled()
    window.garment_panel.auto_mask.click()
    wait_result(window, 3)
    assert window.controller.garment.photo.mask_path is None
    assert "computed" in window.garment_panel.mask_status.text()


def test_shipped_mask_is_used_and_shown(make_window, photos, wait_idle, qtbot):
    window = make_window()
    window.open_garment(photos.garments[0])
    wait_idle(window)
    assert window.controller.garment.photo.mask_path == photos.shipped_mask
    view = window.garment_panel.view
    assert not view.overlay_visible()
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert view.overlay_visible()
    plain = window.garment_panel.view.grab().toImage()
    window.garment_panel.show_mask.setChecked(False)
    assert plain != window.garment_panel.view.grab().toImage()


def test_damaged_model_is_reported_and_another_model_still_works(
    make_window, photos, damaged_artifact, tiny_artifact, wait_idle, wait_result, wait_model
):
    window = make_window(model_dirs=[damaged_artifact])
    wait_model(window)
    window.open_person(photos.person)
    window.open_garment(photos.garments[3])
    wait_result(window)

    window.set_runtime(model=damaged_artifact)
    wait_idle(window)
    assert window.controller.model is None
    assert window.banner.text().startswith("Could not load the model")
    assert "damaged model file" in window.banner.text()

    window.set_runtime(model=tiny_artifact)
    wait_result(window, 2)
    assert window.controller.model is not None
    assert not window.banner.isVisible()


def test_device_failure_is_reported_and_cpu_still_works(
    make_window, photos, wait_idle, wait_result, wait_model
):
    window = make_window()
    wait_model(window)
    window.open_person(photos.person)
    window.open_garment(photos.garments[1])
    wait_result(window)
    window.set_runtime(device="NO_SUCH_DEVICE")
    wait_idle(window)
    assert "NO_SUCH_DEVICE" in window.banner.text()
    window.set_runtime(device="CPU")
    wait_result(window, 2)
    assert window.controller.model.request.device == "CPU"


def test_pickers_list_models_devices_and_precisions(make_window, damaged_artifact, wait_model):
    window = make_window(model_dirs=[damaged_artifact])
    wait_model(window)
    labels = [window.model_combo.itemText(i) for i in range(window.model_combo.count())]
    assert any(
        label.startswith("tiny") and "fp32" in label and label.endswith(("kB", "MB"))
        for label in labels
    )
    assert any("(damaged)" in label for label in labels)
    devices = [window.device_combo.itemData(i) for i in range(window.device_combo.count())]
    assert "CPU" in devices and devices[-1] == "AUTO"
    precisions = [window.precision_combo.itemData(i) for i in range(window.precision_combo.count())]
    assert precisions == ["f32", "bf16", "f16", "auto"]


def test_precision_switch_recompiles_with_a_busy_state(
    make_window, photos, qtbot, wait_model, wait_result
):
    window = make_window()
    wait_model(window)
    window.open_person(photos.person)
    window.open_garment(photos.garments[1])
    wait_result(window)
    seen = []
    window.controller.busy_changed.connect(seen.append)
    window.set_runtime(precision="auto")
    assert window.busy.is_busy()
    qtbot.waitUntil(
        lambda: (
            window.controller.model is not None
            and window.controller.model.request.precision is None
        ),
        timeout=120_000,
    )
    wait_result(window, 2)
    assert "Compiling the model…" in seen
    assert seen[-1] == ""
    assert not window.busy.is_busy()


def test_event_loop_keeps_ticking_during_inference(
    make_window, photos, qtbot, wait_model, monkeypatch
):
    from tryon_app.core.engine import TryOnEngine

    # A try-on held inside the model until the test lets it go: whatever the machine's speed,
    # the window must keep handling events meanwhile, because inference runs on another thread.
    running, release, threads = threading.Event(), threading.Event(), []
    original = TryOnEngine.try_on

    def held_try_on(self, *args, **kwargs):
        threads.append(threading.current_thread())
        running.set()
        release.wait(timeout=60)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TryOnEngine, "try_on", held_try_on)
    window = make_window()
    wait_model(window)
    window.open_person(photos.person)
    window.open_garment(photos.garments[4])
    qtbot.waitUntil(running.is_set, timeout=60_000)
    ticks: list[int] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    try:
        qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=30_000)
        assert not release.is_set() and window.controller.results_shown == 0
    finally:
        timer.stop()
        release.set()
    qtbot.waitUntil(lambda: window.controller.results_shown >= 1, timeout=60_000)
    assert threads and all(thread is not threading.main_thread() for thread in threads)


def test_no_worker_thread_left_behind(make_window, photos, wait_result):
    window = make_window()
    window.open_person(photos.person)
    window.open_garment(photos.garments[0])
    wait_result(window)
    # Close with work still queued: the workers must drop it and end.
    window.open_garment(photos.garments[1])
    window.controller.request_try_on()
    window.close()
    assert window.controller.worker_threads_alive() == []
    assert [
        thread.name for thread in threading.enumerate() if thread.name.startswith("tryon-")
    ] == []
    assert window.thumbnails.active_threads() == 0


def test_shortcuts_toggle_views(make_window, photos, qtbot, wait_result):
    window = make_window()
    window.open_person(photos.person)
    window.open_garment(photos.garments[2])
    wait_result(window)
    compare = window.result_panel.compare
    assert compare.mode() == "compare"
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert compare.mode() == "before"
    qtbot.keyClick(window, Qt.Key.Key_W)
    assert compare.mode() == "warped"
    assert not window.result_panel.original.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_W)
    assert compare.mode() == "compare"
    window.result_panel.slider.setValue(250)
    assert compare.split() == pytest.approx(0.25)
    rect = compare.picture_rect()
    qtbot.mouseClick(
        compare,
        Qt.MouseButton.LeftButton,
        pos=rect.center().toPoint() + QPointF(rect.width() / 4, 0).toPoint(),
    )
    assert compare.split() == pytest.approx(0.75, abs=0.02)
    assert window.result_panel.slider.value() == pytest.approx(750, abs=20)


def test_save_and_copy(make_window, photos, tmp_path, qtbot, wait_result):
    from tryon_app.core.images import load_image

    window = make_window()
    window.open_person(photos.person)
    window.open_garment(photos.garments[1])
    wait_result(window)
    result = window.controller.result.outcome.result
    # Saving runs in the background; two saves asked for at once are both written.
    saved = []
    window.controller.saved.connect(saved.append)
    assert window.save_result(tmp_path / "result.png")
    assert window.save_result(tmp_path / "result.jpg")
    qtbot.waitUntil(lambda: len(saved) == 2, timeout=30_000)
    assert saved == [tmp_path / "result.png", tmp_path / "result.jpg"]
    np.testing.assert_array_equal(load_image(tmp_path / "result.png"), result.image)
    assert load_image(tmp_path / "result.jpg").shape == result.image.shape
    assert "Saved" in window.statusBar().currentMessage()
    with qtbot.waitSignal(window.controller.error, timeout=30_000):
        assert window.save_result(tmp_path / "missing-folder" / "result.png")
    assert window.banner.text().startswith("Could not save the result")
    assert "missing-folder" in window.banner.text()

    qtbot.keyClick(window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    copied = QGuiApplication.clipboard().image()
    assert (copied.width(), copied.height()) == (result.image.shape[1], result.image.shape[0])


def test_drop_a_file_on_the_person_panel(make_window, photos, qtbot, wait_idle):
    window = make_window()
    view = window.person_panel.view
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photos.person))])
    drop = QDropEvent(
        QPointF(view.rect().center()),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    view.dropEvent(drop)
    wait_idle(window)
    assert window.controller.person.photo.path == photos.person
    assert view.image() is not None


def test_settings_are_remembered(
    make_window, photos, settings_file, tiny_artifact, qtbot, wait_idle, wait_model
):
    from tryon_app.gui.settings import AppSettings

    window = make_window()
    wait_model(window)
    window.open_person(photos.person)
    window.open_garment(photos.garments[2])
    window.set_runtime(precision="bf16")
    wait_idle(window)
    window.close()

    settings = AppSettings.open(settings_file)
    assert settings.precision == "bf16"
    assert settings.device == "CPU"
    assert Path(settings.model_dir).resolve() == tiny_artifact.resolve()
    assert settings.recent("person")[0] == photos.person.resolve()

    again = make_window(settings=settings, restore_session=True)
    assert again.precision_combo.currentData() == "bf16"
    qtbot.waitUntil(lambda: again.controller.person is not None, timeout=30_000)
    assert again.controller.person.photo.path == photos.person.resolve()
    assert again.person_panel.gallery.recent.paths()[0] == photos.person.resolve()


def test_gallery_thumbnails_load_off_the_gui_thread(qtbot, photos):
    from tryon_app.gui.gallery import Gallery, PathRole, ThumbnailLoader

    loader = ThumbnailLoader()
    gallery = Gallery(loader, photos.garments, [])
    qtbot.addWidget(gallery)
    model = gallery.samples
    first = model.index(0)
    placeholder = model.data(first, Qt.ItemDataRole.DecorationRole)
    # Rows load in any order: wait for the first row's own thumbnail, not for any dataChanged.
    qtbot.waitUntil(
        lambda: (
            model.data(first, Qt.ItemDataRole.DecorationRole).cacheKey() != placeholder.cacheKey()
        ),
        timeout=10_000,
    )
    assert model.data(first, PathRole) == photos.garments[0]
    with qtbot.waitSignal(gallery.picked, timeout=1000) as picked:
        gallery.sample_list.clicked.emit(first)
    assert picked.args == [photos.garments[0]]
    loader.shutdown()
    assert loader.active_threads() == 0


def test_closing_while_the_model_compiles_does_not_wait_for_it(
    make_window, settings_file, qtbot, monkeypatch
):
    from tryon_app.core.session import TryOnSession
    from tryon_app.gui.controller import QUIT_GRACE_S

    started, release = threading.Event(), threading.Event()
    load = TryOnSession.load

    def compile_slowly(self, request):
        # A first start: a compilation that outlasts the user's patience.
        started.set()
        release.wait(300)
        return load(self, request)

    monkeypatch.setattr(TryOnSession, "load", compile_slowly)
    window = make_window()
    qtbot.waitUntil(started.is_set, timeout=60_000)
    try:
        began = time.monotonic()
        window.close()
        closed_in = time.monotonic() - began
        # Closing came back while the compilation still ran; the caller ends the process.
        assert window.controller.worker_threads_alive() == ["tryon-inference"]
        assert closed_in < QUIT_GRACE_S + 5
        assert settings_file.is_file()
    finally:
        release.set()
        qtbot.waitUntil(lambda: not window.controller.worker_threads_alive(), timeout=120_000)


def _answer_save_dialogs(monkeypatch, answers: list[Path]) -> list[Path]:
    """Replace the save dialog: record the path it proposes, answer with the next of `answers`
    (then cancel)."""
    from PySide6.QtWidgets import QFileDialog

    proposed: list[Path] = []

    def get_save_file_name(parent, caption, path, filters):
        proposed.append(Path(path))
        if not answers:
            return "", ""  # cancelled
        return str(answers.pop(0)), filters.split(";;")[0]

    monkeypatch.setattr(QFileDialog, "getSaveFileName", get_save_file_name)
    return proposed


def test_save_proposes_the_users_pictures_never_the_application_folders(
    make_window, photos, settings_file, tmp_path, monkeypatch, wait_result, qtbot
):
    from tryon_app.gui.settings import AppSettings

    # The installed app: its sample photos live in its own (here writable) folders.
    bundle = tmp_path / "opt" / "openvino-tryon" / "_internal"
    samples = bundle / "assets" / "persons"
    samples.mkdir(parents=True)
    sample = samples / "person_01.png"
    sample.write_bytes(photos.person.read_bytes())
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    home = tmp_path / "home"
    pictures, albums = home / "Pictures", home / "Albums"
    pictures.mkdir(parents=True)
    albums.mkdir()
    monkeypatch.setenv("HOME", str(home))
    # An earlier version remembered the sample's folder.
    settings = AppSettings.open(settings_file)
    settings.store.setValue("folders/save", str(samples))

    answers = [samples / "into_the_app.png", albums / "mine.png", albums / "again.png"]
    proposed = _answer_save_dialogs(monkeypatch, answers)
    window = make_window(settings=settings)
    window.open_person(sample)
    window.open_garment(photos.garments[1])
    wait_result(window)

    def save_as_the_user_would() -> None:
        with qtbot.waitSignal(window.controller.saved, timeout=30_000):
            window.choose_save_path()

    save_as_the_user_would()
    assert proposed[-1] == pictures / "person_01__shirt_1.png"
    # Saving into the application works, but that folder is not remembered.
    assert (samples / "into_the_app.png").is_file()
    save_as_the_user_would()
    assert proposed[-1].parent == pictures
    assert (albums / "mine.png").is_file()
    save_as_the_user_would()
    assert proposed[-1].parent == albums
    assert (albums / "again.png").is_file()

    # A remembered folder that is gone is not proposed; neither is a missing Pictures.
    shutil.rmtree(albums)
    window.choose_save_path()
    assert proposed[-1].parent == pictures
    pictures.rmdir()
    window.choose_save_path()
    assert proposed[-1].parent == home
    assert AppSettings.open(settings_file).folder("save") != str(samples)


def _solid(colour: tuple[int, int, int], width: int = 60, height: int = 80):
    from tryon_app.gui.imaging import rgb_to_qimage

    return rgb_to_qimage(np.full((height, width, 3), colour, dtype=np.uint8))


def _shown_colours(compare, fractions: tuple[float, ...]) -> list[tuple[int, int, int]]:
    """The colours the compare view shows at these fractions of its picture's width."""
    image = compare.grab().toImage()
    rect = compare.picture_rect()
    colours = []
    for fraction in fractions:
        x = round(rect.left() + rect.width() * fraction)
        # Below the Before/After tags at the picture's top corners.
        colour = image.pixelColor(x, round(rect.bottom() - rect.height() / 4))
        colours.append((colour.red(), colour.green(), colour.blue()))
    return colours


def test_the_after_end_of_the_slider_shows_the_try_on(qtbot):
    from PySide6.QtWidgets import QAbstractSlider

    from tryon_app.gui.app import create_application
    from tryon_app.gui.panels import ResultPanel

    create_application()
    photo, try_on = (200, 0, 0), (0, 0, 200)
    panel = ResultPanel()
    qtbot.addWidget(panel)
    panel.resize(500, 640)
    panel.compare.set_images(_solid(photo), _solid(try_on), _solid((0, 200, 0)))
    panel.set_has_result(True)
    panel.show()
    qtbot.waitExposed(panel)
    slider = panel.slider
    assert panel.before_label.text() == "Before" and panel.after_label.text() == "After"
    assert panel.before_label.x() < slider.x() < panel.after_label.x()

    slider.triggerAction(QAbstractSlider.SliderAction.SliderToMaximum)
    assert _shown_colours(panel.compare, (0.05, 0.5, 0.95)) == [try_on] * 3
    slider.triggerAction(QAbstractSlider.SliderAction.SliderToMinimum)
    assert _shown_colours(panel.compare, (0.05, 0.5, 0.95)) == [photo] * 3

    # Dragging the divider towards the After end shows more of the try-on, as the slider does.
    compare = panel.compare
    rect = compare.picture_rect()
    start = QPointF(rect.left() + rect.width() * 0.2, rect.center().y()).toPoint()
    end = QPointF(rect.left() + rect.width() * 0.8, rect.center().y()).toPoint()
    qtbot.mousePress(compare, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(compare, end)
    qtbot.mouseRelease(compare, Qt.MouseButton.LeftButton, pos=end)
    assert slider.value() == pytest.approx(800, abs=20)
    assert _shown_colours(compare, (0.1, 0.7, 0.9)) == [try_on, try_on, photo]


def test_the_result_pane_says_the_model_is_being_prepared(
    make_window, photos, qtbot, monkeypatch, wait_result
):
    from tryon_app.core.session import TryOnSession
    from tryon_app.gui import window as window_module

    started, release = threading.Event(), threading.Event()
    load = TryOnSession.load

    def compile_slowly(self, request):
        started.set()
        release.wait(300)
        return load(self, request)

    monkeypatch.setattr(TryOnSession, "load", compile_slowly)
    monkeypatch.setattr(window_module, "LONG_PREPARATION_MS", 200)
    window = make_window()
    compare = window.result_panel.compare
    try:
        window.open_person(photos.person)
        window.open_garment(photos.garments[1])
        qtbot.waitUntil(started.is_set, timeout=60_000)
        qtbot.waitUntil(
            lambda: window.controller.person is not None and window.controller.garment is not None,
            timeout=30_000,
        )
        # Both photos are picked: the pane says what it waits for, not to pick photos.
        qtbot.waitUntil(
            lambda: compare.placeholder.startswith("Preparing the model for this computer"),
            timeout=10_000,
        )
        assert "Pick" not in compare.placeholder
        assert window.busy.label.text().startswith("Preparing the model")
        # A compilation that takes long says why (a cold cache on a first start).
        qtbot.waitUntil(lambda: "first start" in compare.placeholder, timeout=10_000)
    finally:
        release.set()
    wait_result(window)
    assert not window.busy.is_busy()


def test_the_result_pane_says_which_photo_is_missing(make_window, photos, wait_model, wait_idle):
    window = make_window()
    wait_model(window)
    wait_idle(window)
    compare = window.result_panel.compare
    assert "Pick a person and a garment" in compare.placeholder
    window.open_person(photos.person)
    wait_idle(window)
    assert "Pick a garment" in compare.placeholder
