"""Configuration of the conditional kinds (``cvae``, ``crvae``), torch-free.

The condition of a row is one vector: the one-hot class (``classes``, the
user's label vocabulary, in order) followed by the standardised continuous
factors (``(value - condition_mean) / condition_std`` for each name of
``conditions``).  The vocabulary and the statistics are fields of the
configuration, so every checkpoint carries them (plain JSON-safe values) and an
encoding or a decoding months later uses the same ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from napari_ivae._errors import IvaeError
from napari_ivae.models import ModelConfig

__all__ = ["CondConfig", "condition_matrix", "condition_stats", "conditions_for"]


@dataclass
class CondConfig(ModelConfig):
    """A :class:`~napari_ivae.models.ModelConfig` with the condition of a conditional kind.

    Parameters
    ----------
    classes : tuple of str
        The class vocabulary (the user's label names, in code order); empty for
        a model conditioned on continuous factors only.  :func:`~napari_ivae.train.fit`
        fills it from its ``labels`` when left empty.
    conditions : tuple of str
        Names of the continuous factors (columns of the labels / features table).
    condition_mean, condition_std : tuple of float
        Standardisation of each factor, one value per name; filled by ``fit``.

    Notes
    -----
    ``z_encoder="auto"`` is decided here: ``"invariant"`` for ``crvae`` (the
    class is given, so nothing competes with an invariant z), ``"image"`` for
    ``cvae``.
    """

    kind: str = "crvae"
    classes: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    condition_mean: tuple[float, ...] = ()
    condition_std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.z_encoder == "auto":
            self.z_encoder = "invariant" if self.kind == "crvae" else "image"
        super().__post_init__()
        self.classes = tuple(str(c) for c in self.classes)
        self.conditions = tuple(str(c) for c in self.conditions)
        self.condition_mean = tuple(float(v) for v in self.condition_mean)
        self.condition_std = tuple(float(v) for v in self.condition_std)
        if len(set(self.classes)) != len(self.classes):
            raise IvaeError(f"classes={list(self.classes)!r} must be different names")
        if len(self.classes) == 1:
            raise IvaeError(f"classes={list(self.classes)!r} must hold at least 2 classes, got 1")
        m = len(self.conditions)
        if self.condition_mean and len(self.condition_mean) != m:
            raise IvaeError(
                f"condition_mean has {len(self.condition_mean)} values for {m} conditions"
            )
        if self.condition_std and len(self.condition_std) != m:
            raise IvaeError(
                f"condition_std has {len(self.condition_std)} values for {m} conditions"
            )
        if any(not (math.isfinite(s) and s > 0) for s in self.condition_std):
            raise IvaeError(f"condition_std={self.condition_std!r} must be positive numbers")

    @property
    def n_cond(self) -> int:
        """Length of the condition vector (classes + continuous factors)."""
        return len(self.classes) + len(self.conditions)

    @property
    def ready(self) -> bool:
        """Whether the vocabulary / statistics are set (a model can be built)."""
        m = len(self.conditions)
        return self.n_cond > 0 and len(self.condition_mean) == m == len(self.condition_std)

    def class_code(self, label) -> int:
        """The code of ``label`` (a name of :attr:`classes`, or its position as an int)."""
        names = self.classes
        if str(label) in names:
            return names.index(str(label))
        if isinstance(label, (int, np.integer)) and 0 <= int(label) < len(names):
            return int(label)
        raise IvaeError(
            f"label {label!r} is not a class of this model; its classes are {', '.join(names)}"
        )


def condition_stats(values) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per column of ``values`` (N, m); a constant column gets std 1."""
    v = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    mean = v.mean(0)
    std = v.std(0)
    std = np.where(std > 1e-12, std, 1.0)
    return tuple(float(x) for x in mean), tuple(float(x) for x in std)


def condition_matrix(config: CondConfig, codes=None, values=None) -> np.ndarray:
    """(N, n_cond) float32 condition vectors: one-hot ``codes`` then standardised ``values``.

    Parameters
    ----------
    config : CondConfig
        With its vocabulary and statistics set.
    codes : array-like of int (N,), optional
        Class codes (0 ≤ code < len(classes)); needed when the model has classes.
    values : array-like (N, m), optional
        Raw continuous factors in the order of ``config.conditions``.
    """
    parts = []
    n = None
    if config.classes:
        if codes is None:
            raise IvaeError(
                f"labels=None: this {config.kind} model is conditioned on the classes "
                f"{', '.join(config.classes)}; give one label per image"
            )
        codes = np.asarray(codes, dtype=np.int64).reshape(-1)
        n = len(codes)
        if n and (codes.min() < 0 or codes.max() >= len(config.classes)):
            raise IvaeError(f"labels hold codes outside 0..{len(config.classes) - 1}")
        parts.append(np.eye(len(config.classes), dtype=np.float32)[codes])
    if config.conditions:
        if values is None:
            raise IvaeError(
                f"conditions=None: this {config.kind} model is conditioned on "
                f"{', '.join(config.conditions)}; give their values per image"
            )
        v = np.asarray(values, dtype=np.float64).reshape(-1, len(config.conditions))
        if n is not None and len(v) != n:
            raise IvaeError(f"conditions have {len(v)} rows for {n} labels")
        if not np.isfinite(v).all():
            raise IvaeError("conditions hold NaN or infinite values; every image needs a value")
        z = (v - np.asarray(config.condition_mean)) / np.asarray(config.condition_std)
        parts.append(z.astype(np.float32))
    return np.concatenate(parts, axis=1)


def conditions_for(config: CondConfig, n: int, labels=None, conditions=None) -> np.ndarray:
    """(n, n_cond) condition vectors from user values, for encoding and decoding.

    Parameters
    ----------
    config : CondConfig
    n : int
        Number of rows; a single label / condition row is repeated.
    labels : label, sequence of labels, or LabelTable, optional
        Class names of ``config.classes`` (or their positions as ints).
    conditions : mapping name → value(s), array-like (n, m) / (m,), DataFrame, optional
        Raw values of ``config.conditions``; default (decoding only): their means.
    """
    codes = values = None
    if config.classes:
        if hasattr(labels, "codes") and hasattr(labels, "classes"):  # a LabelTable
            conditions = labels.values if conditions is None else conditions
            labels = [labels.classes[c] for c in labels.codes]
        if labels is None:
            codes = None
        else:
            seq = [labels] if np.ndim(labels) == 0 else list(labels)
            codes = np.array([config.class_code(v) for v in seq], dtype=np.int64)
            codes = np.broadcast_to(codes, (n,)) if len(codes) == 1 else codes
    if config.conditions:
        if conditions is None:
            values = np.broadcast_to(np.asarray(config.condition_mean), (n, len(config.conditions)))
        elif isinstance(conditions, dict) or hasattr(conditions, "columns"):
            missing = [c for c in config.conditions if c not in conditions]
            if missing:
                raise IvaeError(f"conditions lack {', '.join(missing)} (the model's conditions)")
            values = np.stack([np.broadcast_to(np.asarray(conditions[c], np.float64), (n,))
                               for c in config.conditions], axis=1)  # fmt: skip
        else:
            values = np.asarray(conditions, np.float64).reshape(-1, len(config.conditions))
            values = np.broadcast_to(values, (n, values.shape[1])) if len(values) == 1 else values
    out = condition_matrix(config, codes, values)
    if len(out) != n:
        raise IvaeError(f"labels / conditions have {len(out)} rows for {n} images")
    return out
