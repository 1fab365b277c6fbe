"""Status line and scroll layout of the dock widgets.

:class:`StatusLabel`: the one-line status of a widget (wraps, full text as
tooltip, errors in red until the next action); :func:`scroll_layout`: a
widget's content in a scroll area, so docked panels never overlap.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

__all__ = ["StatusLabel", "scroll_layout"]


# --------------------------------------------------------------------------- status / layout
_SOFT_BREAK = re.compile(r"([/\\_.:,=-])(?=\S)")


class StatusLabel(QLabel):
    """The status line of a dock widget.

    Wraps (long paths and names too: soft breaks after ``/``, ``_``, ``.`` ...),
    keeps the full text as its tooltip and selectable, and shows errors in red.
    An error stays until :meth:`clear_error` (called when the next action
    starts) or the next :meth:`set_message`.
    """

    _COLORS: ClassVar[dict[str, str]] = {"error": "#ff7070", "warning": "#f0c040", "info": ""}

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._plain = ""
        self.kind = "info"
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        # an explicit minimum: Qt's would be the text wrapped at 60 px (a tall column
        # that keeps the panel from shrinking); the layout gives it the height the
        # text needs at the width it really has
        self.setMinimumSize(60, self.fontMetrics().lineSpacing())

    def set_message(self, text: str, kind: str = "info") -> None:
        """Show ``text``; ``kind`` is ``"info"``, ``"warning"`` or ``"error"``."""
        self._plain = str(text)
        self.kind = kind if text else "info"
        words = [
            _SOFT_BREAK.sub("\\1\u200b", w) if len(w) > 20 else w for w in self._plain.split(" ")
        ]
        super().setText(" ".join(words))
        self.setToolTip(self._plain)
        color = self._COLORS.get(self.kind, "")
        self.setStyleSheet(f"color:{color};" if color else "")

    def setText(self, text: str) -> None:
        """Plain-info message (Qt's name, so existing callers keep working)."""
        self.set_message(text)

    def text(self) -> str:
        """The message as given (without the soft breaks)."""
        return self._plain

    def set_error(self, text: str) -> None:
        """Show an error message (red, until the next action or message)."""
        self.set_message(text, "error")

    def clear_error(self) -> None:
        """Remove the message if it is an error or a warning (an action starts)."""
        if self.kind != "info":
            self.set_message("")


class _VerticalScrollArea(QScrollArea):
    """A scroll area that scrolls only vertically: as wide as its content, any height.

    Its size hint is the content's, so a dock shares the window's height among
    panels by what they hold; its minimum height is small, so panels never
    overlap; its minimum width is the content's, so nothing is cut at the side.
    """

    def _bar(self) -> int:
        return self.verticalScrollBar().sizeHint().width()

    def eventFilter(self, obj: Any, event: Any) -> bool:
        from qtpy.QtCore import QEvent

        if obj is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the content changed size: so does the hint
        return super().eventFilter(obj, event)

    def sizeHint(self) -> Any:
        content = self.widget()
        if content is None:
            return super().sizeHint()
        hint = content.sizeHint()
        width = self.viewport().width()
        if width > 0 and content.hasHeightForWidth():
            # wrapped status lines: the height the content needs at the width it has
            hint.setHeight(max(hint.height(), content.heightForWidth(width)))
        hint.setWidth(hint.width() + self._bar())
        hint.setHeight(hint.height() + 2 * self.frameWidth() + 2)  # no scroll bar when it fits
        return hint

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.updateGeometry()  # a new width: wrapped text needs another height

    def minimumSizeHint(self) -> Any:
        hint = super().minimumSizeHint()
        if self.widget() is not None:
            hint.setWidth(self.widget().minimumSizeHint().width() + self._bar())
        hint.setHeight(min(hint.height(), 80))
        return hint


def scroll_layout(widget: QWidget, *, margins: int = 4, grow: bool = False) -> QVBoxLayout:
    """Give ``widget`` a (vertical) scroll area and return the layout to fill inside it.

    Docked in napari beside other panels, a widget then never asks for more
    height than the window has (panels would overlap or be cut); when there is
    too little room a vertical scroll bar appears instead.  Without ``grow``
    the widget takes no more height than its content needs, leaving the rest
    of the dock to panels that ``grow`` (the explorer's plot).
    """
    if not grow:  # at most the content's height (napari adds no stretch: the area expands)
        widget.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
    outer = QVBoxLayout(widget)
    outer.setContentsMargins(0, 0, 0, 0)
    area = _VerticalScrollArea(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    inner = QWidget()
    area.setWidget(inner)
    inner.installEventFilter(area)
    outer.addWidget(area)
    layout = QVBoxLayout(inner)
    layout.setContentsMargins(margins, margins, margins, margins)
    widget.scroll_area = area
    return layout
