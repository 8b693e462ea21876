"""Widgets that only show things: photo views (with drop support, with a framing box), a zoomable
before/after view, a banner."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from tryon_app.gui import style
from tryon_app.gui.imaging import VEIL_RGBA, Picture

if TYPE_CHECKING:
    from tryon_app.core.framing import Box

_RADIUS = 10.0
_MARGIN = 10.0


def dropped_file(event: QDragEnterEvent | QDropEvent) -> Path | None:
    """The first local file in a drag, if any."""
    mime = event.mimeData()
    if mime is None or not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile() and url.toLocalFile():
            return Path(url.toLocalFile())
    return None


def fit_rect(image_size: QSize, area: QRectF) -> QRectF:
    """The largest rectangle of the image's aspect centred in `area`."""
    if image_size.isEmpty() or area.isEmpty():
        return QRectF()
    scale = min(area.width() / image_size.width(), area.height() / image_size.height())
    width, height = image_size.width() * scale, image_size.height() * scale
    return QRectF(
        area.x() + (area.width() - width) / 2,
        area.y() + (area.height() - height) / 2,
        width,
        height,
    )


class ElidedLabel(QLabel):
    """A one-line label that ends in "…" where its text does not fit; the full text is then in
    its tooltip. `text()` is always the full text.

    Args:
        text: what to show.
        elide: which end gives way (Qt.TextElideMode).
    """

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        *,
        elide: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
    ):
        super().__init__(text, parent)
        self._elide = elide
        self._own_tooltip = ""
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._update_tooltip()

    def setToolTip(self, text: str) -> None:
        """What the tooltip says besides the full text (a file's path, say)."""
        self._own_tooltip = text
        self._update_tooltip()

    def is_elided(self) -> bool:
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()

    def minimumSizeHint(self) -> QSize:
        # A few letters and the ellipsis: enough to tell what the label is about.
        full = super().minimumSizeHint()
        margins = self.width() - self.contentsRect().width()
        short = self.fontMetrics().horizontalAdvance(self.text()[:3] + "…") + margins
        return QSize(min(full.width(), short), full.height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_tooltip()

    def paintEvent(self, event: QPaintEvent) -> None:
        room = self.contentsRect()
        shown = self.fontMetrics().elidedText(self.text(), self._elide, room.width())
        painter = QPainter(self)
        self.style().drawItemText(
            painter,
            room,
            int(self.alignment()),
            self.palette(),
            self.isEnabled(),
            shown,
            self.foregroundRole(),
        )

    def _update_tooltip(self) -> None:
        parts = [self.text()] if self.is_elided() else []
        if self._own_tooltip and self._own_tooltip not in parts:
            parts.append(self._own_tooltip)
        super().setToolTip("\n".join(parts))


class _ScaledCache:
    """One scaled pixmap per (image, target size, pixel ratio): painting must not rescale photos."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._pixmap = QPixmap()

    def get(self, image: QImage, overlay: QImage | None, size: QSize, ratio: float) -> QPixmap:
        key = (
            image.cacheKey(),
            overlay.cacheKey() if overlay is not None else 0,
            size.width(),
            size.height(),
            ratio,
        )
        if key != self._key:
            pixels = QSize(
                max(1, round(size.width() * ratio)), max(1, round(size.height() * ratio))
            )
            scaled = image.scaled(
                pixels,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            if overlay is not None:
                scaled = scaled.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
                painter = QPainter(scaled)
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                painter.drawImage(QRectF(0, 0, pixels.width(), pixels.height()), overlay)
                painter.end()
            self._pixmap = QPixmap.fromImage(scaled)
            self._pixmap.setDevicePixelRatio(ratio)
            self._key = key
        return self._pixmap


def _paint_frame(painter: QPainter, rect: QRectF, *, highlight: bool, dashed: bool) -> None:
    path = QPainterPath()
    path.addRoundedRect(rect, _RADIUS, _RADIUS)
    painter.fillPath(path, QColor(style.CANVAS))
    if highlight or dashed:
        pen = QPen(
            QColor(style.ACCENT if highlight else style.BORDER_STRONG), 2 if highlight else 1.5
        )
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawPath(path)


def _paint_placeholder(painter: QPainter, rect: QRectF, text: str) -> None:
    painter.setPen(QColor(style.TEXT_MUTED))
    painter.drawText(
        rect.adjusted(24, 0, -24, 0), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text
    )


def _paint_tag(painter: QPainter, anchor: QPointF, text: str, *, right: bool = False) -> None:
    """A small rounded label (Before / After) pinned at a corner of the picture."""
    font = QFont(painter.font())
    font.setPointSizeF(max(7.5, font.pointSizeF() - 1))
    font.setWeight(QFont.Weight.DemiBold)
    painter.setFont(font)
    metrics = painter.fontMetrics()
    width, height = metrics.horizontalAdvance(text) + 16, metrics.height() + 6
    x = anchor.x() - width if right else anchor.x()
    box = QRectF(x, anchor.y(), width, height)
    path = QPainterPath()
    path.addRoundedRect(box, height / 2, height / 2)
    painter.fillPath(path, QColor(17, 24, 39, 150))
    painter.setPen(QColor("white"))
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


class ImageView(QWidget):
    """A photo fitted to the widget, with an optional overlay; accepts dropped files.

    Signals:
        file_dropped(Path): a local file was dropped on the view.
        clicked(): the empty view was clicked (the panel opens its file dialog).
    """

    file_dropped = Signal(Path)
    clicked = Signal()

    def __init__(self, placeholder: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.placeholder = placeholder
        self._image: QImage | None = None
        self._overlay: QImage | None = None
        self._overlay_visible = False
        self._drag_active = False
        self._cache = _ScaledCache()
        self.setAcceptDrops(True)
        self.setMinimumSize(150, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def image(self) -> QImage | None:
        return self._image

    def set_image(self, image: QImage | None, overlay: QImage | None = None) -> None:
        self._image = image
        self._overlay = overlay
        self.setCursor(
            Qt.CursorShape.ArrowCursor if image is not None else Qt.CursorShape.PointingHandCursor
        )
        self.update()

    def set_overlay_visible(self, visible: bool) -> None:
        self._overlay_visible = visible
        self.update()

    def overlay_visible(self) -> bool:
        return self._overlay_visible and self._overlay is not None

    def sizeHint(self) -> QSize:
        return QSize(300, 400)

    def picture_rect(self) -> QRectF:
        if self._image is None:
            return QRectF()
        return fit_rect(
            self._image.size(), QRectF(self.rect()).adjusted(_MARGIN, _MARGIN, -_MARGIN, -_MARGIN)
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        frame = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        _paint_frame(painter, frame, highlight=self._drag_active, dashed=self._image is None)
        if self._image is None:
            _paint_placeholder(painter, frame, self.placeholder)
            return
        target = self.picture_rect()
        overlay = self._overlay if self.overlay_visible() else None
        pixmap = self._cache.get(
            self._image, overlay, target.size().toSize(), self.devicePixelRatioF()
        )
        painter.drawPixmap(target.topLeft(), pixmap)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._image is None:
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_file(event) is not None:
            event.acceptProposedAction()
            self._drag_active = True
            self.update()

    def dragLeaveEvent(self, event) -> None:
        self._drag_active = False
        self.update()

    def dropEvent(self, event: QDropEvent) -> None:
        self._drag_active = False
        self.update()
        path = dropped_file(event)
        if path is not None:
            event.acceptProposedAction()
            self.file_dropped.emit(path)


ZOOM_STEP = 1.25
"""One notch of the mouse wheel, or one Zoom in / Zoom out."""
ZOOM_SETTLE_MS = 150
"""A zoom this long unchanged is drawn at its best (see `_PictureLayer`)."""
MAX_ZOOM = 16.0
"""Screen pixels per photo pixel at the closest."""
PIXEL_SQUARES_FROM = 4.0
"""Screen pixels per photo pixel from which pixels are drawn as squares rather than smoothed."""
_DIVIDER_GRAB = 12.0


class _PictureLayer:
    """Paints a `Picture` at any scale, reading only the pixels in view.

    Up to the resolution of the picture's largest copy, a smooth shrink of the smallest copy that
    has enough pixels is drawn, cached per size (bilinear sampling would alias): one rescale per
    zoom (10-30 ms), none per paint; while the zoom is still changing (`quick`), that copy is
    sampled directly instead. Beyond it, the visible part of the full-resolution image is
    sampled directly, so a paint costs what the view shows, not what the photo holds. From
    `PIXEL_SQUARES_FROM` screen pixels per photo pixel on, pixels are drawn as squares (no blur
    when inspecting; a small photo fitted to a large view stays smooth).
    """

    def __init__(self) -> None:
        self._cache = _ScaledCache()

    def paint(
        self,
        painter: QPainter,
        picture: Picture,
        placed: QRectF,
        visible: QRectF,
        ratio: float,
        quick: bool = False,
    ) -> None:
        """Draw the part of `picture` inside `visible`, the whole picture lying at `placed`."""
        if placed.isEmpty() or visible.isEmpty():
            return
        needed = placed.width() * ratio  # screen pixels across the whole picture
        copy = picture.copy_for(needed)
        source = copy if copy is not None else picture.full
        screen_per_source = needed / source.width()
        if copy is not None and screen_per_source < 1 and not quick:
            pixmap = self._cache.get(source, None, placed.size().toSize(), ratio)
            painter.drawPixmap(placed.topLeft(), pixmap)
            return
        to_source = source.width() / placed.width()
        to_source_y = source.height() / placed.height()
        source_rect = QRectF(
            (visible.left() - placed.left()) * to_source,
            (visible.top() - placed.top()) * to_source_y,
            visible.width() * to_source,
            visible.height() * to_source_y,
        )
        painter.save()
        painter.setRenderHint(
            QPainter.RenderHint.SmoothPixmapTransform, screen_per_source < PIXEL_SQUARES_FROM
        )
        painter.drawImage(visible, source, source_rect)
        painter.restore()


class CompareView(QWidget):
    """The try-on against the original photo at full resolution, split by a divider.

    Modes: "compare" (the try-on left of the divider, the original right of it), "before" (the
    original alone) and "warped" (the garment as the model warped it). The split is the share of
    the picture in view that shows the try-on: 0 shows the original alone, 1 the try-on alone.

    Zoom: the wheel zooms around the cursor, `fit`/`actual_size`/`zoom_by` from the window's
    actions; zoomed in, dragging pans (dragging on the divider still moves it, and a middle-button
    drag always pans). `zoom()` is in screen pixels per photo pixel (1.0 is 1:1). The zoom and
    the place in view survive a new try-on of the same photo; a photo of another size is fitted.
    """

    split_changed = Signal(float)
    zoom_changed = Signal()

    MODES = ("compare", "before", "warped")

    def __init__(self, placeholder: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.placeholder = placeholder
        self._before: Picture | None = None
        self._after: Picture | None = None
        self._warped: Picture | None = None
        self._split = 0.5
        self._mode = "compare"
        self._zoom: float | None = None  # None: fitted to the view, following its size
        self._centre = QPointF()  # photo point at the view's centre when zoomed
        self._drag = ""  # "split" or "pan" while a button is held
        self._drag_last = QPointF()
        self._before_layer = _PictureLayer()
        self._after_layer = _PictureLayer()
        self._warped_layer = _PictureLayer()
        self._zooming = QTimer(self)
        self._zooming.setSingleShot(True)
        self._zooming.setInterval(ZOOM_SETTLE_MS)
        self._zooming.timeout.connect(self.update)
        self.setMinimumSize(240, 300)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    def set_images(
        self,
        before: Picture | QImage | None,
        after: Picture | QImage | None,
        warped: Picture | QImage | None = None,
    ) -> None:
        """Show a try-on: `before` and `after` of one size (full resolution, or any QImage)."""
        old_size = self.photo_size()
        self._before, self._after, self._warped = (
            Picture.from_qimage(image) if isinstance(image, QImage) else image
            for image in (before, after, warped)
        )
        if self.photo_size() != old_size and self._zoom is not None:
            self._zoom = None
            self.zoom_changed.emit()
        self.update()

    def has_result(self) -> bool:
        return self._after is not None

    def after(self) -> Picture | None:
        return self._after

    def before(self) -> Picture | None:
        return self._before

    def photo_size(self) -> QSize:
        """(width, height) of the try-on in photo pixels (empty without one)."""
        return QSize(self._after.width, self._after.height) if self._after else QSize()

    def set_placeholder(self, text: str) -> None:
        """What the empty view says (what the app is doing, or what it needs)."""
        if text != self.placeholder:
            self.placeholder = text
            self.update()

    def split(self) -> float:
        return self._split

    def set_split(self, split: float) -> None:
        split = min(1.0, max(0.0, float(split)))
        if split != self._split:
            self._split = split
            self.split_changed.emit(split)
            self.update()

    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {', '.join(self.MODES)}, not {mode!r}")
        self._mode = mode
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(520, 600)

    # ------------------------------------------------------------------ zoom

    def fit_zoom(self) -> float:
        """Screen pixels per photo pixel when the whole try-on fits the view."""
        if self._after is None:
            return 1.0
        area = self._area()
        scale = min(area.width() / self._after.width, area.height() / self._after.height)
        return max(scale, 1e-6) * self.devicePixelRatioF()

    def zoom(self) -> float:
        """Screen pixels per photo pixel now (1.0: one photo pixel on one screen pixel)."""
        return self._zoom if self._zoom is not None else self.fit_zoom()

    def is_fitted(self) -> bool:
        return self._zoom is None

    def fit(self) -> None:
        """Show the whole try-on, following the view's size."""
        if self._zoom is not None:
            self._zoom = None
            self.zoom_changed.emit()
            self.update()

    def actual_size(self, anchor: QPointF | None = None) -> None:
        """1:1: one photo pixel on one screen pixel, around `anchor` (default the view's centre)."""
        self.set_zoom(1.0, anchor)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom in (factor > 1) or out, keeping the photo point under `anchor` where it is."""
        self.set_zoom(self.zoom() * factor, anchor)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Show the try-on at `zoom` screen pixels per photo pixel, from the fitted size (or 1:1
        for a photo smaller than the view) to `MAX_ZOOM`."""
        if self._after is None:
            return
        fit = self.fit_zoom()
        zoom = min(MAX_ZOOM, max(min(fit, 1.0), zoom))
        if abs(zoom / fit - 1) < 1e-6 or (fit <= 1.0 and zoom <= fit):
            self.fit()
            return
        anchor = QPointF(anchor) if anchor is not None else self._area().center()
        held = self.photo_point(anchor)
        scale = zoom / self.devicePixelRatioF()
        self._zoom = zoom
        self._centre = held + (self._area().center() - anchor) / scale
        self._centre = self._clamped_centre()
        self._zooming.start()
        self.zoom_changed.emit()
        self.update()

    def photo_point(self, position: QPointF) -> QPointF:
        """The photo pixel coordinates under a point of the view (compare and before modes)."""
        placed = self.picture_rect()
        if placed.isEmpty():
            return QPointF()
        scale = placed.width() / self._after.width
        return (QPointF(position) - placed.topLeft()) / scale

    def can_pan(self) -> bool:
        """Whether the try-on is larger than the view (in compare and before modes)."""
        if self._after is None or self._mode == "warped" or self._zoom is None:
            return False
        area, placed = self._area(), self.picture_rect()
        return placed.width() > area.width() + 0.5 or placed.height() > area.height() + 0.5

    def pan_by(self, delta: QPointF) -> None:
        """Move the photo by `delta` view pixels (as a drag does)."""
        if not self.can_pan():
            return
        self._centre -= delta / (self._zoom / self.devicePixelRatioF())
        self._centre = self._clamped_centre()
        self.update()

    def _clamped_centre(self) -> QPointF:
        """The zoomed view's centre, kept so the photo covers the view wherever it is larger."""
        area = self._area()
        scale = self._zoom / self.devicePixelRatioF()

        def along(centre: float, photo: int, room: float) -> float:
            half = room / 2 / scale
            return photo / 2 if photo <= 2 * half else min(max(centre, half), photo - half)

        return QPointF(
            along(self._centre.x(), self._after.width, area.width()),
            along(self._centre.y(), self._after.height, area.height()),
        )

    # ------------------------------------------------------------------ geometry

    def _area(self) -> QRectF:
        return QRectF(self.rect()).adjusted(_MARGIN, _MARGIN, -_MARGIN, -_MARGIN)

    def picture_rect(self) -> QRectF:
        """Where the whole picture shown lies in the view; zoomed in, it reaches past the view."""
        if self._mode == "warped":
            warped = self._warped or self._after
            return fit_rect(warped.full.size(), self._area()) if warped else QRectF()
        if self._after is None:
            return QRectF()
        if self._zoom is None:
            return fit_rect(self._after.full.size(), self._area())
        ratio = self.devicePixelRatioF()
        scale = self._zoom / ratio
        centre = self._clamped_centre()
        corner = self._area().center() - centre * scale
        # On whole screen pixels: at 1:1 each photo pixel lands on one screen pixel, unblurred.
        return QRectF(
            round(corner.x() * ratio) / ratio,
            round(corner.y() * ratio) / ratio,
            self._after.width * scale,
            self._after.height * scale,
        )

    def visible_rect(self) -> QRectF:
        """The part of the picture in view."""
        return self.picture_rect().intersected(self._area())

    def divider_x(self) -> float:
        visible = self.visible_rect()
        return visible.left() + visible.width() * self._split

    # ------------------------------------------------------------------ painting

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        frame = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        _paint_frame(painter, frame, highlight=False, dashed=self._after is None)
        if self._after is None:
            _paint_placeholder(painter, frame, self.placeholder)
            return
        ratio = self.devicePixelRatioF()
        placed = self.picture_rect()
        visible = placed.intersected(self._area())
        quick = self._zooming.isActive()
        corner = visible.topLeft() + QPointF(10, 10)
        right_corner = visible.topRight() + QPointF(-10, 10)
        if self._mode == "warped":
            self._warped_layer.paint(painter, self._warped or self._after, placed, visible, ratio)
            _paint_tag(painter, corner, "Warped garment")
            return
        before = self._before or self._after
        painter.save()
        painter.setClipRect(visible)
        self._before_layer.paint(painter, before, placed, visible, ratio, quick)
        if self._mode == "compare":
            # The try-on sweeps over the photo from the left as the divider moves right, the
            # way the slider below fills from its Before end towards its After end.
            divider_x = self.divider_x()
            shown = QRectF(
                visible.left(), visible.top(), divider_x - visible.left(), visible.height()
            )
            painter.setClipRect(shown)
            self._after_layer.paint(painter, self._after, placed, shown, ratio, quick)
        painter.restore()
        if self._zoom is not None:
            _paint_tag(
                painter, visible.bottomRight() + QPointF(-10, -34), f"{self.zoom():.0%}", right=True
            )
        if self._mode == "before":
            _paint_tag(painter, corner, "Original")
            return
        if self._split > 0.08:
            _paint_tag(painter, corner, "After")
        if self._split < 0.92:
            _paint_tag(painter, right_corner, "Before", right=True)
        self._paint_divider(painter, visible, self.divider_x())

    def _paint_divider(self, painter: QPainter, target: QRectF, x: float) -> None:
        painter.setPen(QPen(QColor(255, 255, 255, 230), 2))
        painter.drawLine(QPointF(x, target.top()), QPointF(x, target.bottom()))
        centre = QPointF(x, target.center().y())
        painter.setPen(QPen(QColor(style.BORDER_STRONG), 1))
        painter.setBrush(QColor("white"))
        painter.drawEllipse(centre, 13, 13)
        painter.setPen(QPen(QColor(style.TEXT), 1.6))
        for direction in (-1, 1):
            tip = centre + QPointF(8 * direction, 0)
            painter.drawLine(tip, tip + QPointF(-4 * direction, -4))
            painter.drawLine(tip, tip + QPointF(-4 * direction, 4))

    # ------------------------------------------------------------------ mouse

    def _split_at(self, x: float) -> None:
        visible = self.visible_rect()
        if visible.width() > 0:
            self.set_split((x - visible.left()) / visible.width())

    def _on_divider(self, x: float) -> bool:
        return self._mode == "compare" and abs(x - self.divider_x()) <= _DIVIDER_GRAB

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._after is None:
            return
        x = event.position().x()
        left = event.button() == Qt.MouseButton.LeftButton
        if self.can_pan() and (
            event.button() == Qt.MouseButton.MiddleButton or (left and not self._on_divider(x))
        ):
            self._drag, self._drag_last = "pan", event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif left and self._mode == "compare":
            self._drag = "split"
            self._split_at(x)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        position = event.position()
        if self._drag == "pan":
            self.pan_by(position - self._drag_last)
            self._drag_last = position
            return
        if self._drag == "split":
            self._split_at(position.x())
            return
        self.setCursor(self._cursor_at(position))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = ""
        self.setCursor(self._cursor_at(event.position()))

    def _cursor_at(self, position: QPointF) -> Qt.CursorShape:
        if self._after is None or not self.visible_rect().contains(position):
            return Qt.CursorShape.ArrowCursor
        if self._on_divider(position.x()):
            return Qt.CursorShape.SplitHCursor
        if self.can_pan():
            return Qt.CursorShape.OpenHandCursor
        if self._mode == "compare":
            return Qt.CursorShape.SplitHCursor
        return Qt.CursorShape.ArrowCursor

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120
        if self._after is None or self._mode == "warped" or not notches:
            event.ignore()
            return
        self.zoom_by(ZOOM_STEP**notches, event.position())
        event.accept()


class FramingView(ImageView):
    """The person photo with the box the model sees: drag inside the box to move it, drag a
    corner to resize it (it stays 3:4), double-click in it to go back to the automatic framing.

    The box may reach a little outside the photo (that part is padded), but its centre stays on
    the photo. The view fits the photo and the room the box may take, so the box never leaves it.

    Signals:
        framing_edited(Box): the user let go of a box they moved or resized (photo pixels,
            rounded; the controller trims it as the engine will).
        framing_reset(): the user double-clicked inside the box.
    """

    framing_edited = Signal(object)
    framing_reset = Signal()

    ROOM_SHARE = 0.04
    """How far past the photo's edges the box may reach, as a share of the photo's size."""
    MIN_SHARE = 0.1
    """The smallest box height, as a share of the photo's shorter side."""
    _HANDLE = 5.0
    _GRAB = 12.0

    def __init__(self, placeholder: str, parent: QWidget | None = None):
        super().__init__(placeholder, parent)
        self._photo_size = QSize()
        self._extent = QRectF()  # photo pixels: the photo and the room around it
        self._box: QRectF | None = None  # photo pixels (fractional while dragged)
        self._grab = ""  # "move", or the corner held: "tl", "tr", "bl", "br"
        self._grab_from = QPointF()
        self._box_at_grab = QRectF()
        # False while the box follows a live source: it is shown, not moved by hand.
        self.box_editable = True
        self.setMouseTracking(True)

    def set_photo(
        self, image: QImage | None, photo_size: QSize, box: Box | None, room: Iterable[Box] = ()
    ) -> None:
        """Show a photo (`image` may be a smaller copy) and its framing `box`.

        Args:
            image: the photo for the screen.
            photo_size: the photo's own (width, height).
            box: the framing box in photo pixels, or None for no box.
            room: boxes the box must be able to reach (the automatic and the letterbox ones),
                besides the photo and `ROOM_SHARE` around it.
        """
        self._photo_size = QSize(photo_size)
        width, height = photo_size.width(), photo_size.height()
        extent = QRectF(0, 0, width, height).adjusted(
            -self.ROOM_SHARE * width,
            -self.ROOM_SHARE * height,
            self.ROOM_SHARE * width,
            self.ROOM_SHARE * height,
        )
        for other in (*room, *([box] if box is not None else [])):
            extent = extent.united(_box_rect(other))
        self._extent = extent
        self._box = _box_rect(box) if box is not None else None
        self._grab = ""
        self.set_image(image)

    def set_box(self, box: Box | None) -> None:
        """Show `box` (photo pixels) as the framing, unless the user is dragging one."""
        if not self._grab:
            self._box = _box_rect(box) if box is not None else None
            if self._box is not None:
                self._extent = self._extent.united(self._box)
            self.update()

    def box(self) -> Box | None:
        """The framing box shown, in whole photo pixels."""
        if self._box is None:
            return None
        from tryon_app.core.framing import Box

        # Its size is always whole (a given box's, or a resized one's); a move is rounded.
        box = self._box
        return Box(round(box.x()), round(box.y()), round(box.width()), round(box.height()))

    def photo_rect(self) -> QRectF:
        """Where the photo lies in the view."""
        return self.picture_rect()

    def box_rect(self) -> QRectF:
        """Where the framing box lies in the view (empty without one)."""
        return self._to_view(self._box) if self._box is not None else QRectF()

    def picture_rect(self) -> QRectF:
        if self._image is None or self._photo_size.isEmpty():
            return super().picture_rect()
        extent = self._extent
        area = QRectF(self.rect()).adjusted(_MARGIN, _MARGIN, -_MARGIN, -_MARGIN)
        if area.isEmpty() or extent.isEmpty():
            return QRectF()
        scale = min(area.width() / extent.width(), area.height() / extent.height())
        left = area.center().x() - (extent.center().x() - extent.left()) * scale
        top = area.center().y() - (extent.center().y() - extent.top()) * scale
        return QRectF(
            left - extent.left() * scale,
            top - extent.top() * scale,
            self._photo_size.width() * scale,
            self._photo_size.height() * scale,
        )

    def _scale(self) -> float:
        photo = self.picture_rect()
        return photo.width() / self._photo_size.width() if not photo.isEmpty() else 1.0

    def _to_view(self, rect: QRectF) -> QRectF:
        photo, scale = self.picture_rect(), self._scale()
        return QRectF(
            photo.left() + rect.left() * scale,
            photo.top() + rect.top() * scale,
            rect.width() * scale,
            rect.height() * scale,
        )

    def _to_photo(self, position: QPointF) -> QPointF:
        return (QPointF(position) - self.picture_rect().topLeft()) / self._scale()

    # ------------------------------------------------------------------ painting

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._image is None or self._box is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        photo, box = self.picture_rect(), self.box_rect()
        # What the model does not see is veiled.
        outside = QPainterPath()
        outside.addRect(photo)
        inside = QPainterPath()
        inside.addRect(box)
        painter.fillPath(outside.subtracted(inside), QColor(*VEIL_RGBA[:3], 110))
        # A dark line under a light one: the box shows on white walls and on dark clothes.
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(15, 23, 42, 120), 3))
        painter.drawRect(box)
        painter.setPen(QPen(QColor("white"), 1.5))
        painter.drawRect(box)
        if not self.box_editable:
            return  # no handles on a box that cannot be moved
        painter.setPen(QPen(QColor(style.ACCENT), 1.5))
        painter.setBrush(QColor("white"))
        for corner in _corners(box).values():
            painter.drawRect(
                QRectF(corner, corner).adjusted(
                    -self._HANDLE, -self._HANDLE, self._HANDLE, self._HANDLE
                )
            )

    # ------------------------------------------------------------------ mouse

    def _grab_at(self, position: QPointF) -> str:
        if self._image is None or self._box is None or not self.box_editable:
            return ""
        box = self.box_rect()
        for name, corner in _corners(box).items():
            if (
                abs(position.x() - corner.x()) <= self._GRAB
                and abs(position.y() - corner.y()) <= self._GRAB
            ):
                return name
        return "move" if box.contains(position) else ""

    def mousePressEvent(self, event: QMouseEvent) -> None:
        grab = (
            self._grab_at(event.position()) if event.button() == Qt.MouseButton.LeftButton else ""
        )
        if not grab:
            super().mousePressEvent(event)
            return
        self._grab = grab
        self._grab_from = self._to_photo(event.position())
        self._box_at_grab = QRectF(self._box)
        if grab == "move":
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if not self._grab:
            self.setCursor(_GRAB_CURSORS.get(self._grab_at(event.position()), self._idle_cursor()))
            return
        pointer = self._to_photo(event.position())
        if self._grab == "move":
            moved = self._box_at_grab.translated(pointer - self._grab_from)
            self._box = self._kept_in_room(moved)
        else:
            self._box = self._resized(self._grab, pointer)
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._grab and event.button() == Qt.MouseButton.LeftButton:
            self._grab = ""
            self.setCursor(_GRAB_CURSORS.get(self._grab_at(event.position()), self._idle_cursor()))
            if self._box != self._box_at_grab:
                self.framing_edited.emit(self.box())
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._grab_at(event.position()):
            self.framing_reset.emit()
            return
        super().mouseDoubleClickEvent(event)

    def _idle_cursor(self) -> Qt.CursorShape:
        return (
            Qt.CursorShape.ArrowCursor
            if self._image is not None
            else Qt.CursorShape.PointingHandCursor
        )

    # ------------------------------------------------------------------ limits

    def _size_limits(self) -> tuple[float, float]:
        """The smallest and largest box height (photo pixels)."""
        largest = min(self._extent.height(), self._extent.width() / _ASPECT)
        smallest = self.MIN_SHARE * min(self._photo_size.width(), self._photo_size.height())
        return min(smallest, largest), largest

    def _kept_in_room(self, box: QRectF) -> QRectF:
        """`box` moved (not resized) into the room, with its centre on the photo."""
        extent = self._extent

        def along(start: float, size: float, low: float, high: float, photo: int) -> float:
            lowest, highest = max(low, -size / 2), min(high - size, photo - size / 2)
            if lowest > highest:
                lowest, highest = low, max(low, high - size)
            return min(max(start, lowest), highest)

        return QRectF(
            along(box.left(), box.width(), extent.left(), extent.right(), self._photo_size.width()),
            along(
                box.top(), box.height(), extent.top(), extent.bottom(), self._photo_size.height()
            ),
            box.width(),
            box.height(),
        )

    def _resized(self, corner: str, pointer: QPointF) -> QRectF:
        """The box with `corner` dragged to `pointer` and the opposite corner held, 3:4."""
        start = self._box_at_grab
        anchor = {
            "tl": start.bottomRight(),
            "tr": start.bottomLeft(),
            "bl": start.topRight(),
            "br": start.topLeft(),
        }[corner]
        right, down = corner[1] == "r", corner[0] == "b"
        extent = self._extent
        room_x = extent.right() - anchor.x() if right else anchor.x() - extent.left()
        room_y = extent.bottom() - anchor.y() if down else anchor.y() - extent.top()
        smallest, largest = self._size_limits()
        largest = max(smallest, min(largest, room_y, room_x / _ASPECT))
        wanted = max(
            (pointer.y() - anchor.y()) * (1 if down else -1),
            (pointer.x() - anchor.x()) * (1 if right else -1) / _ASPECT,
        )
        # Whole pixels, 3:4 as the engine's own boxes are (`framing.box_3_4`).
        height = round(min(max(wanted, smallest), largest))
        width = round(height * _ASPECT)
        left = anchor.x() if right else anchor.x() - width
        top = anchor.y() if down else anchor.y() - height
        return self._kept_in_room(QRectF(left, top, width, height))


