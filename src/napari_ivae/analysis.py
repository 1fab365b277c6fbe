"""Latent outputs of a trained model: ``encode``, ``decode``, ``manifold``, ``traversal``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from napari_ivae._errors import IvaeError, check_range
from napari_ivae._limits import check_values

__all__ = ["decode", "encode", "manifold", "traversal"]


def _px_per_unit(model) -> float:
    """Pixels per grid unit (the grid spans [-1, 1] over ``size`` pixels)."""
    return (model.config.size - 1) / 2.0


def shift_to_pixels(model, shift_units) -> np.ndarray:
    """Decoder shift Δ (grid units, (dy, dx)) -> object displacement (pixels).

    The decoder evaluates the template at ``R(γ) (r - Δ)``, so the template's
    centre appears at ``r = Δ`` whatever the angle.
    """
    return np.asarray(shift_units, np.float64) * _px_per_unit(model)


def pixels_to_shift(model, d_pixels) -> np.ndarray:
    """Inverse of :func:`shift_to_pixels`."""
    return np.asarray(d_pixels, np.float64) / _px_per_unit(model)


def _images(model, data) -> np.ndarray:
    images = getattr(data, "images", data)
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[:, None]
    c = model.config
    if arr.ndim != 4 or arr.shape[1:] != (c.in_channels, c.size, c.size):
        raise IvaeError(
            f"the model expects images of shape (N, {c.in_channels}, {c.size}, {c.size}), "
            f"got {arr.shape}"
        )
    check_values(arr)  # NaN / inf and values far beyond normalised crops, as fit refuses them
    return arr


def _vocabulary(names) -> np.ndarray:
    """Label names as an array: integers when every name is one, else strings."""
    try:
        return np.array([int(v) for v in names], dtype=np.int64)
    except ValueError:
        return np.array(names, dtype=object)


def _check_weights(model) -> None:
    """Refuse a model whose weights hold NaN or inf (its outputs would be NaN)."""
    for name, value in model.state_dict().items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise IvaeError(
                f"the model's weights hold NaN or inf values (in {name!r}); "
                "its training diverged or its file is damaged"
            )


def _check_output(values: np.ndarray, what: str) -> None:
    if not np.isfinite(values).all():
        raise IvaeError(
            f"{what} gave NaN or inf values; the model does not fit these data "
            "(check that they are normalised like the training crops)"
        )


def _conditions(model, n: int, labels, conditions) -> np.ndarray | None:
    """(n, n_cond) condition vectors of a conditional model; None for the other kinds."""
    if getattr(model.config, "classes", ()) and model.config.joint and conditions is None:
        return None  # semi-supervised kinds infer every row's class: labels are not needed
    if not getattr(model, "n_cond", 0):
        if labels is not None or conditions is not None:
            raise IvaeError(f"labels / conditions need a conditional model, this one is "
                            f"{model.config.kind}")  # fmt: skip
        return None
    from napari_ivae.models.cond_config import conditions_for

    return conditions_for(model.config, n, labels, conditions)


@torch.no_grad()
def encode(model, data, *, batch_size: int = 1024, labels=None, conditions=None) -> pd.DataFrame:
    """Posterior means and spreads, one row per image (stack order).

    Parameters
    ----------
    model : IVAE
    data : ndarray (N, C, H, W) / (N, H, W), or Stack
        A ``Stack``'s ``yx`` and ``frame`` are carried over as ``y, x, frame``.
    batch_size : int
        Images per forward pass.
    labels, conditions : optional
        Conditional kinds (``cvae``, ``crvae``): the class and the continuous
        factors of every image, as for :func:`~napari_ivae.models.cond_config.conditions_for`
        (needed: the posterior is q(z | x, class)).

    Returns
    -------
    DataFrame
        ``z1..zk``, ``z1_std..zk_std``; rotation kinds ``angle`` (radians in
        [-π, π)), ``angle_std``, ``dy``, ``dx`` (displacement of the object
        from the crop centre, pixels, rows down / columns right), and with
        ``ModelConfig.scale="free"`` ``scale`` (the object's size relative to
        the template); joint kinds ``class``
        (argmax) and ``p0..p{K-1}`` (semi-supervised kinds: ``class`` in the
        model's label vocabulary and ``p_<label>``); ``y, x, frame`` for a Stack.
    """
    check_range("batch_size", batch_size, low=1)
    arr = _images(model, data)
    _check_weights(model)
    model.eval()
    dev = next(model.parameters()).device
    cond = _conditions(model, arr.shape[0], labels, conditions)
    parts: dict[str, list[np.ndarray]] = {}
    for i in range(0, arr.shape[0], batch_size):
        xb = torch.from_numpy(np.ascontiguousarray(arr[i : i + batch_size], dtype=np.float32))
        kw = {} if cond is None else {"cond": torch.from_numpy(cond[i : i + batch_size]).to(dev)}
        p = model.posterior(xb.to(dev), **kw)
        for k, v in p.items():
            parts.setdefault(k, []).append(v.float().cpu().numpy())
    p = {k: np.concatenate(v) for k, v in parts.items()}
    for v in p.values():
        _check_output(v, "encoding")
    cols: dict[str, np.ndarray] = {}
    k = model.config.latent_dim
    for j in range(k):
        cols[f"z{j + 1}"] = p["z_mu"][:, j]
    for j in range(k):
        cols[f"z{j + 1}_std"] = np.exp(p["z_logstd"][:, j])
    if "angle" in p:
        a = p["angle"].astype(np.float64)
        cols["angle"] = (a + math.pi) % (2 * math.pi) - math.pi
        cols["angle_std"] = np.exp(p["angle_logstd"])
        d = shift_to_pixels(model, p["shift"])
        cols["dy"], cols["dx"] = d[:, 0], d[:, 1]
    if "scale" in p:
        cols["scale"] = p["scale"].astype(np.float64)
    if "logits" in p:
        logits = p["logits"].astype(np.float64)
        prob = np.exp(logits - logits.max(1, keepdims=True))
        prob /= prob.sum(1, keepdims=True)
        names = getattr(model.config, "classes", ())
        if names:  # semi-supervised kinds: the user's label vocabulary
            cols["class"] = _vocabulary(names)[prob.argmax(1)]
            for j, name in enumerate(names):
                cols[f"p_{name}"] = prob[:, j]
        else:
            cols["class"] = prob.argmax(1).astype(np.int64)
            for j in range(prob.shape[1]):
                cols[f"p{j}"] = prob[:, j]
    df = pd.DataFrame(cols)
    yx = getattr(data, "yx", None)
    if yx is not None:
        df.insert(0, "y", np.asarray(yx)[:, 0])
        df.insert(1, "x", np.asarray(yx)[:, 1])
    frame = getattr(data, "frame", None)
    if frame is not None:
        df.insert(2 if yx is not None else 0, "frame", np.asarray(frame))
    return df


@torch.no_grad()
def decode(
    model, z, angle=0.0, shift=(0.0, 0.0), cls=None, conditions=None, scale=1.0
) -> np.ndarray:
    """Images generated from latents.

    Parameters
    ----------
    model : IVAE
    z : array_like (N, k) or (k,)
        Content latents.
    angle : float or array_like (N,)
        Rotation, radians (rotation kinds; ignored otherwise).
    shift : (dy, dx) or array_like (N, 2)
        Displacement of the object from the crop centre in pixels, rows down
        and columns right (rotation kinds; ignored otherwise), as ``encode``
        reports it.
    cls : int or array_like (N,), optional
        Class (joint kinds; default 0).  Conditional kinds: the class name (or
        its position) to decode as, required when the model has classes.
    conditions : optional
        Conditional kinds: values of the continuous factors (mapping name →
        value); default their training means.
    scale : float or array_like (N,)
        Size of the object relative to the template, as ``encode`` reports it
        (models with ``scale="free"``; ignored otherwise).

    Returns
    -------
    ndarray (N, C, H, W) float32
        Expected image (Gaussian mean or Bernoulli probability).
    """
    c = model.config
    z = np.atleast_2d(np.asarray(z, dtype=np.float32))
    if z.shape[1] != c.latent_dim:
        raise IvaeError(f"z has {z.shape[1]} latent(s) per row; the model has {c.latent_dim}")
    n = z.shape[0]
    dev = next(model.parameters()).device
    zt = torch.from_numpy(z).to(dev)
    a = s = size = None
    if getattr(model, "free_scale", False):
        sz = np.broadcast_to(np.asarray(scale, np.float64), (n,)).astype(np.float32)
        if not np.all(np.isfinite(sz)) or sz.min() <= 0:
            raise IvaeError(f"scale={scale!r} must be positive")
        size = torch.as_tensor(sz).to(dev)
    if c.rotation:
        an = np.broadcast_to(np.asarray(angle, np.float64), (n,))
        sh = pixels_to_shift(model, np.broadcast_to(np.asarray(shift, np.float64), (n, 2)))
        a = torch.as_tensor(an.astype(np.float32)).to(dev)
        s = torch.as_tensor(sh.astype(np.float32)).to(dev)
    onehot = None
    if c.joint:
        if cls is not None and getattr(c, "classes", ()):  # label names → codes
            cls = [c.class_code(v) for v in np.atleast_1d(np.asarray(cls, dtype=object))]
        k = np.broadcast_to(np.asarray(0 if cls is None else cls), (n,)).astype(np.int64)
        if k.min() < 0 or k.max() >= c.n_classes:
            raise IvaeError(f"cls={cls!r} is out of range; expected 0 ≤ cls ≤ {c.n_classes - 1}")
        onehot = torch.nn.functional.one_hot(torch.from_numpy(k), c.n_classes).float().to(dev)
    elif getattr(model, "n_cond", 0):
        onehot = torch.from_numpy(_conditions(model, n, cls, conditions)).to(dev)
    _check_weights(model)
    model.eval()
    # (a registered family's decode_mean need not take a scale)
    args = (zt, a, s, onehot) if size is None else (zt, a, s, onehot, size)
    out = model.decode_mean(*args).float().cpu().numpy()
    _check_output(out, "decoding")
    return out


def _tile(imgs: np.ndarray, rows: int, cols: int) -> np.ndarray:
    _n, ch, h, w = imgs.shape
    return (
        imgs.reshape(rows, cols, ch, h, w).transpose(2, 0, 3, 1, 4).reshape(ch, rows * h, cols * w)
    )


def manifold(
    model, *, dims=(0, 1), n: int = 8, span: float = 2.0, cls=None, conditions=None
) -> np.ndarray:
    """2-D grid of decoded images over two latents (others 0, no rotation/shift).

    Column j varies ``z[dims[0]]`` from -span to span (left to right); row i
    varies ``z[dims[1]]`` from span to -span (top to bottom).  ``cls`` and
    ``conditions``: as for :func:`decode` (conditional kinds: the class's own
    latent space).

    Returns
    -------
    ndarray (C, n*H, n*W)
    """
    k = model.config.latent_dim
    d0, d1 = (int(d) for d in dims)
    if k < 2 or not (0 <= d0 < k and 0 <= d1 < k) or d0 == d1:
        raise IvaeError(
            f"dims={tuple(dims)!r} must be two different latents in 0..{k - 1}"
            + ("; the model has 1 latent, use traversal()" if k < 2 else "")
        )
    check_range("n", n, low=1)
    check_range("span", span, low=0, low_inclusive=False)
    t = np.linspace(-span, span, n, dtype=np.float32)
    z = np.zeros((n, n, k), np.float32)
    z[:, :, d0] = t[None, :]
    z[:, :, d1] = t[::-1, None]
    return _tile(decode(model, z.reshape(n * n, k), cls=cls, conditions=conditions), n, n)


def traversal(model, dim: int, *, n: int = 8, span: float = 2.0, cls=None) -> np.ndarray:
    """1-D traversal of ``z[dim]`` from -span to span (others 0).

    Returns
    -------
    ndarray (C, H, n*W)
    """
    k = model.config.latent_dim
    if not 0 <= int(dim) < k:
        raise IvaeError(f"dim={dim!r} is out of range; expected 0 ≤ dim ≤ {k - 1}")
    check_range("n", n, low=1)
    check_range("span", span, low=0, low_inclusive=False)
    z = np.zeros((n, k), np.float32)
    z[:, int(dim)] = np.linspace(-span, span, n)
    return _tile(decode(model, z, cls=cls), 1, n)
