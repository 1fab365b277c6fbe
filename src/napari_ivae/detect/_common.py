"""Input checks shared by the atom and wall detectors."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from napari_ivae._errors import Cancelled, IvaeError

#: smallest image side the classical detectors accept
MIN_SIDE = 16


def _check_cancel(cancel: Callable[[], bool] | None, frame: int) -> None:
    if cancel is not None and cancel():
        raise Cancelled(f"detection cancelled before frame {frame}")


def _as_stack(image, name: str) -> tuple[np.ndarray, bool]:
    """Float32 (T, Y, X) view of a (Y, X) or (T, Y, X) image; NaNs filled; checked."""
    if image is None:
        raise IvaeError(f"{name} is required")
    arr = np.asarray(image)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise IvaeError(f"{name} must be a numeric array; got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise IvaeError(f"{name} must be real-valued; got a complex array")
    if arr.ndim not in (2, 3):
        raise IvaeError(
            f"{name} must be 2-D (Y, X) or a 3-D stack (T, Y, X); got shape {arr.shape}"
        )
    single = arr.ndim == 2
    arr = arr[None] if single else arr
    if arr.shape[0] == 0:
        raise IvaeError(f"{name} is an empty stack (shape {arr.shape})")
    if min(arr.shape[1:]) < MIN_SIDE:
        raise IvaeError(
            f"{name} is {arr.shape[1]}×{arr.shape[2]}, too small; at least "
            f"{MIN_SIDE}×{MIN_SIDE} pixels are needed"
        )
    arr = arr.astype(np.float32, copy=False)
    out = np.empty(arr.shape, dtype=np.float32)
    for t, frame in enumerate(arr):
        finite = np.isfinite(frame)
        where = f" (frame {t})" if not single else ""
        if not finite.any():
            raise IvaeError(f"{name}{where} has no finite values (all NaN or inf)")
        if not finite.all():
            frac = 1.0 - finite.mean()
            warnings.warn(
                f"{name}{where}: {frac:.1%} of the pixels are NaN/inf; filled with the median",
                UserWarning,
                stacklevel=3,
            )
            frame = np.where(finite, frame, np.median(frame[finite]))
        if not np.ptp(frame) > 0:
            raise IvaeError(
                f"{name}{where} is constant ({float(frame.flat[0]):g}); there is nothing to detect"
            )
        out[t] = frame
    return out, single
