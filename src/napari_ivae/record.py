"""The typed record of a points layer: what the widgets keep beside its features.

A points layer's **features** are the shared data path: positions, scores,
latents (``z1..``, ``angle``, ``dy``, ``dx``, ``class``, ``p*``) and the ``label``
column, one row per point.  Everything else the widgets need about the layer
lives in one :class:`PointsRecord`, stored in ``layer.metadata`` under
:data:`RECORD_KEY` (``"ivae"``):

* ``task``, ``image``, ``detection`` (Detect): ``"atoms"`` or ``"walls"``, the
  name of the image layer the points were found in, what the detector decided;
* ``stack`` (Crop): the sub-images, a :class:`~napari_ivae.crop.Stack`;
* ``model``, ``history``, ``train_config`` (Train): the trained model (a torch
  module), its history (one dict per epoch) and the ``TrainConfig`` arguments;
* ``classes``, ``labels`` (explorer): the label classes in order, name →
  ``"#rrggbb"``, and a copy of the ``label`` column (it restores the labels when
  a rewrite of the features drops them).

Use :func:`get_record` to read or change it (``get_record(points).stack = stack``)
and :func:`set_record` to replace it.  Sessions (:mod:`napari_ivae.session`,
format version 2) save and restore the whole record.

Copies and duplicated layers
----------------------------
The ``stack`` and the ``model`` are **read-only by contract**: the widgets
replace them (a new crop, a new training), they never change them in place.
Copying a record (:meth:`PointsRecord.copy`, :func:`copy.copy`,
:func:`copy.deepcopy`) therefore shares the stack and the model (no copy of
large arrays or weights) and copies everything else (history, classes,
labels, detection info).  napari's *Duplicate Layer* copies ``metadata``
either deeply (older napari) or shallowly (napari 0.9: both layers hold the
same record object); :func:`get_record` notices a record claimed by another
layer's metadata and gives the duplicate its own copy, so labelling or
retraining the duplicate never changes the original.

Version-1 keys
--------------
Before the record, these values were separate metadata keys
(:data:`LEGACY_KEYS`: ``"ivae_stack"``, ``"ivae_model"``, ``"ivae_history"``,
``"ivae_label_classes"``, ``"ivae_labels"``, ``"ivae_task"``, ``"ivae_image"``,
``"ivae_detection"``).  Version-1 session files store them; :func:`get_record`
and :func:`napari_ivae.session.load_session` fold them into the record (and
remove them), so old sessions and scripts that set those keys keep working.
"""

from __future__ import annotations

import copy as _copy
from collections.abc import MutableMapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from napari_ivae.crop import Stack

__all__ = [
    "LEGACY_KEYS",
    "RECORD_KEY",
    "PointsRecord",
    "get_record",
    "migrate_legacy",
    "set_record",
]

RECORD_KEY = "ivae"
"""Key of the :class:`PointsRecord` in a points layer's ``metadata``."""

LEGACY_KEYS: dict[str, str] = {
    "ivae_stack": "stack",
    "ivae_model": "model",
    "ivae_history": "history",
    "ivae_label_classes": "classes",
    "ivae_labels": "labels",
    "ivae_task": "task",
    "ivae_image": "image",
    "ivae_detection": "detection",
}
"""Metadata keys of session format 1 (and of earlier widgets) → record field."""


