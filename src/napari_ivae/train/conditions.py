"""Labels and conditions of a conditional model, read from a table (torch-free).

``LABELS.csv`` has one row per stack row in order, or an ``index`` column
naming the stack rows (the stack's ``index``: the row of each crop's point in
the points table, which is where the explorer's ``label`` column lives; for a
bare image stack, the row position 0..N-1), or it is that points table itself
(its ``y, x`` at the crops' points; the rows of the dropped crops are skipped).  Its ``label`` column holds class
names or integers; other numeric columns can be continuous conditions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from napari_ivae._errors import IvaeError

__all__ = ["LabelTable", "prepare_conditions", "read_label_table"]


@dataclass(frozen=True)
class LabelTable:
    """Per-stack-row classes and conditions, in stack order.

    Attributes
    ----------
    codes : ndarray (N,) int64 or None
        Class code of every row (position in ``classes``); None without labels.
    classes : tuple of str
        The class vocabulary, sorted (numerically when every label is an integer).
    values : ndarray (N, m) float64 or None
        Raw values of the continuous conditions; None without conditions.
    conditions : tuple of str
        Their names (table columns).
    """

    codes: np.ndarray | None
    classes: tuple[str, ...]
    values: np.ndarray | None
    conditions: tuple[str, ...]


def _read(source, what: str) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    path = os.fspath(source)
    if not os.path.isfile(path):
        raise IvaeError(f"{what} {path!r} does not exist")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise IvaeError(f"{what} {path!r} is not a readable CSV table ({err})") from err


def _points_rows(df: pd.DataFrame, index, yx) -> pd.DataFrame | None:
    """The rows of ``df`` the stack was cropped from, if ``df`` is that points table.

    ``df`` qualifies when it has ``y``, ``x`` columns, every stack ``index`` is
    one of its rows, and those rows sit at the stack's ``yx`` (within 0.01 px);
    otherwise None.
    """
    if index is None or yx is None or not {"y", "x"} <= set(df.columns):
        return None
    rows = np.asarray(index, dtype=np.int64)
    yx = np.asarray(yx, dtype=np.float64).reshape(-1, 2)
    if len(rows) != len(yx) or not len(rows) or rows.min() < 0 or rows.max() >= len(df):
        return None
    picked = df.iloc[rows]
    pos = picked[["y", "x"]].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    known = np.isfinite(yx).all(axis=1)
    if not known.any() or not (np.abs(pos[known] - yx[known]) <= 0.01).all():
        return None
    return picked.reset_index(drop=True)


def _in_stack_order(
    df: pd.DataFrame, n_rows: int, index, what: str, yx=None, partial: bool = False
) -> pd.DataFrame:
    """``df``'s rows reordered to the stack's rows (by its ``index`` column if present;
    ``partial``: stack rows it does not name get empty cells)."""
    if "index" not in df.columns:
        if len(df) != n_rows:
            picked = _points_rows(df, index, yx)
            if picked is not None:
                return picked
            raise IvaeError(
                f"{what} has {len(df)} rows but the stack has {n_rows}; give one row per stack "
                "row in order, an 'index' column naming the stack rows, or the points table "
                "the stack was cropped from (its y, x columns at the crops' points)"
            )
        return df.reset_index(drop=True)
    stack_index = np.arange(n_rows) if index is None else np.asarray(index, dtype=np.int64)
    where = {int(v): i for i, v in enumerate(stack_index)}
    try:
        named = pd.to_numeric(df["index"], errors="raise").to_numpy()
    except (ValueError, TypeError):
        raise IvaeError(f"{what}: the 'index' column must hold integers (stack rows)") from None
    unknown = [v for v in named if not float(v).is_integer() or int(v) not in where]
    if unknown:
        raise IvaeError(
            f"{what}: index {np.asarray(unknown[0]).item()!r} names no stack row ({len(unknown)} unknown index "
            f"value(s)); the stack's rows are {stack_index.min()}..{stack_index.max()}"
        )
    rows = np.array([where[int(v)] for v in named], dtype=np.int64)
    if len(np.unique(rows)) != len(rows):
        raise IvaeError(f"{what}: the 'index' column names a stack row more than once")
    if partial:  # the rows it does not name are unlabelled
        out = pd.DataFrame(index=range(n_rows), columns=df.columns, dtype=object)
        out.iloc[rows] = df.to_numpy(dtype=object)
        return out
    if len(rows) != n_rows:
        raise IvaeError(
            f"{what} labels {len(rows)} of the stack's {n_rows} rows; "
            "a conditional model needs a label for every row"
        )
    out = df.iloc[np.argsort(rows)].reset_index(drop=True)
    return out


def _classes(
    col: pd.Series, name: str, what: str, partial: bool = False
) -> tuple[np.ndarray, tuple[str, ...]]:
    """(code of every row, vocabulary); ``partial``: empty cells are unlabelled (code -1)."""
    missing = col.isna() | (col.astype(str).str.strip() == "")
    if missing.any() and not partial:
        raise IvaeError(
            f"{what}: column {name!r} is empty in {int(missing.sum())} row(s) (first: row "
            f"{int(np.flatnonzero(missing.to_numpy())[0])}); every row needs a label"
        )
    given = col[~missing]
    if given.empty:
        raise IvaeError(f"{what}: column {name!r} labels no row; label a few rows of every class")
    numeric = pd.to_numeric(given, errors="coerce")
    if numeric.notna().all() and (numeric % 1 == 0).all():
        keys = numeric.astype(np.int64).astype(str)
        vocab = tuple(str(v) for v in sorted(set(numeric.astype(np.int64))))
    else:
        keys = given.astype(str).str.strip()
        vocab = tuple(sorted(set(keys)))
    if len(vocab) < 2:
        model = "a semi-supervised" if partial else "a conditional"
        raise IvaeError(
            f"{what}: column {name!r} holds one class only ({vocab[0]!r}); "
            f"{model} model needs at least 2 classes"
        )
    lookup = {v: i for i, v in enumerate(vocab)}
    codes = np.full(len(col), -1, dtype=np.int64)
    codes[~missing.to_numpy()] = keys.map(lookup).to_numpy(np.int64)
    return codes, vocab


def _values(df: pd.DataFrame, names, what: str) -> np.ndarray:
    cols = []
    for name in names:
        if name not in df.columns:
            raise IvaeError(
                f"--condition {name!r} is not a column of {what}; its columns are "
                f"{', '.join(map(str, df.columns))}"
            )
        v = pd.to_numeric(df[name], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(v)
        if bad.any():
            raise IvaeError(
                f"--condition {name!r}: {int(bad.sum())} row(s) of {what} are NaN or not numbers "
                f"(first: row {int(np.flatnonzero(bad)[0])}); every row needs a value"
            )
        cols.append(v)
    return np.stack(cols, axis=1)


def read_label_table(
    source,
    n_rows: int,
    *,
    index=None,
    label_column: str | None = "label",
    conditions=(),
    partial: bool = False,
    yx=None,
) -> LabelTable:
    """Read and check the labels / conditions of a stack.

    Parameters
    ----------
    source : path-like or DataFrame
        ``LABELS.csv`` (or its table).
    n_rows : int
        Number of stack rows.
    index : array-like (n_rows,), optional
        The stack's ``index`` (what the table's ``index`` column names); default 0..N-1.
    label_column : str or None
        Column of the class labels (names or integers); None: conditions only.
    conditions : sequence of str
        Numeric columns used as continuous conditions.
    partial : bool
        Semi-supervised kinds: rows with an empty label, and stack rows the
        ``index`` column does not name, are unlabelled (code -1).
    yx : array-like (n_rows, 2), optional
        The stack's point positions (``Stack.yx``).  With them (and ``index``),
        the table may also be the points table the stack was cropped from (e.g.
        ``ivae rings`` output: one row per point, ``y, x`` columns, more rows
        than the stack, as crops crossing the image edge are dropped): its rows
        ``index`` are taken, after checking they sit at ``yx``.

    Returns
    -------
    LabelTable

    Raises
    ------
    IvaeError
        Wrong number of rows, unknown or repeated index, missing column, one
        class only, an empty label, a condition with NaN or text.
    """
    what = "the labels table" if isinstance(source, pd.DataFrame) else f"--labels {source}"
    conditions = tuple(str(c) for c in conditions)
    if label_column is None and not conditions:
        raise IvaeError("label_column=None needs at least one condition column")
    df = _in_stack_order(_read(source, what), int(n_rows), index, what, yx, partial)
    codes, vocab = None, ()
    if label_column is not None:
        if label_column not in df.columns:
            raise IvaeError(
                f"--label-column {label_column!r} is not a column of {what}; its columns are "
                f"{', '.join(map(str, df.columns))}"
            )
        codes, vocab = _classes(df[label_column], label_column, what, partial)
    values = _values(df, conditions, what) if conditions else None
    return LabelTable(codes, vocab, values, conditions)


def _as_table(labels, conditions, n_rows: int, partial: bool = False) -> LabelTable:
    """A :class:`LabelTable` from ``fit``'s ``labels`` / ``conditions`` arguments."""
    if isinstance(labels, LabelTable):
        if conditions is not None:
            raise IvaeError("conditions must be None when labels is a LabelTable (it has them)")
        table = labels
    else:
        codes, vocab, values, names = None, (), None, ()
        if labels is not None:
            col = pd.Series(np.asarray(labels, dtype=object).reshape(-1))
            if len(col) != n_rows:
                raise IvaeError(f"labels has {len(col)} values for {n_rows} images")
            codes, vocab = _classes(col, "labels", "labels", partial)
        if conditions is not None:
            df = conditions if isinstance(conditions, pd.DataFrame) else pd.DataFrame(
                np.asarray(conditions, dtype=np.float64).reshape(n_rows, -1)
            ).rename(columns=lambda j: f"c{j + 1}")  # fmt: skip
            if len(df) != n_rows:
                raise IvaeError(f"conditions has {len(df)} rows for {n_rows} images")
            names = tuple(str(c) for c in df.columns)
            values = _values(df, df.columns, "conditions")
        table = LabelTable(codes, vocab, values, names)
    for arr in (table.codes, table.values):
        if arr is not None and len(arr) != n_rows:
            raise IvaeError(f"labels has {len(arr)} rows for {n_rows} images")
    return table


