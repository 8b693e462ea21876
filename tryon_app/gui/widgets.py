"""Widgets that only show things: a photo view with drop support, a before/after view, a banner."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
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


class CompareView(QWidget):
    """The try-on against the original photo, split by a divider the user drags.

    Modes: "compare" (the try-on left of the divider, the original right of it), "before" (the
    original alone) and "warped" (the garment as the model warped it). The split is the share of
    the picture that shows the try-on: 0 shows the original alone, 1 the try-on alone.
    """

    split_changed = Signal(float)

    MODES = ("compare", "before", "warped")

    def __init__(self, placeholder: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.placeholder = placeholder
        self._before: QImage | None = None
        self._after: QImage | None = None
        self._warped: QImage | None = None
        self._split = 0.5
        self._mode = "compare"
        self._before_cache = _ScaledCache()
        self._after_cache = _ScaledCache()
        self._warped_cache = _ScaledCache()
        self.setMinimumSize(240, 300)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    def set_images(
        self, before: QImage | None, after: QImage | None, warped: QImage | None = None
    ) -> None:
        self._before, self._after, self._warped = before, after, warped
        self.update()

    def has_result(self) -> bool:
        return self._after is not None

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

    def _area(self) -> QRectF:
        return QRectF(self.rect()).adjusted(_MARGIN, _MARGIN, -_MARGIN, -_MARGIN)

    def picture_rect(self) -> QRectF:
        shown = self._warped if self._mode == "warped" else self._after
        return fit_rect(shown.size(), self._area()) if shown is not None else QRectF()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        frame = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        _paint_frame(painter, frame, highlight=False, dashed=self._after is None)
        if self._after is None:
            _paint_placeholder(painter, frame, self.placeholder)
            return
        ratio = self.devicePixelRatioF()
        target = self.picture_rect()
        size = target.size().toSize()
        corner = target.topLeft() + QPointF(10, 10)
        right_corner = target.topRight() + QPointF(-10, 10)
        if self._mode == "warped" and self._warped is not None:
            painter.drawPixmap(
                target.topLeft(), self._warped_cache.get(self._warped, None, size, ratio)
            )
            _paint_tag(painter, corner, "Warped garment")
            return
        after = self._after_cache.get(self._after, None, size, ratio)
        before = (
            self._before_cache.get(self._before, None, size, ratio)
            if self._before is not None
            else after
        )
        if self._mode == "before":
            painter.drawPixmap(target.topLeft(), before)
            _paint_tag(painter, corner, "Original")
            return
        # The try-on sweeps over the photo from the left as the divider moves right, the way the
        # slider below fills from its Before end towards its After end.
        divider_x = target.left() + target.width() * self._split
        painter.drawPixmap(target.topLeft(), before)
        painter.save()
        painter.setClipRect(
            QRectF(target.left(), target.top(), divider_x - target.left(), target.height())
        )
        painter.drawPixmap(target.topLeft(), after)
        painter.restore()
        if self._split > 0.08:
            _paint_tag(painter, corner, "After")
        if self._split < 0.92:
            _paint_tag(painter, right_corner, "Before", right=True)
        self._paint_divider(painter, target, divider_x)

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

    def _split_at(self, x: float) -> None:
        target = self.picture_rect()
        if target.width() > 0:
            self.set_split((x - target.left()) / target.width())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if (
            event.button() == Qt.MouseButton.LeftButton
            and self._mode == "compare"
            and self._after is not None
        ):
            self._split_at(event.position().x())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        over_picture = self._after is not None and self.picture_rect().contains(event.position())
        self.setCursor(
            Qt.CursorShape.SplitHCursor
            if over_picture and self._mode == "compare"
            else Qt.CursorShape.ArrowCursor
        )
        if (
            event.buttons() & Qt.MouseButton.LeftButton
            and self._mode == "compare"
            and self._after is not None
        ):
            self._split_at(event.position().x())


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
        # Re-polish so the stylesheet rule for the new level applies.
        self.style().unpolish(self)
        self.style().polish(self)
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
