"""Read (H, W, E) spectrum images: ``.npz``, ``.npy``, Gatan ``.dm3/.dm4``, HyperSpy ``.hspy``, ``.emd``.

The rosettasciio-based readers (DM, hspy, EMD) use its lazy mode for the axes
and metadata; the counts of a DM file are then memory-mapped (DM stores them as
one plain block), as are those of a ``.hspy`` / ``.emd`` whose HDF5 dataset is
contiguous and unfiltered; a chunked (compressed) one stays on disk as a
:class:`~napari_ivae.spectra._lazy.ChunkedArray`, read chunk by chunk (see
:mod:`napari_ivae.spectra._h5`).  ``.npy`` and an uncompressed ``.npz`` are
memory-mapped.  ``metadata["storage"]`` says which: ``"memmap"``, ``"chunked"``
or ``"memory"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from napari_ivae._errors import IvaeError
from napari_ivae.spectra._h5 import hspy_signals, on_disk
from napari_ivae.spectra._lazy import storage_of
from napari_ivae.spectra._si import SpectrumImage

__all__ = ["SI_SUFFIXES", "is_spectrum_image_file", "read_spectrum_image"]

#: suffixes :func:`read_spectrum_image` reads (lower case, with the dot)
SI_SUFFIXES: tuple[str, ...] = (".npz", ".npy", ".dm3", ".dm4", ".hspy", ".emd")

#: units that mark an axis as an energy (or wavelength) axis
_ENERGY_UNITS = {"ev", "kev", "mev", "nm", "channel"}
_MAX_DETAIL = 160


def read_spectrum_image(path: str | Path) -> SpectrumImage:
    """Read a spectrum image with its energy axis.

    Parameters
    ----------
    path : str or Path
        - ``.npz`` with ``data`` (H, W, E) and ``energy`` (E,), optional
          ``unit`` (default ``"eV"``) and ``name``; ``data`` is memory-mapped
          when stored uncompressed (``np.savez``, not ``np.savez_compressed``);
        - ``.npy`` (H, W, E): memory-mapped, energy = channel index, unit
          ``"channel"``;
        - Gatan ``.dm3/.dm4`` (the first spectrum image in the file),
          memory-mapped;
        - HyperSpy ``.hspy`` and ``.emd`` (through rosettasciio): memory-mapped
          when the HDF5 dataset is contiguous and unfiltered, else read chunk
          by chunk as needed (never copied whole).

    Returns
    -------
    SpectrumImage
        ``metadata`` holds ``source``, ``format``, ``storage`` (``"memmap"``:
        counts mapped from the file; ``"chunked"``: read from the file's
        chunks when needed; ``"memory"``: read into memory) and ``memmap``
        (``storage == "memmap"``).

    Raises
    ------
    IvaeError
        Naming the file and the problem: missing, unsupported suffix, no
        spectrum image in it, not 3-D, energy length mismatch, corrupt file.
    """
    p = Path(path)
    if not p.is_file():
        raise IvaeError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if suffix not in SI_SUFFIXES:
        raise IvaeError(
            f"{p}: cannot read spectrum images from '{suffix}' files; "
            f"use one of {', '.join(SI_SUFFIXES)}"
        )
    readers = {
        ".npz": _read_npz,
        ".npy": _read_npy,
        ".dm3": _read_dm,
        ".dm4": _read_dm,
        ".hspy": _read_hspy,
        ".emd": _read_emd,
    }
    try:
        return readers[suffix](p)
    except IvaeError:
        raise
    except Exception as err:  # a library's own error on a corrupt file: one sentence
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise IvaeError(
            f"{p}: cannot read it as a spectrum image ({detail[:_MAX_DETAIL]})"
        ) from err


def _meta(p: Path, fmt: str, data: Any, **extra: Any) -> dict[str, Any]:
    storage = storage_of(data)
    return {"source": str(p), "format": fmt, "storage": storage, "memmap": storage == "memmap",
            **extra}  # fmt: skip


def _read_npz(p: Path) -> SpectrumImage:
    with np.load(p, allow_pickle=False) as z:
        missing = [k for k in ("data", "energy") if k not in z.files]
        if missing:
            raise IvaeError(
                f"{p}: a spectrum-image .npz needs the arrays 'data' and 'energy'; "
                f"missing {', '.join(repr(k) for k in missing)} (has {', '.join(z.files) or 'none'})"
            )
        energy = z["energy"]
        data = _npz_memmap(p, "data")
        data = z["data"] if data is None else data
        unit = str(z["unit"]) if "unit" in z.files else "eV"
        name = str(z["name"]) if "name" in z.files else p.stem
    return SpectrumImage(data, energy, unit, name, _meta(p, "NumPy .npz", data))


def _npz_memmap(p: Path, key: str) -> np.memmap | None:
    """Array ``key`` of an uncompressed ``.npz`` (``np.savez``) as a read-only memmap, or None."""
    import struct
    import zipfile

    try:
        with zipfile.ZipFile(p) as zf:
            info = zf.getinfo(f"{key}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            return None  # np.savez_compressed: read into memory
        with open(p, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(30)  # the zip local file header, then name and extra field
            if local[:4] != b"PK\x03\x04":
                return None
            n_name, n_extra = struct.unpack("<HH", local[26:30])
            f.seek(info.header_offset + 30 + n_name + n_extra)
            version = np.lib.format.read_magic(f)
            read_header = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(version)
            if read_header is None:
                return None
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
        if fortran or dtype.hasobject or len(shape) != 3:
            return None
        return np.memmap(p, dtype=dtype, mode="r", offset=offset, shape=shape, order="C")
    except (KeyError, OSError, ValueError, zipfile.BadZipFile, struct.error):
        return None


def _read_npy(p: Path) -> SpectrumImage:
    data = np.load(p, mmap_mode="r", allow_pickle=False)
    if data.ndim != 3:
        raise IvaeError(f"{p}: a spectrum image must be 3-D (H, W, E); got shape {data.shape}")
    energy = np.arange(data.shape[2], dtype=np.float64)
    return SpectrumImage(data, energy, "channel", p.stem, _meta(p, "NumPy .npy", data))


def _energy_of(axis: dict) -> np.ndarray:
    if axis.get("axis") is not None:
        return np.asarray(axis["axis"], dtype=np.float64)
    n = int(axis["size"])
    return float(axis.get("offset", 0.0)) + float(axis.get("scale", 1.0)) * np.arange(n)


def _unit(axis: dict) -> str:
    unit = str(axis.get("units") or "").strip()
    return "" if unit in ("<undefined>", "<auto>", "None") else unit


def _split_axes(sig: dict) -> tuple[int, list[dict]] | None:
    """(energy axis index in the array, [y axis, x axis]) of a 3-D signal, or None."""
    if getattr(sig["data"], "ndim", 0) != 3:
        return None
    axes = sorted(sig["axes"], key=lambda a: a.get("index_in_array", 0))
    nav = [a.get("navigate", False) for a in axes]
    signal_type = str((sig.get("metadata", {}).get("Signal", {}) or {}).get("signal_type", ""))
    if nav.count(False) == 1:  # HyperSpy layout: (Y, X | E)
        e = nav.index(False)
    elif nav.count(True) == 1:  # DM spectrum image before to_signal1D: (E | Y, X)
        e = nav.index(True)
        if not (signal_type or _unit(axes[e]).lower() in _ENERGY_UNITS):
            return None  # an image stack, not a spectrum image
    else:  # e.g. NCEM EMD keeps no navigate flags: the one axis with an energy unit
        energy_like = [i for i, a in enumerate(axes) if _unit(a).lower() in _ENERGY_UNITS - {"nm"}]
        if len(energy_like) != 1:
            return None
        e = energy_like[0]
    return e, [a for i, a in enumerate(axes) if i != e]


def _to_si(p: Path, sig: dict, data: Any, e: int, fmt: str) -> SpectrumImage:
    axes = sorted(sig["axes"], key=lambda a: a.get("index_in_array", 0))
    eaxis = axes[e]
    yx = [a for i, a in enumerate(axes) if i != e]
    if e != 2:
        data = np.moveaxis(data, e, -1)  # a view: a memmap stays a memmap
    title = (sig.get("metadata", {}).get("General", {}) or {}).get("title") or p.stem
    signal_type = (sig.get("metadata", {}).get("Signal", {}) or {}).get("signal_type", "")
    extra = {
        "signal_type": signal_type,
        "pixel_size": (float(yx[0].get("scale", 1.0)), float(yx[1].get("scale", 1.0))),
        "pixel_unit": _unit(yx[1]) or None,
    }
    unit = _unit(eaxis) or "channel"
    return SpectrumImage(data, _energy_of(eaxis), unit, str(title), _meta(p, fmt, data, **extra))


def _first_si(p: Path, signals: list[dict]) -> tuple[dict, int]:
    for sig in signals:
        split = _split_axes(sig)
        if split is not None:
            return sig, split[0]
    shapes = ", ".join(str(tuple(s["data"].shape)) for s in signals) or "none"
    raise IvaeError(
        f"{p}: holds no spectrum image (3-D data with one energy axis); signal shapes: {shapes}"
    )


def _read_dm(p: Path) -> SpectrumImage:
    from rsciio.digitalmicrograph import file_reader

    signals = file_reader(str(p), lazy=True)
    sig, e = _first_si(p, signals)
    k = next(i for i, s in enumerate(signals) if s is sig)
    data = _dm_memmap(p, k, tuple(sig["data"].shape))
    if data is None:
        data = np.asarray(sig["data"])
    return _to_si(p, sig, data, e, "Gatan DigitalMicrograph")


def _dm_memmap(p: Path, k: int, shape: tuple[int, ...]) -> np.memmap | None:
    """Signal ``k`` of a DM file as a read-only memmap, or None when it is not one plain block."""
    try:
        from rsciio.digitalmicrograph._api import DigitalMicrographReader, ImageObject

        with open(p, "rb") as f:
            dm = DigitalMicrographReader(f)
            dm.parse_file()
            image = ImageObject(dm.get_image_dictionaries()[k], f, order="C")
            if image.imdict.ImageData.DataType in (5, 8, 23, 27, 28):  # complex / RGB
                return None
            offset = int(image.imdict.ImageData.Data.offset)
            dtype = np.dtype(image.dtype)
            if tuple(image.shape) != shape:
                return None
        return np.memmap(p, dtype=dtype, mode="r", offset=offset, shape=shape, order="C")
    except Exception:  # private API changed: read through the public one instead
        return None


def _read_hspy(p: Path) -> SpectrumImage:
    signals = hspy_signals(str(p))
    sig, e = _first_si(p, signals)
    return _to_si(p, sig, on_disk(sig["data"]), e, "HyperSpy .hspy")


def _read_emd(p: Path) -> SpectrumImage:
    from rsciio.emd import file_reader

    signals = file_reader(str(p), lazy=True)
    sig, e = _first_si(p, signals)
    return _to_si(p, sig, on_disk(sig["data"]), e, "EMD")


def is_spectrum_image_file(path: str | Path) -> bool:
    """Whether ``path`` holds a spectrum image (read cheaply: no counts are loaded).

    ``.npz`` with the arrays ``data`` and ``energy``; ``.hspy``, ``.emd`` and
    ``.dm3/.dm4`` with a 3-D signal of one energy axis.  A ``.npy`` is an image
    stack unless read explicitly with :func:`read_spectrum_image`, so ``False``.
    Unreadable files give ``False`` (the image reader then says what is wrong).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if not p.is_file() or suffix not in SI_SUFFIXES or suffix == ".npy":
        return False
    try:
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                return {"data", "energy"} <= set(z.files)
        module = {".dm3": "digitalmicrograph", ".dm4": "digitalmicrograph"}.get(suffix, suffix[1:])
        import importlib

        reader = importlib.import_module(f"rsciio.{module}").file_reader
        signals = hspy_signals(str(p)) if suffix == ".hspy" else reader(str(p), lazy=True)
        return any(_split_axes(sig) is not None for sig in signals)
    except Exception:  # not ours to judge here
        return False
