"""What the demo measures against the samples' ground truth (no figures)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def ari(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two labelings (Hubert & Arabie)."""
    from scipy.special import comb

    table = pd.crosstab(pd.Series(a), pd.Series(b)).to_numpy()
    n = table.sum()
    sum_ij = comb(table, 2).sum()
    sum_a = comb(table.sum(1), 2).sum()
    sum_b = comb(table.sum(0), 2).sum()
    expected = sum_a * sum_b / comb(n, 2)
    top = (sum_a + sum_b) / 2
    return float((sum_ij - expected) / (top - expected)) if top != expected else 1.0


def truth_of_points(n: int, pairs: np.ndarray, truth: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Kind (host / dopant / ``"unmatched"``) and grain (-1: unmatched) of ``n`` detected atoms.

    ``pairs`` are the (detected, true) row pairs of
    :func:`napari_ivae.detect._metrics.match_points`.
    """
    kind = np.full(n, "unmatched", dtype=object)
    kind[pairs[:, 0]] = truth["kind"].to_numpy()[pairs[:, 1]]
    grain = np.full(n, -1, dtype=np.int64)
    grain[pairs[:, 0]] = truth["grain"].to_numpy()[pairs[:, 1]]
    return kind, grain


def class_scores(table: pd.DataFrame, n_classes: int) -> dict:
    """The jrVAE classes of the matched atoms against the host / dopant and grain truth.

    The dopant class is the one holding most true dopants; it is scored
    against all the others (ARI, recall, precision).
    """
    matched = table["true_kind"] != "unmatched"
    cls_m = table.loc[matched, "class"].to_numpy()
    is_dop = (table.loc[matched, "true_kind"] == "dopant").to_numpy()
    dop_class = int(np.bincount(cls_m[is_dop], minlength=n_classes).argmax()) if is_dop.any() else 0
    in_dop = cls_m == dop_class
    return {
        "ari": ari(table.loc[matched, "class"], table.loc[matched, "true_kind"]),
        "ari_grain": ari(table.loc[matched, "class"], table.loc[matched, "true_grain"]),
        "confusion": pd.crosstab(table.loc[matched, "class"], table.loc[matched, "true_kind"]),
        "n_dopants": int(is_dop.sum()),
        "dop_class": dop_class,
        "ari_dop": ari(in_dop, is_dop),
        "dop_recall": float(in_dop[is_dop].mean()) if is_dop.any() else float("nan"),
        "dop_precision": float(is_dop[in_dop].mean()) if in_dop.any() else float("nan"),
    }


def angle_vs_orientation(angle: np.ndarray, orientation: np.ndarray) -> float:
    """Mean resultant length of the learned angle against the wall orientation.

    Orientation is axial: doubled angles are compared, up to a constant offset
    and the sign of the rotation (1: perfectly related).
    """
    r_same = float(np.abs(np.mean(np.exp(2j * (angle - orientation)))))
    r_flip = float(np.abs(np.mean(np.exp(2j * (angle + orientation)))))
    return max(r_same, r_flip)


def axial_mean(phase_rad: np.ndarray) -> float:
    """Domain axis φ₀ of a 180°-domain phase image: half the angle of mean exp(2iφ)."""
    return float(np.angle(np.mean(np.exp(2j * phase_rad))) / 2)


def phase_rad(phase: np.ndarray) -> np.ndarray:
    """The phase image in radians (degrees or radians detected)."""
    from napari_ivae.detect.walls import phase_to_radians

    return phase_to_radians(phase, "auto")[0]


def switched_fraction(domains: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Switched pixels and their fraction per frame of a stack of domain maps.

    ``detect_walls`` keeps one polarity convention through the stack; the
    switched polarity is taken as the minority one in the first frame (the
    series starts from a poled state).
    """
    switched_value = 1 if np.mean(domains[0] == 1) < 0.5 else -1
    switched = domains == switched_value
    return switched, switched.mean(axis=(1, 2))
