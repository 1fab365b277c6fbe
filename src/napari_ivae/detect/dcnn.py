"""DCNN detectors: a small U-Net predicting atom heatmaps and domain-wall probability.

The networks are trained only on the project's own simulations by
``scripts/train_dcnn.py`` and shipped in ``detect/weights/{atoms,walls}.pt``
as a plain ``state_dict`` plus a small dict of config values, loaded with
``torch.load(..., weights_only=True)``.  torch is imported only inside functions.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from napari_ivae._errors import IvaeError, check_choice

WEIGHTS_DIR = Path(__file__).parent / "weights"
MIN_SIZE = 32  # smallest image side accepted (about the network's field of view)
TILE = 768  # inference tile side (px); memory stays bounded whatever the image size
TASKS = ("atoms", "walls")
PHASE_UNITS = ("auto", "deg", "rad")


# --------------------------------------------------------------------------- input preparation
# These numpy-only functions are shared with scripts/train_dcnn.py so that training and
# inference see identically prepared inputs.


def check_image(image, name: str = "image") -> np.ndarray:
    """Return ``image`` as float32 (Y, X), NaNs filled; raise IvaeError on unusable input."""
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise IvaeError(f"{name} must be a 2-D (Y, X) array; got shape {arr.shape}")
    if min(arr.shape) < MIN_SIZE:
        raise IvaeError(
            f"{name} is {arr.shape[0]}×{arr.shape[1]}, smaller than the DCNN's minimum "
            f"{MIN_SIZE}×{MIN_SIZE}"
        )
    arr = arr.astype(np.float32)
    finite = np.isfinite(arr)
    if not finite.any():
        raise IvaeError(f"{name} has no finite values (all NaN or inf)")
    if not finite.all():
        arr = np.where(finite, arr, np.median(arr[finite])).astype(np.float32)
    if np.ptp(arr) == 0:
        raise IvaeError(f"{name} is constant ({arr.flat[0]}); there is nothing to detect")
    return arr


def normalize(image: np.ndarray) -> np.ndarray:
    """Percentile-scale to about [0, 1] (0.5th → 0, 99.5th → 1), clipped to [-0.5, 1.5]."""
    lo, hi = np.percentile(image, [0.5, 99.5])
    if hi <= lo:
        lo, hi = float(image.min()), float(image.max())
    return np.clip((image - lo) / (hi - lo), -0.5, 1.5).astype(np.float32)


def phase_to_radians(phase: np.ndarray, units: str = "auto") -> np.ndarray:
    """Convert phase to radians; ``units="auto"`` calls a span over 2π+0.5 degrees."""
    check_choice("phase_units", units, PHASE_UNITS)
    if units == "auto":
        units = "deg" if float(np.ptp(phase)) > 2 * np.pi + 0.5 else "rad"
    return np.deg2rad(phase) if units == "deg" else phase


def wall_inputs(phase: np.ndarray | None, amplitude: np.ndarray | None) -> np.ndarray:
    """Stack the wall network's 5 input channels from phase (radians) and amplitude.

    Channels: cos ψ, sin ψ, normalised amplitude, has-phase flag, has-amplitude flag,
    where ψ is the phase minus its global domain axis (half the angle of the mean of
    exp(2iφ)), so the two 180° domains sit near cos ψ = ±1 whatever the phase offset.
    A missing channel is zeros with its flag 0.
    """
    ref = phase if phase is not None else amplitude
    out = np.zeros((5, *ref.shape), np.float32)
    if phase is not None:
        sub = phase[::4, ::4].astype(np.float64)  # a subsample is plenty for one angle
        axis = 0.5 * np.angle(np.mean(np.exp(2j * sub)))
        out[0], out[1], out[3] = np.cos(phase - axis), np.sin(phase - axis), 1.0
    if amplitude is not None:
        out[2], out[4] = normalize(amplitude), 1.0
    return out


# --------------------------------------------------------------------------- network


@functools.lru_cache(maxsize=8)
def _load(task: str, device: str, path: str):
    import torch

    from napari_ivae.detect._unet import UNet, fuse_batchnorm, pick_device

    blob = torch.load(path, map_location="cpu", weights_only=True)
    cfg = dict(blob["config"])
    net = UNet(cfg["in_channels"], cfg["out_channels"], cfg["base"], cfg["depth"])
    net.load_state_dict(
        {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    )
    dev = pick_device(device)
    net = fuse_batchnorm(net.eval()).to(dev)
    return net, cfg, dev


def _check_device(device: str) -> None:
    import torch

    kind = str(device).split(":")[0]
    check_choice("device", kind, ("auto", "cpu", "cuda", "mps"))
    mps = getattr(torch.backends, "mps", None)
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": mps is not None and mps.is_available(),
    }
    if not available.get(kind, True):
        raise IvaeError(f"device={device!r} is not available on this machine; use 'auto' or 'cpu'")


def load_network(task: Literal["atoms", "walls"], *, device: str = "auto", path=None):
    """Load a shipped U-Net (cached per process).

    Parameters
    ----------
    task : {"atoms", "walls"}
        Which network.
    device : str
        "auto" (cuda, then mps, then cpu) or a torch device string.
    path : path-like, optional
        Weights file to use instead of the shipped ``detect/weights/{task}.pt``.

    Returns
    -------
    net : torch.nn.Module
        The network in eval mode, on ``torch_device``, BatchNorm folded.
    config : dict
        The config values stored with the weights (ints, floats, strings).
    torch_device : torch.device
    """
    check_choice("task", task, TASKS)
    _check_device(device)
    path = Path(path) if path is not None else WEIGHTS_DIR / f"{task}.pt"
    if not path.is_file():
        raise IvaeError(f"DCNN weights for task={task!r} not found at {path}")
    return _load(task, str(device), str(path.resolve()))


def _predict(task: str, x: np.ndarray, device: str, path=None) -> np.ndarray:
    from napari_ivae.detect._unet import predict_tiled

    net, cfg, dev = load_network(task, device=device, path=path)
    batch = 1 if dev.type == "cpu" else 4
    return predict_tiled(net, x, device=dev, tile=TILE, margin=cfg["margin"], batch=batch)


# --------------------------------------------------------------------------- atoms


def _scale_factor(image: np.ndarray, spacing: float | None, cfg: dict) -> float:
    """Zoom factor bringing the atom spacing into the training range (1.0 if inside)."""
    if spacing is None:
        try:
            from napari_ivae.detect.spacing import estimate_spacing
        except ImportError:
            return 1.0
        try:
            spacing = float(estimate_spacing(image))
        except IvaeError:  # no clear lattice period: run at the native scale
            return 1.0
    if not np.isfinite(spacing) or spacing <= 0:
        raise IvaeError(f"spacing={spacing!r} is not a positive number of pixels")
    lo, hi = cfg["spacing_min"], cfg["spacing_max"]
    target = min(max(spacing, lo * 1.1), hi * 0.9)
    return 1.0 if lo <= spacing <= hi else target / spacing


def _zoom(image: np.ndarray, factor: float) -> np.ndarray:
    from skimage.transform import rescale

    return rescale(image, factor, order=1, anti_aliasing=factor < 1, preserve_range=True).astype(
        np.float32
    )


def atom_heatmap(image2d, *, spacing: float | None = None, device: str = "auto") -> np.ndarray:
    """Atom-column heatmap (float32 (Y, X), about 1 at column centres, 0 elsewhere).

    Parameters
    ----------
    image2d : array (Y, X)
        STEM image, bright columns (HAADF-like).
    spacing : float, optional
        Atom (nearest-neighbour) spacing in pixels; used to rescale the image into
        the network's training range when it lies outside it.  Estimated with
        ``napari_ivae.detect.spacing.estimate_spacing`` when available and not given.
    device : str
        "auto", "cpu", "cuda", "mps".
    """
    img = check_image(image2d)
    heat, factor = _heatmap_scaled(img, spacing, device)
    if factor != 1.0:
        from skimage.transform import resize

        heat = resize(heat, img.shape, order=1, preserve_range=True).astype(np.float32)
    return heat


def _heatmap_scaled(img: np.ndarray, spacing, device: str, path=None):
    _, cfg, _ = load_network("atoms", device=device, path=path)
    factor = _scale_factor(img, spacing, cfg)
    work = _zoom(img, factor) if factor != 1.0 else img
    return _predict("atoms", normalize(work)[None], device, path), factor


def local_maxima(heat: np.ndarray, threshold: float) -> np.ndarray:
    """(N, 2) int maxima of ``heat`` over 5×5 neighbourhoods above ``threshold``.

    Equivalent to ``skimage.feature.peak_local_max(min_distance=2)`` but several
    times faster on large maps; a plateau of equal maxima gives one peak.
    """
    mask = (heat > threshold) & (heat == ndi.maximum_filter(heat, size=5, mode="nearest"))
    peaks = np.argwhere(mask)
    labels, n = ndi.label(mask, structure=np.ones((3, 3)))
    if n < len(peaks):  # plateaus: keep the first pixel of each connected group
        _, first = np.unique(labels[mask], return_index=True)
        peaks = peaks[np.sort(first)]
    return peaks


def subpixel_peaks(heat: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Refine integer maxima of a Gaussian-like map by a 3-point log-parabola per axis."""
    h = np.log(np.maximum(np.pad(heat, 1, mode="edge"), 1e-6))
    y, x = peaks[:, 0] + 1, peaks[:, 1] + 1
    out = peaks.astype(np.float64)
    for axis, (dy, dx) in enumerate(((1, 0), (0, 1))):
        lm, c, lp = h[y - dy, x - dx], h[y, x], h[y + dy, x + dx]
        den = lm - 2 * c + lp
        off = np.where(den < 0, 0.5 * (lm - lp) / np.where(den < 0, den, -1), 0.0)
        out[:, axis] += np.clip(off, -0.5, 0.5)
    return out


