"""The main window: the panels (`panels.py`) and galleries, the runtime pickers, the menus and
the status bar, wired to the try-on controller."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from tryon_app.core.session import (
    IMAGE_SUFFIXES,
    PRECISION_CHOICES,
    ModelInfo,
    ModelRequest,
    list_models,
    sample_images,
)
from tryon_app.gui import style
from tryon_app.gui.controller import (
    COMPILING,
    PREPARING,
    READING,
    GarmentView,
    PersonView,
    ResultView,
    TryOnController,
)
from tryon_app.gui.gallery import Gallery, ThumbnailLoader
from tryon_app.gui.live import LiveMode
from tryon_app.gui.panels import PICK_HINT, GarmentPanel, PersonPanel, ResultPanel
from tryon_app.gui.settings import AppSettings, pictures_folder
from tryon_app.gui.widgets import (
    ZOOM_STEP,
    Banner,
    BusyIndicator,
    ComboBox,
    ElidedLabel,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

_IMAGE_FILTER = "Images ({});;All files (*)".format(
    " ".join(f"*{suffix}" for suffix in sorted(IMAGE_SUFFIXES))
)
_SAVE_FILTERS = {"PNG image (*.png)": ".png", "JPEG image (*.jpg *.jpeg)": ".jpg"}

LONG_PREPARATION_MS = 3000
"""After this long, the result pane says why preparing the model takes so long (a cold cache)."""

_ERROR_PREFIX = {
    "person": "Could not open the person photo",
    "garment": "Could not use the garment",
    "model": "Could not load the model",
    "devices": "Could not list the devices",
    "tryon": "The try-on failed",
    "save": "Could not save the result",
    "copy": "Could not copy the result",
}


class MainWindow(QMainWindow):
    """The app. Everything slow runs in `self.controller`'s workers; this class only shows.

    Args:
        settings: where choices are remembered (tests pass a temporary ini file).
        model_dirs: artifact folders to offer besides those in the model search folders.
        search_dirs: folders scanned for artifacts (default: the app's model search folders).
        start_model: artifact to load first (default: the remembered one, else `default`).
        restore_session: reopen the photos used last time (the first samples on a first run).
    """

    def __init__(
        self,
        settings: AppSettings,
        *,
        model_dirs: Iterable[Path] = (),
        search_dirs: Iterable[Path] | None = None,
        start_model: Path | None = None,
        restore_session: bool = True,
    ):
        super().__init__()
        self.settings = settings
        self.controller = TryOnController(self)
        self._extra_model_dirs = [Path(path) for path in model_dirs]
        self._search_dirs = list(search_dirs) if search_dirs is not None else None
        self._start_model = Path(start_model) if start_model is not None else None
        self._restore_session = restore_session
        self._banner_topic = ""
        self._devices_known = False
        self._started = False
        self._shut_down = False
        app = QGuiApplication.instance()
        ratio = app.devicePixelRatio() if app is not None else 1.0
        self.thumbnails = ThumbnailLoader(ratio=ratio, parent=self)
        # Try-ons take tens of milliseconds: say so only when one takes long enough to notice.
        self._busy_delay = QTimer(self)
        self._busy_delay.setSingleShot(True)
        self._busy_delay.setInterval(250)
        self._pending_busy = ""
        # A first start that compiles the correlation kernel takes long enough to need a reason.
        self._long_preparation = QTimer(self)
        self._long_preparation.setSingleShot(True)
        self._preparing_long = False

        self.setWindowTitle("Virtual Try-On")
        self.setMinimumSize(QSize(800, 600))
        self.resize(1280, 800)
        self._build()
        self._build_actions()
        self._connect()
        self.live_mode = LiveMode(self)
        self._fill_models()
        geometry = settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        central = QWidget()
        central.setObjectName("central")
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self._build_top_bar())

        body = QVBoxLayout()
        body.setContentsMargins(16, 12, 16, 12)
        body.setSpacing(10)
        self.banner = Banner()
        body.addWidget(self.banner)
        cards = QHBoxLayout()
        cards.setSpacing(14)
        person_gallery = Gallery(
            self.thumbnails, sample_images("person"), self.settings.recent("person")
        )
        garment_gallery = Gallery(
            self.thumbnails, sample_images("garment"), self.settings.recent("garment")
        )
        self.person_panel = PersonPanel(person_gallery)
        self.garment_panel = GarmentPanel(garment_gallery)
        self.result_panel = ResultPanel()
        cards.addWidget(self.person_panel, 1)
        cards.addWidget(self.garment_panel, 1)
        cards.addWidget(self.result_panel, 2)
        body.addLayout(cards, 1)
        outer.addLayout(body, 1)
        self.setCentralWidget(central)

        self.busy = BusyIndicator()
        self.model_label = ElidedLabel("No model loaded")
        # The timings take the room the model line leaves; they shorten from their end, where
        # the per-stage details are.
        self.timings_label = ElidedLabel("")
        self.timings_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.timings_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.statusBar().addWidget(self.busy)
        self.statusBar().addWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.timings_label, 1)
        self.statusBar().setSizeGripEnabled(False)
        style.apply_to_window(self)

    def _build_top_bar(self) -> QWidget:
        bar = QFrame()
        bar.setObjectName("topBar")
        row = QHBoxLayout(bar)
        row.setContentsMargins(18, 10, 18, 10)
        row.setSpacing(10)
        titles = QVBoxLayout()
        titles.setSpacing(0)
        title = QLabel("Virtual Try-On")
        title.setObjectName("appTitle")
        subtitle = ElidedLabel("PF-AFN on OpenVINO · runs on this computer")
        subtitle.setObjectName("appSubtitle")
        titles.addWidget(title)
        titles.addWidget(subtitle)
        row.addLayout(titles, 1)
        row.addSpacing(16)

        self.model_combo = ComboBox()
        self.model_combo.setMinimumContentsLength(16)
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model_combo.setToolTip("Model artifact (precision, size on disk)")
        self.device_combo = ComboBox()
        self.device_combo.setMinimumContentsLength(6)
        self.device_combo.setToolTip("OpenVINO device; AUTO lets OpenVINO choose")
        self.precision_combo = ComboBox()
        self.precision_combo.setToolTip(
            "Inference precision; Auto = the device's default (bf16 where the CPU has it)"
        )
        for choice in PRECISION_CHOICES:
            self.precision_combo.addItem("Auto" if choice == "auto" else choice, choice)
        device = self.settings.device
        self.device_combo.addItem(device, device)
        if device != "AUTO":
            self.device_combo.addItem("AUTO", "AUTO")
        self._select_data(self.precision_combo, self.settings.precision)
        for label, combo in (
            ("Model", self.model_combo),
            ("Device", self.device_combo),
            ("Precision", self.precision_combo),
        ):
            caption = QLabel(label)
            caption.setObjectName("pickerLabel")
            row.addWidget(caption)
            row.addWidget(combo)
            row.addSpacing(6)
        return bar

    def _build_actions(self) -> None:
        def action(text: str, shortcut: QKeySequence | str, slot) -> QAction:
            created = QAction(text, self)
            created.setShortcut(QKeySequence(shortcut))
            created.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            created.triggered.connect(slot)
            self.addAction(created)
            return created

        self.open_person_action = action("Open person photo", "Ctrl+O", self.choose_person)
        self.open_garment_action = action("Open garment photo", "Ctrl+G", self.choose_garment)
        self.open_mask_action = action("Open garment mask", "Ctrl+M", self.choose_mask)
        self.save_action = action(
            "Save result", QKeySequence.StandardKey.Save, self.choose_save_path
        )
        self.copy_action = action("Copy result", QKeySequence.StandardKey.Copy, self.copy_result)
        self.toggle_original_action = action("Before/after", "Space", self._toggle_original)
        self.toggle_warped_action = action("Warped garment", "W", self._toggle_warped)
        self.toggle_mask_action = action("Show mask", "M", self.garment_panel.show_mask.toggle)
        self.reset_framing_action = action("Reset framing", "R", self.controller.reset_framing)
        self.fit_action = action("Fit", "Ctrl+0", self.result_panel.zoom_to_fit)
        self.actual_size_action = action("1:1", "Ctrl+1", self.result_panel.zoom_to_actual_size)
        self.zoom_in_action = action("Zoom in", QKeySequence.StandardKey.ZoomIn, self.zoom_in)
        # Ctrl+= as well: on many keyboards "+" needs Shift.
        self.zoom_in_action.setShortcuts([*self.zoom_in_action.shortcuts(), QKeySequence("Ctrl+=")])
        self.zoom_out_action = action("Zoom out", QKeySequence.StandardKey.ZoomOut, self.zoom_out)
        self.rerun_action = action("Try on again", "F5", self.controller.request_try_on)
        self.dismiss_action = action("Dismiss message", "Escape", self.banner.hide)
        self.quit_action = action("Quit", QKeySequence.StandardKey.Quit, self.close)

    def zoom_in(self) -> None:
        self.result_panel.compare.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.result_panel.compare.zoom_by(1 / ZOOM_STEP)

    def _toggle_original(self) -> None:
        if self.result_panel.original.isEnabled():
            self.result_panel.original.toggle()

    def _toggle_warped(self) -> None:
        if self.result_panel.warped.isEnabled():
            self.result_panel.warped.toggle()

    def _connect(self) -> None:
        controller = self.controller
        controller.person_changed.connect(self._person_changed)
        controller.framing_changed.connect(self._framing_changed)
        controller.saved.connect(self._saved)
        controller.garment_changed.connect(self._garment_changed)
        controller.result_ready.connect(self._result_ready)
        controller.model_ready.connect(self._model_ready)
        controller.devices_ready.connect(self._devices_ready)
        controller.error.connect(self._worker_failed)
        controller.busy_changed.connect(self._busy_changed)
        self._busy_delay.timeout.connect(self._show_pending_busy)
        self._long_preparation.timeout.connect(self._preparation_is_long)
        self.person_panel.open_requested.connect(self.choose_person)
        self.person_panel.file_chosen.connect(self.open_person)
        self.person_panel.framing_edited.connect(self.controller.set_framing)
        self.person_panel.framing_reset.connect(self.controller.reset_framing)
        self.garment_panel.open_requested.connect(self.choose_garment)
        self.garment_panel.file_chosen.connect(self.open_garment)
        self.garment_panel.mask_requested.connect(self.choose_mask)
        self.garment_panel.auto_mask_requested.connect(self.use_computed_mask)
        self.result_panel.save.clicked.connect(self.choose_save_path)
        self.result_panel.copy.clicked.connect(self.copy_result)
        self.model_combo.currentIndexChanged.connect(self._runtime_changed)
        self.device_combo.currentIndexChanged.connect(self._runtime_changed)
        self.precision_combo.currentIndexChanged.connect(self._runtime_changed)

    def _busy_changed(self, text: str) -> None:
        self._pending_busy = text
        if not text or text in (COMPILING, PREPARING) or self.busy.is_busy():
            self._busy_delay.stop()
            self.busy.set_busy(text)
        elif not self._busy_delay.isActive():
            self._busy_delay.start()
        if text == PREPARING:
            if not self._long_preparation.isActive() and not self._preparing_long:
                self._long_preparation.start(LONG_PREPARATION_MS)
        else:
            self._long_preparation.stop()
            self._preparing_long = False
        self._show_what_is_happening()

    def _show_pending_busy(self) -> None:
        self.busy.set_busy(self._pending_busy)

    def _preparation_is_long(self) -> None:
        self._preparing_long = True
        self._show_what_is_happening()

    def _show_what_is_happening(self) -> None:
        """Until there is a try-on, the result pane says what it waits for."""
        controller = self.controller
        activity = controller.activity()
        lines = []
        if activity == PREPARING:
            lines.append("Preparing the model for this computer…")
            if self._preparing_long:
                lines.append("The first start takes up to half a minute; later starts are quick.")
        elif activity:
            lines.append(activity)
        elif self.model_unavailable():
            lines.append("No model to run the try-on: see the message above.")
        missing = [
            name
            for name, view in (("a person", controller.person), ("a garment", controller.garment))
            if view is None
        ]
        if missing and activity != READING:
            lead = "Meanwhile, pick" if lines else "The try-on appears here.\nPick"
            lines.append(f"{lead} {' and '.join(missing)}: {PICK_HINT}.")
        self.result_panel.compare.set_placeholder("\n".join(lines) or "The try-on appears here.")

    # ------------------------------------------------------------------ start and stop

    def start(self) -> None:
        """Begin the background work (OpenVINO, kernel warm-up, compilation) once shown."""
        if self._started:
            return
        self._started = True
        self.controller.detect_devices()
        if self._restore_session:
            # The photos used last time; on a first run, the first samples, so the app opens
            # on a try-on rather than on empty panels.
            galleries = {"person": self.person_panel.gallery, "garment": self.garment_panel.gallery}
            for kind, opener in (("person", self.open_person), ("garment", self.open_garment)):
                candidates = self.settings.recent(kind) or galleries[kind].samples.paths()
                if candidates:
                    opener(candidates[0])

    def showEvent(self, event) -> None:
        super().showEvent(event)
        # After the first paint: the window is up before anything heavy starts.
        QTimer.singleShot(0, self.start)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Remember the choices, stop the workers and the thumbnail pool (idempotent)."""
        if self._shut_down:
            return
        self._shut_down = True
        self.settings.set_geometry(self.saveGeometry())
        self.settings.sync()
        self.thumbnails.shutdown()
        self.live_mode.stop()
        self.controller.shutdown()

    # ------------------------------------------------------------------ runtime pickers

    def _fill_models(self) -> None:
        entries = list_models(self._extra_model_dirs, self._search_dirs)
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for entry in entries:
            self.model_combo.addItem(entry.label, str(entry.path))
            index = self.model_combo.count() - 1
            self.model_combo.setItemData(
                index, entry.problem or str(entry.path), Qt.ItemDataRole.ToolTipRole
            )
        if not entries:
            self.model_combo.addItem("No model found", "")
            self.model_combo.setEnabled(False)
        wanted = [str(self._start_model)] if self._start_model is not None else []
        wanted.append(self.settings.model_dir)
        wanted += [
            str(entry.path)
            for entry in entries
            if entry.path.name == "default" and not entry.problem
        ]
        wanted += [str(entry.path) for entry in entries if not entry.problem]
        for candidate in wanted:
            if candidate and self._select_data(self.model_combo, candidate, resolve=True):
                break
        self.model_combo.blockSignals(False)

    @staticmethod
    def _select_data(combo: QComboBox, data: str, *, resolve: bool = False) -> bool:
        for index in range(combo.count()):
            item = combo.itemData(index)
            if item == data or (resolve and item and Path(item).resolve() == Path(data).resolve()):
                combo.setCurrentIndex(index)
                return True
        return False

    def runtime_request(self) -> ModelRequest | None:
        model = self.model_combo.currentData()
        if not model:
            return None
        precision = self.precision_combo.currentData()
        return ModelRequest(
            Path(model),
            self.device_combo.currentData() or "CPU",
            None if precision == "auto" else precision,
        )

    def set_runtime(
        self, *, model: Path | None = None, device: str | None = None, precision: str | None = None
    ) -> None:
        """Pick a model, device or precision as the user would (a device not listed is added)."""
        if device is not None and not self._select_data(self.device_combo, device):
            self.device_combo.addItem(device, device)
            self.device_combo.setCurrentIndex(self.device_combo.count() - 1)
        if precision is not None:
            self._select_data(self.precision_combo, precision)
        if model is not None:
            self._select_data(self.model_combo, str(model), resolve=True)

    def model_unavailable(self) -> bool:
        """True when no model can run: none installed, or the chosen one failed to load."""
        return self.controller.model_failed() or (
            self._devices_known and self.runtime_request() is None
        )

    def _runtime_changed(self) -> None:
        if not self._devices_known:
            return  # the first model is compiled once the devices are known
        request = self.runtime_request()
        if request is None:
            return
        self.settings.model_dir = str(request.model_dir)
        self.settings.device = request.device
        self.settings.precision = self.precision_combo.currentData()
        self.model_label.setText(f"Model {request.model_dir.name} on {request.device}")
        self.controller.load_model(request)

    def _devices_ready(self, devices: list[str]) -> None:
        current = self.device_combo.currentData() or "CPU"
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        for device in [*devices, "AUTO"]:
            self.device_combo.addItem(device, device)
        if not self._select_data(self.device_combo, current):
            self._select_data(self.device_combo, "CPU")
        self.device_combo.blockSignals(False)
        first_time = not self._devices_known
        self._devices_known = True
        if first_time:
            self._first_model()

    def _worker_failed(self, topic: str, message: str) -> None:
        self.show_error(topic, message)
        if topic == "model":
            self.model_label.setText("No model loaded")
        self._show_what_is_happening()
        if topic == "devices" and not self._devices_known:
            # Without the device list the CPU is still there: go on with it.
            self._devices_ready(["CPU"])

    def _first_model(self) -> None:
        if self.runtime_request() is None:
            searched = ", ".join(
                str(path) for path in (self._search_dirs or _default_search_dirs())
            )
            self.show_error(
                "model",
                f"no model installed (looked in {searched}); run `optimize export` or reinstall",
            )
            return
        self._runtime_changed()

    def _model_ready(self, info: ModelInfo) -> None:
        precision = info.request.precision or "auto"
        self.model_label.setText(
            f"Model {info.name} ({info.precision}, {info.layout}) on {info.request.device}, {precision}"
            f" · ready in {info.seconds:.1f} s"
        )
        self._clear_banner("model", "devices")
        self._show_what_is_happening()

    # ------------------------------------------------------------------ photos

    def choose_person(self) -> None:
        path = self._ask_open("Open a person photo", "person")
        if path is not None:
            self.open_person(path)

    def choose_garment(self) -> None:
        path = self._ask_open("Open a garment photo", "garment")
        if path is not None:
            self.open_garment(path)

    def choose_mask(self) -> None:
        if self.controller.garment is None:
            self.show_error("garment", "open a garment photo before its mask")
            return
        path = self._ask_open("Open a garment mask (white garment on black)", "mask")
        if path is not None:
            self.open_mask(path)

    def _ask_open(self, title: str, kind: str) -> Path | None:
        folder = self.settings.folder(kind) or self.settings.folder("person") or pictures_folder()
        name, _ = QFileDialog.getOpenFileName(self, title, str(folder), _IMAGE_FILTER)
        if not name:
            return None
        self.settings.set_folder(kind, Path(name).parent)
        return Path(name)

    def open_person(self, path: str | Path) -> None:
        self.controller.open_person(Path(path))

    def open_garment(self, path: str | Path) -> None:
        self.controller.open_garment(Path(path))

    def use_computed_mask(self) -> None:
        self.open_mask(None)

    def open_mask(self, path: str | Path | None) -> None:
        self.controller.open_mask(Path(path) if path is not None else None)

    def _person_changed(self, person: PersonView) -> None:
        controller = self.controller
        self.person_panel.show_person(
            person, controller.framing_box(), controller.framing_is_automatic()
        )
        self.person_panel.gallery.set_recent(self.settings.add_recent("person", person.photo.path))
        self.person_panel.gallery.mark_current(person.photo.path)
        self._clear_banner("person", "framing")
        note = person.photo.framing.note
        if note:
            self.show_notice(
                "framing", f"{_sentence(note)} Drag the box on the photo to frame the person."
            )
        self._show_what_is_happening()

    def _framing_changed(self, box) -> None:
        person = self.controller.person
        if person is None:
            return
        automatic = self.controller.framing_is_automatic()
        self.person_panel.show_framing(box, automatic, person.photo.framing)
        if not automatic:
            self._clear_banner("framing")

    def _garment_changed(self, garment: GarmentView) -> None:
        self.garment_panel.gallery.set_recent(
            self.settings.add_recent("garment", garment.photo.path)
        )
        self.garment_panel.show_garment(garment)
        self._clear_banner("garment")
        self._show_what_is_happening()

    def _result_ready(self, result: ResultView) -> None:
        self.result_panel.show_result(result)
        outcome = result.outcome
        self.result_panel.info.setText(
            f"{outcome.request.person.path.stem} + {outcome.request.garment.path.stem}"
        )
        self.timings_label.setText(result.timings)
        self._clear_banner("tryon", "person", "garment", "save", "copy", "notes")
        # The framing's own note was shown when the photo was opened.
        notes = [
            note for note in outcome.result.notes if note != outcome.request.person.framing.note
        ]
        if notes:
            self.show_notice("notes", " ".join(_sentence(note) for note in notes))

    # ------------------------------------------------------------------ result

    def choose_save_path(self) -> None:
        if self.controller.result is None:
            return
        request = self.controller.result.outcome.request
        # Never beside the person photo: a sample's folder is inside the installed application.
        suggested = self.settings.save_folder()
        suggested /= f"{request.person.path.stem}__{request.garment.path.stem}.png"
        name, chosen_filter = QFileDialog.getSaveFileName(
            self, "Save the try-on", str(suggested), ";;".join(_SAVE_FILTERS)
        )
        if not name:
            return
        path = Path(name)
        if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            path = path.with_name(path.name + _SAVE_FILTERS.get(chosen_filter, ".png"))
        self.save_result(path)

    def save_result(self, path: str | Path) -> bool:
        """Write the result at full resolution (PNG or JPEG by extension) in the background: a
        12-megapixel PNG takes seconds. The status bar says when it is written, the banner why
        not. False when there is no result to save."""
        path = Path(path)
        if not self.controller.save_result(path):
            return False
        # Remembered now, not once written: the next dialog may open before this one is done.
        self.settings.set_folder("save", path.parent)
        return True

    def _saved(self, path: Path) -> None:
        self._clear_banner("save")
        self.statusBar().showMessage(f"Saved {path}", 6000)

    def copy_result(self) -> None:
        if self.controller.result is None:
            return
        clipboard = QGuiApplication.clipboard()
        if clipboard is None:
            self.show_error("copy", "no clipboard available")
            return
        clipboard.setImage(self.controller.result.after.copy_full())
        self.statusBar().showMessage("Copied the result to the clipboard", 4000)

    # ------------------------------------------------------------------ messages

    def show_error(self, topic: str, message: str) -> None:
        prefix = _ERROR_PREFIX.get(topic, "Something went wrong")
        self._banner_topic = topic
        self.banner.show_message(f"{prefix}: {message}")
        log.info("%s: %s", topic, message)

    def show_notice(self, topic: str, message: str) -> None:
        """Something the user should know that is not a failure (an information banner)."""
        self._banner_topic = topic
        self.banner.show_message(message, "info")
        log.info("%s: %s", topic, message)

    def _clear_banner(self, *topics: str) -> None:
        if self._banner_topic in topics:
            self.banner.hide()
            self._banner_topic = ""


def _sentence(note: str) -> str:
    """A one-line note from the core ("no person found…") as a sentence."""
    note = note.strip()
    return note[:1].upper() + note[1:] + ("" if note.endswith(".") else ".")


def _default_search_dirs() -> list[Path]:
    from tryon_app.core.paths import model_search_dirs

    return model_search_dirs()
