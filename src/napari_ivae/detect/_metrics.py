"""Accuracy measures of the detectors against ground truth (tests, benchmarks)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = ["match_points", "wall_f1"]


def match_points(pred: np.ndarray, true: np.ndarray, *, radius: float = 2.0) -> dict:
    """One-to-one matching of predicted to true points within ``radius``.

    Parameters
    ----------
    pred, true : ndarray
        (N, 2) and (M, 2) positions (y, x).
    radius : float
        Match radius in pixels.

    Returns
    -------
    dict
        ``tp, fp, fn, precision, recall, f1, rmse`` (RMSE of the matched pairs'
        Euclidean distances, pixels) and ``pairs`` ((K, 2) indices pred, true).
    """
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 2)
    true = np.asarray(true, dtype=np.float64).reshape(-1, 2)
    pairs = np.zeros((0, 2), dtype=np.int64)
    if len(pred) and len(true):
        sd = cKDTree(pred).sparse_distance_matrix(cKDTree(true), radius, output_type="coo_matrix")
        if sd.nnz:
            # greedy one-to-one assignment, closest pairs first
            order = np.argsort(sd.data, kind="stable")
            used_p = np.zeros(len(pred), dtype=bool)
            used_t = np.zeros(len(true), dtype=bool)
            out = []
            for k in order:
                i, j = sd.row[k], sd.col[k]
                if not (used_p[i] or used_t[j]):
                    used_p[i] = used_t[j] = True
                    out.append((i, j))
            pairs = np.asarray(out, dtype=np.int64).reshape(-1, 2)
    tp = len(pairs)
    fp, fn = len(pred) - tp, len(true) - tp
    precision = tp / len(pred) if len(pred) else 0.0
    recall = tp / len(true) if len(true) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    d = pred[pairs[:, 0]] - true[pairs[:, 1]] if tp else np.zeros((0, 2))
    rmse = float(np.sqrt((d**2).sum(axis=1).mean())) if tp else float("nan")
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "rmse": rmse,
        "pairs": pairs,
    }


def wall_f1(pred: np.ndarray, true: np.ndarray, *, tol: float = 2.0) -> dict:
    """Precision, recall and F1 of a wall mask with a distance tolerance.

    A predicted wall pixel counts as correct when it lies within ``tol``
    pixels of a true wall pixel, and a true wall pixel counts as found when a
    predicted one lies within ``tol`` of it.

    Parameters
    ----------
    pred, true : ndarray
        Boolean masks of the same shape (2-D or a stack).
    tol : float
        Tolerance in pixels.

    Returns
    -------
    dict
        ``precision, recall, f1``.
    """
    pred = np.asarray(pred, dtype=bool)
    true = np.asarray(true, dtype=bool)
    if pred.shape != true.shape:
        raise ValueError(f"shapes differ: {pred.shape} vs {true.shape}")
    if pred.ndim == 2:
        pred, true = pred[None], true[None]
    tp_p = n_p = tp_t = n_t = 0
    for p, t in zip(pred, true):
        dt = ndimage.distance_transform_edt(~t) if t.any() else np.full(t.shape, np.inf)
        dp = ndimage.distance_transform_edt(~p) if p.any() else np.full(p.shape, np.inf)
        tp_p += int((dt[p] <= tol).sum())
        n_p += int(p.sum())
        tp_t += int((dp[t] <= tol).sum())
        n_t += int(t.sum())
    precision = tp_p / n_p if n_p else 0.0
    recall = tp_t / n_t if n_t else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
