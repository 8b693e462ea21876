"""How the window looks: texts that fit down to 800x600, and a style that stays in the window."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QAbstractButton, QApplication, QComboBox, QLabel, QWidget

pytestmark = pytest.mark.gui


def _cut_texts(window: QWidget) -> list[str]:
    """Texts in the window that do not fit their widget, unless shortened with the full text in
    their tooltip."""
    from tryon_app.gui.widgets import ElidedLabel

    cut = []
    for label in window.findChildren(QLabel):
        lines = label.text().splitlines()
        if not label.isVisibleTo(window) or not "".join(lines).strip() or label.wordWrap():
            continue
        room = label.contentsRect()
        metrics = label.fontMetrics()
        width = max(metrics.horizontalAdvance(line) for line in lines)
        height = metrics.height() * len(lines)
        if height > room.height():
            cut.append(f"{label.text()!r}: {height} px high in {room.height()}")
        shortened = isinstance(label, ElidedLabel) and label.text() in label.toolTip()
        if width > room.width() and not shortened:
            cut.append(f"{label.text()!r}: {width} px wide in {room.width()}")
    for button in window.findChildren(QAbstractButton):
        if not button.isVisibleTo(window) or not button.text():
            continue
        needed = button.sizeHint()
        if button.width() < needed.width() or button.height() < needed.height():
            cut.append(f"button {button.text()!r}: {button.size().toTuple()} < {needed.toTuple()}")
    for combo in window.findChildren(QComboBox):
        needed = combo.minimumSizeHint()
        if combo.isVisibleTo(window) and combo.width() < needed.width():
            cut.append(f"combo {combo.currentText()!r}: {combo.width()} < {needed.width()}")
    return cut


@pytest.mark.parametrize("size", [(800, 600), (1000, 660), (1280, 800)])
def test_every_text_fits_down_to_800x600(make_window, photos, tmp_path, qtbot, wait_result, size):
    # Long file names, as cameras and shops give them.
    person = tmp_path / "IMG_20240611_174512_portrait_in_the_garden_of_my_parents.png"
    garment = tmp_path / "summer-collection-2024-linen-shirt-with-pockets-sky-blue.png"
    shutil.copy(photos.person, person)
    shutil.copy(photos.garments[1], garment)
    window = make_window()
    window.open_person(person)
    window.open_garment(garment)
    wait_result(window)
    window.garment_panel.show_mask.setChecked(True)
    window.busy.set_busy("Preparing the model…")

    window.resize(*size)
    qtbot.waitUntil(lambda: window.size() == QSize(*size), timeout=5_000)
    QApplication.processEvents()
    assert _cut_texts(window) == []
    # The try-on stays the largest thing on screen.
    compare = window.result_panel.compare
    assert compare.width() >= 0.35 * size[0] and compare.height() >= 0.5 * size[1]


def test_file_dialogs_keep_their_own_look(make_window, qtbot, tmp_path):
    from PySide6.QtWidgets import QFileDialog, QToolButton

    window = make_window(show=False)

    def look(parent: QWidget | None) -> dict[str, tuple]:
        dialog = QFileDialog(parent, "Save the try-on", str(tmp_path))
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        seen = {
            widget.objectName(): (widget.sizeHint().toTuple(), widget.grab().toImage())
            for widget in [*dialog.findChildren(QToolButton), *dialog.findChildren(QComboBox)]
            if widget.isVisible() and widget.objectName()
        }
        dialog.close()
        dialog.deleteLater()
        return seen

    # The dialog Ctrl+S opens, against the same dialog with no style sheet anywhere.
    styled = look(window)
    app = QApplication.instance()
    sheet = app.styleSheet()
    app.setStyleSheet("")
    try:
        plain = look(None)
    finally:
        app.setStyleSheet(sheet)
    assert {"backButton", "toParentButton", "newFolderButton", "lookInCombo"} <= set(plain)
    assert styled.keys() == plain.keys()
    for name, (size, image) in plain.items():
        assert styled[name][0] == size, name
        assert styled[name][1] == image, f"{name} is drawn differently inside the app"
