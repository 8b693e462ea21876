"""The app's light look: Fusion with a light palette, white cards on a soft grey, one blue accent."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QMainWindow

WINDOW = "#eef0f4"
CARD = "#ffffff"
CANVAS = "#f5f6f8"
BORDER = "#e1e4ea"
BORDER_STRONG = "#c3c9d3"
TEXT = "#1f2937"
TEXT_MUTED = "#6b7280"
ACCENT = "#2563eb"
ACCENT_HOVER = "#1d4ed8"
ERROR_BG = "#fdecec"
ERROR_BORDER = "#f3b9b6"
ERROR_TEXT = "#8f1d1d"
INFO_BG = "#e8f0fe"
INFO_BORDER = "#bcd0fb"

# Set on the window's central widget and status bar, never on the application: rules there would
# also reach Qt's own dialogs (a padded QToolButton rule blanked the file dialog's icon buttons, and
# the combo-box arrow rule its "Look in" arrow). A dialog is a child of the main window, not of
# its central widget, so it keeps Qt's look.
STYLESHEET = f"""
#central {{ background: {WINDOW}; }}
#card {{
    background: {CARD};
    border: 1px solid {BORDER};
    border-radius: 12px;
}}
#cardTitle {{ font-size: 11pt; font-weight: 600; }}
#cardHint, #maskStatus, #busyText, #pickerLabel {{ color: {TEXT_MUTED}; }}
#topBar {{
    background: {CARD};
    border-bottom: 1px solid {BORDER};
}}
#appTitle {{ font-size: 12.5pt; font-weight: 700; }}
#appSubtitle {{ color: {TEXT_MUTED}; }}
QPushButton, QToolButton {{
    background: {CARD};
    border: 1px solid {BORDER_STRONG};
    border-radius: 7px;
    padding: 5px 12px;
}}
QPushButton:hover, QToolButton:hover {{ background: {CANVAS}; border-color: {ACCENT}; }}
QPushButton:pressed, QToolButton:pressed {{ background: {BORDER}; }}
QPushButton:checked, QToolButton:checked {{ background: {INFO_BG}; border-color: {ACCENT}; color: {ACCENT_HOVER}; }}
QPushButton:disabled, QToolButton:disabled {{ color: #a0a6b0; border-color: {BORDER}; }}
QPushButton#primary {{ background: {ACCENT}; border-color: {ACCENT}; color: white; font-weight: 600; }}
QPushButton#primary:hover {{ background: {ACCENT_HOVER}; }}
QPushButton#primary:disabled {{ background: #9db5ef; border-color: #9db5ef; color: #eef2fb; }}
QComboBox {{
    background: {CARD};
    border: 1px solid {BORDER_STRONG};
    border-radius: 7px;
    padding: 4px 10px;
    min-height: 20px;
}}
QComboBox:hover {{ border-color: {ACCENT}; }}
QComboBox::drop-down {{
    subcontrol-origin: padding;
    subcontrol-position: center right;
    width: 22px;
    border: none;
}}
QComboBox::down-arrow {{ image: none; }}
QScrollBar:horizontal {{ height: 8px; background: transparent; margin: 0; }}
QScrollBar::handle:horizontal {{ background: {BORDER_STRONG}; border-radius: 4px; min-width: 24px; }}
QScrollBar::handle:horizontal:hover {{ background: {TEXT_MUTED}; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: transparent; }}
QComboBox QAbstractItemView {{
    background: {CARD};
    border: 1px solid {BORDER_STRONG};
    selection-background-color: {INFO_BG};
    selection-color: {TEXT};
}}
QCheckBox {{ spacing: 6px; }}
QTabWidget::pane {{ border: none; }}
QTabBar::tab {{
    background: transparent;
    color: {TEXT_MUTED};
    padding: 4px 10px;
    border: none;
    border-bottom: 2px solid transparent;
}}
QTabBar::tab:selected {{ color: {TEXT}; border-bottom: 2px solid {ACCENT}; }}
QTabBar::tab:hover {{ color: {TEXT}; }}
QListView {{
    background: {CANVAS};
    border: 1px solid {BORDER};
    border-radius: 8px;
    padding: 4px;
}}
QListView::item {{ border-radius: 6px; padding: 2px; }}
QListView::item:hover {{ background: {BORDER}; }}
QListView::item:selected {{ background: {INFO_BG}; border: 1px solid {ACCENT}; }}
QSlider::groove:horizontal {{ height: 4px; background: {BORDER}; border-radius: 2px; }}
QSlider::sub-page:horizontal {{ background: {ACCENT}; border-radius: 2px; }}
QSlider::handle:horizontal {{
    background: white;
    border: 1px solid {BORDER_STRONG};
    width: 16px;
    height: 16px;
    margin: -7px 0;
    border-radius: 8px;
}}
QSlider::sub-page:horizontal:disabled {{ background: {BORDER_STRONG}; }}
QSlider::handle:horizontal:disabled {{ background: {CANVAS}; border-color: {BORDER}; }}
QProgressBar {{ background: {BORDER}; border: none; border-radius: 3px; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 3px; }}
QStatusBar {{ background: {CARD}; border-top: 1px solid {BORDER}; color: {TEXT_MUTED}; }}
QStatusBar QLabel {{ color: {TEXT_MUTED}; padding: 0 6px; }}
#banner {{ border-radius: 8px; }}
#banner[level="error"] {{ background: {ERROR_BG}; border: 1px solid {ERROR_BORDER}; }}
#banner[level="error"] QLabel {{ color: {ERROR_TEXT}; }}
#banner[level="info"] {{ background: {INFO_BG}; border: 1px solid {INFO_BORDER}; }}
#banner[level="info"] QLabel {{ color: {TEXT}; }}
#bannerClose {{ border: none; background: transparent; padding: 2px 6px; }}
QToolTip {{ background: {TEXT}; color: white; border: none; padding: 4px 6px; }}
"""


def light_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: WINDOW,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: CARD,
        QPalette.ColorRole.AlternateBase: CANVAS,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: CARD,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: TEXT,
        QPalette.ColorRole.ToolTipText: "#ffffff",
        QPalette.ColorRole.PlaceholderText: TEXT_MUTED,
        QPalette.ColorRole.Link: ACCENT,
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#a0a6b0"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#a0a6b0"))
    return palette


def apply(app: QApplication) -> None:
    """Fusion style (the same on every OS) and the light palette, for every window and dialog."""
    app.setStyle("Fusion")
    app.setPalette(light_palette())


def apply_to_window(window: QMainWindow) -> None:
    """The app's own look (cards, buttons, pickers) on the window's central widget and status bar."""
    for part in (window.centralWidget(), window.statusBar()):
        part.setStyleSheet(STYLESHEET)