_ASPECT = 3 / 4
"""Width over height of the framing box (the model's 192x256 canvas)."""

_GRAB_CURSORS = {
    "move": Qt.CursorShape.OpenHandCursor,
    "tl": Qt.CursorShape.SizeFDiagCursor,
    "br": Qt.CursorShape.SizeFDiagCursor,
    "tr": Qt.CursorShape.SizeBDiagCursor,
    "bl": Qt.CursorShape.SizeBDiagCursor,
}


def _box_rect(box: Box) -> QRectF:
    return QRectF(box.x, box.y, box.w, box.h)


def _corners(rect: QRectF) -> dict[str, QPointF]:
    return {
        "tl": rect.topLeft(),
        "tr": rect.topRight(),
        "bl": rect.bottomLeft(),
        "br": rect.bottomRight(),
    }


class ComboBox(QComboBox):
    """A combo box that draws its own chevron (a stylesheet that styles the box removes Fusion's)."""

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor(style.TEXT_MUTED if self.isEnabled() else style.BORDER_STRONG), 1.6)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        centre = QPointF(self.width() - 13, self.height() / 2 + 0.5)
        path = QPainterPath(centre + QPointF(-4, -2))
        path.lineTo(centre + QPointF(0, 2))
        path.lineTo(centre + QPointF(4, -2))
        painter.drawPath(path)


class Banner(QFrame):
    """A message across the top of the window that stays until dismissed or replaced (no dialog)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.setProperty("level", "error")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 8, 8, 8)
        self.label = QLabel()
        self.label.setObjectName("bannerText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setObjectName("bannerClose")
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, text: str, level: str = "error") -> None:
        self.setProperty("level", level)
        # Re-polish so the stylesheet rules for the new level apply (the text's colour too).
        for widget in (self, self.label):
            widget.style().unpolish(widget)
            widget.style().polish(widget)
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""


class BusyIndicator(QWidget):
    """A thin indeterminate progress bar and a word on what is happening; hidden when idle."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)
        layout.setSpacing(2)
        self.label = ElidedLabel()
        self.label.setObjectName("busyText")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setTextVisible(False)
        self.bar.setFixedSize(80, 6)
        layout.addWidget(self.bar)
        layout.addWidget(self.label, 1)
        self.set_busy("")

    def set_busy(self, text: str) -> None:
        self.label.setText(text)
        self.label.setVisible(bool(text))
        self.bar.setVisible(bool(text))

    def is_busy(self) -> bool:
        return bool(self.label.text())
