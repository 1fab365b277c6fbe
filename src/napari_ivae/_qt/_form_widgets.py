"""The pieces of the option forms: field hints, docstring tooltips, magicgui widgets.

Used by :mod:`napari_ivae._qt._forms`; see there for the type → widget table.
"""

from __future__ import annotations

import inspect
import math
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from magicgui import widgets as mw
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFormLayout, QToolButton, QVBoxLayout, QWidget

__all__ = [
    "Collapsible",
    "Hint",
    "OptionalWidget",
    "field_docs",
    "label_of",
    "make_widget",
    "placeholder",
    "unwrap_optional",
]

_INT_MAX = 2**31 - 1
_FLOAT_MAX = 1e9


@dataclass(frozen=True)
class Hint:
    """How one field is shown (everything optional; the type decides the rest).

    Parameters
    ----------
    label : str, optional
        Row label (default: the field name, "batch_size" → "Batch size").
    tooltip : str, optional
        Replaces the docstring entry.
    choices : sequence, optional
        Offered values (a field typed ``str`` whose values a registry lists).
    min, max, step : float, optional
        Spin-box range and step.  The range only bounds what can be typed; the
        config itself validates (and says what it accepts).
    decimals : int, optional
        Decimals of a float spin box.
    unset : object, optional
        Value shown in the disabled widget of an optional field left ``None``.
    none_text : str, optional
        For an optional float: no "set" box; the spin box's minimum reads
        ``none_text`` (e.g. "auto") and means ``None``.
    suffix : str, optional
        Unit shown in a float spin box (" px"); in the label for an int.
    """

    label: str | None = None
    tooltip: str | None = None
    choices: Sequence[Any] | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    decimals: int | None = None
    unset: Any = None
    none_text: str | None = None
    suffix: str | None = None


# --------------------------------------------------------------------------- docstrings
_ENTRY = re.compile(r"^(?P<names>[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*:\s*(?P<type>.*)$")


def field_docs(cls: type) -> dict[str, str]:
    """The numpydoc "Parameters" entries of ``cls`` (and its bases), by field name.

    An entry naming several fields (``beta_cont, beta_disc : float``) is given
    to each of them; descriptions are joined into one paragraph.
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        text = inspect.cleandoc(klass.__doc__ or "")
        match = re.search(r"^Parameters\n-+\n(.*?)(?:^\S[^\n]*\n-+\n|\Z)", text, re.S | re.M)
        if match is None:
            continue
        names: list[str] = []
        lines: list[str] = []
        for line in match.group(1).splitlines():
            entry = _ENTRY.match(line) if line and not line[0].isspace() else None
            if entry is not None:
                _store(docs, names, lines)
                names, lines = [n.strip() for n in entry.group("names").split(",")], []
            elif line.strip():
                lines.append(line.strip())
        _store(docs, names, lines)
    return docs


def _store(docs: dict[str, str], names: list[str], lines: list[str]) -> None:
    text = " ".join(lines).replace("``", "")
    for name in names:
        if text:
            docs[name] = text


def label_of(name: str) -> str:
    """A row label from a field name: "batch_size" → "Batch size"."""
    return name.replace("_", " ").capitalize()


# --------------------------------------------------------------------------- widgets
def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``(X, True)`` for ``X | None``; ``(tp, False)`` otherwise."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _float_options(value: float, hint: Hint) -> tuple[float, int]:
    """A step a tenth of the value's magnitude, and decimals to show that step."""
    step = hint.step
    if step is None:
        mag = abs(float(value)) if value else 1.0
        step = 10.0 ** (math.floor(math.log10(mag)) - 1) if math.isfinite(mag) else 0.1
        step = min(step, 1.0)
    decimals = hint.decimals
    if decimals is None:
        decimals = int(min(8, max(2, 1 - math.floor(math.log10(step)))))
    return step, decimals


