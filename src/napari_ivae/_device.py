"""The torch device for a user's ``device`` option, shared by training and the U-Net finders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from napari_ivae._errors import IvaeError

if TYPE_CHECKING:  # pragma: no cover
    import torch


def _mps_available(torch) -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def torch_device(name: str = "auto") -> torch.device:
    """The torch device for ``name``.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda", "mps"} or a torch device string
        ``"auto"`` picks CUDA, then MPS, then the CPU.

    Returns
    -------
    torch.device

    Raises
    ------
    IvaeError
        When ``"cuda"`` or ``"mps"`` is asked for and is not available.
    """
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available(torch) else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise IvaeError("device='cuda' but CUDA is not available; use device='auto' or 'cpu'")
    if name == "mps" and not _mps_available(torch):
        raise IvaeError("device='mps' but MPS is not available; use device='auto' or 'cpu'")
    return torch.device(name)
