"""The window's panels: the person and garment photos with their pickers, and the result."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
)

from tryon_app.gui.controller import (
    GarmentView,
    PersonView,
    ResultView,
)
from tryon_app.gui.gallery import Gallery
from tryon_app.gui.widgets import (
    CompareView,
    ElidedLabel,
    FramingView,
    ImageView,
)

if TYPE_CHECKING:
    from PySide6.QtGui import QImage

    from tryon_app.core.framing import Box, Framing


PICK_HINT = "from the galleries, with Open…, or by dropping photos on the panels"


def _card_layout(card: QFrame) -> QVBoxLayout:
    """Make `card` a white rounded card (see the stylesheet) and give it its column layout."""
    card.setObjectName("card")
    layout = QVBoxLayout(card)
    layout.setContentsMargins(14, 12, 14, 14)
    layout.setSpacing(8)
    return layout


def _header(title: str, hint: str) -> tuple[QHBoxLayout, ElidedLabel]:
    """A card's title, then a muted hint that takes the room left (and shortens to fit)."""
    row = QHBoxLayout()
    row.setSpacing(8)
    title_label = QLabel(title)
    title_label.setObjectName("cardTitle")
    hint_label = ElidedLabel(hint)
    hint_label.setObjectName("cardHint")
    row.addWidget(title_label)
    row.addWidget(hint_label, 1)
    return row, hint_label


def push_button(
    text: str, tooltip: str, *, checkable: bool = False, primary: bool = False
) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tooltip)
    button.setCheckable(checkable)
    # Keyboard focus stays off the buttons so Space and the letter shortcuts always reach the window.
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    if primary:
        button.setObjectName("primary")
    return button


class PhotoPanel(QFrame):
    """A card with one photo: header, the photo (click or drop to open), a caption, galleries.

    Signals:
        open_requested(): the user wants the file dialog.
        file_chosen(Path): a file was dropped or picked in a gallery.
    """

    open_requested = Signal()
    file_chosen = Signal(Path)

    def __init__(
        self,
        title: str,
        shortcut: str,
        placeholder: str,
        gallery: Gallery,
        view: ImageView | None = None,
    ):
        super().__init__()
        self.layout_ = _card_layout(self)
        header, _ = _header(title, "")
        self.open_button = push_button("Open…", f"Open a photo ({shortcut})")
        header.addWidget(self.open_button)
        self.layout_.addLayout(header)
        self.view = view if view is not None else ImageView(placeholder)
        self.layout_.addWidget(self.view, 1)
        self.caption = ElidedLabel(" ", elide=Qt.TextElideMode.ElideMiddle)
        self.caption.setObjectName("cardHint")
        self.layout_.addWidget(self.caption)
        self.gallery = gallery
        self.layout_.addWidget(gallery)
        self.open_button.clicked.connect(self.open_requested)
        self.view.clicked.connect(self.open_requested)
        self.view.file_dropped.connect(self.file_chosen)
        gallery.picked.connect(self.file_chosen)

    def show_photo(self, path: Path, size: tuple[int, int], image, overlay=None) -> None:
        """Show a photo; `size` is its (height, width) on disk (`image` may be smaller)."""
        self.view.set_image(image, overlay)
        self._show_caption(path, size)

    def _show_caption(self, path: Path, size: tuple[int, int]) -> None:
        self.caption.setText(f"{path.name}  ·  {size[1]}×{size[0]}")
        self.caption.setToolTip(str(path))
        self.gallery.mark_current(path)


