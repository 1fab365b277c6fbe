"""The conditional options of ``ivae train`` / ``encode`` / ``manifold`` (cvae, crvae).

``--labels LABELS.csv`` has one row per stack row in order, or an ``index``
column naming the stack's rows (the stack's ``index``: rows of the points
table), or it is the points table the stack was cropped from (e.g. ``ivae
rings`` output, ``--label-column ring_label``); ``--label-column`` (default ``label``) holds class names or integers,
``--label-column ''`` trains on the ``--condition`` columns only.  The class
vocabulary and the standardisation of the conditions are saved in
``model.ivae``; ``ivae encode`` of a conditional model needs the same kind of
labels table for the stack it encodes.
"""

from __future__ import annotations

from pathlib import Path

import click

from napari_ivae._errors import IvaeError
from napari_ivae.models import registry


def cond_kinds() -> tuple[str, ...]:
    """The registered conditional kinds (their configuration is a ``CondConfig``)."""
    from napari_ivae.models.cond_config import CondConfig

    return tuple(n for n in registry.names()
                 if issubclass(registry.get(n).config_class(), CondConfig))  # fmt: skip


def ss_kinds() -> tuple[str, ...]:
    """The registered semi-supervised kinds (their configuration is an ``SSConfig``)."""
    from napari_ivae.models.ss_config import SSConfig

    return tuple(n for n in registry.names()
                 if issubclass(registry.get(n).config_class(), SSConfig))  # fmt: skip


def label_options(f):
    """``--labels``, ``--label-column``, ``--condition`` (click decorators)."""
    f = click.option(
        "--condition",
        "condition",
        multiple=True,
        help="A numeric column of LABELS.csv used as a continuous condition (repeatable; "
        "standardised, statistics saved in the model).",
    )(f)
    f = click.option(
        "--label-column",
        default="label",
        show_default=True,
        help="Column of LABELS.csv holding the class (names or integers); '' for none.",
    )(f)
    return click.option(
        "--labels",
        "labels_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="LABELS.csv (conditional models): one row per stack row in order, an "
        "'index' column naming the stack rows, or the points CSV the stack was cropped from.",
    )(f)


def check_label_options(kind: str, labels_path, condition) -> None:
    """``--labels`` is for (and needed by) the conditional and semi-supervised kinds;
    ``--condition`` for the conditional ones."""
    kinds, semi = cond_kinds(), ss_kinds()
    if kind in semi and labels_path is None:
        raise IvaeError(
            f"--model {kind} needs --labels LABELS.csv (the class of a few rows of every "
            "class, the other rows empty)"
        )
    if kind in semi and condition:
        raise IvaeError(f"--condition is for the conditional models ({', '.join(kinds)}), "
                        f"got --model {kind}")  # fmt: skip
    if kind in kinds and labels_path is None:
        raise IvaeError(f"--model {kind} needs --labels LABELS.csv (the class of every image)")
    if kind not in (*kinds, *semi) and (labels_path is not None or condition):
        raise IvaeError(
            f"--labels / --condition need a conditional or semi-supervised model "
            f"(--model {' or '.join((*kinds, *semi))}), got --model {kind}"
        )


def read_labels(labels_path: Path, data, label_column: str, condition, partial: bool = False):
    """The :class:`~napari_ivae.train.conditions.LabelTable` of the stack ``data``
    (``partial``: empty labels and unnamed rows are unlabelled, semi-supervised kinds)."""
    from napari_ivae.cli._files import _images_of
    from napari_ivae.train.conditions import read_label_table

    n = _images_of(data).shape[0]
    return read_label_table(
        labels_path, n, index=getattr(data, "index", None),
        label_column=label_column or None, conditions=tuple(condition), partial=partial,
        yx=getattr(data, "yx", None),
    )  # fmt: skip


def model_labels(model, labels_path, data, label_column: str):
    """The labels table ``ivae encode`` needs for a conditional ``model`` (None otherwise)."""
    config = model.config
    if config.joint and getattr(config, "classes", ()):  # semi-supervised: labels optional
        if labels_path is None:
            return None
        return read_labels(labels_path, data, label_column or "label", (), partial=True)
    if not getattr(model, "n_cond", 0):
        if labels_path is not None:
            raise IvaeError(f"--labels needs a conditional model, this one is {config.kind}")
        return None
    if labels_path is None:
        raise IvaeError(
            f"this {config.kind} model is conditioned on "
            f"{', '.join([*config.classes, *config.conditions])}; give --labels LABELS.csv"
        )
    column = label_column if config.classes else None
    return read_labels(labels_path, data, column or "", config.conditions)


def manifold_class(config, cls: str | None):
    """``--class`` as the decoder wants it: an int for joint kinds, the label for conditional."""
    if cls is None:
        if getattr(config, "classes", ()):
            raise IvaeError(
                f"--class is needed for this {config.kind} model; its classes are "
                f"{', '.join(config.classes)}"
            )
        return None
    if getattr(config, "classes", ()):
        config.class_code(cls)  # an error naming the classes
        return cls
    if not config.joint:
        raise IvaeError(
            f"--class={cls} needs a joint model or a conditional one with classes, this one is {config.kind}"
        )
    try:
        return int(cls)
    except ValueError:
        raise IvaeError(
            f"--class={cls!r} must be a class number 0..{config.n_classes - 1}"
        ) from None
