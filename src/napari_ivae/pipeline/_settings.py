"""Sizes and epochs of the demo, and how its files are written."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_ivae._atomic import atomic_write


@dataclass(frozen=True)
class DemoSettings:
    """Sizes and epochs of the demo (``quick`` for tests, full for ``ivae demo``).

    The models are trained on at most ``max_train`` crops (a seeded random
    subset) and then encode every crop.
    """

    stem_epochs: int
    stem_classes: int
    stem_latent_dim: int
    pfm_epochs: int
    pfm_latent_dim: int
    wall_window: int
    wall_stride: int
    batch_size: int
    hidden: int
    max_train: int
    #: STEM crops: side 2·round(f·d)+1 (d = the detector's spacing): the column itself and
    #: the inner part of the gap to its neighbours, so the classes sort columns by what
    #: they are (dopant / host), not by their surroundings (vacancies, grain boundaries)
    stem_window_factor: float = 0.6
    #: STEM crops: normalisation (crop.crop ``normalize``); "local" removes the sample's
    #: slowly varying background so a dopant is brighter than its host everywhere
    stem_normalize: str = "local"
    #: STEM: crops the jrVAE trains on (a seeded subset when there are more)
    stem_max_train: int = 4000

    @classmethod
    def choose(cls, quick: bool) -> DemoSettings:
        """The quick (seconds) or full (a few minutes on 2 CPU cores) settings."""
        if quick:
            return cls(
                stem_epochs=3, stem_classes=2, stem_latent_dim=2, pfm_epochs=3,
                pfm_latent_dim=2, wall_window=32, wall_stride=6, batch_size=64, hidden=64,
                max_train=400,
            )  # fmt: skip
        return cls(
            stem_epochs=20, stem_classes=2, stem_latent_dim=2, pfm_epochs=40,
            pfm_latent_dim=2, wall_window=32, wall_stride=3, batch_size=64, hidden=128,
            max_train=1500,
        )  # fmt: skip


# ----------------------------------------------------------------------------- writing
def _atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temp file beside ``path``, then rename it onto ``path``."""
    return atomic_write(path, write)


def save_fig(fig, path: Path) -> Path:
    """Write a matplotlib figure as PNG (110 dpi), atomically."""
    return _atomic(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight"))


def save_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write a table as CSV (6 significant digits), atomically."""
    return _atomic(path, lambda tmp: df.to_csv(tmp, index=False, float_format="%.6g"))


def save_json(obj: dict, path: Path) -> Path:
    """Write ``obj`` as indented JSON (numpy values and paths as plain values), atomically."""

    def write(tmp: str) -> None:
        Path(tmp).write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")

    return _atomic(path, write)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