class PersonPanel(PhotoPanel):
    """The person card, plus the framing: the box the model sees over the photo (move it, resize
    it) and the way back to the automatic framing.

    Signals:
        framing_edited(Box): the user moved or resized the box.
        framing_reset(): the user asked for the automatic framing again.
    """

    framing_edited = Signal(object)
    framing_reset = Signal()

    def __init__(self, gallery: Gallery):
        placeholder = "Drop a photo of a person here\nor click to open one (Ctrl+O)"
        super().__init__("Person", "Ctrl+O", placeholder, gallery, FramingView(placeholder))
        self.view.setToolTip(
            "The box is what the model sees: drag it to move it, drag a corner to resize it, "
            "double-click it for the automatic framing"
        )
        self.framing_status = ElidedLabel("")
        self.framing_status.setObjectName("maskStatus")
        self.auto_framing = push_button(
            "Auto", "Go back to the automatic framing (R, or double-click the box)"
        )
        self.auto_framing.setEnabled(False)
        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(self.framing_status, 1)
        row.addWidget(self.auto_framing)
        self.layout_.insertLayout(2, row)
        self.view.framing_edited.connect(self.framing_edited)
        self.view.framing_reset.connect(self.framing_reset)
        self.auto_framing.clicked.connect(self.framing_reset)

    def show_person(self, person: PersonView, box: Box, automatic: bool) -> None:
        """Show the photo with the framing `box` (`automatic`: the one found on opening it)."""
        from tryon_app.core.framing import letterbox_box

        photo = person.photo
        height, width = photo.rgb.shape[:2]
        self.view.box_editable = True
        self.view.set_photo(
            person.image,
            QSize(width, height),
            box,
            room=(photo.framing.box, letterbox_box(height, width)),
        )
        self._show_caption(photo.path, (height, width))
        self.show_framing(box, automatic, photo.framing)

    def show_live_frame(self, image: QImage, size: tuple[int, int], box: Box, source: str) -> None:
        """A live source's frame (`size` its (height, width)) and the steadied box the model saw.

        The box follows the person while live; it can be moved by hand again on a photo.
        """
        height, width = size
        self.view.box_editable = False
        self.view.set_photo(image, QSize(width, height), box)
        self.caption.setText(f"{source}  ·  {width}×{height}  ·  live")
        self.caption.setToolTip(source)
        self.framing_status.setText("Framing: follows the person")
        self.framing_status.setToolTip(
            f"The model sees the box {box.w}×{box.h} at ({box.x}, {box.y}), steadied over frames"
        )
        self.auto_framing.setEnabled(False)

    def show_no_person(self) -> None:
        """The empty card: no photo, no box."""
        self.view.box_editable = True
        self.view.set_photo(None, QSize(), None)
        self.caption.setText(" ")
        self.caption.setToolTip("")
        self.framing_status.setText("")
        self.framing_status.setToolTip("")
        self.auto_framing.setEnabled(False)

    def show_framing(self, box: Box | None, automatic: bool, found: Framing) -> None:
        self.view.set_box(box)
        if not automatic:
            text, how = "Framing: yours", "you set"
        elif found.note:
            text, how = "Framing: whole photo", "the whole photo: no person was found"
        else:
            text, how = "Framing: automatic", "found around the person"
        self.framing_status.setText(text)
        self.framing_status.setToolTip(
            f"The model sees the box {box.w}×{box.h} at ({box.x}, {box.y}), {how}" if box else ""
        )
        self.auto_framing.setEnabled(not automatic)


class GarmentPanel(PhotoPanel):
    """The garment card, plus the mask: shown over the photo, replaced from a file, or computed."""

    mask_requested = Signal()
    auto_mask_requested = Signal()

    def __init__(self, gallery: Gallery):
        super().__init__(
            "Garment", "Ctrl+G", "Drop a garment photo here\nor click to open one (Ctrl+G)", gallery
        )
        self.show_mask = QCheckBox("Show mask")
        self.show_mask.setToolTip("Show the garment mask the model uses (M)")
        self.show_mask.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.load_mask = push_button(
            "Mask file…", "Use a mask file instead of the computed mask (Ctrl+M)"
        )
        self.auto_mask = push_button("Auto", "Go back to the computed mask")
        self.auto_mask.setEnabled(False)
        self.mask_status = ElidedLabel("")
        self.mask_status.setObjectName("maskStatus")
        # Two short rows rather than one long one: the card stays narrow in a small window.
        show_row = QHBoxLayout()
        show_row.setSpacing(8)
        show_row.addWidget(self.show_mask)
        show_row.addStretch(1)
        show_row.addWidget(self.load_mask)
        status_row = QHBoxLayout()
        status_row.setSpacing(8)
        status_row.addWidget(self.mask_status, 1)
        status_row.addWidget(self.auto_mask)
        self.layout_.insertLayout(2, show_row)
        self.layout_.insertLayout(3, status_row)
        self.show_mask.toggled.connect(self.view.set_overlay_visible)
        self.load_mask.clicked.connect(self.mask_requested)
        self.auto_mask.clicked.connect(self.auto_mask_requested)

    def show_garment(self, garment: GarmentView) -> None:
        photo = garment.photo
        self.show_photo(photo.path, photo.rgb.shape[:2], garment.image, garment.overlay)
        mask_path = garment.photo.mask_path
        self.mask_status.setText(
            f"Mask: {mask_path.name}" if mask_path is not None else "Mask: computed from the photo"
        )
        self.mask_status.setToolTip(str(mask_path) if mask_path is not None else "")
        self.auto_mask.setEnabled(mask_path is not None)


