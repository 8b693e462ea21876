"""Photo galleries: a list model of image files whose thumbnails are made off the GUI thread."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QSizePolicy, QTabWidget, QWidget

from tryon_app.gui import style
from tryon_app.gui.imaging import rgb_to_qimage, thumbnail

log = logging.getLogger(__name__)

THUMBNAIL_SIZE = QSize(66, 88)
PathRole = Qt.ItemDataRole.UserRole + 1


class _ThumbnailJob(QRunnable):
    def __init__(self, loader: ThumbnailLoader, path: Path, size: QSize, ratio: float):
        super().__init__()
        self._loader = loader
        self._path = path
        self._size = size
        self._ratio = ratio

    def run(self) -> None:
        from tryon_app.core.images import load_image

        width, height = (
            round(self._size.width() * self._ratio),
            round(self._size.height() * self._ratio),
        )
        try:
            image = rgb_to_qimage(thumbnail(load_image(self._path, what="photo"), width, height))
        except Exception as error:  # noqa: BLE001 - a broken file just gets no thumbnail
            log.info("no thumbnail for %s: %s", self._path, error)
            image = QImage()
        self._loader.loaded.emit(str(self._path), image)


class ThumbnailLoader(QObject):
    """Makes thumbnails on a small thread pool and keeps them; shared by every gallery.

    Signals:
        loaded(str, QImage): a thumbnail for that path is ready (a null image if unreadable).
    """

    loaded = Signal(str, QImage)

    def __init__(
        self, size: QSize = THUMBNAIL_SIZE, ratio: float = 1.0, parent: QObject | None = None
    ):
        super().__init__(parent)
        self.size = size
        self.ratio = ratio
        self._pool = QThreadPool(self)
        # Decoding a few JPEGs is light; one thread leaves the cores to the try-on.
        self._pool.setMaxThreadCount(1)
        self._icons: dict[str, QIcon] = {}
        self._requested: set[str] = set()
        self._closed = False
        self.loaded.connect(self._store)

    def icon(self, path: Path) -> QIcon | None:
        """The thumbnail if it is ready; otherwise None, and it is queued."""
        key = str(path)
        icon = self._icons.get(key)
        if icon is None and key not in self._requested and not self._closed:
            self._requested.add(key)
            self._pool.start(_ThumbnailJob(self, path, self.size, self.ratio))
        return icon

    def forget(self, path: Path) -> None:
        """Drop a cached thumbnail (the file changed)."""
        self._icons.pop(str(path), None)
        self._requested.discard(str(path))

    def _store(self, key: str, image: QImage) -> None:
        if image.isNull():
            self._icons[key] = placeholder_icon(self.size, broken=True)
        else:
            pixmap = QPixmap.fromImage(image)
            pixmap.setDevicePixelRatio(self.ratio)
            icon = QIcon(pixmap)
            # The same picture when selected: the view marks the item, the photo keeps its colours.
            icon.addPixmap(pixmap, QIcon.Mode.Selected)
            self._icons[key] = icon

    def wait(self, msecs: int = -1) -> bool:
        return self._pool.waitForDone(msecs)

    def shutdown(self) -> None:
        """Drop queued thumbnails and wait for the one being made."""
        self._closed = True
        self._pool.clear()
        self._pool.waitForDone()

    def active_threads(self) -> int:
        return self._pool.activeThreadCount()


def placeholder_icon(size: QSize, *, broken: bool = False) -> QIcon:
    pixmap = QPixmap(size)
    pixmap.fill(QColor(style.BORDER))
    if broken:
        painter = QPainter(pixmap)
        painter.setPen(QColor(style.TEXT_MUTED))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "?")
        painter.end()
    return QIcon(pixmap)


class ThumbnailModel(QAbstractListModel):
    """Image files as list items: the icon is the thumbnail, the tooltip the full path."""

    def __init__(
        self,
        loader: ThumbnailLoader,
        paths: list[Path] | None = None,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self._loader = loader
        self._paths: list[Path] = list(paths or [])
        self._placeholder = placeholder_icon(loader.size)
        loader.loaded.connect(self._thumbnail_ready)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._paths)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ):
        if not index.isValid() or not 0 <= index.row() < len(self._paths):
            return None
        path = self._paths[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            return self._loader.icon(path) or self._placeholder
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(path)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return path.name
        if role == PathRole:
            return path
        return None

    def paths(self) -> list[Path]:
        return list(self._paths)

    def set_paths(self, paths: list[Path]) -> None:
        self.beginResetModel()
        self._paths = list(paths)
        self.endResetModel()

    def row_of(self, path: Path) -> int:
        for row, known in enumerate(self._paths):
            if known == path:
                return row
        return -1

    def _thumbnail_ready(self, key: str, image: QImage) -> None:
        for row, path in enumerate(self._paths):
            if str(path) == key:
                index = self.index(row)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class ThumbnailList(QListView):
    """A one-row strip of thumbnails that scrolls sideways; a click picks the photo."""

    picked = Signal(Path)

    def __init__(self, model: ThumbnailModel, empty_text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.empty_text = empty_text
        self.setModel(model)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setIconSize(THUMBNAIL_SIZE)
        self.setGridSize(QSize(THUMBNAIL_SIZE.width() + 10, THUMBNAIL_SIZE.height() + 10))
        self.setSpacing(0)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setFixedHeight(THUMBNAIL_SIZE.height() + 34)
        self.clicked.connect(self._clicked)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.model().rowCount() == 0 and self.empty_text:
            painter = QPainter(self.viewport())
            painter.setPen(QColor(style.TEXT_MUTED))
            painter.drawText(
                self.viewport().rect().adjusted(12, 0, -12, 0),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.empty_text,
            )

    def sizeHint(self) -> QSize:
        return QSize(4 * self.gridSize().width(), self.height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self.gridSize().width(), self.height())

    def _clicked(self, index: QModelIndex) -> None:
        path = index.data(PathRole)
        if isinstance(path, Path):
            self.picked.emit(path)

    def select_path(self, path: Path | None) -> None:
        model = self.model()
        row = model.row_of(path) if path is not None and isinstance(model, ThumbnailModel) else -1
        if row < 0:
            self.clearSelection()
        else:
            index = model.index(row)
            self.setCurrentIndex(index)
            self.scrollTo(index)


class Gallery(QTabWidget):
    """ "Samples" and "Recent" thumbnail strips for one kind of photo.

    Signals:
        picked(Path): the user clicked a photo.
    """

    picked = Signal(Path)

    def __init__(
        self,
        loader: ThumbnailLoader,
        samples: list[Path],
        recent: list[Path],
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.samples = ThumbnailModel(loader, samples, self)
        self.recent = ThumbnailModel(loader, recent, self)
        self.sample_list = ThumbnailList(self.samples, "No sample photos installed")
        self.recent_list = ThumbnailList(self.recent, "Photos you open appear here")
        self.addTab(self.sample_list, "Samples")
        self.addTab(self.recent_list, "Recent")
        self.setDocumentMode(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.sample_list.picked.connect(self.picked)
        self.recent_list.picked.connect(self.picked)
        if not samples and recent:
            self.setCurrentIndex(1)

    def set_recent(self, paths: list[Path]) -> None:
        self.recent.set_paths(paths)
        if paths and not self.samples.rowCount():
            self.setCurrentWidget(self.recent_list)

    def mark_current(self, path: Path | None) -> None:
        """Show which photo is in use (selected in whichever strip holds it)."""
        resolved = path.resolve() if path is not None else None
        for strip, model in ((self.sample_list, self.samples), (self.recent_list, self.recent)):
            match = next(
                (
                    known
                    for known in model.paths()
                    if resolved is not None and known.resolve() == resolved
                ),
                None,
            )
            strip.select_path(match)
