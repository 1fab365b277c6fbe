"""The Train dock's "Labels" row: which features column gives the known class.

Conditional models (``cvae``, ``crvae``) need the class of every sub-image,
semi-supervised ones (``ssvae``, ``ssrvae``) the class of a few of each class
(the empty cells are the rows whose class the model infers).  In napari it
comes from a column of the points layer's features: the
explorer's ``label`` (what the user lassoed and named), Detect's wall
``kind``, a ring label, or any other column with a few distinct values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from qtpy.QtWidgets import QComboBox

from napari_ivae.models import registry

#: columns that are positions or bookkeeping, never classes
_NOT_CLASSES = {"y", "x", "frame", "index", "y_nm", "x_nm", "score"}
#: more distinct values than this: not a class column
MAX_CLASSES = 50


def label_columns(features: pd.DataFrame) -> list[str]:
    """Columns of ``features`` that can serve as classes (text, categories, bools, small ints)."""
    out = []
    for name in features.columns:
        col = features[name]
        if name in _NOT_CLASSES or str(name).startswith(("z", "p_")):
            continue
        kind = getattr(col.dtype, "kind", "O")
        textual = isinstance(col.dtype, (pd.CategoricalDtype, pd.StringDtype)) or kind in "OUSb"
        if (textual or kind in "iu") and 1 < col.nunique(dropna=True) <= MAX_CLASSES:
            out.append(str(name))
    if "label" in out:  # the explorer's labels first
        out.insert(0, out.pop(out.index("label")))
    return out


def labels_for(
    points: Any, stack: Any, column: str, *, partial: bool = False
) -> tuple[list, np.ndarray]:
    """The class of the labelled sub-images of ``stack`` from ``points.features[column]``.

    Sub-images whose point has no label (e.g. the border atoms "Use ring_label
    as labels" leaves unlabelled) are left out of a conditional model;
    ``partial`` (semi-supervised models): they are kept, as None, for the
    model to infer.

    Returns
    -------
    labels : list
        The class of every labelled sub-image, in stack order (``partial``:
        of every sub-image, None where unlabelled).
    labelled : numpy.ndarray
        (N,) bool, which sub-images of ``stack`` have a label.

    Raises a ValueError (one sentence) when the column is missing or fewer than
    2 cropped points have a label.
    """
    features = points.features
    what = "semi-supervised models need the class of a few sub-images of every class" if partial \
        else "conditional models need the class of their sub-images"  # fmt: skip
    if not column or column not in features.columns:
        raise ValueError(f"{what}: choose a Labels column (label points in the explorer first)")
    col = features[column].iloc[np.asarray(stack.index)]
    text = col.astype(object).where(col.notna(), "").astype(str).str.strip().to_numpy()
    labelled = text != ""
    if labelled.sum() < 2:
        raise ValueError(
            f"only {int(labelled.sum())} of the {len(text)} cropped points have a {column!r}; "
            "label them in the explorer, or choose another Labels column"
        )
    if partial:
        labels = [t if known else None for t, known in zip(text.tolist(), labelled, strict=True)]
        return labels, labelled
    return text[labelled].tolist(), labelled


class LabelColumn(QComboBox):
    """Combo of the features columns usable as classes; enabled for conditional models."""

    def __init__(self) -> None:
        super().__init__()
        self.setToolTip(
            "Conditional models (cvae, crvae): the features column that gives the known class "
            "of each sub-image, e.g. the explorer's label, Detect's wall kind, a ring label. "
            "Semi-supervised models (ssvae, ssrvae): the same, with empty cells for the "
            "sub-images whose class the model infers."
        )
        self.setEnabled(False)

    def refresh(self, points: Any, kind: str) -> None:
        """Fill from ``points``' features; keep the current choice when still offered."""
        current = self.currentText()
        names = [] if points is None else label_columns(points.features)
        self.blockSignals(True)
        self.clear()
        self.addItems(names)
        if current in names:
            self.setCurrentText(current)
        self.blockSignals(False)
        self.setEnabled(is_conditional(kind) and bool(names))


def is_conditional(kind: str) -> bool:
    """Whether the registry's family ``kind`` needs labels (conditional or semi-supervised)."""
    try:
        return registry.get(kind).conditional or is_semi_supervised(kind)
    except ValueError:  # IvaeError: an unknown kind (the form says so)
        return False


def is_semi_supervised(kind: str) -> bool:
    """Whether ``kind`` is a semi-supervised family (labels of a few rows suffice)."""
    from napari_ivae.models.ss_config import SSConfig

    try:
        return issubclass(registry.get(kind).config_class(), SSConfig)
    except ValueError:
        return False