class ResultPanel(QFrame):
    """The try-on over the original photo (drag the divider), the warped garment, save and copy.

    The slider and the divider move together: towards "After" the try-on covers more of the
    photo, and at that end it is all there is.
    """

    def __init__(self):
        super().__init__()
        layout = _card_layout(self)
        header, self.info = _header("Result", "")
        self.copy = push_button("Copy", "Copy the result to the clipboard (Ctrl+C)")
        self.save = push_button("Save…", "Save the result as PNG or JPEG (Ctrl+S)", primary=True)
        header.addWidget(self.copy)
        header.addWidget(self.save)
        layout.addLayout(header)
        self.compare = CompareView(
            f"The try-on appears here.\nPick a person and a garment: {PICK_HINT}."
        )
        layout.addWidget(self.compare, 1)
        slider_row = QHBoxLayout()
        slider_row.setSpacing(10)
        self.before_label, self.after_label = QLabel("Before"), QLabel("After")
        self.before_label.setObjectName("cardHint")
        self.after_label.setObjectName("cardHint")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 1000)
        self.slider.setValue(500)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setToolTip(
            "How much of the photo the try-on covers: the try-on left of the divider, "
            "the original right of it"
        )
        slider_row.addWidget(self.before_label)
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.after_label)
        layout.addLayout(slider_row)
        self.original = push_button("Original", "Show the original photo (Space)", checkable=True)
        self.warped = push_button(
            "Warped garment", "Show the garment as the model warped it (W)", checkable=True
        )
        # One button, "1:1" when fitted and "Fit" when zoomed: the row stays short enough for
        # an 800-pixel window.
        self.zoom_toggle = push_button("1:1", "")
        view_row = QHBoxLayout()
        view_row.setSpacing(8)
        view_row.addWidget(self.original)
        view_row.addWidget(self.warped)
        view_row.addStretch(1)
        view_row.addWidget(self.zoom_toggle)
        layout.addLayout(view_row)
        self.slider.valueChanged.connect(self._slider_moved)
        self.compare.split_changed.connect(self._split_moved)
        self.original.toggled.connect(self._mode_changed)
        self.warped.toggled.connect(self._mode_changed)
        self.zoom_toggle.clicked.connect(self.toggle_zoom)
        self.compare.zoom_changed.connect(self.sync_zoom_buttons)
        self.set_has_result(False)

    def zoom_to_fit(self) -> None:
        self.compare.fit()

    def zoom_to_actual_size(self) -> None:
        self.compare.actual_size()

    def toggle_zoom(self) -> None:
        """1:1 when the try-on is fitted, else back to fitted."""
        if self.compare.is_fitted():
            self.zoom_to_actual_size()
        else:
            self.zoom_to_fit()

    def sync_zoom_buttons(self) -> None:
        if self.compare.is_fitted():
            self.zoom_toggle.setText("1:1")
            self.zoom_toggle.setToolTip(
                "One photo pixel per screen pixel (Ctrl+1); the wheel zooms, a drag pans"
            )
        else:
            self.zoom_toggle.setText("Fit")
            self.zoom_toggle.setToolTip("Show the whole try-on (Ctrl+0)")

    def _slider_moved(self, value: int) -> None:
        self.compare.set_split(value / 1000)

    def _split_moved(self, split: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(split * 1000))
        self.slider.blockSignals(False)

    def _mode_changed(self) -> None:
        sender = self.sender()
        # The two views exclude each other; the newest click wins.
        if sender is self.original and self.original.isChecked():
            self.warped.setChecked(False)
        elif sender is self.warped and self.warped.isChecked():
            self.original.setChecked(False)
        if self.warped.isChecked():
            mode = "warped"
        elif self.original.isChecked():
            mode = "before"
        else:
            mode = "compare"
        self.compare.set_mode(mode)
        self.slider.setEnabled(mode == "compare" and self.compare.has_result())
        self.zoom_toggle.setEnabled(mode != "warped" and self.compare.has_result())
        self.sync_zoom_buttons()

    def set_has_result(self, has_result: bool) -> None:
        for widget in (
            self.original,
            self.warped,
            self.copy,
            self.save,
            self.slider,
            self.zoom_toggle,
        ):
            widget.setEnabled(has_result)
        self.sync_zoom_buttons()

    def show_result(self, result: ResultView) -> None:
        self.compare.set_images(result.before, result.after, result.warped)
        self.set_has_result(True)
        self._mode_changed()