@dataclass(eq=False)
class PointsRecord:
    """What the widgets keep about one points layer, beside its features.

    Attributes
    ----------
    stack : Stack or None
        The sub-images cut around the points (Crop); ``stack.index`` maps them
        to rows of the features.  Read-only: replace, never change in place.
    model : torch.nn.Module or None
        The trained model (Train, or a loaded checkpoint).  Read-only, as ``stack``.
    history : list of dict
        The model's training history, one dict per epoch (``epoch``, ``loss``, ...).
    train_config : dict or None
        The ``TrainConfig`` arguments of that training
        (``TrainConfig(**train_config)``); None when unknown (a loaded model).
    classes : dict of str to str
        Label classes in order (class index 1, 2, ...), name → ``"#rrggbb"``;
        the labels themselves are the ``label`` column of the features
        (:class:`napari_ivae.labels.LabelSet` works on both).
    labels : numpy.ndarray or None
        (N,) object array: a copy of the ``label`` column, kept to restore the
        labels when the features are rewritten without it.
    task : str or None
        ``"atoms"`` or ``"walls"``: what Detect looked for.
    image : str or None
        Name of the image layer the points were detected in.
    detection : dict or None
        What the detector decided (e.g. the wall finder's noise and significance test).
    """

    stack: Stack | None = None
    model: Any = None
    history: list[dict] = field(default_factory=list)
    train_config: dict[str, Any] | None = None
    classes: dict[str, str] = field(default_factory=dict)
    labels: np.ndarray | None = None
    task: str | None = None
    image: str | None = None
    detection: dict[str, Any] | None = None
    #: id() of the metadata dict that holds this record (see get_record); not data.
    _owner: int | None = field(default=None, init=False, repr=False, compare=False)

    def copy(self) -> PointsRecord:
        """A copy sharing the stack and the model, with its own everything else.

        Returns
        -------
        PointsRecord
            Not claimed by any layer yet.
        """
        return PointsRecord(
            stack=self.stack,
            model=self.model,
            history=_copy.deepcopy(self.history),
            train_config=_copy.deepcopy(self.train_config),
            classes=dict(self.classes),
            labels=None if self.labels is None else np.array(self.labels, copy=True),
            task=self.task,
            image=self.image,
            detection=_copy.deepcopy(self.detection),
        )

    def __copy__(self) -> PointsRecord:
        return self.copy()

    def __deepcopy__(self, memo: dict) -> PointsRecord:
        return self.copy()

    def is_empty(self) -> bool:
        """Whether nothing is recorded."""
        return all(_empty(getattr(self, f.name)) for f in fields(self) if f.name != "_owner")


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (list, dict, str)):
        return not value
    return False


def _metadata(layer: Any) -> MutableMapping:
    meta = layer if isinstance(layer, MutableMapping) else getattr(layer, "metadata", None)
    if not isinstance(meta, MutableMapping):
        raise TypeError(
            f"expected a layer or a metadata dict; got {type(layer).__name__} without metadata"
        )
    return meta


def migrate_legacy(metadata: MutableMapping) -> PointsRecord | None:
    """Fold the version-1 keys (:data:`LEGACY_KEYS`) of ``metadata`` into its record.

    The keys are removed; their values overwrite the record's fields.  A
    record is created only when there is something to fold.

    Parameters
    ----------
    metadata : dict
        A layer's metadata (changed in place).

    Returns
    -------
    PointsRecord or None
        The record under :data:`RECORD_KEY` afterwards (None when there is none).
    """
    found = {LEGACY_KEYS[k]: metadata.pop(k) for k in list(metadata) if k in LEGACY_KEYS}
    record = metadata.get(RECORD_KEY)
    if not found:
        return record if isinstance(record, PointsRecord) else None
    if not isinstance(record, PointsRecord):
        record = PointsRecord()
        metadata[RECORD_KEY] = record
    for name, value in found.items():
        if name == "history":
            value = list(value) if isinstance(value, (list, tuple)) else []
        elif name == "classes":
            value = {str(k): str(v) for k, v in dict(value or {}).items()}
        elif name == "labels" and value is not None:
            value = np.asarray(value, dtype=object)
        setattr(record, name, value)
    return record


def get_record(layer: Any, *, create: bool = True) -> PointsRecord | None:
    """The record of a points layer (version-1 keys folded in; see the module notes).

    Parameters
    ----------
    layer : napari Layer, or a metadata dict
        The points layer (anything with a ``metadata`` dict), or its metadata.
    create : bool, optional
        Add an empty record when the layer has none (default); with False,
        return None instead.

    Returns
    -------
    PointsRecord or None
        The live record: changes to its fields are changes to the layer's record.
        A record that another layer's metadata holds (a duplicated layer) is
        replaced by a copy (:meth:`PointsRecord.copy`) first.
    """
    meta = _metadata(layer)
    record = migrate_legacy(meta)
    if record is None:
        if not create:
            return None
        record = PointsRecord()
    elif record._owner is not None and record._owner != id(meta):
        record = record.copy()
    record._owner = id(meta)
    meta[RECORD_KEY] = record
    return record


def set_record(layer: Any, record: PointsRecord) -> PointsRecord:
    """Store ``record`` as the record of ``layer`` (a layer or its metadata dict).

    Parameters
    ----------
    layer : napari Layer, or a metadata dict
        The points layer.
    record : PointsRecord
        The record; when another layer holds it already, a copy is stored.

    Returns
    -------
    PointsRecord
        The stored record.
    """
    if not isinstance(record, PointsRecord):
        raise TypeError(f"record must be a PointsRecord; got {type(record).__name__}")
    meta = _metadata(layer)
    for key in [k for k in meta if k in LEGACY_KEYS]:
        del meta[key]
    if record._owner is not None and record._owner != id(meta):
        record = record.copy()
    record._owner = id(meta)
    meta[RECORD_KEY] = record
    return record
