"""Option forms built from configuration dataclasses (magicgui widgets).

A field declared once on a config dataclass (``TrainConfig``, ``ModelConfig``,
a new model's config) appears in the widgets' forms: its type picks the
magicgui widget, its numpydoc entry in the class docstring is the tooltip, and
its default is the initial value.  The form validates by building the config,
so a wrong value gets the very message the CLI prints
(:class:`~napari_ivae.IvaeError` raised by the config's ``__post_init__``).

=====================================  =============================================
field type                             widget
=====================================  =============================================
``Literal[...]`` (or ``choices``)      ``ComboBox``
``bool``                               ``CheckBox``
``int`` / ``float``                    ``SpinBox`` / ``FloatSpinBox``
``tuple[float, float]``                ``TupleEdit``
``str``                                ``LineEdit``
``X | None``                           a check box ("set") beside the widget of X
=====================================  =============================================

Nothing here knows a particular config: the widgets pass the field names they
show first, those they leave out and per-field :class:`Hint` s.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import textwrap
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from magicgui import widgets as mw
from qtpy.QtCore import QObject, Qt, Signal
from qtpy.QtWidgets import QFormLayout, QToolButton, QVBoxLayout, QWidget

__all__ = ["Collapsible", "ConfigForm", "Hint", "field_docs"]

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
    """

    label: str | None = None
    tooltip: str | None = None
    choices: Sequence[Any] | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    decimals: int | None = None
    unset: Any = None


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


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


# --------------------------------------------------------------------------- widgets
def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
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


def _make_widget(tp: Any, value: Any, hint: Hint) -> mw.bases.ValueWidget:
    """The magicgui widget of a (non-optional) field type."""
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


def _placeholder(tp: Any, hint: Hint) -> Any:
    if hint.unset is not None:
        return hint.unset
    if typing.get_origin(tp) is tuple:
        return tuple(0.0 for _ in typing.get_args(tp))
    return {int: 1, float: 1.0, bool: False, str: ""}.get(tp, "")


class _Optional(mw.Container):
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
        return self.inner.value if self.toggle.value else None

    @value.setter
    def value(self, v: Any) -> None:
        self.toggle.value = v is not None
        if v is not None:
            self.inner.value = v


# --------------------------------------------------------------------------- the form
class ConfigForm(QObject):
    """The option widgets of one config dataclass.

    Parameters
    ----------
    cls : type
        A dataclass whose ``__post_init__`` validates (raises ``IvaeError``).
    exclude : iterable of str
        Fields not shown (their values come from elsewhere, e.g. the data).
    hints : dict of str to Hint, optional
        Per-field labels, ranges and choices.
    enabled_when : dict of str to callable, optional
        ``{field: rule(values) -> bool}``: the field's widget is enabled only
        while the rule holds for the current values; disabled it reads ``None``
        (e.g. the number of classes of a model without classes).
    defaults : object, optional
        An instance of ``cls`` whose values are shown first (default: ``cls()``).

    Notes
    -----
    ``form[name]`` is the magicgui widget of a field, ``form[name].native`` its
    Qt widget.  ``changed`` is emitted whenever a value changes.
    """

    changed = Signal()

    def __init__(
        self,
        cls: type,
        *,
        exclude: Iterable[str] = (),
        hints: dict[str, Hint] | None = None,
        enabled_when: dict[str, Callable[[dict], bool]] | None = None,
        defaults: Any = None,
    ) -> None:
        super().__init__()
        self.cls = cls
        self._hints = dict(hints or {})
        self._rules = dict(enabled_when or {})
        self._defaults = dataclasses.asdict(defaults if defaults is not None else cls())
        types_ = typing.get_type_hints(cls)
        docs = field_docs(cls)
        skip = set(exclude)
        self.names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
        self.widgets: dict[str, mw.bases.ValueWidget] = {}
        for name in self.names:
            self.widgets[name] = self._build(name, types_[name], docs.get(name, ""))
        self._update_enabled()

    def _build(self, name: str, tp: Any, doc: str) -> mw.bases.ValueWidget:
        hint = self._hints.get(name, Hint())
        value = self._defaults[name]
        inner_tp, optional = _unwrap_optional(tp)
        ruled = name in self._rules
        shown = value if value is not None else _placeholder(inner_tp, hint)
        widget = _make_widget(inner_tp, shown, hint)
        if optional and not ruled:
            widget = _Optional(widget, value is not None)
        tip = hint.tooltip if hint.tooltip is not None else doc
        widget.tooltip = f"{name} ({self.cls.__name__})" + ("\n" + _wrap(tip) if tip else "")
        widget.label = hint.label or _label(name)
        widget.changed.connect(self._on_changed)
        return widget

    def __getitem__(self, name: str) -> mw.bases.ValueWidget:
        return self.widgets[name]

    def _on_changed(self, *_args: Any) -> None:
        self._update_enabled()
        self.changed.emit()

    def _update_enabled(self) -> None:
        if not self._rules:
            return
        values = self._raw()
        for name, rule in self._rules.items():
            self.widgets[name].enabled = bool(rule(values))

    def _raw(self) -> dict[str, Any]:
        out = {}
        for name, widget in self.widgets.items():
            value = widget.value
            default = self._defaults[name]
            out[name] = _keep_default(value, default, widget)
        return out

    def values(self) -> dict[str, Any]:
        """The shown fields' values, as the config takes them.

        Floats that still show their default (rounded to the spin box's
        decimals) keep the exact default; disabled ruled fields are ``None``.
        """
        out = self._raw()
        for name, rule in self._rules.items():
            if not rule(out):
                out[name] = None
        return out

    def set_values(self, values: dict[str, Any] | Any) -> None:
        """Show ``values`` (a dict or a config instance); unknown names are ignored."""
        if dataclasses.is_dataclass(values):
            values = dataclasses.asdict(values)
        for name, value in values.items():
            widget = self.widgets.get(name)
            if widget is not None and (value is not None or isinstance(widget, _Optional)):
                widget.value = value
        self._update_enabled()

    def build(self, **fixed: Any) -> Any:
        """The config of the shown values (and ``fixed``); its own errors propagate."""
        return self.cls(**{**self.values(), **fixed})

    def add_rows(self, layout: QFormLayout, names: Iterable[str]) -> None:
        """Add the rows of ``names`` (label, widget) to a form layout."""
        for name in names:
            widget = self.widgets[name]
            layout.addRow(widget.label, widget.native)
            label = layout.labelForField(widget.native)
            if label is not None:
                label.setToolTip(widget.tooltip or "")

    def section(self, title: str, names: Iterable[str]) -> Collapsible:
        """A collapsed section holding the rows of ``names``."""
        section = Collapsible(title)
        self.add_rows(section.form, names)
        return section


def _keep_default(value: Any, default: Any, widget: Any) -> Any:
    """``default`` when a float widget shows it rounded (π shown as 3.14 stays π)."""
    if isinstance(default, float) and isinstance(value, float):
        inner = getattr(widget, "inner", widget)
        decimals = inner.native.decimals() if hasattr(inner.native, "decimals") else 8
        return default if abs(value - default) < 0.5 * 10.0**-decimals else value
    if isinstance(default, tuple) and isinstance(value, tuple) and len(value) == len(default):
        return tuple(_keep_default(v, d, w) for v, d, w in zip(value, default, _parts(widget)))
    return value


def _parts(widget: Any) -> list:
    inner = getattr(widget, "inner", widget)
    return list(inner) if isinstance(inner, mw.TupleEdit) else [None] * 8


def _wrap(text: str, width: int = 72) -> str:
    return "\n".join(textwrap.wrap(text, width))


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
