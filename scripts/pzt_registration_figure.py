"""Figure of the real PZT series: tip-change bands, registration, residual differences.

Usage::

    python scripts/pzt_registration_figure.py [--data ../shared/data/real] \
        [--out docs/images/pzt_registration.png]

Reads PZT_final0001-0003.tif (``napari_ivae.io.read_series``), flags the
tip-change scan lines (``dynamics.artefacts``), registers the frames
(``dynamics.register``, deflection + amplitude, per-row scan drift), and draws
the amplitude before/after with the untrusted pixels, the deflection
differences to frame 1 (none / rigid / scan drift) and the shift of every row.
Prints the shifts, the flagged rows and the residuals it draws.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from napari_ivae.dynamics import _xcorr
from napari_ivae.dynamics.artefacts import artefact_rows, trust_mask
from napari_ivae.dynamics.register import register_series
from napari_ivae.io import read_series

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("IVAE_REAL_DATA", REPO.parent / "shared" / "data" / "real"))


def _runs(rows: np.ndarray) -> str:
    idx = np.flatnonzero(rows)
    if not idx.size:
        return "none"
    cuts = np.flatnonzero(np.diff(idx) > 1)
    starts, ends = idx[np.r_[0, cuts + 1]], idx[np.r_[cuts, idx.size - 1]]
    return ", ".join(f"{a}-{b}" for a, b in zip(starts, ends))


def _show(ax, img, mask=None, title=""):
    lo, hi = np.nanpercentile(img, [1, 99])
    ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
    if mask is not None and (~mask).any():
        tint = np.zeros((*img.shape, 4))
        tint[~mask] = (1.0, 0.15, 0.1, 0.45)
        ax.imshow(tint, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def _residual(ref, moved, mask) -> float:
    m = mask.copy()
    m[:8], m[-8:], m[:, :8], m[:, -8:] = False, False, False, False
    a, b = _xcorr.prepare(ref, m, 16.0), _xcorr.prepare(np.nan_to_num(moved), m, 16.0)
    return _xcorr.residual([a], [b], m)


def main(data: Path, out: Path) -> None:
    paths = [data / f"PZT_final000{k}.tif" for k in (1, 2, 3)]
    amp, phase, defl = read_series(paths, channels=["amplitude", "phase", "deflection"])
    a, p, d = (np.asarray(x.data, dtype=np.float64) for x in (amp, phase, defl))
    rows = artefact_rows(p, a)
    good = trust_mask(p, a)
    scan = register_series([d, a], valid=good)
    rigid = register_series([d, a], valid=good, drift="rigid")
    trusted = trust_mask(p, a, registration=scan)
    for t in range(3):
        print(
            f"frame {t + 1}: flagged rows {_runs(rows[t])}; rigid shift {rigid.shifts[t].round(2)}"
        )
    fig, ax = plt.subplots(3, 4, figsize=(15, 11.5))
    a_reg = scan.apply(a)
    for t in range(3):
        _show(ax[0, t], a[t], good[t], f"{paths[t].name} amplitude, as recorded")
        _show(ax[1, t], a_reg[t], trusted[t], f"frame {t + 1} registered (scan drift)")
    fig.text(0.01, 0.985, "red: untrusted (tip-change scan lines, no data after the shift)",
             fontsize=9, va="top")  # fmt: skip
    notes = [f"rigid shift of frame {t + 1}: ({rigid.shifts[t][0]:.2f}, {rigid.shifts[t][1]:.2f}) px"
             for t in (1, 2)]  # fmt: skip
    t = 1
    base = good[0] & good[t]
    for col, (name, reg) in enumerate([("no registration", None), ("rigid", rigid), ("scan drift", scan)]):  # fmt: skip
        if reg is None:
            moved, mask = d[t], base
        else:
            moved = reg.apply(d)[t]
            mask = trust_mask(p, a, registration=reg)[t] & good[0]
        diff = np.where(mask, moved - d[0], np.nan)
        line = np.array([np.median(r[m]) if m.any() else 0.0 for r, m in zip(diff, mask)])
        diff -= line[:, None]  # scan-line offsets
        res = _residual(d[0], moved, mask)
        notes.append(f"deflection 2 − 1 residual, {name}: {res:.3f}")
        print(notes[-1])
        lim = np.nanpercentile(np.abs(diff), 99)
        ax[2, col].imshow(diff, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        ax[2, col].set_title(f"deflection 2 − 1, {name}\nresidual {res:.2f}", fontsize=9)
        ax[2, col].set_xticks([])
        ax[2, col].set_yticks([])
    y = np.arange(a.shape[1])
    for t, colour in ((1, "tab:blue"), (2, "tab:orange")):
        ok = ~rows[t]
        for i, style in ((0, "-"), (1, "--")):
            ax[0, 3].plot(np.where(ok, scan.row_shifts[t][:, i], np.nan), y, style, color=colour,
                          label=f"frame {t + 1} {'dy' if i == 0 else 'dx'}")  # fmt: skip
    ax[0, 3].invert_yaxis()
    ax[0, 3].set_xlabel("shift onto frame 1 (px)")
    ax[0, 3].set_ylabel("scan line (row)")
    ax[0, 3].set_title("shift of every trusted row", fontsize=9)
    ax[0, 3].legend(fontsize=7)
    ax[0, 3].grid(alpha=0.3)
    for t in range(3):
        ax[1, 3].barh(
            t, rows[t].sum(), color="tab:red", alpha=0.7, label="flagged rows" if t == 0 else None
        )
    ax[1, 3].set_yticks(range(3), [f"frame {t + 1}" for t in range(3)])
    ax[1, 3].invert_yaxis()
    ax[1, 3].set_xlim(0, a.shape[1])
    ax[1, 3].set_title(
        "flagged scan lines: " + "; ".join(_runs(rows[t]) for t in range(3)), fontsize=8
    )
    ax[1, 3].set_xlabel("rows")
    ax[2, 3].axis("off")
    text = "\n".join(
        [
            *notes,
            "",
            "residual: RMS of the flattened difference",
            "over the RMS of frame 1 (0 = identical)",
        ]
    )
    ax[2, 3].text(0.0, 0.95, text, fontsize=9, va="top", family="monospace", wrap=True)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    from napari_ivae._atomic import atomic_write

    atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=70, bbox_inches="tight"))
    plt.close(fig)
    print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the PZT files")
    parser.add_argument(
        "--out", type=Path, default=REPO / "docs" / "images" / "pzt_registration.png"
    )
    args = parser.parse_args()
    main(args.data, args.out)
