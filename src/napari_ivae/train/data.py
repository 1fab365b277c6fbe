"""Inputs of a run: the data as a tensor, the device, the process group."""

from __future__ import annotations

import os

import numpy as np
import torch

from napari_ivae._errors import IvaeError
from napari_ivae._limits import check_values


def _as_tensor(data) -> torch.Tensor:
    """(N, C, H, W) float32 tensor sharing memory with ``data`` where possible."""
    images = getattr(data, "images", data)
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    try:
        arr = np.asarray(images)
    except Exception as err:  # pragma: no cover - exotic inputs
        raise IvaeError(f"data must be an array or a Stack, got {type(data).__name__}") from err
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4:
        raise IvaeError(f"data must have shape (N, H, W) or (N, C, H, W), got {arr.shape}")
    n, _, h, w = arr.shape
    if h != w:
        raise IvaeError(f"images must be square, got {h}×{w}")
    if h < 4:
        raise IvaeError(f"images must be at least 4×4 pixels, got {h}×{w}")
    if n < 2:
        raise IvaeError(f"data has {n} sample(s); training needs at least 2")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise IvaeError(f"data must be real numbers, got dtype {arr.dtype}")
    check_values(arr)  # NaN / inf, and values far beyond normalised crops
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def _device(name: str) -> torch.device:
    """The training device (see :func:`napari_ivae._device.torch_device`)."""
    from napari_ivae._device import torch_device

    return torch_device(name)


def _dist_info() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return world, rank
