"""Spectrum images (EELS, EDS, CL): (H, W, E) counts with their energy axis.

- :class:`SpectrumImage`: the data (memory-mapped where the file allows), the
  energy axis and its unit; spectra, mean spectra and band-integrated maps.
- :func:`read_spectrum_image`: ``.npz``, ``.npy``, ``.dm3/.dm4``, ``.hspy``, ``.emd``.
- :func:`is_spectrum_image_file`: whether a file holds a spectrum image.
- :func:`decompose`: PCA / NMF maps and component spectra (scikit-learn).

No torch, no Qt, no napari.
"""

from __future__ import annotations

from napari_ivae.spectra._decompose import METHODS, Decomposition, decompose
from napari_ivae.spectra._read import SI_SUFFIXES, read_spectrum_image
from napari_ivae.spectra._si import SpectrumImage

__all__ = [
    "METHODS",
    "SI_SUFFIXES",
    "Decomposition",
    "SpectrumImage",
    "decompose",
    "read_spectrum_image",
]
