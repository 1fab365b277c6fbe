"""What the Structure–property widget runs in worker threads, and its data gathering.

:func:`scan_inputs` reads the chosen layers in the GUI thread (cheap: views,
no copies of the SI) and checks them with the core's own checks;
:func:`structure_job` trains through :func:`napari_ivae.train.run_fit` (the
CLI's loop) inside a :class:`~napari_ivae._qt._train_jobs.FitWorker`, then
computes the per-point table (:func:`napari_ivae.structure.structure_table`);
:func:`table_job` computes that table alone (a stopped run, a loaded model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from napari_ivae._errors import IvaeError
from napari_ivae._qt._common import UserError, image_array, points_table
from napari_ivae._qt._train_jobs import _background_thread

__all__ = ["ScanInputs", "merge_table", "scan_inputs", "structure_job", "table_job"]


@dataclass(frozen=True)
class ScanInputs:
    """The image ``(H, W)``, the SpectrumImage and the ``(N, 2)`` points (image pixels)."""

    image: np.ndarray
    si: Any
    points: np.ndarray


def scan_inputs(image_layer: Any, si_layer: Any, points_layer: Any) -> ScanInputs:
    """The chosen layers as core inputs, or an IvaeError naming what is wrong."""
    from napari_ivae.structure import as_points
    from napari_ivae.structure.data import as_image, as_si

    image = np.asarray(image_array(image_layer))
    if si_layer is None:
        raise IvaeError("no spectrum image chosen; open one (e.g. File > Open Sample)")
    si = si_layer.metadata["spectrum_image"]
    shape = as_image(image).shape[1:]
    as_si(si, shape)
    if points_layer is None:
        raise IvaeError("no points layer chosen; add points on the image (or run Detect)")
    table = points_table(points_layer, image_layer)
    pts = as_points(table[["y", "x"]].to_numpy(dtype=float), shape)
    if len(pts) < 2:
        raise IvaeError(f"the points layer has {len(pts)} point(s); training needs at least 2")
    return ScanInputs(image, si, pts)


def structure_job(
    inputs: ScanInputs, config: Any, train_settings: dict, *, on_progress: Any
) -> Any:
    """Worker body: ``(TrainResult, table)``, or a :class:`UserError` for a user mistake."""
    _background_thread()
    from napari_ivae.structure import fit_structure, patches_at, spectra_at, structure_table
    from napari_ivae.train import TrainConfig, run_fit

    try:
        patches = patches_at(inputs.image, inputs.points, config.window)
        spectra = spectra_at(inputs.si, inputs.points, config.integrate)
        gen = fit_structure(patches, spectra, config, TrainConfig(**train_settings))
        result = run_fit(gen, on_progress)
        return result, structure_table(result.model, inputs.image, inputs.si, inputs.points)
    except (IvaeError, ValueError) as err:
        return UserError(str(err).strip() or type(err).__name__)


def table_job(model: Any, inputs: ScanInputs) -> pd.DataFrame:
    """Worker body: the per-point table of ``model`` (run under ``guarded``)."""
    _background_thread()
    from napari_ivae.structure import structure_table

    return structure_table(model, inputs.image, inputs.si, inputs.points)


def merge_table(features: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """``features`` without an earlier model's columns, then ``table`` (same rows)."""
    from napari_ivae.structure.table import STRUCTURE_COLUMN

    keep = [c for c in features.columns if not STRUCTURE_COLUMN.match(str(c))]
    left = features[keep].reset_index(drop=True)
    return pd.concat([left, table.reset_index(drop=True)], axis=1)
