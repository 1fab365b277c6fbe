"""User-facing errors of the core."""

from __future__ import annotations


class IvaeError(ValueError):
    """A problem with the user's input, described in one plain sentence.

    Fronts (CLI, napari widgets) show ``str(err)`` to the user without a
    traceback: the CLI prints it on one line and exits with code 2, the widgets
    show it as a napari notification.  Messages name the parameter (or file),
    the accepted range and what was given, e.g.
    ``"window=80 is larger than the image (64×64)"``.
    """


class Cancelled(Exception):
    """A long computation stopped because its caller asked it to (not an error)."""


def check_choice(name: str, value: object, choices: tuple) -> None:
    """Raise :class:`IvaeError` unless ``value`` is one of ``choices``.

    Parameters
    ----------
    name : str
        Parameter name used in the message.
    value : object
        Given value.
    choices : tuple
        Accepted values.
    """
    if value not in choices:
        accepted = ", ".join(repr(c) for c in choices)
        raise IvaeError(f"{name}={value!r} is not one of {accepted}")


def check_range(
    name: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
) -> None:
    """Raise :class:`IvaeError` unless ``low <= value <= high``.

    Parameters
    ----------
    name : str
        Parameter name used in the message.
    value : float
        Given value.
    low, high : float, optional
        Bounds; ``None`` means unbounded.
    low_inclusive : bool
        Whether ``value == low`` is accepted.
    """
    ok_low = low is None or (value >= low if low_inclusive else value > low)
    ok_high = high is None or value <= high
    if not (ok_low and ok_high):
        lo = "" if low is None else (f"{low} ≤ " if low_inclusive else f"{low} < ")
        hi = "" if high is None else f" ≤ {high}"
        raise IvaeError(f"{name}={value!r} is out of range; expected {lo}{name}{hi}")
