"""Files of an ensemble run: members, ``ensemble.json``, tables and figures (see :mod:`napari_ivae.ensemble`).

An ensemble folder holds ``member_0.ivae …`` (checkpoints: configs and
weights, no pickling), ``ensemble.json`` (kind, K, members and their seeds,
the permutations that align each member's classes to member 0's, the
uncertainty's definition and its mean), ``latent.csv`` (member 0's latents
with the consensus columns), ``history.csv`` (a ``member`` column) and, when
the rows have positions, ``uncertainty_map.png``.  Every writer here writes
into a folder the caller stages (:class:`napari_ivae._atomic.StagedFolder`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from napari_ivae._atomic import atomic_write
from napari_ivae._errors import IvaeError

FORMAT = "napari-ivae-ensemble"
VERSION = 1


def _csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: df.to_csv(tmp, index=False, float_format="%.6g"))


def _png(fig, path: Path) -> None:
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))


def write_ensemble(folder: Path, result, table: pd.DataFrame, perms, train_config,
                   *, image: np.ndarray | None = None) -> dict:  # fmt: skip
    """Write one ensemble into ``folder`` (existing); returns the ``ensemble.json`` content."""
    from napari_ivae.ensemble import UNCERTAINTY_DEFINITION
    from napari_ivae.train import save_model

    cfg = result.models[0].config
    members = []
    for i, (model, hist, seed) in enumerate(zip(result.models, result.histories, result.seeds)):
        name = f"member_{i}.ivae"
        tc = dataclasses.replace(train_config, seed=seed)
        save_model(folder / name, model, hist, train_config=tc)
        members.append({"file": name, "seed": int(seed)})
    info = {
        "format": FORMAT,
        "version": VERSION,
        "kind": cfg.kind,
        "n_classes": int(cfg.n_classes),
        "latent_dim": int(cfg.latent_dim),
        "members": members,
        "permutations": [np.asarray(p).astype(int).tolist() for p in perms],
        "class_uncertainty": UNCERTAINTY_DEFINITION,
        "mean_class_uncertainty": float(table["class_uncertainty"].mean()),
        "mean_class_agreement": float(table["class_agreement"].mean()),
        "n_images": len(table),
    }
    atomic_write(
        folder / "ensemble.json", lambda tmp: Path(tmp).write_text(json.dumps(info, indent=2))
    )
    _csv(table, folder / "latent.csv")
    hist = [pd.DataFrame(h).assign(member=i) for i, h in enumerate(result.histories)]
    _csv(pd.concat(hist, ignore_index=True), folder / "history.csv")
    if {"y", "x"} <= set(table.columns):
        _png(uncertainty_map(table, image=image), folder / "uncertainty_map.png")
    return info


def load_ensemble(folder) -> tuple[list, dict]:
    """The members (models, in order) and the ``ensemble.json`` content of an ensemble folder."""
    from napari_ivae.train import load_model

    folder = Path(folder)
    try:
        info = json.loads((folder / "ensemble.json").read_text())
    except (OSError, ValueError) as err:
        raise IvaeError(f"{folder}: not an ensemble folder (ensemble.json: {err})") from None
    if info.get("format") != FORMAT:
        raise IvaeError(f"{folder}/ensemble.json: format {info.get('format')!r} is not {FORMAT!r}")
    models = [load_model(folder / m["file"])[0] for m in info["members"]]
    return models, info


def uncertainty_map(table: pd.DataFrame, *, image: np.ndarray | None = None):
    """A matplotlib Figure: the rows at (x, y) coloured by ``class_uncertainty`` (over ``image``)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 5.6))
    ax = fig.add_subplot()
    if image is not None:
        ax.imshow(image, cmap="gray", interpolation="nearest")
    sc = ax.scatter(table["x"], table["y"], c=table["class_uncertainty"], s=12, cmap="magma",
                    vmin=0, vmax=max(float(table["class_uncertainty"].max()), 1e-6))  # fmt: skip
    if image is None:
        ax.invert_yaxis()
    ax.set_aspect("equal")
    ax.set_title("ensemble class uncertainty")
    fig.colorbar(sc, ax=ax, label="class_uncertainty")
    return fig


def uncertainty_curve(summary: pd.DataFrame):
    """A matplotlib Figure: mean ``class_uncertainty`` (and agreement) against K."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 3.6))
    ax = fig.add_subplot()
    ax.plot(summary["n_classes"], summary["mean_class_uncertainty"], "o-", label="uncertainty")
    ax.set_xlabel("number of classes K")
    ax.set_ylabel("mean class_uncertainty")
    ax.set_xticks(summary["n_classes"])
    ax2 = ax.twinx()
    ax2.plot(summary["n_classes"], summary["mean_class_agreement"], "s--", color="tab:orange",
             label="agreement")  # fmt: skip
    ax2.set_ylabel("mean class_agreement")
    fig.legend(loc="upper center", ncols=2, frameon=False)
    return fig
