"""Configuration of the semi-supervised kinds (``ssvae``, ``ssrvae``), torch-free.

A semi-supervised model is a joint model (a discrete class latent, inferred by
exact enumeration over the classes) whose classes are the user's: the
vocabulary ``classes`` (label names, in code order) is a field of the
configuration, so every checkpoint carries it and an encoding months later
reports ``class`` in the same names.  Rows with a label have their class
given (and a classification term, weight ``supervision``); rows without one
have it inferred.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from napari_ivae._errors import IvaeError, check_choice, check_range
from napari_ivae.models import ModelConfig

__all__ = ["SSConfig"]


@dataclass
class SSConfig(ModelConfig):
    """A :class:`~napari_ivae.models.ModelConfig` with the class vocabulary of a
    semi-supervised kind.

    Parameters
    ----------
    classes : tuple of str
        The class vocabulary (the user's label names, in code order); filled
        by :func:`~napari_ivae.train.fit` from its ``labels`` when left empty.
        ``n_classes`` is its length (given both, they must agree).
    supervision : float
        Weight of the classification term of the labelled rows, in nats per
        labelled row relative to the ELBO (≥ 0; 0 uses the labels only as
        known classes).  The term is the negative log of the model's own
        class posterior (the exact enumeration the unlabelled rows get) at the
        given class, scaled so that its weight does not depend on the
        fraction of labelled rows.
    classifier : {"on", "off"}
        ``"on"``: a classifier's logits (an MLP on rotation-invariant features
        of the crop for the rotation kinds, on the image for the others) are
        added to the exact class log-posterior, for every row; trained by the
        classification term and the ELBO.  ``"off"``: the exact generative
        posterior alone.
    """

    kind: str = "ssrvae"
    classes: tuple[str, ...] = ()
    supervision: float = 50.0
    classifier: Literal["on", "off"] = "on"

    def __post_init__(self) -> None:
        self.classes = tuple(str(c) for c in self.classes)
        if self.classes:
            if self.n_classes is not None and self.n_classes != len(self.classes):
                raise IvaeError(
                    f"n_classes={self.n_classes} but the labels name {len(self.classes)} classes "
                    f"({', '.join(self.classes)}); every class needs labelled rows"
                )
            self.n_classes = len(self.classes)
        if len(set(self.classes)) != len(self.classes):
            raise IvaeError(f"classes={list(self.classes)!r} must be different names")
        super().__post_init__()
        check_range("supervision", self.supervision, low=0)
        check_choice("classifier", self.classifier, ("on", "off"))
        if self.discrete != "exact":
            raise IvaeError(
                f"discrete={self.discrete!r}: the semi-supervised kinds infer the class by "
                "exact enumeration (discrete='exact')"
            )

    @property
    def ready(self) -> bool:
        """Whether the vocabulary is set (a model can be built)."""
        return len(self.classes) >= 2

    def class_code(self, label) -> int:
        """The code of ``label`` (a name of :attr:`classes`, or its position as an int)."""
        names = self.classes
        if str(label) in names:
            return names.index(str(label))
        if (
            isinstance(label, (int, np.integer))
            and not isinstance(label, bool)
            and (0 <= int(label) < len(names))
        ):
            return int(label)
        raise IvaeError(
            f"label {label!r} is not a class of this model; its classes are {', '.join(names)}"
        )