def prepare_conditions(mc, n_rows: int, labels=None, conditions=None):
    """(configuration with vocabulary and statistics, (N, n_cond) condition vectors).

    For ``fit``: a configuration of a conditional kind gets the classes of
    ``labels`` and the standardisation of ``conditions`` unless it already has
    them (resuming, or a vocabulary given on purpose); other kinds refuse labels.
    Returns ``(mc, None)`` for the other kinds.
    """
    from napari_ivae.models import registry
    from napari_ivae.models.cond_config import CondConfig, condition_matrix, condition_stats

    family = registry.get(mc.kind)
    from napari_ivae.models.ss_config import SSConfig

    if issubclass(family.config_class(), SSConfig):
        return _prepare_labels(mc, n_rows, labels, conditions)
    if not issubclass(family.config_class(), CondConfig):
        if labels is not None or conditions is not None:
            kinds = [n for n in registry.names()
                     if issubclass(registry.get(n).config_class(), (CondConfig, SSConfig))]  # fmt: skip
            raise IvaeError(
                f"labels / conditions are for the conditional and semi-supervised kinds "
                f"({', '.join(kinds)}), got kind={mc.kind!r}"
            )
        return mc, None
    if labels is None and conditions is None:
        raise IvaeError(f"kind={mc.kind!r} needs labels and/or conditions, got neither")
    if not isinstance(mc, CondConfig):
        mc = CondConfig.from_dict(mc.to_dict())
    table = _as_table(labels, conditions, n_rows)
    codes, classes = table.codes, mc.classes or table.classes
    if mc.classes and codes is not None:  # the model's vocabulary: map the names onto it
        codes = np.array([mc.class_code(table.classes[c]) for c in codes], dtype=np.int64)
    names = mc.conditions or table.conditions
    if mc.conditions and mc.conditions != table.conditions:
        raise IvaeError(
            f"conditions {list(table.conditions)} differ from the model's {list(mc.conditions)}"
        )
    mean, std = mc.condition_mean, mc.condition_std
    if names and not mean:
        mean, std = condition_stats(table.values)
    kw = dict(classes=classes, conditions=names, condition_mean=mean, condition_std=std)
    mc = CondConfig.from_dict({**mc.to_dict(), **kw})
    if mc.classes and codes is None:
        raise IvaeError(f"kind={mc.kind!r} has classes {', '.join(mc.classes)}: labels=None")
    return mc, condition_matrix(mc, codes, table.values)


