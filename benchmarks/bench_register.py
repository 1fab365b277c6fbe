"""Which channels to register a real PFM series on, and rigid vs scan drift.

Usage::

    python benchmarks/bench_register.py [--data ../shared/data/real]

On PZT_final0001-0003 (trusted rows from ``dynamics.artefacts.trust_mask``),
for each choice of reference channels and each drift model, registers the
three pairs (1→2, 1→3, 2→3) and prints

- closure: mean over the rows all frames trust (0-99) of
  |shift(1→2) + shift(2→3) − shift(1→3)| (px; 0 for consistent shifts),
- residual: the RMS difference of the flattened height, amplitude and
  deflection after registration over frame 1's RMS, averaged over channels
  and pairs (1.0 ≈ unregistered here),
- patch: the largest shift left between registered deflection patches
  (three regions with visible topography), measured by phase correlation.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from skimage.registration import phase_cross_correlation

from napari_ivae.dynamics import _xcorr
from napari_ivae.dynamics.artefacts import trust_mask
from napari_ivae.dynamics.register import register_series
from napari_ivae.io import read_series

REPO = Path(__file__).resolve().parents[1]
DEFAULT = Path(os.environ.get("IVAE_REAL_DATA", REPO.parent / "shared" / "data" / "real"))
PAIRS = ((0, 1), (0, 2), (1, 2))
PATCHES = ((60, 150, 60, 190), (0, 60, 0, 256), (20, 100, 150, 256))


def _residual(a, b, mask) -> float:
    m = mask.copy()
    m[:8], m[-8:], m[:, :8], m[:, -8:] = False, False, False, False
    return _xcorr.residual(
        [_xcorr.prepare(a, m, 16.0)], [_xcorr.prepare(np.nan_to_num(b), m, 16.0)], m
    )


def _patch_shift(ref, moved, good) -> float:
    worst = 0.0
    for r0, r1, c0, c1 in PATCHES:
        r1 = min(r1, int(np.flatnonzero(good.all(axis=1))[-1]) + 1)
        if r1 - r0 < 24:
            continue
        s, _, _ = phase_cross_correlation(
            ref[r0:r1, c0:c1], np.nan_to_num(moved[r0:r1, c0:c1]),
            upsample_factor=20, normalization=None,
        )  # fmt: skip
        worst = max(worst, float(np.hypot(*s)))
    return worst


def main(data: Path) -> None:
    paths = [data / f"PZT_final000{k}.tif" for k in (1, 2, 3)]
    layers = read_series(paths, channels=["height", "amplitude", "deflection", "phase"])
    h, a, d, p = (np.asarray(la.data, dtype=np.float64) for la in layers)
    good = trust_mask(p, a)
    choices = {"height": [h], "amplitude": [a], "deflection": [d], "height+deflection": [h, d],
               "deflection+amplitude": [d, a], "height+deflection+amplitude": [h, d, a]}  # fmt: skip
    print(f"{'reference':28s} {'drift':6s} closure  residual  patch")
    for name, chans in choices.items():
        for drift in ("rigid", "scan"):
            rows, res, patch = {}, [], 0.0
            for i, j in PAIRS:
                reg = register_series([c[[i, j]] for c in chans], valid=good[[i, j]], drift=drift)
                rows[i, j] = reg.row_shifts[1]
                both = good[i] & (reg.apply(good[[i, j]].astype(np.float32), fill=0)[1] > 0.5)
                res += [_residual(c[i], reg.apply(c[[i, j]])[1], both) for c in (h, a, d)]
                if i == 0:
                    patch = max(patch, _patch_shift(d[0], reg.apply(d[[0, j]])[1], good[j]))
            clos = rows[0, 1] + rows[1, 2] - rows[0, 2]
            c = np.hypot(*clos[:100].T).mean()
            print(f"{name:28s} {drift:6s} {c:7.2f}  {np.mean(res):8.3f}  {patch:5.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    main(parser.parse_args().data)
