"""Write the shipped sample data into <repo>/sample_data/ (seeded, reproducible).

Usage::

    python scripts/make_sample_data.py [--out sample_data]

The arrays come from :func:`napari_ivae.sample_data.simulate_sample`, i.e. the
seeded simulators with the arguments in ``napari_ivae.sample_data.SAMPLE_SPECS``,
so running it again gives byte-identical arrays.  Every file is written
atomically (temporary file in the same folder, then ``os.replace``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import tifffile

from napari_ivae.sample_data import SAMPLE_DIR, SAMPLE_SPECS, simulate_sample


def _atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _write_tif(path: Path, data: np.ndarray, pixel_size: float, unit: str, axes: str, labels=None):
    meta = {"axes": axes, "unit": unit}
    if labels is not None:
        meta["Labels"] = labels

    def write(tmp):
        tifffile.imwrite(
            tmp,
            data.astype(np.float32),
            imagej=True,
            resolution=(1.0 / pixel_size, 1.0 / pixel_size),
            metadata=meta,
        )

    _atomic(path, write)


def _write_npz(path: Path, **arrays) -> None:
    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    _atomic(path, write)


def _write_text(path: Path, text: str) -> None:
    def write(tmp):
        Path(tmp).write_text(text, encoding="utf-8")

    _atomic(path, write)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    params = {}

    s = simulate_sample("stem")
    spec = SAMPLE_SPECS["stem"]
    f_img, f_atoms, f_vac = (out / f for f in spec["files"])
    _write_tif(f_img, s["image"], spec["pixel_size"], spec["unit"], "YX")
    _write_text(f_atoms, s["atoms"].to_csv(index=False))
    _write_text(f_vac, s["vacancies"].to_csv(index=False))
    params["stem"] = s["params"]

    s = simulate_sample("pfm")
    spec = SAMPLE_SPECS["pfm"]
    f_img, f_truth = (out / f for f in spec["files"])
    _write_tif(
        f_img,
        np.stack([s["amplitude"], s["phase"]]),
        spec["pixel_size"],
        spec["unit"],
        "CYX",
        labels=["Amplitude", "Phase"],
    )
    _write_npz(f_truth, domains=s["domains"], walls=s["walls"])
    params["pfm"] = s["params"]

    s = simulate_sample("switching")
    spec = SAMPLE_SPECS["switching"]
    f_img, f_truth = (out / f for f in spec["files"])
    n_frames = s["amplitude"].shape[0]
    _write_tif(
        f_img,
        np.stack([s["amplitude"], s["phase"]], axis=1),  # (T, C, Y, X)
        spec["pixel_size"],
        spec["unit"],
        "TCYX",
        labels=["Amplitude", "Phase"] * n_frames,
    )
    _write_npz(
        f_truth,
        domains=s["domains"],
        walls=s["walls"],
        switched_fraction=s["switched_fraction"],
        pinning=s["pinning"],
    )
    params["switching"] = s["params"]
    _write_text(out / "params.json", json.dumps(params, indent=1) + "\n")

    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    for p in sorted(out.iterdir()):
        print(f"{p.stat().st_size / 1e6:7.3f} MB  {p.name}")
    print(f"{total / 1e6:7.3f} MB  total")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output folder")
    main(parser.parse_args().out)
