"""Write a decomposition folder (all at once) and a spectrum image (``.npz``, atomically)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from napari_ivae._atomic import StagedFolder, WriteError
from napari_ivae._errors import IvaeError
from napari_ivae.spectra._decompose import Decomposition

__all__ = [
    "DECOMPOSITION_FILES",
    "components_table",
    "write_decomposition",
    "write_spectrum_image",
]

#: the files of a decomposition folder
DECOMPOSITION_FILES: tuple[str, ...] = ("maps.tif", "components.csv", "decomposition.json")


def components_table(dec: Decomposition):
    """``DataFrame[energy, c0, c1, ...]``: the component spectra, one row per channel."""
    import pandas as pd

    cols = {"energy": dec.energy}
    cols.update({f"c{k}": dec.components[k] for k in range(dec.n_components)})
    return pd.DataFrame(cols)


def write_decomposition(dec: Decomposition, folder: str | os.PathLike, *, source: str = "") -> Path:
    """Write ``maps.tif``, ``components.csv`` and ``decomposition.json`` into ``folder``.

    Parameters
    ----------
    dec : Decomposition
        What :func:`~napari_ivae.spectra.decompose` returned.
    folder : path-like
        Created or replaced all at once (:class:`~napari_ivae._atomic.StagedFolder`):
        a failure leaves no half-written folder (an existing one is untouched).
    source : str
        The SI it came from (recorded in ``decomposition.json``).

    Returns
    -------
    Path
        ``folder``.

    Notes
    -----
    ``maps.tif`` is ``(K, H, W)`` float32; ``components.csv`` has the columns
    ``energy, c0, ..., c{K-1}``; ``decomposition.json`` the method, energy unit,
    scores and source.
    """
    import tifffile

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise IvaeError(f"-o {folder} is a file; expected a folder name")
    info = {
        "method": dec.method,
        "n_components": dec.n_components,
        "energy_unit": dec.unit,
        "maps_shape": list(dec.maps.shape),
        "scores": dec.scores,
        "source": source,
    }
    try:
        with StagedFolder(folder) as staged:
            tifffile.imwrite(
                staged.tmp / "maps.tif", np.ascontiguousarray(dec.maps, dtype=np.float32),
                photometric="minisblack",
            )  # fmt: skip
            components_table(dec).to_csv(staged.tmp / "components.csv", index=False)
            (staged.tmp / "decomposition.json").write_text(json.dumps(info, indent=2))
            staged.commit()
    except WriteError as err:
        raise IvaeError(f"{err}; nothing was written to {folder}") from err
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise IvaeError(f"cannot write {folder}: {reason}; nothing was written there") from err
    return folder


def write_spectrum_image(path: str | os.PathLike, si) -> Path:
    """Write a :class:`~napari_ivae.spectra.SpectrumImage` as an uncompressed ``.npz``, atomically.

    Parameters
    ----------
    path : path-like
        Destination ending in ``.npz``; :func:`~napari_ivae.spectra.read_spectrum_image`
        reads it back memory-mapped.
    si : SpectrumImage
        Written as ``data``, ``energy``, ``unit`` and ``name``.

    Returns
    -------
    Path
        ``path``.
    """
    from napari_ivae._atomic import atomic_write

    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise IvaeError(f"path {path} must end in .npz; got {path.suffix or 'no suffix'!r}")

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.savez adds no second suffix
            np.savez(fh, data=si.data, energy=si.energy, unit=si.unit, name=si.name)

    return atomic_write(path, write)
