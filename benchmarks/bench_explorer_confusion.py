"""Cost of the explorer's class views on a big layer: what a features change adds.

A points layer of ``--n`` rows with 8 latents, ``class`` (3 classes),
``class_uncertainty``, ``class_agreement``, ``p0`` and a ``label`` truth column
(a quarter unlabelled).  Times (best of ``--repeat``): the core
``confusion_matrix`` alone, the explorer's ``update_confusion`` (matrix and
table) and ``_refresh_class_views`` (truth columns, matrix, manifold classes),
which runs on every features change and label edit.

    xvfb-run -a nice -n 5 python benchmarks/bench_explorer_confusion.py [--n 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def _features(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "y": rng.uniform(0, 1000, n),
            "x": rng.uniform(0, 1000, n),
            **{f"z{i}": rng.normal(size=n) for i in range(1, 9)},
            "angle": rng.uniform(-3, 3, n),
            "class": rng.integers(0, 3, n),
            "class_uncertainty": rng.uniform(0, 0.5, n),
            "class_agreement": rng.choice([0.6, 0.8, 1.0], n),
            "p0": rng.uniform(size=n),
            "label": pd.Categorical(rng.choice(["0", "1", "2", ""], n)),
        }
    )


def _best(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        func()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import napari

    from napari_ivae._qt.explorer import ExplorerWidget
    from napari_ivae.confusion import confusion_matrix

    feats = _features(args.n)
    viewer = napari.Viewer(show=False)
    viewer.add_points(feats[["y", "x"]].to_numpy(), features=feats, name="points")
    w = ExplorerWidget(viewer)
    rows = [
        ("confusion_matrix (core)", lambda: confusion_matrix(feats["label"], feats["class"])),
        ("update_confusion (matrix + table)", w.update_confusion),
        ("_refresh_class_views (per features change)", w._refresh_class_views),
    ]
    print(f"{args.n:,} points, best of {args.repeat}")
    for name, func in rows:
        print(f"  {name:45s} {_best(func, args.repeat) * 1000:8.1f} ms")
    viewer.close()


if __name__ == "__main__":
    main()
