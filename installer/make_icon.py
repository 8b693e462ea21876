"""Draw the app icon into assets/icons/: openvino-tryon.svg, .png (256 px) and .ico (Windows).

The icon is a white T-shirt on a rounded indigo-to-teal square, with a dashed outline of a second
shirt offset behind it ("a garment tried on"). One drawing function paints both the SVG and the
bitmaps, so they cannot drift apart. Run it again after changing the drawing:

    python installer/make_icon.py
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ICON_DIR = REPO / "assets" / "icons"
NAME = "openvino-tryon"
SIZE = 256  # the drawing's own coordinates; bitmaps of other sizes are scaled from it
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)

# A T-shirt outline in the 256-unit square: neck, shoulders, sleeves, body, hem.
_SHIRT = (
    (100, 56),
    (128, 72),
    (156, 56),
    (206, 80),
    (226, 124),
    (192, 138),
    (180, 116),
    (180, 210),
    (76, 210),
    (76, 116),
    (64, 138),
    (30, 124),
    (50, 80),
)


def paint(painter) -> None:
    """Paint the icon on a 256x256 device (an image or an SVG generator)."""
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QBrush, QColor, QLinearGradient, QPainter, QPen, QPolygonF

    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    gradient = QLinearGradient(0, 0, SIZE, SIZE)
    gradient.setColorAt(0.0, QColor("#3f3d9e"))
    gradient.setColorAt(1.0, QColor("#0f9b8e"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(gradient))
    painter.drawRoundedRect(QRectF(8, 8, SIZE - 16, SIZE - 16), 48, 48)

    behind = QPolygonF([QPointF(x + 14, y - 10) for x, y in _SHIRT])
    dashed = QPen(QColor(255, 255, 255, 150), 6, Qt.PenStyle.DashLine)
    dashed.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(dashed)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPolygon(behind)

    front = QPolygonF([QPointF(x - 6, y + 6) for x, y in _SHIRT])
    outline = QPen(QColor("#1d2b4f"), 5)
    outline.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(outline)
    painter.setBrush(QColor("#ffffff"))
    painter.drawPolygon(front)
    # The collar: a small curve at the neck keeps the silhouette readable at 16 px.
    painter.setPen(QPen(QColor("#0f9b8e"), 6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    painter.drawArc(QRectF(100, 46, 44, 40), 200 * 16, 140 * 16)


def render_png(size: int) -> bytes:
    """The icon as PNG bytes, `size` pixels square."""
    from PySide6.QtCore import QBuffer, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter

    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.scale(size / SIZE, size / SIZE)
    paint(painter)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(buffer.data())


def write_svg(path: Path) -> None:
    from PySide6.QtCore import QRect, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(QSize(SIZE, SIZE))
    generator.setViewBox(QRect(0, 0, SIZE, SIZE))
    generator.setTitle("Virtual Try-On")
    painter = QPainter(generator)
    paint(painter)
    painter.end()


def write_ico(path: Path) -> None:
    """A multi-size .ico; each size is drawn at that size rather than downscaled from 256."""
    from PIL import Image

    images = [Image.open(io.BytesIO(render_png(size))).convert("RGBA") for size in ICO_SIZES]
    images[-1].save(path, format="ICO", sizes=[(s, s) for s in ICO_SIZES], append_images=images)


def main() -> int:
    # Painting needs a QGuiApplication (fonts, pixmaps), never a screen.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    ICON_DIR.mkdir(parents=True, exist_ok=True)
    write_svg(ICON_DIR / f"{NAME}.svg")
    (ICON_DIR / f"{NAME}.png").write_bytes(render_png(256))
    write_ico(ICON_DIR / f"{NAME}.ico")
    for suffix in ("svg", "png", "ico"):
        print(f"wrote {ICON_DIR / f'{NAME}.{suffix}'}")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
