"""Files of ``ivae train`` / ``encode`` / ``manifold``: the stack npz in, tables and PNGs out."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from napari_ivae._atomic import atomic_write
from napari_ivae._errors import IvaeError


# ----------------------------------------------------------------------------- inputs
def load_stack_npz(path: str | os.PathLike):
    """Load a stack npz: a full :class:`~napari_ivae.crop.Stack` or ``images`` only.

    Parameters
    ----------
    path : path-like
        ``.npz`` written by ``ivae crop`` / :meth:`Stack.save`, or any npz
        holding an ``images`` array of shape (N,H,W) or (N,C,H,W).

    Returns
    -------
    Stack or numpy.ndarray
        The stack when the file has source coordinates (``yx``), else the
        images as a float32 array (N,C,H,W) (the latent table then has no
        ``y, x, frame, index`` columns).

    Raises
    ------
    IvaeError
        The file is missing or not an npz, has no ``images``, has the wrong
        shape, or holds NaN/inf values.
    """
    from napari_ivae.crop import Stack

    path = Path(path)
    if path.is_file() and not zipfile.is_zipfile(path):
        raise IvaeError(f"{path}: not an .npz file (not a zip archive)")
    stack = Stack.load(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            has_coords = "yx" in npz.files
    except (OSError, ValueError) as err:  # pragma: no cover - Stack.load read it already
        raise IvaeError(f"{path}: cannot read as a .npz stack ({err})") from None
    _check_images(path, stack.images)
    return stack if has_coords else stack.images


def _check_images(path: Path, images: np.ndarray) -> None:
    from napari_ivae._limits import check_values

    n = images.shape[0]
    if n == 0:
        raise IvaeError(f"{path}: the stack is empty (0 images)")
    if images.shape[-1] < 4 or images.shape[-2] < 4:
        raise IvaeError(
            f"{path}: images of {images.shape[-2]}×{images.shape[-1]} px are too small (need ≥ 4×4)"
        )
    check_values(images, what=str(path))


def _images_of(data) -> np.ndarray:
    return data if isinstance(data, np.ndarray) else data.images


# ----------------------------------------------------------------------------- outputs
def _atomic_csv(df, path: Path) -> None:
    """Write a DataFrame as CSV atomically (temp file in the same folder + rename)."""
    atomic_write(path, lambda tmp: df.to_csv(tmp, index=False, float_format="%.6g"))


def grid_to_uint8(grid: np.ndarray) -> np.ndarray:
    """Turn a (C, H, W) manifold grid into an 8-bit image for a PNG.

    One channel gives a grey image; two or more are tiled left to right,
    each scaled to its own 0.5–99.5 percentile range (separated by a 4 px
    black gap), so amplitude and phase channels both stay readable.

    Parameters
    ----------
    grid : numpy.ndarray
        (C, H, W) or (H, W).

    Returns
    -------
    numpy.ndarray
        uint8 (H, W') image.
    """
    grid = np.asarray(grid, dtype=np.float32)
    if grid.ndim == 2:
        grid = grid[None]
    tiles = []
    for c, chan in enumerate(grid):
        lo, hi = np.percentile(chan, [0.5, 99.5])
        scaled = np.clip((chan - lo) / (hi - lo) if hi > lo else chan * 0, 0, 1)
        if c:
            tiles.append(np.zeros((chan.shape[0], 4), np.float32))
        tiles.append(scaled)
    return (np.concatenate(tiles, axis=1) * 255 + 0.5).astype(np.uint8)


def _atomic_png(image_u8: np.ndarray, path: Path) -> None:
    import imageio.v3 as iio

    atomic_write(path, lambda tmp: iio.imwrite(tmp, image_u8, extension=".png"))


def _latent_table(model, data, labels=None):
    """Encode ``data``; a Stack's ``index`` (row in the points table) follows ``frame``.

    ``labels``: a :class:`~napari_ivae.train.conditions.LabelTable` (conditional
    and semi-supervised kinds); its class names are written as the ``label``
    column (empty for the rows a semi-supervised model was not told)."""
    from napari_ivae.analysis import encode
    from napari_ivae.latent import join_latent

    conditional = getattr(model, "n_cond", 0)  # semi-supervised kinds encode without labels
    df = encode(model, data, labels=labels if conditional else None)
    if labels is not None and labels.codes is not None:
        names = np.asarray([*labels.classes, ""], dtype=object)
        df["label"] = names[labels.codes]  # code -1 (unlabelled): ""
    return df if isinstance(data, np.ndarray) else join_latent(None, df, data.index)


def _history_table(history):
    import pandas as pd

    if isinstance(history, pd.DataFrame):
        return history
    return pd.DataFrame(history)
