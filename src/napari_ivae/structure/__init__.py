"""Structure–property learning: im2spec, spec2im and the dual VAE on (patch, spectrum) pairs.

The models are in :mod:`napari_ivae.models` (``im2spec``, ``spec2im``,
``dual``; configuration :class:`StructureConfig`).  This package pairs the
data (:mod:`~napari_ivae.structure.data`), trains (:func:`fit_structure`, a
generator of the engine's ``Progress`` reports), saves and loads
(:func:`save_structure`, :func:`load_structure`) and predicts
(:func:`predict_spectra`, :func:`predict_patches`).  Torch is imported on
first use of those names, so ``import napari_ivae.structure`` stays cheap::

    from napari_ivae.structure import StructureConfig, fit_structure, patches_at, spectra_at
    x, s = patches_at(image, pts, 24), spectra_at(si, pts)
    gen = fit_structure(x, s, StructureConfig(kind="im2spec"), TrainConfig(epochs=100))
"""

from __future__ import annotations

import importlib

from napari_ivae.models.structure_config import STRUCTURE_KINDS, StructureConfig
from napari_ivae.structure.data import as_points, check_window, patches_at, spectra_at

__all__ = [
    "STRUCTURE_KINDS",
    "StructureConfig",
    "as_points",
    "check_window",
    "fit_structure",
    "load_structure",
    "patches_at",
    "predict_patches",
    "predict_spectra",
    "save_structure",
    "spectra_at",
    "structure_latents",
    "structure_table",
]

_LAZY = {
    "fit_structure": "fit",
    "load_structure": "checkpoint",
    "save_structure": "checkpoint",
    "predict_spectra": "predict",
    "predict_patches": "predict",
    "structure_latents": "predict",
    "structure_table": "table",
}


def __getattr__(name: str):
    """Import the torch-side names on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
