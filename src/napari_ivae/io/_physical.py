"""Physical pixel sizes and channel roles, shared by the readers, the CLI and the GUI.

Units
    :func:`napari_units` gives the per-axis ``units`` napari's layers take (so
    the scale bar and status bar speak nm or µm); :func:`pixel_size_nm` reads
    the pixel size in nanometres from an :class:`~napari_ivae.io.ImageLayer`, a
    napari layer or a layer's ``metadata`` dict; :func:`add_physical_columns`
    adds ``y_nm, x_nm`` beside the pixel ``y, x`` of a points table.

Roles
    :func:`display_order` orders layers so that phase (then amplitude) ends on
    top in napari; :func:`is_auxiliary` says which channels open hidden
    (height, frequency, deflection ... of a PFM file); :func:`default_channels`
    picks the channels a task uses by default (crop: amplitude + phase; walls:
    phase + amplitude).

Nothing here imports napari: items are anything with a ``role`` attribute
(``ImageLayer``), a ``metadata`` dict holding ``"role"`` (napari layers) or
such a dict itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = [
    "AUXILIARY_ROLES",
    "PRIMARY_ROLES",
    "add_physical_columns",
    "default_channels",
    "display_order",
    "is_auxiliary",
    "napari_units",
    "pixel_size_nm",
    "role_of",
]

#: nanometres per unit for the length units the readers produce (see ``nice_length``)
_NM_PER = {"nm": 1.0, "µm": 1e3, "μm": 1e3, "um": 1e3, "mm": 1e6, "pm": 1e-3, "m": 1e9}
#: the spelling napari (pint) is given for each length unit
_PINT = {"nm": "nm", "µm": "um", "μm": "um", "um": "um", "mm": "mm", "pm": "pm", "m": "m"}

#: channels that carry the PFM signal, in the order they should stack in napari (top first)
PRIMARY_ROLES: tuple[str, ...] = ("phase", "amplitude")
#: channels of a PFM file opened hidden (anything not phase/amplitude when those exist)
AUXILIARY_ROLES: tuple[str, ...] = ("height", "deflection", "frequency", "image")
#: stacking priority, top of napari's layer list first
_PRIORITY = {"phase": 0, "amplitude": 1, "image": 2, "deflection": 3, "height": 4, "frequency": 5}

#: roles a task takes by default, in channel order
_TASK_ROLES = {"crop": ("amplitude", "phase"), "walls": ("phase", "amplitude")}


def _meta(obj: Any) -> dict:
    if isinstance(obj, dict):
        return obj
    meta = getattr(obj, "metadata", None)
    return meta if isinstance(meta, dict) else {}


def role_of(obj: Any) -> str:
    """The channel role of an ``ImageLayer``, a napari layer or a metadata dict (``"image"`` if unknown)."""
    role = getattr(obj, "role", None)
    if not isinstance(role, str):
        role = _meta(obj).get("role")
    return str(role) if role else "image"


def napari_units(unit: str | None, ndim: int) -> tuple[str, ...] | None:
    """Per-axis ``units`` for a napari layer of ``ndim`` axes whose pixel size is in ``unit``.

    Parameters
    ----------
    unit : str or None
        Length unit of the last two axes (``"nm"``, ``"µm"``, ``"mm"``...);
        ``None`` when uncalibrated.
    ndim : int
        Number of axes of the layer; axes before the last two (frames) get no
        length unit (``""``, dimensionless).

    Returns
    -------
    tuple of str or None
        E.g. ``("um", "um")`` or ``("", "nm", "nm")``; ``None`` (napari's
        default, pixels) when uncalibrated or the unit is not a known length.
        Give the same units to Points/Labels layers drawn over the image, or
        napari's scale bar falls back to no unit.

    Examples
    --------
    >>> napari_units("µm", 2)
    ('um', 'um')
    >>> napari_units("nm", 3)
    ('', 'nm', 'nm')
    >>> napari_units(None, 2) is None
    True
    """
    name = _PINT.get((unit or "").strip())
    if name is None or ndim < 2:
        return None
    return ("",) * (int(ndim) - 2) + (name, name)


def pixel_size_nm(obj: Any) -> tuple[float, float] | None:
    """Pixel size ``(y, x)`` in nanometres, or ``None`` when uncalibrated.

    Parameters
    ----------
    obj : ImageLayer, napari layer or dict
        An :class:`~napari_ivae.io.ImageLayer` (``unit`` and ``scale``), a
        napari layer opened by this plugin (its ``metadata``), or that
        ``metadata`` dict (keys ``pixel_size_nm`` or ``unit`` + ``pixel_size``).

    Returns
    -------
    (float, float) or None
        Row and column pixel size in nm.
    """
    if not isinstance(obj, dict) and hasattr(obj, "unit") and hasattr(obj, "axes"):
        unit, scale = obj.unit, getattr(obj, "scale", None)  # an ImageLayer
    else:
        meta = _meta(obj)
        given = meta.get("pixel_size_nm")
        if given is not None:
            pair = tuple(float(v) for v in (given if _is_seq(given) else (given, given)))
            return pair if len(pair) == 2 and all(_ok(v) for v in pair) else None
        unit = meta.get("unit")
        scale = meta.get("pixel_size", getattr(obj, "scale", None))
    nm = _NM_PER.get(unit.strip()) if isinstance(unit, str) else None
    if nm is None or scale is None:
        return None
    try:
        py, px = (float(v) * nm for v in tuple(scale)[-2:])
    except (TypeError, ValueError):
        return None
    return (py, px) if _ok(py) and _ok(px) else None


def _is_seq(v: Any) -> bool:
    return isinstance(v, (Sequence, tuple, list)) and not isinstance(v, str)


def _ok(v: float) -> bool:
    return math.isfinite(v) and v > 0


def add_physical_columns(table, pixel_size: float | tuple[float, float] | None):
    """Return ``table`` with ``y_nm, x_nm`` inserted right after ``y, x`` (or unchanged).

    Parameters
    ----------
    table : pandas.DataFrame
        A points table with pixel columns ``y`` and ``x``.
    pixel_size : float, (float, float) or None
        Pixel size in nm (one value, or ``(y, x)``, e.g. from
        :func:`pixel_size_nm`); ``None`` returns the table unchanged.

    Returns
    -------
    pandas.DataFrame
        A copy with the two columns (pixel centre 0 at 0 nm), or ``table``
        itself when the pixel size is unknown or ``y``/``x`` are missing.
    """
    if pixel_size is None or "y" not in table.columns or "x" not in table.columns:
        return table
    py, px = (float(v) for v in (pixel_size if _is_seq(pixel_size) else (pixel_size,) * 2))
    out = table.drop(columns=[c for c in ("y_nm", "x_nm") if c in table.columns])
    cols = list(out.columns)
    at = max(cols.index("y"), cols.index("x")) + 1
    out.insert(at, "x_nm", out["x"].to_numpy(dtype=float) * px)
    out.insert(at, "y_nm", out["y"].to_numpy(dtype=float) * py)
    return out


def is_auxiliary(obj: Any, roles: Sequence[str]) -> bool:
    """Whether a channel should open hidden: the file has phase/amplitude and this is neither.

    Parameters
    ----------
    obj : ImageLayer, napari layer or dict
        The channel.
    roles : sequence of str
        Roles of all channels of the same file.
    """
    return any(r in PRIMARY_ROLES for r in roles) and role_of(obj) not in PRIMARY_ROLES


def display_order(layers: Sequence[Any]) -> list[Any]:
    """Order a file's channels for napari, which puts the last added on top.

    The result ends with the first phase channel, preceded by the other phase
    channels, then amplitude, image, deflection, height and frequency
    channels, so napari's layer list reads top-down: Phase 1, Phase 2,
    Amplitude 1, ..., Height, Frequency.  Files without phase or amplitude
    keep their file order.
    """
    layers = list(layers)
    roles = [role_of(ly) for ly in layers]
    if not any(r in PRIMARY_ROLES for r in roles):
        return layers
    ranked = sorted(range(len(layers)), key=lambda i: (_PRIORITY.get(roles[i], 6), i))
    return [layers[i] for i in reversed(ranked)]


def default_channels(layers: Sequence[Any], task: str = "crop") -> list[Any]:
    """The channels a task takes by default, chosen by role; ``[]`` when no role matches.

    Parameters
    ----------
    layers : sequence
        The channels of one file (ImageLayer, napari layers or metadata dicts).
    task : {"crop", "walls"}
        ``"crop"``: the first amplitude and the first phase channel, in that
        order; ``"walls"``: the first phase and the first amplitude channel.

    Returns
    -------
    list
        The chosen items (one per role found), in the task's role order.
    """
    if task not in _TASK_ROLES:
        from napari_ivae._errors import check_choice

        check_choice("task", task, tuple(_TASK_ROLES))
    chosen = []
    for role in _TASK_ROLES[task]:
        hit = next((ly for ly in layers if role_of(ly) == role), None)
        if hit is not None:
            chosen.append(hit)
    return chosen
