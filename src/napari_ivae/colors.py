"""Colour schemes of feature columns (Qt-free): per-point palette codes, legends, class colours.

The explorer's scatter colours a feature column in one of three ways, chosen
by :func:`color_scheme`:

* **categorical** (text, booleans, categoricals; integer columns and float
  columns of whole numbers with at most :data:`MAX_CATEGORIES` values, e.g.
  ``class`` with NaN for points the crop dropped; the ``label`` column with the
  class colours): one palette entry per category, a legend of swatches with
  counts (:func:`legend`);
* **cyclic** (``angle``, ``orientation``, ``phase``, ``*_angle``): the
  ``twilight`` map over the column's period (2π, π, 360° or 180°, guessed);
* **sequential** (any other number): ``viridis`` between the 0.5th and 99.5th
  percentiles; the class scores of the joint, semi-supervised and ensemble
  models always get a colour bar with a fixed meaning (:func:`score_map`):
  ``class_uncertainty`` ``plasma`` from 0 to its largest value, ``class_agreement``
  ``plasma_r`` over [0, 1] (both: bright = unsure), class probabilities
  (``p0``, ``p_<label>``) ``viridis`` over [0, 1].

Continuous maps are quantised to :data:`N_CONTINUOUS` colours so that a drawing
front end needs one brush (or marker pixmap) per palette entry, not per point.
NaN values get :data:`NAN_COLOR`.  Colours are 0–255 RGBA ``uint8``; class
colours are ``"#rrggbb"`` strings (:func:`to_hex`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from napari_ivae._errors import IvaeError

__all__ = [
    "MAX_CATEGORIES",
    "NAN_COLOR",
    "N_CONTINUOUS",
    "SELECTION_COLOR",
    "ColorScheme",
    "Legend",
    "categorical_colors",
    "color_scheme",
    "is_categorical",
    "is_cyclic",
    "legend",
    "next_class_color",
    "score_map",
    "to_hex",
    "to_rgba",
]

#: Colours of a continuous map are quantised to this many shared palette entries.
N_CONTINUOUS = 64
#: Integer columns (and float columns holding only whole numbers, e.g. ``class``
#: with NaN for points without a crop) with at most this many distinct values are
#: shown as categories.
MAX_CATEGORIES = 24
#: Colour of missing values (and of unlabeled points).
NAN_COLOR = (110, 110, 110, 255)
#: Colour of selected points, in the scatter and (as rings) in the napari highlight layer.
SELECTION_COLOR = (255, 43, 214, 255)


class ColorScheme:
    """Per-point colour codes and the palette they index.

    Parameters
    ----------
    codes : array-like
        (N,) palette index per point.
    colors : array-like
        (K, 4) RGBA palette, 0–255.
    kind : str
        ``"categorical"``, ``"sequential"``, ``"cyclic"`` or ``"none"``.
    labels : sequence of str, optional
        Category names (categorical): one per palette entry.
    vmin, vmax : float, optional
        Range of a continuous map.

    Attributes
    ----------
    codes : numpy.ndarray
        (N,) int32 palette index per point.
    colors : numpy.ndarray
        (K, 4) uint8 RGBA palette.
    kind, labels, vmin, vmax
        As given.
    """

    def __init__(self, codes, colors, kind, labels=(), vmin=0.0, vmax=1.0):
        self.codes = np.asarray(codes, dtype=np.int32)
        self.colors = np.asarray(colors, dtype=np.uint8)
        self.kind = kind
        self.labels = list(labels)
        self.vmin = float(vmin)
        self.vmax = float(vmax)

    def point_colors(self) -> np.ndarray:
        """(N, 4) uint8 RGBA colour of every point, in row order."""
        return self.colors[self.codes]


def _mpl_colors(name: str, n: int) -> np.ndarray:
    import matplotlib

    cmap = matplotlib.colormaps[name]
    if getattr(cmap, "N", 256) < 64:  # qualitative map: take its entries in order
        rgba = np.array([cmap(i % cmap.N) for i in range(n)])
    else:
        rgba = cmap(np.linspace(0.0, 1.0, n, endpoint=name not in ("twilight", "hsv")))
    return np.round(np.asarray(rgba) * 255).astype(np.uint8)


def categorical_colors(n: int) -> np.ndarray:
    """``n`` distinct RGBA colours (tab10, then tab20, then a hue wheel).

    Parameters
    ----------
    n : int
        How many colours.

    Returns
    -------
    numpy.ndarray
        (n, 4) uint8 RGBA.
    """
    if n <= 10:
        return _mpl_colors("tab10", max(n, 1))[:n]
    if n <= 20:
        return _mpl_colors("tab20", n)[:n]
    return _mpl_colors("hsv", n)


def to_hex(color) -> str:
    """A colour as ``"#rrggbb"`` (lower case).

    Parameters
    ----------
    color : str or sequence of numbers
        A colour name (``"red"``), ``"#rgb"`` / ``"#rrggbb"`` / ``"#rrggbbaa"``, or
        RGB(A) as 0–255 numbers (alpha ignored).

    Returns
    -------
    str

    Raises
    ------
    IvaeError
        Not a colour.
    """
    if not isinstance(color, str):
        try:
            rgb = [round(float(v)) for v in list(color)[:3]]
        except (TypeError, ValueError):
            rgb = []
        if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise IvaeError(f"color={color!r} is not a colour; use a name, '#rrggbb' or 0-255 RGB")
        return "#{:02x}{:02x}{:02x}".format(*rgb)
    from matplotlib.colors import to_hex as _mpl_hex

    try:
        return _mpl_hex(color.strip())
    except (ValueError, TypeError):
        raise IvaeError(f"color={color!r} is not a colour; use a name or '#rrggbb'") from None


def to_rgba(color) -> tuple[int, int, int, int]:
    """A colour (as for :func:`to_hex`) as opaque 0–255 RGBA."""
    h = to_hex(color)
    return (int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16), 255)


def next_class_color(used: Iterable[str]) -> str:
    """The colour of a new label class: the first tab10 colour not in ``used``.

    Parameters
    ----------
    used : iterable of str
        The ``"#rrggbb"`` colours of the existing classes.

    Returns
    -------
    str
        ``"#rrggbb"``; when all ten are taken, they repeat (by the number of classes).
    """
    used = list(used)
    palette = [to_hex(c) for c in categorical_colors(10)]
    free = [c for c in palette if c not in set(used)]
    return free[0] if free else palette[len(used) % 10]


def is_cyclic(name: str) -> bool:
    """Whether a column is angular by its name (``angle``, ``orientation``, ``phase``, ``*angle``)."""
    low = name.lower()
    return low in ("angle", "orientation", "phase") or low.endswith(("_angle", "angle"))


def _period(name: str, values: np.ndarray) -> tuple[float, float]:
    """Guess the period (and its origin) of an angular column."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 2 * np.pi
    lo, hi = float(finite.min()), float(finite.max())
    orientation = name.lower() == "orientation"
    if lo >= -2 * np.pi - 1e-6 and hi <= 2 * np.pi + 1e-6:
        if orientation and lo >= -1e-6 and hi <= np.pi + 1e-6:
            return 0.0, np.pi
        return 0.0, 2 * np.pi
    if orientation and lo >= -1e-6 and hi <= 180 + 1e-6:
        return 0.0, 180.0
    return 0.0, 360.0