def integrated_intensity(image: np.ndarray, yx: np.ndarray, radius: float) -> np.ndarray:
    """Sum of ``image`` over a disc of ``radius`` px around each (y, x) (edge-padded)."""
    r = max(1, round(radius))
    oy, ox = np.mgrid[-r : r + 1, -r : r + 1]
    inside = oy**2 + ox**2 <= radius**2 + 0.25
    oy, ox = oy[inside], ox[inside]
    padded = np.pad(image, r, mode="edge")
    iy = np.rint(yx[:, 0]).astype(int)[:, None] + oy + r
    ix = np.rint(yx[:, 1]).astype(int)[:, None] + ox + r
    iy = np.clip(iy, 0, padded.shape[0] - 1)
    ix = np.clip(ix, 0, padded.shape[1] - 1)
    return padded[iy, ix].astype(np.float64).sum(axis=1)


def detect_atoms_dcnn(
    image2d,
    *,
    spacing: float | None = None,
    threshold: float = 0.5,
    device: str = "auto",
    weights=None,
) -> pd.DataFrame:
    """Detect atom columns with the atoms U-Net.

    Parameters
    ----------
    image2d : array (Y, X)
        STEM image with bright columns.
    spacing : float, optional
        Nearest-neighbour atom spacing in pixels (see :func:`atom_heatmap`).
    threshold : float
        Minimum heatmap value of a detected maximum, in (0, 1).
    device : str
        "auto", "cpu", "cuda", "mps".
    weights : path-like, optional
        Weights file other than the shipped one.

    Returns
    -------
    pandas.DataFrame
        Columns ``y, x`` (sub-pixel: the heatmap maximum, refined by a Gaussian fit
        on the raw image with :func:`napari_ivae.detect.atoms.refine_positions`),
        ``score`` (heatmap peak value) and ``intensity`` (background-subtracted raw
        image summed over a disc of a third of the median neighbour distance).
    """
    if not 0 < threshold < 1:
        raise IvaeError(f"threshold={threshold!r} is out of range; expected 0 < threshold < 1")
    img = check_image(image2d)
    heat, factor = _heatmap_scaled(img, spacing, device, weights)
    peaks = local_maxima(heat, threshold)
    cols = ["y", "x", "score", "intensity"]
    if len(peaks) == 0:
        return pd.DataFrame({c: np.zeros(0) for c in cols})
    yx = subpixel_peaks(heat, peaks)
    score = heat[peaks[:, 0], peaks[:, 1]].astype(np.float64)
    if factor != 1.0:  # pixel-centre convention of skimage.transform.rescale
        yx = (yx + 0.5) / factor - 0.5
    yx = np.clip(yx, 0, np.array(img.shape) - 1.0)
    radius = 2.0
    if len(yx) > 1:
        from scipy.spatial import cKDTree

        d, _ = cKDTree(yx).query(yx, k=2)
        radius = max(1.0, float(np.median(d[:, 1])) / 3)
    try:  # the classical finder's raw-image Gaussian fit and background-subtracted sum
        from napari_ivae.detect.atoms import integrated_intensity as _integrate
        from napari_ivae.detect.atoms import refine_positions
    except ImportError:
        intensity = integrated_intensity(img, yx, radius)
    else:
        yx = refine_positions(img, yx, radius=radius)
        intensity = _integrate(img, yx, radius=radius)
    return pd.DataFrame({"y": yx[:, 0], "x": yx[:, 1], "score": score, "intensity": intensity})


