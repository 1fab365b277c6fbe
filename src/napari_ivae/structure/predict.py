"""Predictions of a trained structure–property model, in the data's own units.

``n_samples > 0`` also returns the uncertainty: the standard deviation of
the decoded output over that many draws from the encoder's posterior
(decoder sampling, see :mod:`napari_ivae.models.structure_base`).
"""

from __future__ import annotations

import numpy as np
import torch

from napari_ivae._errors import IvaeError
from napari_ivae.structure.data import as_image, patches_at, spectra_at
from napari_ivae.structure.fit import standardize_patches, standardize_spectra

__all__ = ["predict_patches", "predict_spectra", "structure_latents"]

_BATCH = 512


def _batched(fn, x: np.ndarray, n_samples: int):
    means, stds = [], []
    for i in range(0, len(x), _BATCH):
        m, s = fn(torch.from_numpy(x[i : i + _BATCH]), n_samples)
        means.append(m.numpy())
        stds.append(None if s is None else s.numpy())
    mean = np.concatenate(means)
    return mean, (None if n_samples <= 0 else np.concatenate(stds))


def _check_samples(n_samples: int) -> int:
    if isinstance(n_samples, bool) or int(n_samples) != n_samples or n_samples < 0:
        raise IvaeError(f"n_samples must be an integer ≥ 0; got {n_samples!r}")
    return int(n_samples)


def predict_spectra(model, image, points, *, n_samples: int = 0):
    """Spectra (N, E) at ``points`` from the ``image`` patches around them.

    Parameters
    ----------
    model : Im2Spec or DualVAE
    image : array-like
        ``(H, W)`` or ``(C, H, W)`` with the model's channels.
    points : array-like or DataFrame
        ``(y, x)`` pixels.
    n_samples : int
        Posterior draws for the uncertainty (0: none).

    Returns
    -------
    mean : ndarray (N, E)
    std : ndarray (N, E) or None
    """
    c = model.config
    if not c.predicts_spectra:
        raise IvaeError(f"a {c.kind} model predicts image patches, not spectra; use --spectra")
    arr = as_image(image)
    if arr.shape[0] != c.channels:
        raise IvaeError(
            f"image has {arr.shape[0]} channel(s); the model was trained on {c.channels}"
        )
    x = standardize_patches(c, patches_at(arr, points, c.window))
    mean, std = _batched(model.predict_spectra, x, _check_samples(n_samples))
    mean = mean * c.spec_scale + np.asarray(c.spec_mean, np.float32)
    return mean, (None if std is None else std * c.spec_scale)


def predict_patches(model, si, points, *, n_samples: int = 0):
    """Image patches (N, C, w, w) at ``points`` from the spectra there, in image units.

    Parameters
    ----------
    model : Spec2Im or DualVAE
    si : array-like (H, W, E)
        Spectrum image with the model's number of energy channels.
    points : array-like or DataFrame
    n_samples : int

    Returns
    -------
    mean : ndarray (N, C, w, w)
    std : ndarray (N, C, w, w) or None
    """
    c = model.config
    if not c.predicts_patches:
        raise IvaeError(f"a {c.kind} model predicts spectra, not image patches; use --image")
    spectra = spectra_at(si, points, c.integrate)
    if spectra.shape[1] != c.n_energy:
        raise IvaeError(
            f"spectrum image has {spectra.shape[1]} energy channels; "
            f"the model was trained on {c.n_energy}"
        )
    mean, std = _batched(model.predict_patches, standardize_spectra(c, spectra), n_samples)
    scale = np.asarray(c.patch_std, np.float32)[None, :, None, None]
    mean = mean * scale + np.asarray(c.patch_mean, np.float32)[None, :, None, None]
    return mean, (None if std is None else std * scale)


@torch.no_grad()
def structure_latents(model, patches=None, spectra=None) -> dict[str, np.ndarray]:
    """Latent means of raw patches and/or spectra: ``{"z0": ..., }`` per encoder.

    ``im2spec``: ``z0 …`` from the patches; ``spec2im``: ``z0 …`` from the
    spectra; ``dual``: ``zi0 …`` (image encoder) and ``zs0 …`` (spectrum
    encoder), side by side (ideally equal: the latents are tied).
    """
    c = model.config
    out: dict[str, np.ndarray] = {}
    sides = [("i", model.patch_enc, patches, standardize_patches, model.encode_patches),
             ("s", model.spec_enc, spectra, standardize_spectra, model.encode_spectra)]  # fmt: skip
    for tag, enc, data, standardize, encode in sides:
        if enc is None or data is None:
            continue
        x = standardize(c, data)
        mu = np.concatenate(
            [
                encode(torch.from_numpy(x[i : i + _BATCH]))[0].numpy()
                for i in range(0, len(x), _BATCH)
            ]
        )
        prefix = f"z{tag}" if c.kind == "dual" else "z"
        out.update({f"{prefix}{k}": mu[:, k] for k in range(mu.shape[1])})
    return out
