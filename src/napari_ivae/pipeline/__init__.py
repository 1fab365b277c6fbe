"""The headless demo pipeline (``ivae demo``): plain functions, no Qt.

:func:`run_demo` runs the whole napari-ivae path on the shipped samples and
writes figures, tables, models and a ``summary.json`` into one folder:

STEM (simulated graphene, 3 grains, dopants, vacancies)
    atoms by ``detect_atoms`` (LoG) → sub-images around each atom → jrVAE
    (rotation-invariant, discrete class latent) → latent scatter coloured by
    class, the image with its atoms coloured by class, and the decoded
    manifold of each class.
PFM (amplitude + wrapped phase with 180° domains)
    walls by the three methods (``gaussian``, ``canny``, ``dcnn``) side by side
    against the ground truth → sub-images around points along the walls →
    rVAE → latent scatter coloured by the learned angle, and the walls
    coloured by a content latent.
Switching series
    domain maps per frame (``gaussian`` walls method) → switched fraction
    per frame against the ground truth.

Wall sub-images have two channels, ``Amplitude`` and ``cos(φ − φ₀)``: the
phase enters as the cosine about the domain axis φ₀ (the axial circular
mean of the phase, i.e. half the angle of the mean of exp(2iφ)).  That is
the classic PFM "mixed signal" direction: ±1 in the two 180° domains, free of
the wrap, of the arbitrary phase offset, and continuous across the crop —
raw wrapped phase would put a 360° jump wherever the offset lands.

Each table holds every detected point (``stem_atoms.csv``: the atoms;
``pfm_wall_points.csv``: the ``gaussian`` wall points); points the crop dropped
at the border have empty latent columns (the
join every front uses, :func:`napari_ivae.latent.join_latent`).  The models
(``.ivae``) store the ``TrainConfig`` they were trained with, like ``ivae train``.

Layout: the stages and the measurements against the ground truth are in
``_stages`` / ``_metrics``, the figures in ``_figures`` (matplotlib's object API
on the Agg canvas: no pyplot state, no GUI backend), the settings and the
(atomic) writers in ``_settings``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from napari_ivae.pipeline._figures import sample_figures
from napari_ivae.pipeline._settings import DemoSettings, save_json

# ``_train`` stays importable from here (as before the split into modules)
from napari_ivae.pipeline._stages import _train as _train
from napari_ivae.pipeline._stages import pfm_stage, stem_stage, switching_stage

__all__ = ["DemoSettings", "run_demo"]


def run_demo(
    out_dir: str | os.PathLike,
    *,
    quick: bool = False,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the whole pipeline on the shipped samples and write the results.

    Parameters
    ----------
    out_dir : path-like
        Folder for the figures (PNG), tables (CSV), models (``.ivae``) and
        ``summary.json``; created if needed, existing files of the same name
        are replaced (atomically).
    quick : bool
        Few epochs and sparser wall points (seconds instead of minutes; for
        tests); the figures are the same kind.
    seed : int
        Seed of the model training (the samples are fixed).
    progress : callable, optional
        Called with one short line per stage (e.g. ``print``).

    Returns
    -------
    dict
        ``figures`` (name → PNG path), ``files`` (name → every written path,
        figures included) and ``summary`` (the content of ``summary.json``).
    """
    from napari_ivae.sample_data import load_sample

    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = DemoSettings.choose(quick)
    t_start = time.perf_counter()
    samples = {name: load_sample(name) for name in ("stem", "pfm", "switching")}
    say(f"samples loaded ({samples['stem']['source']}): STEM {samples['stem']['image'].shape}, "
        f"PFM {samples['pfm']['phase'].shape}, switching {samples['switching']['phase'].shape}")  # fmt: skip
    figures = sample_figures(out, samples)
    files: dict[str, Path] = dict(figures)
    summary: dict[str, Any] = {"quick": quick, "seed": seed, "settings": asdict(settings)}

    stem_files, summary["stem"] = stem_stage(out, samples["stem"], settings, seed=seed, say=say)
    pfm_files, summary["pfm"] = pfm_stage(out, samples["pfm"], settings, seed=seed, say=say)
    sw_files, summary["switching"] = switching_stage(out, samples["switching"], say=say)
    for part in (stem_files, pfm_files, sw_files):
        files.update(part)
    figures = {k: v for k, v in files.items() if v.suffix == ".png"}
    summary["elapsed_seconds"] = time.perf_counter() - t_start
    summary["files"] = {k: v.name for k, v in files.items()}
    files["summary"] = save_json(summary, out / "summary.json")
    say(f"done in {summary['elapsed_seconds']:.0f} s: {len(figures)} figures in {out}")
    return {"figures": figures, "files": files, "summary": summary}
