"""Save / load structure–property models with the engine's safe checkpoint format.

The file is a napari-ivae model checkpoint (same format and version, atomic
write, ``weights_only`` load, finite-weight check: :mod:`napari_ivae.train.checkpoint`)
whose ``model_config`` is a :class:`~napari_ivae.models.structure_config.StructureConfig`.
"""

from __future__ import annotations

import os

from napari_ivae._errors import IvaeError
from napari_ivae.models.structure_config import (
    STRUCTURE_KINDS,
    StructureConfig,
    build_structure_model,
)
from napari_ivae.train.checkpoint import (
    FORMAT,
    VERSION,
    _atomic_save,
    _model_from,
    _read_checkpoint,
)

__all__ = ["load_structure", "save_structure"]


def save_structure(path: str | os.PathLike, model, history, *, train_config=None) -> None:
    """Write ``model`` (its config, weights and ``history``) atomically to ``path``."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _atomic_save(
        {
            "format": FORMAT,
            "version": VERSION,
            "model_config": model.config.to_dict(),
            "train_config": None if train_config is None else train_config.to_dict(),
            "history": [dict(h) for h in history],
            "state_dict": state,
        },
        path,
    )


def load_structure(path: str | os.PathLike):
    """Load a structure–property model safely.

    Returns
    -------
    model : StructureModel
        In eval mode, on CPU.
    history : list of dict

    Raises
    ------
    IvaeError
        Missing, damaged or unsafe files, other model kinds (e.g. an rVAE
        checkpoint), incompatible weights.
    """
    obj = _read_checkpoint(path)
    cfg = obj.get("model_config")
    kind = cfg.get("kind") if isinstance(cfg, dict) else None
    if kind not in STRUCTURE_KINDS:
        raise IvaeError(
            f"{str(path)!r} holds a {kind!r} model, not a structure–property model "
            f"({', '.join(STRUCTURE_KINDS)})"
        )
    return _model_from(obj, path, StructureConfig.from_dict, build_structure_model)
