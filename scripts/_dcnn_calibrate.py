"""Validation and threshold calibration of the atoms DCNN on held-out domain-randomised patches.

Used by ``scripts/train_dcnn.py --calibrate``.  Validation patches come from
``_dcnn_domain.domain_sample`` with seeds ``VAL_SEED + i`` (5,000,000 ...), disjoint
from the training seeds (10,000,000 and up) and from the test sets (< 10,000).

A network trained on hard data (a few counts per atom) is less confident, so its
heatmap peaks on visible but dim columns often stay below the 0.5 that
``detect_atoms`` uses.  :func:`calibrate` finds the heatmap threshold that
maximises the pooled F1 on the validation patches and folds it into the bias of
the output convolution (``sigmoid(z + b)`` with ``b = -logit(threshold)``), so
that threshold becomes 0.5; the file format and the loader are unchanged.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import torch
from _dcnn_domain import domain_sample

from napari_ivae.detect import dcnn
from napari_ivae.detect._metrics import match_points
from napari_ivae.detect._unet import predict_tiled

VAL_SEED = 5_000_000
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.05), 2)
BORDER = 8  # px: peaks and atoms this close to the patch border are not scored


def state_sha256(sd: dict) -> str:
    """sha256 over the sorted keys and the raw bytes of every tensor of a state dict."""
    h = hashlib.sha256()
    for k in sorted(sd):
        h.update(k.encode())
        h.update(sd[k].contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def validate(weights: Path, n: int = 96, size: int = 256, radius: float = 2.0) -> dict:
    """TP / FP / FN per heatmap threshold, pooled over ``n`` validation patches.

    Returns a dict ``{threshold: (tp, fp, fn)}`` for every value of ``THRESHOLDS``.
    """
    dcnn._load.cache_clear()
    net, _, dev = dcnn.load_network("atoms", device="cpu", path=weights)
    counts = {float(t): np.zeros(3, np.int64) for t in THRESHOLDS}
    for i in range(n):
        img, yx = domain_sample(VAL_SEED + i, size)
        heat = predict_tiled(net, dcnn.normalize(img)[None], device=dev, tile=768, margin=32)
        peaks = dcnn.local_maxima(heat, float(THRESHOLDS[0]))
        value = heat[peaks[:, 0], peaks[:, 1]]
        inner_t = ((yx >= BORDER) & (yx <= size - 1 - BORDER)).all(axis=1)
        for t in THRESHOLDS:
            p = peaks[value > t].astype(np.float64)
            m = match_points(p, yx, radius=radius)
            hit_p, hit_t = np.zeros(len(p), bool), np.zeros(len(yx), bool)
            hit_p[m["pairs"][:, 0]] = hit_t[m["pairs"][:, 1]] = True
            inner_p = ((p >= BORDER) & (p <= size - 1 - BORDER)).all(axis=1)
            tp = int((hit_t & inner_t).sum())
            fp = int((~hit_p & inner_p).sum())
            counts[float(t)] += (tp, fp, int((~hit_t & inner_t).sum()))
    return {t: tuple(int(v) for v in c) for t, c in counts.items()}


def f1_of(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / max(2 * tp + fp + fn, 1)


def calibrate(weights: Path, n: int = 96) -> dict:
    """Fold the F1-best validation threshold into the output bias of ``weights`` (in place)."""
    table = validate(weights, n)
    best = max(table, key=lambda t: f1_of(*table[t]))
    for t, c in table.items():
        print(f"  validation threshold {t:.2f}: F1 {f1_of(*c):.4f} (tp, fp, fn) = {c}")
    blob = torch.load(weights, map_location="cpu", weights_only=True)
    sd, cfg = blob["state_dict"], dict(blob["config"])
    shift = -math.log(best / (1 - best))
    sd["head.bias"] = (sd["head.bias"].float() + shift).to(sd["head.bias"].dtype)
    cfg["calibration"] = {
        "threshold_folded": best,
        "head_bias_shift": round(shift, 6),
        "val_seeds": f"{VAL_SEED}..{VAL_SEED + n - 1} (256², radius 2 px, border {BORDER} px)",
        "val_f1_at_0.5_before": round(f1_of(*table[0.5]), 4),
        "val_f1_after": round(f1_of(*table[best]), 4),
        "previous_sha256": cfg.get("sha256", ""),
    }
    cfg["sha256"] = state_sha256(sd)
    tmp = weights.with_suffix(".calib.tmp")
    torch.save({"state_dict": sd, "config": cfg}, tmp)
    tmp.replace(weights)
    dcnn._load.cache_clear()
    print(f"calibrated {weights}: threshold {best:.2f} -> 0.5, sha256 {cfg['sha256']}")
    return cfg["calibration"]
