"""The per-point table of a trained structure–property model: latents and prediction error.

What the GUI writes into a points layer's features (and what a script can
join to its own table), one row per point:

- ``im2spec`` / ``spec2im``: ``z1 …`` (the model's latent means);
- ``dual``: ``zs1 …`` (the *structure* latent, from the image patch) and
  ``zp1 …`` (the *property* latent, from the spectrum), side by side: with
  tied latents they should agree, and plotting ``zs1`` against ``zp1`` in the
  explorer shows how well;
- models that predict spectra (``im2spec``, ``dual``): ``spectrum_mse``, the
  mean squared error of the predicted spectrum against the measured one
  (:func:`spectrum_mse`), in the SI's squared units.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from napari_ivae.structure.data import as_image, as_points, as_si, patches_at, spectra_at
from napari_ivae.structure.metrics import spectrum_mse

__all__ = ["STRUCTURE_COLUMN", "structure_table"]

#: Columns :func:`structure_table` writes (replaced when a new table is joined).
STRUCTURE_COLUMN = re.compile(r"^(z\d+|zs\d+|zp\d+|spectrum_mse)$")

_RENAME = {"zi": "zs", "zs": "zp"}  # structure_latents' dual names -> structure / property


def _latent_columns(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``z0 …`` / ``zi0 … zs0 …`` (:func:`structure_latents`) as 1-based ``z1 …`` / ``zs1 … zp1 …``."""
    dual = any(name.startswith("zi") for name in raw)
    out = {}
    for name, values in raw.items():
        m = re.fullmatch(r"(z[is]?)(\d+)", name)
        prefix = _RENAME[m.group(1)] if dual else m.group(1)
        out[f"{prefix}{int(m.group(2)) + 1}"] = np.asarray(values, dtype=float)
    return out


def structure_table(model, image, si, points) -> pd.DataFrame:
    """Latents and (for spectrum predictors) ``spectrum_mse`` of every point.

    Parameters
    ----------
    model : Im2Spec, Spec2Im or DualVAE
        A trained model (:func:`~napari_ivae.structure.fit_structure` or
        :func:`~napari_ivae.structure.load_structure`).
    image : array-like
        ``(H, W)`` or ``(C, H, W)``, the scan the points are on.
    si : array-like or SpectrumImage
        ``(H, W, E)``, the same scan.
    points : array-like or DataFrame
        ``(y, x)`` pixels.

    Returns
    -------
    DataFrame
        One row per point, columns matching :data:`STRUCTURE_COLUMN`.
    """
    from napari_ivae.structure.predict import predict_spectra, structure_latents

    c = model.config
    img = as_image(image)
    as_si(si, img.shape[1:])
    pts = as_points(points, img.shape[1:])
    patches = patches_at(img, pts, c.window) if c.kind != "spec2im" else None
    spectra = spectra_at(si, pts, c.integrate)
    latents = structure_latents(model, patches=patches, spectra=spectra)
    table = pd.DataFrame(_latent_columns(latents), index=pd.RangeIndex(len(pts)))
    if c.predicts_spectra:
        pred, _ = predict_spectra(model, img, pts)
        table["spectrum_mse"] = spectrum_mse(pred, spectra)
    return table
