"""Geometry of the nanoparticle simulator: motifs, their placement, the per-pixel rings."""

from __future__ import annotations

import numpy as np

__all__: list[str] = []


def _motif(kind: str, rng: np.random.Generator, radius: float, gap: float) -> tuple:
    step = 2 * radius + gap
    if kind == "isolated":
        pts, labels = np.zeros((1, 2)), ["isolated"]
    elif kind == "dimer":
        pts, labels = np.array([[0.0, 0.0], [0.0, step]]), ["dimer"] * 2
    elif kind == "chain":
        m = int(rng.integers(3, 6))
        pts, labels = np.stack([np.zeros(m), step * np.arange(m)], axis=1), ["chain"] * m
    else:  # hexagonal island of 1 or 2 rings
        rings = int(rng.integers(1, 3))
        ax = [
            (q, r)
            for q in range(-rings, rings + 1)
            for r in range(-rings, rings + 1)
            if abs(q + r) <= rings
        ]
        pts = np.array([[step * np.sqrt(3) / 2 * r, step * (q + r / 2)] for q, r in ax])
        ring = [max(abs(q), abs(r), abs(q + r)) for q, r in ax]
        labels = ["edge" if k == rings else "close-packed" for k in ring]
    theta = rng.uniform(0, np.pi)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    pts = (pts - pts.mean(axis=0)) @ rot.T
    return pts, labels


def _place(rng, shape, radius, gaps, cutoff) -> tuple[np.ndarray, list[str]]:
    h, w = shape
    centers = np.zeros((0, 2))
    labels: list[str] = []
    kinds = ["close-packed", "chain", "dimer", "isolated"]
    clearance = 2 * radius + (cutoff + 0.5) * radius
    fails, k = 0, 0
    while fails < 100:
        kind = kinds[k % len(kinds)]
        pts, lab = _motif(kind, rng, radius, gaps.get(kind, 0.0))
        pts = pts + rng.uniform([radius + 1, radius + 1], [h - radius - 2, w - radius - 2])
        inside = np.all((pts >= radius + 1) & (pts <= np.array([h, w]) - radius - 2))
        far = centers.size == 0 or np.all(
            np.linalg.norm(pts[:, None] - centers[None], axis=-1) > clearance
        )
        if inside and far:
            centers = np.concatenate([centers, pts])
            labels += lab
            fails, k = 0, k + 1
        else:
            fails += 1
            k += fails % 20 == 0  # a kind that does not fit any more: try the next
    return centers, labels


def _render(
    centers: np.ndarray,
    coupling: np.ndarray,
    shape: tuple[int, int],
    r: float,
    *,
    inside: float = 0.25,
    aloof: float = 0.5,
):
    """Pixel grids, projected thickness / r, Σ_p S_p and Σ_p c_p S_p (see nanoparticles.py).

    ``S(d)`` is the surface-mode excitation at impact parameter ``d``: ``1`` at the
    surface, ``exp(-(d - r) / (aloof r))`` outside, ``inside + (1 - inside) (d / r)²``
    within the particle.
    """
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    thick = np.zeros((h, w))
    ring_sum = np.zeros((h, w))
    ring_c = np.zeros((h, w))
    reach = int(np.ceil(r + 18 * aloof * r))  # the aloof tail is < 2e-8 beyond
    for (cy, cx), c in zip(centers, coupling):
        win = np.s_[
            max(int(cy) - reach, 0) : int(cy) + reach + 1,
            max(int(cx) - reach, 0) : int(cx) + reach + 1,
        ]
        d = np.hypot(yy[win] - cy, xx[win] - cx)
        thick[win] += np.sqrt(np.clip(r**2 - d**2, 0.0, None)) / r
        ring = np.where(
            d >= r,
            np.exp(-np.clip(d - r, 0.0, None) / (aloof * r)),
            inside + (1.0 - inside) * (d / r) ** 2,
        )
        ring_sum[win] += ring
        ring_c[win] += c * ring
    return yy, xx, thick, ring_sum, ring_c
