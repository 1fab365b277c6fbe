"""Labelling points (Qt-free core): named classes, one label per point, the labeled wall mask.

A :class:`LabelSet` is the labelling of one points table:

* the **classes**: an ordered registry ``name → "#rrggbb"``; the order is the
  class index, 1 for the first class (0 = unlabeled): there are no placeholder
  classes, the first class a user adds (or names when assigning) is 1 in the
  exported mask;
* the **labels**: one class name per point, ``""`` for unlabeled; written into
  a points table as the categorical ``label`` column (:meth:`LabelSet.column`,
  categories ``["", *classes]``), read back from it (:meth:`LabelSet.from_table`);
* the **label mask** (:meth:`LabelSet.label_mask`, :func:`paint_wall_labels`):
  every wall pixel takes the class index of its nearest wall point;
* exports: every point with all its features and its label as CSV
  (:meth:`LabelSet.points_table`, :func:`write_points_csv`; ``y_nm, x_nm`` beside
  ``y, x`` when the pixel size is known) and the mask as TIFF
  (:meth:`LabelSet.save_mask`).

The explorer dock (``napari_ivae._qt.explorer``) keeps the classes in the
points layer's :class:`~napari_ivae.record.PointsRecord` and the labels in its
``features``; scripts use the same class::

    labels = LabelSet.from_table(points)          # a DataFrame with y, x[, label]
    labels.assign(np.flatnonzero(points["z1"] > 0), "charged wall")
    points["label"] = labels.column()
    labels.save_mask("walls.tif", wall_mask, points[["y", "x"]].to_numpy())
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from napari_ivae._errors import IvaeError
from napari_ivae._label_mask import paint_wall_labels
from napari_ivae.colors import next_class_color, to_hex, to_rgba

__all__ = ["LabelSet", "paint_wall_labels", "write_points_csv"]


class LabelSet:
    """Named label classes (ordered, with colours) and the label of every point.

    Parameters
    ----------
    n_points : int
        Number of points.
    classes : mapping of str to colour, optional
        Existing classes in order (name → colour as for :func:`napari_ivae.colors.to_hex`).
    labels : array-like of str, optional
        (n_points,) label per point, ``""`` (or NaN / None) = unlabeled.  Labels
        that are not among ``classes`` are added as classes, in order of first
        appearance, with free colours.

    Raises
    ------
    IvaeError
        ``labels`` of another length, an empty class name or a bad colour.
    """

    def __init__(self, n_points: int, classes: Mapping[str, str] | None = None, labels=None):
        n = int(n_points)
        self._classes: dict[str, str] = {}
        for name, color in (classes or {}).items():
            name = _name(name)
            self._classes[name] = to_hex(color)
        if labels is None:
            self._labels = np.full(n, "", dtype=object)
        else:
            self._labels = _as_labels(labels)
            if len(self._labels) != n:
                raise IvaeError(f"labels has {len(self._labels)} values for {n} points")
        for v in pd.unique(self._labels):
            if v and v not in self._classes:
                self._classes[v] = next_class_color(self._classes.values())

    @classmethod
    def from_table(
        cls, table: pd.DataFrame, classes: Mapping[str, str] | None = None, *, n_points=None
    ) -> LabelSet:
        """The labelling stored in a points table's ``label`` column.

        Parameters
        ----------
        table : pandas.DataFrame
            Points table (e.g. a napari layer's ``features``); without a
            ``label`` column, or with one of the wrong length, nobody is labeled.
        classes : mapping, optional
            The classes in order (labels not among them are added).
        n_points : int, optional
            Number of points (default: the table's rows).

        Returns
        -------
        LabelSet
        """
        n = len(table) if n_points is None else int(n_points)
        labels = table["label"] if "label" in table.columns and len(table) == n else None
        return cls(n, classes, labels)

    # ------------------------------------------------------------------ state
    def __len__(self) -> int:
        return len(self._labels)

    def __repr__(self) -> str:
        return (
            f"LabelSet({len(self)} points, {self.n_labeled} labeled, classes={list(self._classes)})"
        )

    @property
    def classes(self) -> dict[str, str]:
        """The classes, name → ``"#rrggbb"``, in order (class index 1, 2, ...); a copy."""
        return dict(self._classes)

    @property
    def labels(self) -> np.ndarray:
        """(N,) object array of the class name of every point, ``""`` = unlabeled; a copy."""
        return self._labels.copy()

    @property
    def n_labeled(self) -> int:
        """Number of labeled points."""
        return int((self._labels != "").sum())

    def counts(self) -> dict[str, int]:
        """Points per class, in class order."""
        names, n = np.unique(self._labels.astype(str), return_counts=True)
        found = dict(zip(names.tolist(), n.tolist()))
        return {name: int(found.get(name, 0)) for name in self._classes}

    def codes(self) -> np.ndarray:
        """(N,) int64 class index of every point: 0 = unlabeled, k = the k-th class."""
        index = {name: k for k, name in enumerate(self._classes, start=1)}
        return np.fromiter((index.get(v, 0) for v in self._labels), np.int64, len(self._labels))

    def column(self) -> pd.Categorical:
        """The ``label`` column: categorical, categories ``["", *classes]``."""
        return pd.Categorical(self._labels, categories=["", *self._classes])

    # ------------------------------------------------------------------ classes
    def add(self, name: str, color=None) -> str:
        """Add class ``name`` (last); ``color`` default: a free palette colour.

        Returns
        -------
        str
            The class name (stripped of surrounding blanks).

        Raises
        ------
        IvaeError
            An empty name, a name that exists, or a bad colour.
        """
        name = _name(name)
        if name in self._classes:
            raise IvaeError(f"name={name!r} already exists; choose another name")
        self._classes[name] = (
            next_class_color(self._classes.values()) if color is None else to_hex(color)
        )
        return name

    def rename(self, old: str, new: str) -> None:
        """Rename class ``old`` to ``new``; its points and its place in the order stay."""
        self._check(old, "old")
        new = str(new).strip()
        if not new or new in self._classes:
            raise IvaeError(f"new={new!r} is empty or already a class")
        self._classes = {(new if k == old else k): v for k, v in self._classes.items()}
        self._labels[self._labels == old] = new

    def remove(self, name: str) -> None:
        """Remove class ``name``; its points become unlabeled (later classes move up one)."""
        self._check(name)
        del self._classes[name]
        self._labels[self._labels == name] = ""

    def recolor(self, name: str, color) -> None:
        """Set the colour of class ``name``."""
        self._check(name)
        self._classes[name] = to_hex(color)

    # ------------------------------------------------------------------ points
    def assign(self, rows, name: str) -> None:
        """Give the points ``rows`` class ``name`` (added when new; relabels labeled points).

        Parameters
        ----------
        rows : array-like of int
            Point indices.
        name : str
            Class name.
        """
        name = str(name).strip()
        if not name:
            raise IvaeError("name='' is empty; use clear_labels() to unlabel points")
        rows = self._rows(rows)
        if name not in self._classes:
            self.add(name)
        self._labels[rows] = name

    def clear_labels(self, rows=None) -> None:
        """Unlabel the points ``rows`` (default: all)."""
        if rows is None:
            self._labels[:] = ""
        else:
            self._labels[self._rows(rows)] = ""

    # ------------------------------------------------------------------ colours
    def rgba(self) -> dict[str, tuple[int, int, int, int]]:
        """Class name → RGBA 0–255 (for :func:`napari_ivae.colors.color_scheme`)."""
        return {k: to_rgba(v) for k, v in self._classes.items()}

    def point_colormap(self) -> dict[str, list[float]]:
        """Label → RGBA 0–1 for colouring points by label; ``""`` (unlabeled) grey."""
        grey = [0.55, 0.55, 0.55, 1.0]
        return {"": grey, **{k: [c / 255 for c in rgba] for k, rgba in self.rgba().items()}}

    # ------------------------------------------------------------------ mask and exports
    def label_mask(self, mask: np.ndarray, yx: np.ndarray, frame=None) -> np.ndarray:
        """The wall mask painted with class indices (see :func:`paint_wall_labels`).

        Parameters
        ----------
        mask : numpy.ndarray
            Wall mask (Y, X) or (T, Y, X); pixels > 0 are walls.
        yx : numpy.ndarray
            (N, 2) positions of the points in pixels.
        frame : array-like, optional
            (N,) frame of each point (NaN counts as 0).

        Returns
        -------
        numpy.ndarray
            0 off the walls and where the nearest point is unlabeled, k = k-th class.

        Raises
        ------
        IvaeError
            No point is labeled.
        """
        codes = self.codes()
        if not (codes > 0).any():
            raise IvaeError("no labeled points; assign a label to a selection first")
        if frame is not None:
            frame = np.nan_to_num(np.asarray(frame, dtype=float)).astype(np.int64)
        return paint_wall_labels(mask, yx, codes, frame=frame)

    def mask_description(self) -> str:
        """The TIFF description of a label mask: ``"napari-ivae labeled walls; 1=a, 2=b"``."""
        names = ", ".join(f"{i}={n}" for i, n in enumerate(self._classes, start=1))
        return "napari-ivae labeled walls; " + names

    def save_mask(
        self, path: str | os.PathLike, mask: np.ndarray, yx: np.ndarray, frame=None
    ) -> Path:
        """Write :meth:`label_mask` as a TIFF (0 = unlabeled / no wall, k = k-th class).

        The class names are in the TIFF description (:meth:`mask_description`);
        the file is written atomically into an existing folder.

        Returns
        -------
        Path
            The written file.
        """
        import tifffile

        from napari_ivae._atomic import atomic_write

        lab = self.label_mask(mask, yx, frame)
        desc = self.mask_description()
        return atomic_write(
            path, lambda tmp: tifffile.imwrite(tmp, lab, description=desc), make_parents=False
        )

    def points_table(
        self,
        features: pd.DataFrame,
        *,
        positions: pd.DataFrame | None = None,
        pixel_size_nm=None,
    ) -> pd.DataFrame:
        """Every point with all its features and its label (the CSV export).

        Parameters
        ----------
        features : pandas.DataFrame
            The points' features (latents included), one row per point.
        positions : pandas.DataFrame, optional
            ``y, x[, frame]`` of the points in image pixels, used for the columns
            ``features`` lacks.
        pixel_size_nm : float or (float, float), optional
            Pixel size; when given, ``y_nm, x_nm`` are added beside ``y, x``
            (:func:`napari_ivae.io.add_physical_columns`).

        Returns
        -------
        pandas.DataFrame
            Columns ``point`` (row), the features (``y, x, frame`` first when taken
            from ``positions``), ``y_nm, x_nm`` when calibrated, and ``label``
            (``""`` = unlabeled).
        """
        from napari_ivae.io import add_physical_columns

        if len(features) != len(self):
            raise IvaeError(f"features has {len(features)} rows for {len(self)} labeled points")
        df = features.copy().reset_index(drop=True)
        if positions is not None and not {"y", "x"} <= {str(c) for c in df.columns}:
            cols = [c for c in ("y", "x", "frame") if c not in df.columns and c in positions]
            for k, c in enumerate(cols):
                df.insert(k, c, np.asarray(positions[c]))
        df["label"] = self.labels
        df = add_physical_columns(df, pixel_size_nm)
        df.insert(0, "point", np.arange(len(df)))
        return df

    # ------------------------------------------------------------------ helpers
    def _check(self, name: str, arg: str = "name") -> None:
        if name not in self._classes:
            raise IvaeError(f"{arg}={name!r} is not a class; classes are {list(self._classes)}")

    def _rows(self, rows) -> np.ndarray:
        idx = np.asarray(rows if isinstance(rows, np.ndarray) else list(rows)).ravel()
        if idx.dtype == bool:
            if len(idx) != len(self):
                raise IvaeError(f"rows is a mask of {len(idx)} values for {len(self)} points")
            return np.flatnonzero(idx)
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IvaeError(
                f"rows must be in 0..{len(self) - 1}; got {int(idx.min())}..{int(idx.max())}"
            )
        return idx


def write_points_csv(path: str | os.PathLike, table: pd.DataFrame) -> Path:
    """Write a points table (e.g. :meth:`LabelSet.points_table`) as CSV, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination in an existing folder.
    table : pandas.DataFrame
        The table (written without the index).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    IvaeError
        An empty table.
    """
    from napari_ivae._atomic import atomic_write

    if table.empty:
        raise IvaeError("no points to export")
    return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False), make_parents=False)


def _name(name) -> str:
    name = str(name).strip()
    if not name:
        raise IvaeError("name='' is empty; give the class a name")
    return name


def _as_labels(values) -> np.ndarray:
    """Labels as an object array of str, missing values (NaN, None) as ``""``."""
    s = pd.Series(values).astype(object)
    s = s.where(s.notna(), "")
    out = s.astype(str).to_numpy(dtype=object)
    out[out == "nan"] = ""
    return out
