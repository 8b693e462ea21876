"""The person panel's framing box and the result pane at full resolution (zoom, pan, compare)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QWheelEvent

from tryon_app.core.bench import sample_person_photo
from tryon_app.core.framing import Box, choose_framing
from tryon_app.gui.imaging import Picture, qimage_to_rgb

pytestmark = pytest.mark.gui

PERSON_BOX = Box(200, 150, 360, 480)
"""Where `sample_person_photo` frames the person in the 1024x768 photo below."""


def _write(path: Path, rgb: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture(scope="module")
def framed_person(tmp_path_factory) -> Path:
    """A 768x1024 photo of a person whose VITON framing box is `PERSON_BOX`."""
    folder = tmp_path_factory.mktemp("framed")
    return _write(folder / "framed_person.png", sample_person_photo(1024, 768, PERSON_BOX))


def _open(window, person: Path, garment: Path, wait_result) -> None:
    window.open_person(person)
    window.open_garment(garment)
    wait_result(window)


def _result_box(window) -> Box:
    return window.controller.result.outcome.result.framing.box


def _drag(qtbot, widget, start: QPointF, end: QPointF, steps: int = 6) -> None:
    """Press at `start`, move in `steps` to `end`, release there (as a hand would)."""
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=start.toPoint())
    for step in range(1, steps + 1):
        qtbot.mouseMove(widget, (start + (end - start) * step / steps).toPoint())
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=end.toPoint())


def _photo_scale(view) -> float:
    """View pixels per photo pixel in the person panel."""
    return view.photo_rect().width() / view._photo_size.width()


def _count_try_on_requests(window, monkeypatch) -> list[int]:
    calls: list[int] = []
    request = window.controller.request_try_on

    def counted() -> None:
        calls.append(1)
        request()

    monkeypatch.setattr(window.controller, "request_try_on", counted)
    return calls


# --------------------------------------------------------------------------- framing box


def test_the_person_panel_shows_the_automatic_box(
    make_window, framed_person, photos, wait_result, qtbot
):
    window = make_window()
    _open(window, framed_person, photos.garments[1], wait_result)
    view = window.person_panel.view
    found = window.controller.person.photo.framing

    assert found.how == "auto" and found.note is None
    assert found.box.iou(PERSON_BOX) >= 0.85
    assert view.box() == found.box
    assert _result_box(window) == found.box
    assert window.person_panel.framing_status.text() == "Framing: automatic"
    assert not window.person_panel.auto_framing.isEnabled()
    assert not window.banner.isVisible()

    # The box is drawn where it is: the photo is veiled outside it and clear inside.
    shown = qimage_to_rgb(view.grab().toImage()).astype(int)
    photo = cv2.resize(
        cv2.cvtColor(cv2.imread(str(framed_person)), cv2.COLOR_BGR2RGB),
        None,
        fx=_photo_scale(view),
        fy=_photo_scale(view),
        interpolation=cv2.INTER_AREA,
    ).astype(int)
    photo_rect, box_rect = view.photo_rect(), view.box_rect()

    def shown_vs_photo(point: QPointF) -> tuple[float, float]:
        x, y = round(point.x()), round(point.y())
        px, py = round(point.x() - photo_rect.left()), round(point.y() - photo_rect.top())
        return shown[y, x].mean(), photo[py, px].mean()

    inside = box_rect.center() + QPointF(0, box_rect.height() * 0.45)  # the wall beside the legs
    inside.setX(box_rect.left() + 12)
    outside = QPointF(photo_rect.left() + 6, photo_rect.bottom() - 6)
    shown_in, photo_in = shown_vs_photo(inside)
    shown_out, photo_out = shown_vs_photo(outside)
    assert abs(shown_in - photo_in) < 12
    assert shown_out < photo_out - 40


def test_dragging_the_box_moves_the_try_on_framing_once_released(
    make_window, framed_person, photos, wait_result, wait_idle, qtbot, monkeypatch
):
    window = make_window()
    _open(window, framed_person, photos.garments[1], wait_result)
    view = window.person_panel.view
    auto_box = view.box()
    requests = _count_try_on_requests(window, monkeypatch)
    shown = window.controller.results_shown

    start = view.box_rect().center()
    delta = QPointF(24, 18)
    _drag(qtbot, view, start, start + delta)
    wait_idle(window)

    # One try-on for the whole drag, asked for on release.
    assert len(requests) == 1
    assert window.controller.results_shown == shown + 1
    moved = _result_box(window)
    scale = _photo_scale(view)
    assert moved == view.box() == window.controller.framing_box()
    assert (moved.w, moved.h) == (auto_box.w, auto_box.h)
    assert moved.x == pytest.approx(auto_box.x + delta.x() / scale, abs=2)
    assert moved.y == pytest.approx(auto_box.y + delta.y() / scale, abs=2)
    assert window.controller.result.outcome.result.framing.how == "given"
    assert window.person_panel.framing_status.text() == "Framing: yours"
    assert window.person_panel.auto_framing.isEnabled()

    # Back to automatic with the Auto button.
    window.person_panel.auto_framing.click()
    wait_idle(window)
    assert _result_box(window) == auto_box == view.box()
    assert window.person_panel.framing_status.text() == "Framing: automatic"
    assert not window.person_panel.auto_framing.isEnabled()


def test_resizing_the_box_keeps_it_3_4_and_double_click_resets(
    make_window, framed_person, photos, wait_result, wait_idle, qtbot
):
    window = make_window()
    _open(window, framed_person, photos.garments[1], wait_result)
    view = window.person_panel.view
    auto_box = view.box()

    # The bottom-right corner, dragged out mostly sideways: the height follows (3:4).
    corner = view.box_rect().bottomRight()
    _drag(qtbot, view, corner, corner + QPointF(30, 5))
    wait_idle(window)
    grown = _result_box(window)
    scale = _photo_scale(view)
    assert grown == view.box()
    assert (grown.x, grown.y) == pytest.approx((auto_box.x, auto_box.y), abs=1)
    assert grown.w == pytest.approx(auto_box.w + 30 / scale, abs=3)
    assert grown.w / grown.h == pytest.approx(3 / 4, abs=0.01)

    # The top-left corner dragged inwards shrinks it with the bottom-right corner held.
    corner = view.box_rect().topLeft()
    _drag(qtbot, view, corner, corner + QPointF(20, 20))
    wait_idle(window)
    shrunk = _result_box(window)
    assert shrunk.h < grown.h
    assert shrunk.right == pytest.approx(grown.right, abs=2)
    assert shrunk.bottom == pytest.approx(grown.bottom, abs=2)

    # The box cannot be dragged off the photo: its centre stays on it.
    centre = view.box_rect().center()
    _drag(qtbot, view, centre, centre + QPointF(-2000, -2000))
    wait_idle(window)
    far = _result_box(window)
    assert far.x + far.w / 2 >= 0 and far.y + far.h / 2 >= 0
    assert far.right > 0 and far.bottom > 0

    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=view.box_rect().center().toPoint())
    wait_idle(window)
    assert _result_box(window) == auto_box == view.box()

    # And R (the Reset framing action) after another move.
    centre = view.box_rect().center()
    _drag(qtbot, view, centre, centre + QPointF(-15, 10))
    wait_idle(window)
    assert _result_box(window) != auto_box
    qtbot.keyClick(window, Qt.Key.Key_R)
    wait_idle(window)
    assert _result_box(window) == auto_box


def test_no_person_found_shows_the_note_and_the_whole_photo(
    make_window, photos, wait_result, tmp_path
):
    noise = np.random.default_rng(3).integers(0, 256, (24, 32, 3)).astype(np.uint8)
    landscape = _write(
        tmp_path / "landscape.png", cv2.resize(noise, (800, 600), interpolation=cv2.INTER_CUBIC)
    )
    window = make_window()
    _open(window, landscape, photos.garments[1], wait_result)
    letterbox = choose_framing(np.zeros((600, 800, 3), np.uint8), "letterbox").box

    assert window.person_panel.view.box() == letterbox
    assert _result_box(window) == letterbox
    assert window.banner.isVisible()
    assert window.banner.property("level") == "info"
    assert window.banner.text().startswith("No person found")
    assert "\n" not in window.banner.text()
    assert window.person_panel.framing_status.text() == "Framing: whole photo"

    # A photo with a person clears the note.
    window.open_person(photos.person)
    wait_result(window, 2)
    assert not window.banner.isVisible()


# --------------------------------------------------------------------------- result pane


@pytest.fixture
def noise_panel(qtbot):
    """A result panel showing a 1500x2000 'before' and 'after' of random pixels (all distinct)."""
    from tryon_app.gui.app import create_application
    from tryon_app.gui.panels import ResultPanel

    create_application()
    rng = np.random.default_rng(0)
    before = rng.integers(0, 256, (2000, 1500, 3), dtype=np.uint8)
    after = rng.integers(0, 256, (2000, 1500, 3), dtype=np.uint8)
    panel = ResultPanel()
    qtbot.addWidget(panel)
    panel.resize(600, 760)
    panel.compare.set_images(Picture.from_rgb(before), Picture.from_rgb(after))
    panel.set_has_result(True)
    panel.show()
    qtbot.waitExposed(panel)
    return panel, before, after


def _wheel(widget, position: QPointF, notches: float) -> None:
    event = QWheelEvent(
        position,
        widget.mapToGlobal(position),
        QPoint(),
        QPoint(0, round(120 * notches)),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QGuiApplication.sendEvent(widget, event)


def test_zoom_fit_and_1_to_1(noise_panel):
    panel, _, _ = noise_panel
    compare = panel.compare
    assert compare.is_fitted() and panel.zoom_toggle.text() == "1:1"
    fit = compare.fit_zoom()
    assert fit == pytest.approx(compare.visible_rect().height() / 2000, rel=0.01)
    assert compare.zoom() == pytest.approx(fit)

    # The wheel zooms around the cursor: the photo point under it stays under it.
    cursor = compare.visible_rect().center() + QPointF(-60, 80)
    held = compare.photo_point(cursor)
    _wheel(compare, cursor, 2)
    assert compare.zoom() == pytest.approx(fit * 1.25**2)
    assert not compare.is_fitted() and panel.zoom_toggle.text() == "Fit"
    assert compare.photo_point(cursor).x() == pytest.approx(held.x(), abs=1)
    assert compare.photo_point(cursor).y() == pytest.approx(held.y(), abs=1)
    _wheel(compare, cursor, -1)
    assert compare.zoom() == pytest.approx(fit * 1.25)
    # Out past the whole photo: it stays fitted.
    _wheel(compare, cursor, -5)
    assert compare.is_fitted() and compare.zoom() == pytest.approx(fit)

    # The button: 1:1 when fitted, Fit when zoomed.
    panel.zoom_toggle.click()
    panel.zoom_toggle.click()
    assert compare.is_fitted() and panel.zoom_toggle.text() == "1:1"
    panel.zoom_toggle.click()
    assert compare.zoom() == 1.0 and panel.zoom_toggle.text() == "Fit"
    assert compare.picture_rect().width() == pytest.approx(1500)
    panel.zoom_toggle.click()
    assert compare.is_fitted()

    # Never further in than MAX_ZOOM.
    from tryon_app.gui.widgets import MAX_ZOOM

    _wheel(compare, cursor, 40)
    assert compare.zoom() == pytest.approx(MAX_ZOOM)


def test_compare_at_1_to_1_shows_the_full_resolution_pixels(noise_panel, qtbot):
    panel, before, after = noise_panel
    compare = panel.compare
    panel.zoom_to_actual_size()
    panel.slider.setValue(500)
    visible = compare.visible_rect()
    placed = compare.picture_rect()
    shown = qimage_to_rgb(compare.grab().toImage())

    divider = round(compare.divider_x())
    top, bottom = round(visible.top()) + 40, round(visible.bottom()) - 40
    left, right = round(visible.left()), round(visible.right())
    ox, oy = round(placed.left()), round(placed.top())
    # Left of the divider, the try-on's own pixels; right of it, the photo's; one for one.
    np.testing.assert_array_equal(
        shown[top:bottom, left : divider - 16],
        after[top - oy : bottom - oy, left - ox : divider - 16 - ox],
    )
    np.testing.assert_array_equal(
        shown[top:bottom, divider + 16 : right - 70],
        before[top - oy : bottom - oy, divider + 16 - ox : right - 70 - ox],
    )

    # Panning by a drag moves the photo under the view, the divider stays where it is.
    point = visible.center() + QPointF(-100, 0)
    held = compare.photo_point(point)
    _drag(qtbot, compare, point, point + QPointF(40, -30))
    assert compare.photo_point(point).x() == pytest.approx(held.x() - 40, abs=1)
    assert compare.photo_point(point).y() == pytest.approx(held.y() + 30, abs=1)
    assert compare.split() == pytest.approx(0.5)
    # Dragging the divider itself still moves it.
    x = compare.divider_x()
    _drag(qtbot, compare, QPointF(x, visible.center().y()), QPointF(x + 100, visible.center().y()))
    assert compare.split() == pytest.approx(0.5 + 100 / visible.width(), abs=0.01)


def test_painting_a_12_megapixel_result_touches_only_what_the_view_shows(qtbot, monkeypatch):
    """A phone photo's try-on: no paint converts or rescales the whole photo (what that costs is
    measured by benchmarks/gui_paint.py, not here: these machines are shared)."""
    from PySide6.QtGui import QPainter

    from tryon_app.gui.app import create_application
    from tryon_app.gui.widgets import CompareView

    create_application()
    rng = np.random.default_rng(1)
    small = rng.integers(0, 256, (63, 47, 3), dtype=np.uint8)
    photo = cv2.resize(small, (3024, 4032), interpolation=cv2.INTER_LINEAR)
    view = CompareView("")
    qtbot.addWidget(view)
    view.resize(900, 1000)
    view.set_images(Picture.from_rgb(photo), Picture.from_rgb(photo[::-1].copy()))
    view.show()
    qtbot.waitExposed(view)
    canvas = QImage(view.size(), QImage.Format.Format_ARGB32_Premultiplied)
    rescaled, drawn = [], []
    scaled, draw_image = QImage.scaled, QPainter.drawImage

    def spy_scaled(image, *args):
        rescaled.append(image.width() * image.height())
        return scaled(image, *args)

    def spy_draw(painter, *args):
        images = [a for a in args if isinstance(a, QImage)]
        rects = [a for a in args if isinstance(a, QRectF)]
        if images and len(rects) == 2:  # (target, image, source rectangle)
            drawn.append(rects[1].width() * rects[1].height())
        return draw_image(painter, *args)

    monkeypatch.setattr(QImage, "scaled", spy_scaled)
    monkeypatch.setattr(QPainter, "drawImage", spy_draw)
    photo_pixels = 3024 * 4032
    view.set_images(Picture.from_rgb(photo[:, ::-1].copy()), Picture.from_rgb(photo))
    for _ in range(5):  # a new result, fitted: its display copy is scaled once, then reused
        view.render(canvas)
    assert 1 <= len(rescaled) <= 2 and max(rescaled) < photo_pixels
    rescaled.clear()
    view.actual_size()  # 1:1, then panning: only the part in view is sampled, never all of it
    for _ in range(10):
        view.pan_by(QPointF(37, 23))
        view.render(canvas)
    assert drawn and max(drawn) <= 2 * 900 * 1000
    assert all(pixels < photo_pixels for pixels in rescaled)


def test_a_large_result_keeps_its_resolution_in_the_window(
    make_window, photos, wait_result, tmp_path, qtbot
):
    from tryon_app.core.images import load_image

    person_rgb = sample_person_photo(2000, 1500, Box(400, 250, 750, 1000))
    person = _write(tmp_path / "large_person.png", person_rgb)
    window = make_window()
    _open(window, person, photos.garments[2], wait_result)
    result = window.controller.result.outcome.result
    compare = window.result_panel.compare
    assert result.image.shape == (2000, 1500, 3)
    np.testing.assert_array_equal(qimage_to_rgb(compare.after().full), result.image)
    np.testing.assert_array_equal(qimage_to_rgb(compare.before().full), person_rgb)
    # The fitted view shows a copy no bigger than the screen needs; the full image is kept.
    assert compare.is_fitted() and compare.zoom() < 0.5

    ctrl = Qt.KeyboardModifier.ControlModifier
    qtbot.keyClick(window, Qt.Key.Key_1, ctrl)
    assert compare.zoom() == 1.0
    qtbot.keyClick(window, Qt.Key.Key_Minus, ctrl)
    assert compare.zoom() == pytest.approx(1 / 1.25)
    qtbot.keyClick(window, Qt.Key.Key_Equal, ctrl)
    assert compare.zoom() == pytest.approx(1.0)
    qtbot.keyClick(window, Qt.Key.Key_0, ctrl)
    assert compare.is_fitted()

    # A new try-on of the same photo keeps the zoom; Save and Copy give the full resolution.
    qtbot.keyClick(window, Qt.Key.Key_1, ctrl)
    window.open_garment(photos.garments[3])
    wait_result(window, 2)
    assert compare.zoom() == 1.0
    with qtbot.waitSignal(window.controller.saved, timeout=60_000):
        assert window.save_result(tmp_path / "large.png")
    saved = load_image(tmp_path / "large.png")
    assert saved.shape == person_rgb.shape
    np.testing.assert_array_equal(saved, window.controller.result.outcome.result.image)
    window.copy_result()
    copied = QGuiApplication.clipboard().image()
    assert (copied.width(), copied.height()) == (1500, 2000)

    # A photo of another size is shown fitted.
    window.open_person(photos.person)
    wait_result(window, 3)
    assert compare.is_fitted()
