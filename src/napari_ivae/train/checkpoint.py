"""Checkpoints: atomic save, safe load (``weights_only``), format versions."""

from __future__ import annotations

import io
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import torch

from napari_ivae._atomic import atomic_write
from napari_ivae._errors import IvaeError
from napari_ivae.models import build_model, config_from_dict

FORMAT = "napari-ivae-model"
VERSION = 3  # 2: shift in the image frame, invariant z encoder; 3: centroid_limit, shift_scale
#: versions load_model reads (2: read with centroid_limit = shift_scale = 1, their behaviour)
READ_VERSIONS = (2, 3)


def _atomic_save(obj: dict, path: str | os.PathLike) -> None:
    # serialised in memory first: torch's zip writer reports a full disk as a
    # RuntimeError; a plain write raises the OSError (ENOSPC ...) the fronts name
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getbuffer()
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def save_model(path, model, history, *, train_config=None, optimizer=None) -> None:
    """Write a checkpoint atomically (temp file + ``os.replace``).

    Parameters
    ----------
    path : str or Path
        Destination (e.g. ``run/model.ivae``).
    model : IVAE
        The model (``model.config`` is stored with it).
    history : list of dict
        Per-epoch records.
    train_config : TrainConfig, optional
        Stored for reference and resuming.
    optimizer : torch.optim.Optimizer, optional
        Its state is stored for resuming.
    """
    model = getattr(model, "module", model)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    obj = {
        "format": FORMAT,
        "version": VERSION,
        "model_config": model.config.to_dict(),
        "train_config": None if train_config is None else train_config.to_dict(),
        "history": [dict(h) for h in history],
        "state_dict": state,
    }
    if optimizer is not None:
        obj["optimizer"] = optimizer.state_dict()
    _atomic_save(obj, path)


def _read_checkpoint(path) -> dict:
    """The checkpoint's dict, or an :class:`IvaeError` naming the file and the problem.

    Only plain data is unpickled (``weights_only=True``), and only from a zip
    archive (what ``torch.save`` writes): a raw pickle is never unpickled.
    """
    path = Path(path)
    if not path.is_file():
        raise IvaeError(f"model file {str(path)!r} does not exist")
    if path.stat().st_size == 0:
        raise IvaeError(
            f"{path}: the model file is empty (0 bytes); it was never written completely"
        )
    if not zipfile.is_zipfile(path):
        raise IvaeError(
            f"{path}: not a napari-ivae model file (not a PyTorch checkpoint, or cut short)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        raise IvaeError(
            f"{path}: refused to load: the file holds Python objects that are not plain data "
            "(possibly unsafe); only checkpoints written by napari-ivae load"
        ) from err
    except Exception as err:
        raise IvaeError(f"{path}: not a readable napari-ivae model (damaged)") from err
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise IvaeError(f"{str(path)!r} is not a napari-ivae model file")
    if obj.get("version") not in READ_VERSIONS:
        raise IvaeError(
            f"{str(path)!r} has model format version {obj.get('version')!r}; "
            f"this napari-ivae reads versions {', '.join(map(str, READ_VERSIONS))}"
        )
    if obj["version"] == 2 and isinstance(obj.get("model_config"), dict):
        # version 2 had no centroid limit and the full-size shift correction
        obj["model_config"] = {"centroid_limit": 1.0, "shift_scale": 1.0, **obj["model_config"]}
    return obj


def _check_finite_weights(state: dict, where: str) -> None:
    for name, value in state.items():
        if torch.is_tensor(value) and value.is_floating_point() and not torch.isfinite(value).all():
            raise IvaeError(
                f"{where}: the model's weights hold NaN or inf values (in {name!r}); "
                "the file is damaged or its training diverged"
            )


def load_model(path):
    """Load a checkpoint safely (``weights_only=True``).

    Refuses (with :class:`IvaeError`) files that are missing, empty, damaged,
    of another format or version, that hold Python objects other than plain
    data, or whose weights hold NaN or inf values.

    Returns
    -------
    model : IVAE
        In eval mode, on CPU.
    history : list of dict
    """
    return _model_from(_read_checkpoint(path), path, config_from_dict, build_model)


def _model_from(obj: dict, path, from_dict, build) -> tuple:
    """``(model, history)`` from a read checkpoint ``obj``: the configuration by
    ``from_dict``, the model by ``build(config)``, the weights checked finite and
    loaded; any mismatch is one :class:`IvaeError` naming ``path``."""
    try:
        config = from_dict(obj["model_config"])
        state = obj["state_dict"]
        _check_finite_weights(state, str(path))
        model = build(config)
        model.load_state_dict(state)
    except IvaeError as err:
        if str(err).startswith(str(path)):
            raise
        raise IvaeError(f"{str(path)!r} holds an incompatible model: {err}") from err
    except (KeyError, TypeError, RuntimeError, AttributeError) as err:
        raise IvaeError(f"{str(path)!r} holds an incompatible model: {err}") from err
    model.eval()
    return model, list(obj.get("history") or [])
