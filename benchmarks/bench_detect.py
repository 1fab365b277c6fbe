"""Accuracy, speed and memory of the atom and domain-wall detectors.

Run from the repository root (about 2-4 minutes on 2 CPU cores)::

    nice -n 5 python benchmarks/bench_detect.py [--quick] [--methods log,dcnn,...]

Test sets are the project's simulators with seeds ≥ 1000 (never used for
training).  Atoms: precision / recall / F1 with a 2 px match radius (one-to-one
matching) and the RMSE of the matched positions, pooled over the seeds.
Walls: F1 where a predicted wall pixel counts when within 2 px of a true wall
pixel and vice versa.  Timings: best of three runs of the public function
(``detect_atoms`` on 2048×2048, ``detect_walls`` on 1024×1024), with the BLAS /
OpenMP / torch thread pools capped at 2; peak memory: ``tracemalloc`` peak of
one extra call (NumPy allocations included; torch's own allocator is not
seen by tracemalloc, so DCNN peaks are lower bounds).  The DCNN rows are
skipped, with a note, when ``napari_ivae.detect.dcnn`` or its weights are missing.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import argparse  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

from napari_ivae.detect import detect_atoms, detect_walls  # noqa: E402
from napari_ivae.detect._metrics import match_points, wall_f1  # noqa: E402
from napari_ivae.simulate import simulate_pfm, simulate_stem  # noqa: E402

#: the "hard" PFM test set: wrapped phase, strong drift, scan-line offsets, noise
HARD_PFM = {"noise": 30.0, "drift": 120.0, "scanline_noise": 15.0}
HARDER_PFM = {"noise": 45.0, "drift": 180.0, "scanline_noise": 25.0}


def dcnn_status() -> tuple[bool, bool, str]:
    """Whether the DCNN atoms / walls weights are available, and a note."""
    try:
        from napari_ivae.detect import dcnn
    except Exception as err:  # module missing or broken
        return False, False, f"napari_ivae.detect.dcnn not importable ({type(err).__name__}: {err})"
    wdir = getattr(dcnn, "WEIGHTS_DIR", None)
    atoms = bool(wdir) and (wdir / "atoms.pt").exists()
    walls = bool(wdir) and (wdir / "walls.pt").exists()
    missing = [n for n, ok in (("atoms.pt", atoms), ("walls.pt", walls)) if not ok]
    note = f"DCNN weights missing: {', '.join(missing)} in {wdir}" if missing else ""
    return atoms, walls, note


def _timed(fn, repeat: int = 3) -> tuple[float, float, float]:
    """Best wall time, its CPU time (s) and the tracemalloc peak (MiB) of ``fn()``."""
    best, cpu = np.inf, np.nan
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        t, c = time.perf_counter() - t0, time.process_time() - c0
        if t < best:
            best, cpu = t, c
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, cpu, peak / 2**20


def bench_atoms(methods, seeds, shape) -> list[dict]:
    rows = []
    for lattice in ("graphene", "hexagonal", "square"):
        for noise in (1.0, 2.0):
            samples = [
                simulate_stem(shape, lattice=lattice, noise_scale=noise, seed=s) for s in seeds
            ]
            for method in methods:
                tp = fp = fn = 0
                sq = []
                for s in samples:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        table = detect_atoms(s.image, method=method)
                    m = match_points(table[["y", "x"]].to_numpy(), s.atoms[["y", "x"]].to_numpy())
                    tp, fp, fn = tp + m["tp"], fp + m["fp"], fn + m["fn"]
                    p = table[["y", "x"]].to_numpy()[m["pairs"][:, 0]]
                    t = s.atoms[["y", "x"]].to_numpy()[m["pairs"][:, 1]]
                    sq.append(((p - t) ** 2).sum(axis=1))
                prec = tp / max(tp + fp, 1)
                rec = tp / max(tp + fn, 1)
                rows.append(
                    {
                        "lattice": lattice,
                        "noise": noise,
                        "method": method,
                        "atoms": tp + fn,
                        "precision": prec,
                        "recall": rec,
                        "f1": 2 * prec * rec / max(prec + rec, 1e-12),
                        "rmse": float(np.sqrt(np.concatenate(sq).mean())),
                    }
                )
                print_row_atoms(rows[-1])
    return rows


def bench_walls(methods, seeds, shape) -> list[dict]:
    rows = []
    sets = {
        "default": {},
        "hard (noise 30°, drift 120°, lines 15°)": HARD_PFM,
        "harder (noise 45°, drift 180°, lines 25°)": HARDER_PFM,
    }
    for name, kw in sets.items():
        samples = [simulate_pfm(shape, seed=s, **kw) for s in seeds]
        for method in methods:
            for inputs in ("phase+amplitude", "phase", "amplitude"):
                f1s = []
                for s in samples:
                    ph = None if inputs == "amplitude" else s.phase
                    amp = None if inputs == "phase" else s.amplitude
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        res = detect_walls(ph, amp, method=method)
                    f1s.append(wall_f1(res.mask, s.walls)["f1"])
                rows.append(
                    {
                        "set": name,
                        "method": method,
                        "inputs": inputs,
                        "f1_mean": float(np.mean(f1s)),
                        "f1_min": float(np.min(f1s)),
                    }
                )
                print_row_walls(rows[-1])
    return rows


#: held-out PFM sets with small dots and artefacts (simulate_pfm options; seeds ≥ 3000)
ROBUST_PFM = {
    "dots r 2-6 px": {"dots": 25},
    "dots, hard": {"dots": 25, **HARD_PFM},
    "noisy patches, glitches, tip band": {
        "noisy_patches": 4,
        "patch_size": 32.0,
        "line_glitches": 6,
        "tip_bands": 1,
    },
    "same, hard": {
        "noisy_patches": 4,
        "patch_size": 32.0,
        "line_glitches": 6,
        "tip_bands": 1,
        **HARD_PFM,
    },
}
#: the options of the release before the wall significance tests
WALLS_BEFORE = {"min_size": 16, "significance": 0.0}


def _dot_recall(sample, mask) -> list[bool]:
    from scipy import ndimage

    dt = ndimage.distance_transform_edt(~mask)
    yy, xx = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
    found = []
    for cy, cx, r, _sign in sample.dots:
        ring = sample.walls & ((yy - cy) ** 2 + (xx - cx) ** 2 <= (r + 1.5) ** 2)
        found.append(bool((dt[ring] <= 2).mean() >= 0.5))
    return found


def bench_walls_robust(methods, seeds, shape) -> list[dict]:
    """Dot recall, false wall pixels inside noisy patches, F1 outside them; before/after."""
    from scipy import ndimage

    rows = []
    for name, kw in ROBUST_PFM.items():
        samples = [simulate_pfm(shape, seed=s, **kw) for s in seeds]
        for method in methods:
            for tag, opts in (("before", WALLS_BEFORE), ("after", {})):
                found, false_px, area, f1s = [], 0, 0, []
                for s in samples:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        res = detect_walls(s.phase, s.amplitude, method=method, **opts)
                    if s.dots is not None:
                        found += _dot_recall(s, res.mask)
                    excl = np.zeros(s.walls.shape, dtype=bool)
                    if s.noisy is not None:
                        inner = ndimage.binary_erosion(s.noisy, iterations=2)
                        far = ndimage.distance_transform_edt(~s.walls) > 2
                        false_px += int((res.mask & inner & far).sum())
                        area += int(inner.sum())
                        excl = ndimage.binary_dilation(s.noisy, iterations=3)
                    f1s.append(wall_f1(res.mask & ~excl, s.walls & ~excl)["f1"])
                rows.append(
                    {
                        "set": name,
                        "method": method,
                        "options": tag,
                        "dots": f"{sum(found)}/{len(found)}" if found else "–",
                        "false_px": f"{false_px}/{area}" if area else "–",
                        "f1_min": float(np.min(f1s)),
                    }
                )
                r = rows[-1]
                print(
                    f"| {name:34s} | {method:8s} | {tag:6s} | {r['dots']:7s} | "
                    f"{r['false_px']:10s} | {r['f1_min']:.4f} |",
                    flush=True,
                )
    return rows


def bench_speed(atom_methods, wall_methods, quick: bool) -> list[dict]:
    rows = []
    n_atoms = 1024 if quick else 2048
    n_walls = 512 if quick else 1024
    stem = simulate_stem((n_atoms, n_atoms), seed=1100)
    pfm = simulate_pfm((n_walls, n_walls), seed=1101, domain_size=96.0, **HARD_PFM)
    for method in atom_methods:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t, cpu, mem = _timed(lambda m=method: detect_atoms(stem.image, method=m))
        rows.append(
            {"task": f"atoms {n_atoms}²", "method": method, "s": t, "cpu_s": cpu, "peak_mib": mem}
        )
        print_row_speed(rows[-1])
    for method in wall_methods:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t, cpu, mem = _timed(lambda m=method: detect_walls(pfm.phase, pfm.amplitude, method=m))
        rows.append(
            {"task": f"walls {n_walls}²", "method": method, "s": t, "cpu_s": cpu, "peak_mib": mem}
        )
        print_row_speed(rows[-1])
    return rows


def print_row_atoms(r: dict) -> None:
    print(
        f"| {r['lattice']:9s} | {r['noise']:.0f}× | {r['method']:4s} | {r['atoms']:6d} | "
        f"{r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | {r['rmse']:.3f} |",
        flush=True,
    )


def print_row_walls(r: dict) -> None:
    print(
        f"| {r['set']:42s} | {r['method']:8s} | {r['inputs']:15s} | {r['f1_mean']:.4f} | {r['f1_min']:.4f} |",
        flush=True,
    )


def print_row_speed(r: dict) -> None:
    print(
        f"| {r['task']:12s} | {r['method']:8s} | {r['s']:.2f} | {r['cpu_s']:.2f} | {r['peak_mib']:.0f} |",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sets and images (smoke run)")
    ap.add_argument("--methods", default=None, help="comma-separated subset, e.g. log,gaussian")
    ap.add_argument(
        "--sections",
        default="atoms,walls,robust,speed",
        help="comma-separated subset of atoms,walls,robust,speed",
    )
    args = ap.parse_args()
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:
        pass
    dc_atoms, dc_walls, note = dcnn_status()
    atom_methods = ["log"] + (["dcnn"] if dc_atoms else [])
    wall_methods = ["gaussian", "canny"] + (["dcnn"] if dc_walls else [])
    if args.methods:
        keep = set(args.methods.split(","))
        atom_methods = [m for m in atom_methods if m in keep]
        wall_methods = [m for m in wall_methods if m in keep]
    if note:
        print(f"note: {note}; DCNN rows skipped", flush=True)
    sections = set(args.sections.split(","))
    seeds = [1000, 1001] if args.quick else [1000, 1001, 1002]
    shape = (256, 256) if args.quick else (512, 512)
    if "atoms" in sections:
        print(f"\n### Atoms ({len(seeds)} images {shape[0]}×{shape[1]} per row, seeds {seeds})\n")
        print("| lattice | noise | method | atoms | precision | recall | F1 | RMSE (px) |")
        print("|---|---|---|---|---|---|---|---|")
        bench_atoms(atom_methods, seeds, shape)
    wseeds = list(range(1000, 1003 if args.quick else 1005))
    if "walls" in sections:
        print(
            f"\n### Walls ({len(wseeds)} images 256×256 per row, seeds {wseeds}; "
            "F1 with 2 px tolerance)\n"
        )
        print("| test set | method | inputs | F1 mean | F1 min |")
        print("|---|---|---|---|---|")
        bench_walls(wall_methods, wseeds, (256, 256))
    if "robust" in sections:
        rseeds = list(range(3000, 3002 if args.quick else 3004))
        print(
            f"\n### Walls on held-out artefacts ({len(rseeds)} images 256×256 per row, seeds "
            f"{rseeds}; before = min_size=16, significance=0)\n"
        )
        print(
            "| test set | method | options | dots found | false wall px in patches | F1 min outside |"
        )
        print("|---|---|---|---|---|---|")
        bench_walls_robust(wall_methods, rseeds, (256, 256))
    if "speed" in sections:
        print("\n### Speed (best of 3; thread pools capped at 2) and peak memory (tracemalloc)\n")
        print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores)")
        print("| task | method | wall time (s) | CPU time (s) | peak memory (MiB) |")
        print("|---|---|---|---|---|")
        bench_speed(atom_methods, wall_methods, args.quick)


if __name__ == "__main__":
    main()
