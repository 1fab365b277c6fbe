"""Channel names, roles, colormaps and length units shared by the readers."""

from __future__ import annotations

import math
import re

__all__ = [
    "colormap_for",
    "nice_length",
    "normalize_label",
    "phase_contrast_limits",
    "phase_unit",
    "role_for",
]

_UNIT_IN_LABEL = re.compile(r"^(.*?)\s*\(([^()]*)\)\s*$")
_DIRECTION = re.compile(r"(re)?trace", re.IGNORECASE)
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def _split_token(token: str) -> list[str]:
    """Split a CamelCase/digit token (``"Amplitude1"`` -> ``["Amplitude", "1"]``)."""
    if not token.isalnum():
        return [token]
    words = _WORDS.findall(token)
    return words if "".join(words) == token else [token]


def normalize_label(label: str) -> tuple[str, str | None]:
    """Turn a raw instrument channel label into a readable layer name.

    Asylum Research labels are CamelCase run together and, in real files, often
    garbled by a stale buffer tail (``"Phase1Retracece"``).  The direction word
    (``Trace``/``Retrace``) is recognised, any tail that is a left-over piece of
    it is dropped, and words and digits are separated.  A trailing unit in
    parentheses (ImageJ labels such as ``"PhaseRetrace (deg)"``) is split off.

    Parameters
    ----------
    label : str
        Raw label.

    Returns
    -------
    name : str
        E.g. ``"Phase 1 Retrace"``, ``"Amplitude 1 Retrace"``, ``"Height Retrace"``.
    unit : str or None
        The unit written in parentheses, if any.

    Examples
    --------
    >>> normalize_label("Phase1Retracece")
    ('Phase 1 Retrace', None)
    >>> normalize_label("HeightRetrace (m)")
    ('Height Retrace', 'm')
    """
    text = label.strip()
    unit = None
    m = _UNIT_IN_LABEL.match(text)
    if m and m.group(1):
        text, unit = m.group(1).strip(), m.group(2).strip() or None
    words: list[str] = []
    for token in text.split():
        d = _DIRECTION.search(token)
        if d and d.start() > 0 and token[: d.start()].isalnum():
            head, tail = token[: d.start()], token[d.end() :]
            direction = "Retrace" if d.group(1) else "Trace"
            if tail and "retrace".endswith(tail.lower()):
                tail = ""  # garbled left-over ("...Retracece", "...Retraceace")
            words += [*_split_token(head), direction, *(_split_token(tail) if tail else [])]
        else:
            words += _split_token(token)
    name = " ".join(words) or label.strip()
    return name, unit


def role_for(name: str) -> str:
    """Guess the channel's role from its (normalised) name.

    Returns one of ``"phase"``, ``"amplitude"``, ``"height"``, ``"deflection"``,
    ``"frequency"`` or ``"image"``.
    """
    key = name.lower().replace(" ", "")
    if "phase" in key:
        return "phase"
    if "amplitude" in key or re.search(r"(^|[^a-z])amp", name.lower()):
        return "amplitude"
    if "height" in key or "zsensor" in key or "topograph" in key:
        return "height"
    if "deflection" in key:
        return "deflection"
    if "frequency" in key:
        return "frequency"
    return "image"


def colormap_for(role: str) -> str:
    """napari colormap for a role: ``"twilight"`` (cyclic) for phase, else ``"gray"``."""
    return "twilight" if role == "phase" else "gray"


def phase_contrast_limits(vmin: float, vmax: float, unit: str | None) -> tuple[float, float] | None:
    """Contrast limits spanning exactly one phase period, or ``None``.

    A cyclic colormap only wraps seamlessly when its limits are one period apart.
    The lower limit is the data minimum rounded down to a quarter period
    (Asylum phase ``-90…270°`` gives ``(-90, 270)``).  ``None`` when the data do
    not fit in one period (then napari's automatic limits are kept).
    """
    if not (math.isfinite(vmin) and math.isfinite(vmax)):
        return None
    degrees = unit in ("deg", "°", "degree", "degrees") or (unit is None and vmax - vmin > 7.0)
    period = 360.0 if degrees else 2 * math.pi
    low = math.floor(vmin / (period / 4) + 1e-9) * (period / 4)
    if vmax > low + period * (1 + 1e-6):
        return None
    return (float(low), float(low + period))


_ANGLE_UNITS = {
    "deg": "deg",
    "°": "deg",
    "degree": "deg",
    "degrees": "deg",
    "rad": "rad",
    "radian": "rad",
}


def phase_unit(label_unit: str | None, vmin: float, vmax: float) -> str:
    """Unit of a phase channel: the label's angle unit, else guessed from the range.

    Instruments sometimes label phase with a wrong unit (Asylum's
    ``"NapPhaseRetrace (m)"``); a range wider than 2π means degrees.
    """
    key = (label_unit or "").strip().lower()
    if key in _ANGLE_UNITS:
        return _ANGLE_UNITS[key]
    return "deg" if (vmax - vmin) > 2 * math.pi + 1e-6 else "rad"


_LENGTH_M = {
    "m": 1.0,
    "meter": 1.0,
    "cm": 1e-2,
    "mm": 1e-3,
    "µm": 1e-6,
    "μm": 1e-6,
    "um": 1e-6,
    "micron": 1e-6,
    "microns": 1e-6,
    "micrometer": 1e-6,
    "\\u00b5m": 1e-6,
    "nm": 1e-9,
    "nanometer": 1e-9,
    "å": 1e-10,
    "angstrom": 1e-10,
    "pm": 1e-12,
}
_UNCALIBRATED = {"", "pixel", "pixels", "px", "pix", "<auto>", "none"}


def nice_length(size: float, unit: str | None) -> tuple[float, float, str | None]:
    """Express a pixel size in nm, µm or mm.

    Parameters
    ----------
    size : float
        Pixel size in ``unit``.
    unit : str or None
        Any common spelling of a length unit (``"um"``, ``"micron"``, ``"\\u00B5m"``,
        ``"Å"``...).  ``None``, ``""`` or ``"pixel"`` mean uncalibrated.

    Returns
    -------
    size : float
        The pixel size in the returned unit (1.0 when uncalibrated).
    factor : float
        Multiply other sizes given in ``unit`` by this to express them in the
        returned unit.
    unit : str or None
        ``"nm"`` below 1 µm, ``"µm"`` below 1 mm, else ``"mm"``; an unknown unit
        is returned unchanged (factor 1); ``None`` when uncalibrated.
    """
    key = (unit or "").strip().lower()
    if key in _UNCALIBRATED or not math.isfinite(size) or size <= 0:
        return 1.0, 1.0, None
    if key not in _LENGTH_M:
        return float(size), 1.0, unit.strip()
    meters = size * _LENGTH_M[key]
    target = "nm" if meters < 1e-6 else ("µm" if meters < 1e-3 else "mm")
    factor = _LENGTH_M[key] / {"nm": 1e-9, "µm": 1e-6, "mm": 1e-3}[target]
    return float(size * factor), float(factor), target
