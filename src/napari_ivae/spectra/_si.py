"""The :class:`SpectrumImage`: an (H, W, E) spectrum image with its energy axis."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from napari_ivae._errors import IvaeError
from napari_ivae.spectra._lazy import row_blocks

__all__ = ["SpectrumImage"]


@dataclass(eq=False)
class SpectrumImage:
    """A spectrum image: one spectrum per scan pixel, with its energy axis.

    Attributes
    ----------
    data : numpy.ndarray, numpy.memmap or ChunkedArray
        ``(H, W, E)`` counts (float32 preferred).  Large files stay on disk,
        memory-mapped or (chunked, compressed HDF5) read chunk by chunk:
        nothing here copies the whole array.
    energy : numpy.ndarray
        ``(E,)`` float64, strictly increasing (e.g. energy loss in eV, or the
        channel index when the file has no calibration).
    unit : str
        Unit of :attr:`energy` (``"eV"``, ``"channel"`` ...).
    name : str
        Readable name (the file stem or the signal title).
    metadata : dict
        Everything else: ``source`` (path), ``format``, ``storage``
        (``"memmap"``, ``"chunked"`` or ``"memory"``), ``memmap`` (bool),
        ``pixel_size`` / ``pixel_unit`` when the file has them, ...

    Raises
    ------
    IvaeError
        When ``data`` is not 3-D, ``energy`` is not 1-D of length ``E`` or is
        not strictly increasing.
    """

    data: Any
    energy: np.ndarray
    unit: str = "eV"
    name: str = "spectrum image"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        what = self.metadata.get("source") or self.name
        if getattr(self.data, "ndim", None) != 3:
            shape = getattr(self.data, "shape", None)
            raise IvaeError(f"{what}: a spectrum image must be 3-D (H, W, E); got shape {shape}")
        energy = np.asarray(self.energy, dtype=np.float64)
        if energy.ndim != 1 or energy.shape[0] != self.data.shape[2]:
            raise IvaeError(
                f"{what}: the energy axis has shape {energy.shape}, expected "
                f"({self.data.shape[2]},) to match the last axis of data {tuple(self.data.shape)}"
            )
        if not np.all(np.isfinite(energy)):
            raise IvaeError(f"{what}: the energy axis has NaN/inf values")
        if energy.size > 1 and not np.all(np.diff(energy) > 0):
            raise IvaeError(f"{what}: the energy axis must be strictly increasing")
        self.energy = energy
        self.unit = str(self.unit)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, E)``."""
        return tuple(int(n) for n in self.data.shape)  # type: ignore[return-value]

    @property
    def n_energy(self) -> int:
        """Number of energy channels ``E``."""
        return int(self.data.shape[2])

    @property
    def dispersion(self) -> float:
        """Mean energy step (``unit`` per channel); 0 for a single channel."""
        return float((self.energy[-1] - self.energy[0]) / max(self.n_energy - 1, 1))

    def spectrum(self, y: int, x: int) -> np.ndarray:
        """The spectrum at scan pixel ``(y, x)``.

        Parameters
        ----------
        y, x : int
            Row and column, ``0 <= y < H``, ``0 <= x < W``.

        Returns
        -------
        numpy.ndarray
            ``(E,)`` float64 (a copy; reads only this pixel from a memmap).
        """
        h, w, _ = self.shape
        y, x = int(y), int(x)
        if not (0 <= y < h and 0 <= x < w):
            raise IvaeError(f"pixel (y, x)=({y}, {x}) is outside the scan ({h}×{w})")
        return np.array(self.data[y, x], dtype=np.float64)

    def mean_spectrum(self, mask: np.ndarray) -> np.ndarray:
        """Mean spectrum over the pixels where ``mask`` is true.

        Parameters
        ----------
        mask : numpy.ndarray
            ``(H, W)`` bool, at least one pixel true.

        Returns
        -------
        numpy.ndarray
            ``(E,)`` float64.  Only the selected rows are read from a memmap.
        """
        mask = np.asarray(mask)
        if mask.shape != self.shape[:2]:
            raise IvaeError(
                f"mask has shape {mask.shape}, expected the scan shape {self.shape[:2]}"
            )
        mask = mask.astype(bool, copy=False)
        n = int(mask.sum())
        if n == 0:
            raise IvaeError("mask selects no pixel; select at least one")
        total = np.zeros(self.n_energy, dtype=np.float64)
        if not isinstance(self.data, np.ndarray):  # a chunked file: each chunk read once
            for r0, r1 in row_blocks(self.data):
                if mask[r0:r1].any():
                    total += np.sum(self.data[r0:r1][mask[r0:r1]], axis=0, dtype=np.float64)
            return total / n
        for i in np.flatnonzero(mask.any(axis=1)):  # row by row: bounded memory
            total += np.sum(self.data[i][mask[i]], axis=0, dtype=np.float64)
        return total / n

    def band_indices(self, e0: float, e1: float) -> tuple[int, int]:
        """Channel slice ``[i0, i1)`` of the energies in ``[e0, e1]``.

        Parameters
        ----------
        e0, e1 : float
            Band limits in :attr:`unit` (either order).

        Returns
        -------
        (int, int)
            ``energy[i0:i1]`` are the channels with ``e0 <= energy <= e1``.

        Raises
        ------
        IvaeError
            When no channel falls in the band.
        """
        lo, hi = sorted((float(e0), float(e1)))
        i0 = int(np.searchsorted(self.energy, lo, side="left"))
        i1 = int(np.searchsorted(self.energy, hi, side="right"))
        if i1 <= i0:
            raise IvaeError(
                f"energy band [{lo:g}, {hi:g}] {self.unit} holds no channel; the axis spans "
                f"{self.energy[0]:g} … {self.energy[-1]:g} {self.unit}"
            )
        return i0, i1

    def band_map(self, e0: float, e1: float) -> np.ndarray:
        """Counts summed over the channels with energy in ``[e0, e1]``.

        Parameters
        ----------
        e0, e1 : float
            Band limits in :attr:`unit` (either order).

        Returns
        -------
        numpy.ndarray
            ``(H, W)`` float32, ``data[:, :, i0:i1].sum(-1)`` with
            ``(i0, i1) = band_indices(e0, e1)`` (a sum of counts, not multiplied
            by the channel width), accumulated in float32 (float64 for float64
            data).  Only that slice of the last axis is read.
        """
        i0, i1 = self.band_indices(e0, e1)
        h, w, e = self.shape
        acc = np.float64 if self.data.dtype == np.float64 else np.float32
        if not isinstance(self.data, np.ndarray):  # a chunked file: row block by row block
            out = np.empty((h, w), dtype=np.float32)
            for r0, r1 in row_blocks(self.data):
                out[r0:r1] = np.sum(self.data[r0:r1, :, i0:i1], axis=2, dtype=acc)
            return out
        s0, s1, s2 = self.data.strides
        if not (s1 == s2 * e and s0 == s1 * w):  # energy not the fastest axis (a DM memmap)
            out64 = np.zeros((h, w), dtype=acc)
            for i in range(i0, i1):  # each channel is one (strided) image
                out64 += self.data[:, :, i]
            return out64.astype(np.float32, copy=False)
        flat = self.data.reshape(h * w, e)  # a view (also of a memmap)
        ones = np.ones(i1 - i0, dtype=acc)
        out = np.empty(h * w, dtype=np.float32)
        # a matrix-vector product over the band's columns (BLAS, ~3× numpy's sum on a
        # strided slice); other dtypes (uint16 counts ...) converted in ~64 MB row blocks
        step = h * w if flat.dtype == acc else max(1, (64 * 2**20) // (4 * (i1 - i0)))
        for r0 in range(0, h * w, step):
            block = flat[r0 : r0 + step, i0:i1]
            out[r0 : r0 + step] = block.astype(acc, copy=False) @ ones
        return out.reshape(h, w)

    def total_map(self) -> np.ndarray:
        """``band_map`` over the whole energy range, ``(H, W)`` float32."""
        return self.band_map(self.energy[0], self.energy[-1])