def _prepare_labels(mc, n_rows: int, labels, conditions):
    """:func:`prepare_conditions` for the semi-supervised kinds: (configuration with the
    vocabulary, (N, 1) float32 class codes, -1 where unlabelled)."""
    from napari_ivae.models.ss_config import SSConfig

    if conditions is not None:
        raise IvaeError(f"kind={mc.kind!r} takes labels only, not conditions")
    if labels is None:
        raise IvaeError(
            f"kind={mc.kind!r} needs labels: the class of a few rows of every class, "
            "the other rows empty"
        )
    table = _as_table(labels, None, n_rows, partial=True)
    if table.codes is None:
        raise IvaeError(f"kind={mc.kind!r} needs a label column (the class of the labelled rows)")
    codes = table.codes
    if getattr(mc, "classes", ()):  # resuming, or a vocabulary given: map the names onto it
        codes = np.array([-1 if c < 0 else mc.class_code(table.classes[c]) for c in codes])
    else:  # n_classes is the vocabulary's size (a ModelConfig defaults it to 2)
        d = {**mc.to_dict(), "classes": table.classes, "n_classes": len(table.classes)}
        mc = SSConfig.from_dict({k: v for k, v in d.items() if k in SSConfig.__dataclass_fields__})
    return mc, codes.astype(np.float32).reshape(-1, 1)