# --------------------------------------------------------------------------- walls


def wall_probability(
    phase2d=None,
    amplitude2d=None,
    *,
    phase_units: Literal["auto", "deg", "rad"] = "auto",
    device: str = "auto",
    weights=None,
) -> np.ndarray:
    """Probability (float32 (Y, X), 0–1) that each pixel lies on a ferroelectric domain wall.

    Parameters
    ----------
    phase2d : array (Y, X), optional
        PFM phase; wrapped, offset or drifting phase is fine.
    amplitude2d : array (Y, X), optional
        PFM amplitude (walls are its dark lines).  At least one of the two is needed.
    phase_units : {"auto", "deg", "rad"}
        Units of ``phase2d``; "auto" calls a span over 2π + 0.5 degrees.
    device : str
        "auto", "cpu", "cuda", "mps".
    weights : path-like, optional
        Weights file other than the shipped one.
    """
    check_choice("phase_units", phase_units, PHASE_UNITS)
    if phase2d is None and amplitude2d is None:
        raise IvaeError("wall_probability needs phase2d or amplitude2d; both are None")
    phase = None if phase2d is None else check_image(phase2d, "phase")
    amp = None if amplitude2d is None else check_image(amplitude2d, "amplitude")
    if phase is not None and amp is not None and phase.shape != amp.shape:
        raise IvaeError(f"phase {phase.shape} and amplitude {amp.shape} shapes differ")
    if phase is not None:
        phase = phase_to_radians(phase, phase_units)
    return _predict("walls", wall_inputs(phase, amp), device, weights)
