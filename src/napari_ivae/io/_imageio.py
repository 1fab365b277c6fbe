"""Common pictures (PNG, JPEG, BMP; 8- and 16-bit) through imageio."""

from __future__ import annotations

from pathlib import Path

from napari_ivae.io import ImageLayer
from napari_ivae.io._names import colormap_for, role_for
from napari_ivae.io._tiff import _rgb

__all__ = ["read_picture"]


def read_picture(path: Path) -> list[ImageLayer]:
    """Read a PNG/JPEG/BMP picture; uncalibrated (scale 1, unit None).

    Gray pictures give one layer; RGB(A) pictures with three identical colour
    planes (gray saved as colour) give one layer, others one layer per colour
    (``Red``, ``Green``, ``Blue``; alpha dropped).  Gray + alpha keeps the gray.
    """
    import imageio.v3 as iio

    # Our own handle, closed even when the plugin fails on a corrupt file (imageio's
    # own would be left to the garbage collector: a ResourceWarning).
    with open(path, "rb") as fh:
        arr = iio.imread(fh, extension=Path(path).suffix.lower() or None)
    stem = Path(path).stem
    if arr.ndim == 3 and arr.shape[-1] in (2, 3, 4):
        planes = [arr[..., c] for c in range(arr.shape[-1])]
        if arr.shape[-1] == 2:  # gray + alpha
            planes, names = planes[:1], []
        else:
            planes, names = _rgb(planes)
    else:
        planes, names = [arr], []
    layers = []
    for i, data in enumerate(planes):
        name = names[i] if names else stem
        role = role_for(name)
        meta = {"label": name, "channel": i, "bit_depth": data.dtype.itemsize * 8}
        layers.append(
            ImageLayer(
                data, name, (1.0, 1.0), None, "yx", role, colormap_for(role), str(path), meta
            )
        )
    return layers
