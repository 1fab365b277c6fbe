"""Confusion matrix of predicted classes against truth labels (torch-free), and its PNG.

:func:`confusion_matrix` counts, for every truth label (rows), how often each
class was predicted (columns).  Labels are compared as text, with whole
numbers stored as floats read as integers (``1.0`` is ``"1"``), so a truth
column of integers matches a ``class`` column in the user's vocabulary
whether it was read as text or as numbers.  Rows whose truth is missing
(``NaN``, ``None`` or ``""``: the unlabelled rows of a semi-supervised run) or
whose prediction is missing are left out and counted in ``n_skipped``.

When the two vocabularies share a label the matrix is square over their union
(the diagonal is "right"); when they share none (cluster numbers of an
unsupervised joint model against named truth) its columns are the predicted
classes, and :attr:`ConfusionMatrix.matched_accuracy` pairs clusters and
labels one to one (Hungarian matching) before counting.
:func:`plot_confusion` writes the matrix as a PNG (matplotlib's object API on
Agg, atomic write).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from napari_ivae._atomic import atomic_write
from napari_ivae._errors import IvaeError

__all__ = ["ConfusionMatrix", "confusion_figure", "confusion_matrix", "plot_confusion"]


@dataclass
class ConfusionMatrix:
    """Counts of (truth, predicted) pairs and the scores read from them.

    Attributes
    ----------
    counts : pandas.DataFrame
        Integer counts; index: truth labels (name ``"truth"``), columns:
        predicted labels (name ``"predicted"``), both as text.
    n_skipped : int
        Rows left out because their truth or their prediction was missing.
    """

    counts: pd.DataFrame
    n_skipped: int = 0

    @property
    def n(self) -> int:
        """Number of rows counted."""
        return int(self.counts.to_numpy().sum())

    @property
    def shared(self) -> bool:
        """Whether truth and prediction use the same vocabulary (accuracy is meaningful)."""
        return bool(set(self.counts.index) & set(self.counts.columns))

    def _hits(self) -> pd.Series:
        cols = set(self.counts.columns)
        return pd.Series(
            [int(self.counts.at[r, r]) if r in cols else 0 for r in self.counts.index],
            index=self.counts.index,
            dtype=np.int64,
        )

    @property
    def accuracy(self) -> float:
        """Fraction of counted rows whose predicted label is their truth (NaN: none counted,
        or no shared label)."""
        if self.n == 0 or not self.shared:
            return float("nan")
        return float(self._hits().sum() / self.n)

    @property
    def recall(self) -> pd.Series:
        """Per truth label: the fraction of its rows predicted as that label (NaN: no shared label)."""
        rows = self.counts.sum(axis=1).astype(np.float64)
        if not self.shared:
            return pd.Series(np.nan, index=self.counts.index, name="recall")
        return (self._hits() / rows.where(rows > 0)).rename("recall")

    @property
    def matched_accuracy(self) -> float:
        """Accuracy after pairing predicted and truth labels one to one (Hungarian matching).

        The score of an unsupervised clustering against truth, whatever its
        class numbers; equals :attr:`accuracy` or exceeds it.
        """
        if self.n == 0:
            return float("nan")
        from scipy.optimize import linear_sum_assignment

        c = self.counts.to_numpy()
        r, k = linear_sum_assignment(-c)
        return float(c[r, k].sum() / self.n)


def _label_text(value, name: str) -> str | None:
    """One label as text (``1.0`` → ``"1"``); None when missing."""
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return None
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            raise IvaeError(
                f"{name} holds the value {value!r}; a label is a name or a finite number"
            )
        if float(value).is_integer():
            value = int(value)
    text = str(value).strip()
    return text or None


def _as_codes(values, name: str) -> tuple[np.ndarray, list[str]]:
    """Labels as codes into a list of texts (``1.0`` and ``"1"`` are one label); -1 = missing.

    Converts each distinct value once (fast on big tables).
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    codes, uniques = pd.factorize(series.reset_index(drop=True), use_na_sentinel=True)
    shown = [_label_text(v, name) for v in uniques]
    names = sorted({t for t in shown if t is not None})
    where = {t: i for i, t in enumerate(names)}
    remap = np.array([where.get(t, -1) if t is not None else -1 for t in shown] + [-1])
    return remap[codes], names  # the sentinel -1 picks the trailing -1


def _order(labels: set[str]) -> list[str]:
    """Numbers in numeric order before names in text order."""

    def key(s: str):
        try:
            return (0, float(s), s)
        except ValueError:
            return (1, 0.0, s)

    return sorted(labels, key=key)