_PROBABILITY = re.compile(r"^p(\d+|_.+)$")


def score_map(name: str) -> tuple[str, float, float | None] | None:
    """The fixed colour bar of a class-score column: (matplotlib map, vmin, vmax or None).

    ``vmax`` None: the column's largest value.  None for any other column.

    Parameters
    ----------
    name : str
        Column name: ``class_uncertainty``, ``class_agreement``, ``p<k>`` or ``p_<label>``.

    Returns
    -------
    tuple or None
    """
    if name == "class_uncertainty":
        return "plasma", 0.0, None
    if name == "class_agreement":
        return "plasma_r", 0.0, 1.0
    if _PROBABILITY.match(name):
        return "viridis", 0.0, 1.0
    return None


def _category_name(value) -> str:
    """``1.0`` → ``"1"`` (whole numbers stored as float), else ``str(value)``."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def is_categorical(name: str, values) -> bool:
    """Whether a column is coloured by category (legend of swatches) rather than a colour bar.

    Text, booleans and categoricals always; integer columns, and float columns
    whose finite values are all whole numbers (``class`` after a join with NaN),
    when they hold at most :data:`MAX_CATEGORIES` distinct values; never the
    angular columns.

    Parameters
    ----------
    name : str
        Column name.
    values : array-like
        The column.

    Returns
    -------
    bool
    """
    import pandas as pd

    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    dtype = series.dtype
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if not numeric:
        return True
    if is_cyclic(name) or score_map(name) is not None:
        return False
    if not pd.api.types.is_integer_dtype(dtype):  # the cheap test first: whole numbers only
        vals = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = vals[np.isfinite(vals)]
        if finite.size == 0 or not np.all(finite == np.round(finite)):
            return False
    return series.nunique(dropna=True) <= MAX_CATEGORIES


def color_scheme(
    name: str,
    values,
    *,
    label_colors: dict[str, tuple[int, int, int, int]] | None = None,
) -> ColorScheme:
    """Choose a colour scheme for a feature column.

    Parameters
    ----------
    name : str
        Column name: ``angle``/``orientation`` get a cyclic map, ``label`` the
        class colours in ``label_colors``.
    values : array-like
        The column.
    label_colors : dict, optional
        Class name → RGBA (0–255), used for the ``label`` column; ``""``
        (unlabeled) is always grey and drawn first.  Labels that are not
        classes get further colours, sorted by name.

    Returns
    -------
    ColorScheme
    """
    import pandas as pd

    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    if name == "label":
        return _label_scheme(series, label_colors or {})

    if is_categorical(name, series):
        return _categorical_scheme(series)
    return _continuous_scheme(name, series)


def _categorical_scheme(series) -> ColorScheme:
    """One colour per distinct value (sorted), grey ``n/a`` for missing values."""
    import pandas as pd

    codes, uniques = pd.factorize(series, sort=True)
    codes = np.asarray(codes, dtype=np.int32)
    k = len(uniques)
    colors = categorical_colors(k)
    shown = [_category_name(u) for u in uniques]
    if (codes < 0).any():  # NaN / None
        codes = np.where(codes < 0, k, codes)
        colors = np.vstack([colors, np.array([NAN_COLOR], dtype=np.uint8)])
        shown.append("n/a")
    return ColorScheme(codes, colors, "categorical", shown)


def _continuous_scheme(name: str, series) -> ColorScheme:
    """Cyclic (twilight over the period) or sequential (viridis, 0.5–99.5 %) codes; grey NaN."""
    vals = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(vals)
    if is_cyclic(name):
        origin, period = _period(name, vals)
        frac = np.mod(vals - origin, period) / period
        colors = _mpl_colors("twilight", N_CONTINUOUS)
        kind, vmin, vmax = "cyclic", origin, origin + period
    else:
        cmap, vmin, vmax = score_map(name) or ("viridis", None, None)
        if vmin is None:
            vmin = float(np.percentile(vals[finite], 0.5)) if finite.any() else 0.0
        if vmax is None:
            top = 100.0 if score_map(name) else 99.5
            vmax = float(np.percentile(vals[finite], top)) if finite.any() else 1.0
        if vmax <= vmin:
            vmax = vmin + (1.0 if score_map(name) is None else 1e-3)
        frac = (vals - vmin) / (vmax - vmin)
        colors = _mpl_colors(cmap, N_CONTINUOUS)
        kind = "sequential"
    codes = np.clip(
        (np.nan_to_num(frac, nan=0.0) * N_CONTINUOUS).astype(np.int32), 0, N_CONTINUOUS - 1
    )
    if not finite.all():
        codes[~finite] = N_CONTINUOUS
        colors = np.vstack([colors, np.array([NAN_COLOR], dtype=np.uint8)])
    return ColorScheme(codes, colors, kind, vmin=vmin, vmax=vmax)


def _label_scheme(series, label_colors: dict) -> ColorScheme:
    import pandas as pd

    names = ["", *[k for k in label_colors if k != ""]]
    extra = [
        v for v in pd.unique(series.astype(str).fillna("")) if v not in label_colors and v != ""
    ]
    names += sorted(extra)
    lookup = {k: i for i, k in enumerate(names)}
    codes = series.astype(str).fillna("").map(lookup).to_numpy(dtype=np.int32)
    extra_cols = categorical_colors(len(extra) + 10)[10:] if extra else np.zeros((0, 4))
    colors = [NAN_COLOR] + [tuple(label_colors[k]) for k in names[1 : 1 + len(label_colors)]]
    colors += [tuple(c) for c in extra_cols[: len(extra)]]
    shown = ["unlabeled", *names[1:]]
    return ColorScheme(codes, np.array(colors, dtype=np.uint8), "categorical", shown)


@dataclass
class Legend:
    """What a legend shows for a :class:`ColorScheme` (drawn by the front end).

    Attributes
    ----------
    title : str
        The column name.
    kind : str
        The scheme's kind: ``"categorical"`` → :attr:`entries`; ``"cyclic"`` /
        ``"sequential"`` → a colour bar of :attr:`bar` from :attr:`vmin` to :attr:`vmax`.
    entries : list of (str, tuple, int)
        Categorical: (name, RGBA 0–255, number of points) for the first
        ``max_rows`` categories; an empty category name is shown as ``"unlabeled"``.
    more : int
        Categories left out of :attr:`entries`.
    bar : numpy.ndarray
        Continuous: (K, 4) uint8 palette of the colour bar (at most 64 entries).
    vmin, vmax : float
        Continuous: the values at the ends of the bar.
    """

    title: str
    kind: str
    entries: list[tuple[str, tuple[int, int, int, int], int]] = field(default_factory=list)
    more: int = 0
    bar: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.uint8))
    vmin: float = 0.0
    vmax: float = 1.0

    @property
    def cyclic(self) -> bool:
        """Whether the colour bar wraps around (angles)."""
        return self.kind == "cyclic"


def legend(title: str, scheme: ColorScheme, *, max_rows: int = 12) -> Legend:
    """The legend of ``scheme``: swatches with counts, or a colour bar with its range.

    Parameters
    ----------
    title : str
        The column name.
    scheme : ColorScheme
        Its colours.
    max_rows : int, optional
        At most this many categories are listed (the rest are counted in ``more``).

    Returns
    -------
    Legend
    """
    if scheme.kind == "categorical":
        counts = np.bincount(scheme.codes, minlength=len(scheme.colors))
        rows = list(zip(scheme.labels, scheme.colors))[:max_rows]
        entries = [
            (name or "unlabeled", tuple(int(v) for v in c), int(counts[k]))
            for k, (name, c) in enumerate(rows)
        ]
        more = max(0, len(scheme.labels) - max_rows)
        return Legend(str(title), "categorical", entries=entries, more=more)
    return Legend(
        str(title),
        scheme.kind,
        bar=np.asarray(scheme.colors[:N_CONTINUOUS], dtype=np.uint8),
        vmin=scheme.vmin,
        vmax=scheme.vmax,
    )