def make_widget(tp: Any, value: Any, hint: Hint) -> mw.bases.ValueWidget:
    """The magicgui widget of a (non-optional) field type, with the hint's extras."""
    widget = _widget_of(tp, value, hint)
    native = widget.native
    if hint.suffix and hasattr(native, "setSuffix"):
        native.setSuffix(hint.suffix)
    if hint.none_text and tp is float:
        native.setSpecialValueText(hint.none_text)
    return widget


def _widget_of(tp: Any, value: Any, hint: Hint) -> mw.bases.ValueWidget:
    if hint.choices is not None or typing.get_origin(tp) is Literal:
        choices = tuple(hint.choices if hint.choices is not None else typing.get_args(tp))
        return mw.ComboBox(choices=choices, value=value)
    if tp is bool:
        return mw.CheckBox(value=bool(value))
    if tp is int:
        low = 0 if hint.min is None else int(hint.min)
        high = _INT_MAX if hint.max is None else int(hint.max)
        return mw.SpinBox(value=int(value), min=low, max=high, step=int(hint.step or 1))
    if tp is float:
        step, decimals = _float_options(value, hint)
        box = mw.FloatSpinBox(
            value=float(value),
            min=0.0 if hint.min is None else hint.min,
            max=_FLOAT_MAX if hint.max is None else hint.max,
            step=step,
        )
        box.native.setDecimals(decimals)
        box.value = float(value)
        return box
    if typing.get_origin(tp) is tuple:
        if all(a is float for a in typing.get_args(tp)):
            options = {"min": hint.min or 0.0, "max": _FLOAT_MAX, "step": hint.step or 0.1}
            return mw.TupleEdit(value=tuple(value), options=options)
    if tp is str:
        return mw.LineEdit(value=value or "")
    return mw.LiteralEvalLineEdit(value=repr(value))


def placeholder(tp: Any, hint: Hint) -> Any:
    """What the widget of an optional field shows while the field is ``None``."""
    if hint.none_text is not None and tp is float:
        return 0.0 if hint.min is None else hint.min
    if hint.unset is not None:
        return hint.unset
    if typing.get_origin(tp) is tuple:
        return tuple(0.0 for _ in typing.get_args(tp))
    return {int: 1, float: 1.0, bool: False, str: ""}.get(tp, "")


class OptionalWidget(mw.Container):
    """``X | None``: a "set" check box and the widget of X (disabled while unset)."""

    def __init__(self, inner: mw.bases.ValueWidget, is_set: bool) -> None:
        self.toggle = mw.CheckBox(value=is_set, tooltip="Unticked: None (the default behaviour).")
        self.inner = inner
        super().__init__(widgets=[self.toggle, inner], layout="horizontal", labels=False)
        self.margins = (0, 0, 0, 0)
        inner.enabled = is_set
        self.toggle.changed.connect(lambda v: setattr(inner, "enabled", bool(v)))

    @property
    def value(self) -> Any:
        """The inner widget's value while the box is ticked, else ``None``."""
        return self.inner.value if self.toggle.value else None

    @value.setter
    def value(self, v: Any) -> None:
        self.toggle.value = v is not None
        if v is not None:
            self.inner.value = v


class Collapsible(QWidget):
    """A titled section that opens and closes (closed at first), holding a form layout."""

    def __init__(self, title: str, parent: Any = None) -> None:
        super().__init__(parent)
        self.button = QToolButton()
        self.button.setText(title)
        self.button.setCheckable(True)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setArrowType(Qt.ArrowType.RightArrow)
        self.button.setStyleSheet("QToolButton { border: none; }")
        self.body = QWidget()
        self.form = QFormLayout(self.body)
        self.form.setContentsMargins(12, 0, 0, 0)
        self.body.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.button)
        layout.addWidget(self.body)
        self.button.toggled.connect(self.set_open)

    def set_open(self, open_: bool) -> None:
        """Show or hide the section's rows."""
        self.button.setChecked(open_)
        self.button.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
        self.body.setVisible(open_)

    @property
    def is_open(self) -> bool:
        """Whether the rows are shown."""
        return self.body.isVisible() if self.isVisible() else self.button.isChecked()
