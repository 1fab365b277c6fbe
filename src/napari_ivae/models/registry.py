"""The model registry: family name → (configuration class, model class).

Every model family is one file under :mod:`napari_ivae.models` (or anywhere
importable) and one :class:`Family` line in :data:`FAMILIES`.  The CLI's
``--model`` choices, the Train widget's model list, :class:`ModelConfig`'s
``kind`` check, :func:`~napari_ivae.models.build_model` and the checkpoint
loader all read this table, so nothing else changes when a family is added
(``docs/architecture.md``, "How to add a model").

This module imports neither torch nor the family files: the classes are named
``"module:Class"`` and imported when a model is built.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from napari_ivae._errors import IvaeError

__all__ = ["FAMILIES", "Family", "get", "names", "register"]


@dataclass(frozen=True)
class Family:
    """One model family of the registry.

    Parameters
    ----------
    name : str
        The ``kind`` users type (``ModelConfig(kind=...)``, ``ivae train --model``).
    model : str
        ``"module:Class"`` of the torch module; built as ``Class(config)``.
    summary : str
        One sentence for the GUI's model list and the CLI help.
    rotation : bool
        Whether the family has the rotation and shift latents (the trainer's
        z warm-up and pose seeding apply).
    joint : bool
        Whether the family has a discrete class latent (``n_classes``; the
        trainer's capacity objective and class seeding apply).
    conditional : bool
        Whether the model is conditioned on a known class per image (the
        fronts must give labels to train and encode it).
    config : str
        ``"module:Class"`` of its configuration dataclass: a
        :class:`~napari_ivae.models.ModelConfig` or a subclass adding the
        family's own options.
    """

    name: str
    model: str
    summary: str
    rotation: bool = False
    joint: bool = False
    config: str = "napari_ivae.models:ModelConfig"
    conditional: bool = False

    def model_class(self) -> type:
        """The model class (imports its module, and so torch)."""
        return _resolve(self.model)

    def config_class(self) -> type:
        """The configuration class."""
        return _resolve(self.config)


#: the built-in families, in the order the fronts list them
FAMILIES: tuple[Family, ...] = (
    Family("vae", "napari_ivae.models.vae:VAE",
           "Plain VAE: latents mix content with orientation and position."),
    Family("rvae", "napari_ivae.models.rvae:RVAE",
           "Rotation-invariant VAE: angle and shift are separate latents (walls, molecules).",
           rotation=True),
    Family("jvae", "napari_ivae.models.jvae:JVAE",
           "Joint VAE: continuous latents plus a discrete class, learned without labels.",
           joint=True),
    Family("jrvae", "napari_ivae.models.jrvae:JRVAE",
           "Joint rotation-invariant VAE: class + content, independent of angle and shift.",
           rotation=True, joint=True),
    Family("cvae", "napari_ivae.models.cvae:CVAE",
           "Conditional VAE: encoder and decoder see the known class and/or factors.",
           config="napari_ivae.models.cond_config:CondConfig", conditional=True),
    Family("crvae", "napari_ivae.models.cvae:CRVAE",
           "Conditional rotation-invariant VAE: one latent space per known class.",
           rotation=True, config="napari_ivae.models.cond_config:CondConfig", conditional=True),
    Family("ssvae", "napari_ivae.models.ssvae:SSVAE",
           "Semi-supervised VAE: some rows labelled, the class of the others inferred.",
           joint=True, config="napari_ivae.models.ss_config:SSConfig"),
    Family("ssrvae", "napari_ivae.models.ssvae:SSRVAE",
           "Semi-supervised rotation-invariant VAE: classes from a few labels, any orientation.",
           rotation=True, joint=True, config="napari_ivae.models.ss_config:SSConfig"),
)  # fmt: skip

_REGISTRY: dict[str, Family] = {f.name: f for f in FAMILIES}


def _resolve(ref: str) -> type:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def names() -> tuple[str, ...]:
    """Names of the registered families, built-in ones first."""
    return tuple(_REGISTRY)


def get(name: str) -> Family:
    """The family called ``name``; an :class:`IvaeError` listing the known ones otherwise."""
    family = _REGISTRY.get(name) if isinstance(name, str) else None
    if family is None:
        raise IvaeError(f"unknown model kind {name!r}; known kinds: {', '.join(names())}")
    return family


def register(family: Family) -> Family:
    """Add a family at run time (plugins, tests); a name can be registered once.

    Built-in families are lines of :data:`FAMILIES` instead.
    """
    if family.name in _REGISTRY:
        raise IvaeError(f"model kind {family.name!r} is already registered")
    _REGISTRY[family.name] = family
    return family


def unregister(name: str) -> None:
    """Remove a family added with :func:`register` (built-in ones stay)."""
    if name in {f.name for f in FAMILIES}:
        raise IvaeError(f"model kind {name!r} is built in and cannot be removed")
    _REGISTRY.pop(name, None)
