"""The one way a latent table goes back to the points it came from.

:func:`napari_ivae.analysis.encode` gives one row per sub-image of a
:class:`~napari_ivae.crop.Stack`; ``Stack.index`` says which row of the points
table (the detector's output, a Points layer's ``features``) each sub-image was
cut around.  Points the crop dropped (too close to the border) have no latent
row.  :func:`join_latent` is used by every front: the Train widget (writes the
layer's features), ``ivae demo`` (writes ``*_atoms.csv`` / ``*_wall_points.csv``)
and ``ivae train`` / ``ivae encode`` (write ``latent.csv`` with an ``index``
column, which joins back into the ``ivae detect`` CSV with the same function).

No torch, no Qt: plain pandas.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from napari_ivae._errors import IvaeError

__all__ = ["LATENT_COLUMN", "join_latent"]

#: Columns :func:`napari_ivae.analysis.encode` writes (replaced when a table is joined again).
LATENT_COLUMN = re.compile(r"^(z\d+(_std)?|angle(_std)?|dy|dx|class|p\d+)$")
#: Columns of a latent table that describe the crop, not the model's output.
_PLACE = ("y", "x", "frame", "index")


def join_latent(
    points: pd.DataFrame | None, latent: pd.DataFrame, index: np.ndarray | None = None
) -> pd.DataFrame:
    """Join a latent table into its points table by ``Stack.index``.

    Parameters
    ----------
    points : DataFrame or None
        The points table (one row per point).  Its own columns (``y, x, score``,
        ``label`` ...) are kept, except latent columns of an earlier join
        (:data:`LATENT_COLUMN`), which are replaced.  None when only the stack
        is at hand (the CLI): see Returns.
    latent : DataFrame
        One row per sub-image (:func:`napari_ivae.analysis.encode`, or a
        ``latent.csv`` of ``ivae train`` / ``ivae encode``).  Its ``y, x, frame``
        and ``index`` columns are not joined (the points table has its own).
    index : array of int, optional
        ``Stack.index``: the row of ``points`` each latent row belongs to.
        Default: the ``index`` column of ``latent``.

    Returns
    -------
    DataFrame
        With ``points``: every point, in order, with the latent columns; points
        without a sub-image get NaN (the columns are then float; when every
        point has one, ``class`` stays an integer).  Without ``points``: the
        latent rows, with an ``index`` column after ``frame`` (or first).

    Raises
    ------
    IvaeError
        ``index`` is missing, its length differs from the latent table's, or
        it refers to rows the points table does not have.
    """
    index = _index(latent, index)
    if points is None:
        out = latent.reset_index(drop=True).copy()
        if "index" not in out.columns:
            at = out.columns.get_loc("frame") + 1 if "frame" in out.columns else 0
            out.insert(at, "index", index)
        return out
    n = len(points)
    if len(index) and (index.min() < 0 or index.max() >= n):
        bad = int(index.max()) if index.max() >= n else int(index.min())
        raise IvaeError(
            f"the stack refers to point {bad} but the layer has {n} points "
            f"(rows 0 to {n - 1}); crop again after editing points"
        )
    keep = [c for c in points.columns if not LATENT_COLUMN.match(str(c))]
    out = points[keep].reset_index(drop=True).copy()
    cols = [c for c in latent.columns if c not in _PLACE and c not in keep]
    new = latent[cols].reset_index(drop=True)
    if not (len(index) == n and np.array_equal(index, np.arange(n))):
        full = pd.DataFrame(np.nan, index=pd.RangeIndex(n), columns=cols)
        full = full.astype({c: "float64" for c in cols})
        full.iloc[index] = new.to_numpy(dtype=float)
        new = full
    for c in cols:
        out[c] = new[c].to_numpy()
    return out


def _index(latent: pd.DataFrame, index: np.ndarray | None) -> np.ndarray:
    if index is None:
        if "index" not in latent.columns:
            raise IvaeError("index: the latent table has no 'index' column; pass the stack's index")
        index = latent["index"].to_numpy()
    index = np.asarray(index)
    if index.ndim != 1 or (len(index) and index.dtype.kind not in "iu"):
        raise IvaeError(
            f"index must be a 1-D array of row numbers, got {index.dtype} of shape {index.shape}"
        )
    index = index.astype(np.int64)
    if len(index) != len(latent):
        raise IvaeError(
            f"the latent table has {len(latent)} rows but the stack index has {len(index)}"
        )
    return index
