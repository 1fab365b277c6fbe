"""Option forms built from configuration dataclasses (magicgui widgets).

A field declared once on a config dataclass (``TrainConfig``, ``ModelConfig``,
a new model's config) appears in the widgets' forms: its type picks the
magicgui widget, its numpydoc entry in the class docstring is the tooltip, and
its default is the initial value.  The form validates by building the config,
so a wrong value gets the very message the CLI prints
(:class:`~napari_ivae.IvaeError` raised by the config's ``__post_init__``).
:meth:`ConfigForm.for_function` does the same for the keyword options of a
core function (``detect_atoms``, ``crop``): the function validates when called.

=====================================  =============================================
field type                             widget
=====================================  =============================================
``Literal[...]`` (or ``choices``)      ``ComboBox``
``bool``                               ``CheckBox``
``int`` / ``float``                    ``SpinBox`` / ``FloatSpinBox``
``tuple[float, float]``                ``TupleEdit``
``str``                                ``LineEdit``
``X | None``                           a check box ("set") beside the widget of X;
                                       for a float with ``Hint.none_text``: "auto"
                                       at the spin box's minimum
=====================================  =============================================

Nothing here knows a particular config: the widgets pass the field names they
show first, those they leave out and per-field :class:`Hint` s.
"""

from __future__ import annotations

import dataclasses
import inspect
import textwrap
import typing
from collections.abc import Callable, Iterable
from typing import Any

from magicgui import widgets as mw
from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QFormLayout

from napari_ivae._qt._form_widgets import (
    Collapsible,
    Hint,
    OptionalWidget,
    field_docs,
    label_of,
    make_widget,
    placeholder,
    unwrap_optional,
)

__all__ = ["Collapsible", "ConfigForm", "Hint", "field_docs"]


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
    defaults : object or dict, optional
        An instance of ``cls`` whose values are shown first, or a dict of
        values that replace ``cls()``'s defaults.

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
        if dataclasses.is_dataclass(defaults):
            self._defaults = dataclasses.asdict(defaults)
        else:
            self._defaults = {**dataclasses.asdict(cls()), **(defaults or {})}
        types_ = typing.get_type_hints(cls)
        # "auto" at the minimum: float spin boxes only (magicgui's int one has no special text)
        self._none_at_min = {
            n
            for n, h in self._hints.items()
            if h.none_text is not None and unwrap_optional(types_.get(n))[0] is float
        }
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
        inner_tp, optional = unwrap_optional(tp)
        ruled = name in self._rules
        shown = value if value is not None else placeholder(inner_tp, hint)
        widget = make_widget(inner_tp, shown, hint)
        if optional and not ruled and name not in self._none_at_min:
            widget = OptionalWidget(widget, value is not None)
        tip = hint.tooltip if hint.tooltip is not None else doc
        widget.tooltip = f"{name} ({self.cls.__name__})" + ("\n" + _wrap(tip) if tip else "")
        widget.label = hint.label or label_of(name)
        if hint.suffix and not hasattr(getattr(widget, "native", None), "setSuffix"):
            widget.label += f" ({hint.suffix.strip()})"  # the unit in the label instead
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
            if name in self._none_at_min and value <= widget.min:
                value = None  # the minimum reads "auto"
            out[name] = _keep_default(value, self._defaults[name], widget)
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
            if value is None and name in self._none_at_min:
                widget.value = widget.min
            elif widget is not None and (value is not None or isinstance(widget, OptionalWidget)):
                widget.value = value
        self._update_enabled()

    @classmethod
    def for_function(
        cls, func: Callable, *, exclude: Iterable[str] = (), defaults: dict | None = None, **kw: Any
    ) -> ConfigForm:
        """A form of the options of ``func`` (its signature, types and numpydoc).

        Parameters without a default need one in ``defaults``; the arrays and
        callbacks a widget passes itself go in ``exclude``.  ``func`` itself
        validates when it is called (the CLI calls it the same way); ``kw`` as
        for the constructor.
        """
        return cls(options_class(func, exclude=exclude, defaults=defaults), **kw)

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

    def section(self, title: str, *, besides: Iterable[str] = ()) -> Collapsible:
        """A collapsed section holding the rows of every shown field not in ``besides``."""
        section = Collapsible(title)
        skip = set(besides)
        self.add_rows(section.form, [n for n in self.names if n not in skip])
        return section


def options_class(
    func: Callable, *, exclude: Iterable[str] = (), defaults: dict | None = None
) -> type:
    """A dataclass of the keyword options of ``func``, documented by its docstring."""
    types_ = typing.get_type_hints(func)
    skip, defaults = set(exclude), dict(defaults or {})
    fields = []
    for p in inspect.signature(func).parameters.values():
        if p.name in skip or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            continue
        default = defaults.get(p.name, p.default)
        if default is p.empty:
            raise TypeError(f"{func.__name__}: give a default for {p.name!r} or exclude it")
        fields.append((p.name, types_.get(p.name, Any), dataclasses.field(default=default)))
    options = dataclasses.make_dataclass(func.__name__, fields)
    options.__doc__ = func.__doc__
    return options


def _keep_default(value: Any, default: Any, widget: Any) -> Any:
    """``default`` when a float widget shows it rounded (π shown as 3.14 stays π)."""
    if isinstance(default, float) and isinstance(value, float):
        native = getattr(getattr(widget, "inner", widget), "native", None)
        decimals = native.decimals() if hasattr(native, "decimals") else 8
        return default if abs(value - default) < 0.5 * 10.0**-decimals else value
    if isinstance(default, tuple) and isinstance(value, tuple) and len(value) == len(default):
        return tuple(_keep_default(v, d, w) for v, d, w in zip(value, default, _parts(widget)))
    return value


def _parts(widget: Any) -> list:
    inner = getattr(widget, "inner", widget)
    return list(inner) if isinstance(inner, mw.TupleEdit) else [None] * 8


def _wrap(text: str, width: int = 72) -> str:
    return "\n".join(textwrap.wrap(text, width))
