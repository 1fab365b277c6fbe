"""Upper bounds of training and the value checks shared by ``fit``, ``encode`` and the CLI.

numpy only (no torch): the CLI checks options against these before it imports
torch or writes anything.

=====================  ==================================================
limit                  why
=====================  ==================================================
``MAX_LATENT_DIM``     256 latents; never more than the values in one
                       crop (C·H·W): a code longer than the image says
                       nothing more and only costs memory
``MAX_CLASSES``        100 classes, and at least ``MIN_PER_CLASS`` (2)
                       images per class: k-means seeds and the class
                       posterior need members in every class
``MAX_EPOCHS``         10,000 epochs
``MAX_LR``             learning rate ≤ 1 (Adam moves every weight by about
                       ``lr`` per step; larger values only diverge)
``MAX_ABS_VALUE``      |value| ≤ 1e6: the models expect normalised crops
                       (``ivae crop`` z-scores them); far larger values
                       overflow float32 in the likelihood
=====================  ==================================================
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from napari_ivae._errors import IvaeError, check_range

MAX_LATENT_DIM = 256
MAX_CLASSES = 100
MIN_PER_CLASS = 2
MAX_EPOCHS = 10_000
MAX_LR = 1.0
MAX_ABS_VALUE = 1e6

__all__ = [
    "MAX_ABS_VALUE",
    "MAX_CLASSES",
    "MAX_EPOCHS",
    "MAX_LATENT_DIM",
    "MAX_LR",
    "MIN_PER_CLASS",
    "check_training",
    "check_values",
]


def check_training(
    *,
    n_images: int,
    image_shape: tuple[int, int, int],
    latent_dim: int,
    n_classes: int | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    name: Callable[[str], str] = str,
) -> None:
    """Raise :class:`IvaeError` when a training setting is out of bounds for the data.

    Parameters
    ----------
    n_images : int
        Number of images N.
    image_shape : (int, int, int)
        (C, H, W) of one image.
    latent_dim, n_classes, epochs, lr
        The settings (``None``: not checked).
    name : callable
        Maps a parameter name (``"latent_dim"``, ``"n_classes"``, ``"epochs"``,
        ``"lr"``) to the name shown in the message (the CLI shows
        ``--latent-dim``, ``--classes`` ...).
    """
    c, h, w = (int(v) for v in image_shape)
    pixels = c * h * w
    high = min(MAX_LATENT_DIM, pixels)
    if not 1 <= latent_dim <= high:
        why = (
            f"at most {MAX_LATENT_DIM}"
            if high == MAX_LATENT_DIM
            else f"at most the {pixels} values of one {c}×{h}×{w} image"
        )
        raise IvaeError(
            f"{name('latent_dim')}={latent_dim!r} is out of range; expected 1 ≤ "
            f"{name('latent_dim')} ≤ {high} ({why})"
        )
    if n_classes is not None:
        high = min(MAX_CLASSES, n_images // MIN_PER_CLASS)
        if not 2 <= n_classes <= high:
            why = (
                f"at most {MAX_CLASSES}"
                if high == MAX_CLASSES
                else f"at least {MIN_PER_CLASS} images per class, and there are {n_images} images"
            )
            expected = f"2 ≤ {name('n_classes')} ≤ {high}" if high >= 2 else "2 or more classes"
            raise IvaeError(
                f"{name('n_classes')}={n_classes!r} is out of range; expected {expected} ({why})"
            )
    if epochs is not None:
        check_range(name("epochs"), epochs, low=1, high=MAX_EPOCHS)
    if lr is not None:
        check_range(name("lr"), lr, low=0, low_inclusive=False, high=MAX_LR)


def check_values(images, *, what: str = "data", limit: float = MAX_ABS_VALUE) -> None:
    """Raise :class:`IvaeError` when ``images`` hold NaN/inf or values beyond ``±limit``.

    Checked in chunks of about 4 M values, so a large (memory-mapped) stack
    is not copied.

    Parameters
    ----------
    images : array_like (N, ...)
        The stack.
    what : str
        Start of the message (``"data"``, a file name).
    limit : float
        Largest accepted absolute value.
    """
    arr = np.asarray(images)
    n = arr.shape[0] if arr.ndim else 1
    per = max(1, int(np.prod(arr.shape[1:])) if arr.ndim > 1 else 1)
    step = max(1, (1 << 22) // per)
    for i in range(0, n, step):
        chunk = np.abs(np.asarray(arr[i : i + step]).reshape(-1, per))
        finite = np.isfinite(chunk)
        if not finite.all():
            bad = i + int(np.flatnonzero(~finite.all(1))[0])
            raise IvaeError(
                f"{what} contains NaN or inf (first in image {bad}); clean or re-crop the stack"
            )
        top = chunk.max(1)
        if (top > limit).any():
            bad = int(np.flatnonzero(top > limit)[0])
            raise IvaeError(
                f"{what} holds values up to {top[bad]:.3g} (image {i + bad}); the models expect "
                f"normalised crops with |value| ≤ {limit:g}: re-crop with normalize='zscore' "
                "(ivae crop --normalize zscore)"
            )


def cpu_budget() -> int:
    """CPUs this process may use: its affinity mask and its cgroup CPU quota.

    torch starts with one thread per core it sees; in a container limited to
    2 CPUs on a larger host (cgroup ``cpu.max``) it still sees every core, and
    the extra threads only wait for each other (docs/experiments.md,
    "Held-out cards-like sets", Threads).
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        n = os.cpu_count() or 1
    for path, parse in (
        ("/sys/fs/cgroup/cpu.max", lambda t: t.split()[:2]),
        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", None),
    ):
        try:
            text = Path(path).read_text()
            if parse is None:
                period = Path(path).with_name("cpu.cfs_period_us").read_text()
                quota, period = text.strip(), period.strip()
            else:
                quota, period = parse(text)
            if quota not in ("max", "-1") and int(period) > 0:
                n = min(n, max(1, math.ceil(int(quota) / int(period))))
            break
        except (OSError, ValueError):
            continue
    return max(1, n)