def confusion_matrix(truth, predicted, labels=None) -> ConfusionMatrix:
    """Count the predicted class of every row against its truth label.

    Parameters
    ----------
    truth : array-like
        Truth label of every row (names or integers); missing (``NaN``,
        ``None``, ``""``) rows are unlabelled and left out.
    predicted : array-like
        Predicted class of every row, same length; missing rows are left out.
    labels : sequence, optional
        The labels and their order (rows and columns, square).  Default: the
        union of both when they share a label, else truth labels × predicted
        labels, numbers first in numeric order.

    Returns
    -------
    ConfusionMatrix

    Raises
    ------
    IvaeError
        Lengths differ, nothing is left to count, or a label is not in ``labels``.
    """
    t, t_names = _as_codes(truth, "truth")
    p, p_names = _as_codes(predicted, "predicted")
    if len(t) != len(p):
        raise IvaeError(
            f"predicted has {len(p)} values but truth has {len(t)}; give one per row, in the same order"
        )
    keep = (t >= 0) & (p >= 0)
    if not keep.any():
        raise IvaeError(
            f"truth and predicted have no row with both a label and a prediction "
            f"(of {len(t)} rows); label some rows first"
        )
    t, p = t[keep], p[keep]
    ts = {t_names[k] for k in np.unique(t)}
    ps = {p_names[k] for k in np.unique(p)}
    if labels is not None:
        lc, l_names = _as_codes(list(labels), "labels")
        rows = cols = [l_names[k] for k in lc if k >= 0]
        if len(rows) < 1 or len(rows) != len(lc) or len(set(rows)) != len(rows):
            raise IvaeError(f"labels={list(labels)!r} must be different labels, at least one")
        for name, present in (("truth", ts), ("predicted", ps)):
            extra = sorted(present - set(rows))
            if extra:
                raise IvaeError(f"{name} holds {extra[:5]!r}, which are not in labels={rows!r}")
    elif ts & ps:
        rows = cols = _order(ts | ps)
    else:
        rows, cols = _order(ts), _order(ps)
    r_of = np.array([rows.index(n) if n in rows else -1 for n in t_names], dtype=np.int64)
    c_of = np.array([cols.index(n) if n in cols else -1 for n in p_names], dtype=np.int64)
    flat = np.bincount(r_of[t] * len(cols) + c_of[p], minlength=len(rows) * len(cols))
    counts = pd.DataFrame(flat.reshape(len(rows), len(cols)), index=pd.Index(rows, name="truth"),
                          columns=pd.Index(cols, name="predicted"))  # fmt: skip
    return ConfusionMatrix(counts, n_skipped=int((~keep).sum()))


def confusion_figure(cm: ConfusionMatrix, *, title: str | None = None,
                     truth_name: str = "truth", predicted_name: str = "predicted"):  # fmt: skip
    """A matplotlib Figure of ``cm``: cells coloured by the row fraction, with their counts."""
    from matplotlib.figure import Figure

    counts = cm.counts.to_numpy()
    rows = counts.sum(1, keepdims=True)
    frac = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    nr, nc = counts.shape
    fig = Figure(figsize=(1.6 + 0.55 * max(nc, 3), 1.3 + 0.5 * max(nr, 3)), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(nr):
        for j in range(nc):
            ax.text(j, i, f"{counts[i, j]:,}", ha="center", va="center", fontsize=9,
                    color="white" if frac[i, j] > 0.6 else "black")  # fmt: skip
    names = [str(c) for c in cm.counts.columns]
    slanted = nc > 6 or max(len(n) for n in names) * nc > 24  # long names would overlap
    ax.set_xticks(
        range(nc), names, rotation=35 if slanted else 0, ha="right" if slanted else "center"
    )
    ax.set_yticks(range(nr), [str(r) for r in cm.counts.index])
    ax.set_xlabel("predicted" + ("" if predicted_name == "predicted" else f" ({predicted_name})"))
    ax.set_ylabel("truth" + ("" if truth_name == "truth" else f" ({truth_name})"))
    fig.colorbar(im, ax=ax, label="fraction of the truth row", shrink=0.8)
    ax.set_title(title if title is not None else _score_text(cm), fontsize=10)
    return fig


def _score_text(cm: ConfusionMatrix) -> str:
    if cm.shared:
        return f"accuracy {cm.accuracy:.3f} (n = {cm.n:,})"
    return f"matched accuracy {cm.matched_accuracy:.3f} (n = {cm.n:,})"


def plot_confusion(cm: ConfusionMatrix, path: str | os.PathLike, *, title: str | None = None,
                   truth_name: str = "truth", predicted_name: str = "predicted") -> Path:  # fmt: skip
    """Write ``cm`` as a PNG (counts in the cells, colour = fraction of the truth row), atomically.

    Parameters
    ----------
    cm : ConfusionMatrix
        From :func:`confusion_matrix`.
    path : path-like
        ``.png`` file; written through a temporary file, then renamed.
    title : str, optional
        Default: the accuracy and the number of rows.
    truth_name, predicted_name : str
        Column names shown on the axes.

    Returns
    -------
    Path
    """
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise IvaeError(f"path={str(p)!r} must end in .png")
    fig = confusion_figure(cm, title=title, truth_name=truth_name, predicted_name=predicted_name)
    atomic_write(p, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    return p
