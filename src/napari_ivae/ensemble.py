"""Ensembles of joint VAEs: class consensus and an uncertainty from the members' disagreement.

M members of one joint model (``jvae`` / ``jrvae``) are trained one after
another on the same data with seeds ``seed, seed + 1, …, seed + M − 1`` (the
seed sets the weights, the shuffling and the k-means class seeds, so every
member starts elsewhere).  Members share nothing but the data: each has its own
weights, optimizer and class seeds, so an M-member ensemble costs M× one model
(they could run on M devices at once; this module runs them in turn).

A class number means nothing across members, so the classes are aligned on
the training set (:func:`align_members`: Hungarian matching of the soft
co-occurrence of classes, :func:`scipy.optimize.linear_sum_assignment`) before
:func:`consensus` compares them:

- ``p0..p{K-1}``: the mean over members of the aligned class probabilities p̄;
- ``class``: argmax of p̄ (the consensus);
- ``class_uncertainty``: the mean over members of the total-variation distance
  ½ Σ_k |p_m,k − p̄_k| of each member's probabilities from p̄ (the dispersion
  of the aligned probabilities); 0 when all members give the same
  probabilities, at most 1 − 1/M (members certain of M different classes).
  For members certain of their class (the exact class posterior usually is)
  it is the Gini impurity of their votes, 1 − Σ_k f_k² with f_k the fraction
  of members voting k: 0.5 for an even two-way split, 0 for a unanimous one;
  a member unsure between classes adds to it even when all argmaxes agree;
- ``class_agreement``: the fraction of members whose argmax is ``class``.

``import napari_ivae.ensemble`` does not import torch (training and encoding import it on use).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from napari_ivae._errors import IvaeError, check_range

__all__ = [
    "MAX_MEMBERS",
    "UNCERTAINTY_DEFINITION",
    "EnsembleProgress",
    "EnsembleResult",
    "align_members",
    "consensus",
    "ensemble_table",
    "fit_ensemble",
    "member_seeds",
]

#: most members of one ensemble
MAX_MEMBERS = 32
#: what ``class_uncertainty`` is (also written into ``ensemble.json``)
UNCERTAINTY_DEFINITION = (
    "mean over members of the total-variation distance 0.5*sum_k |p_m,k - mean_m p_m,k| "
    "of the aligned class probabilities (0: all agree; at most 1 - 1/M)"
)


@dataclass
class EnsembleProgress:
    """One progress report of :func:`fit_ensemble`: ``progress`` of member ``member`` (0-based)."""

    member: int
    n_members: int
    seed: int
    progress: Any = field(repr=False)


@dataclass
class EnsembleResult:
    """What :func:`fit_ensemble` returns: the trained members, their histories and seeds.

    ``stopped`` is set (and ``models`` holds only the members that finished)
    when a member stopped itself (non-finite loss).
    """

    models: list
    histories: list[list[dict]]
    seeds: list[int]
    stopped: str | None = None


def member_seeds(seed: int, members: int) -> list[int]:
    """The seeds of the members: ``seed, seed + 1, …, seed + members − 1``."""
    return [int(seed) + i for i in range(int(members))]


def fit_ensemble(
    data,
    model_config,
    train_config=None,
    *,
    members: int,
    seed: int | None = None,
) -> Generator[EnsembleProgress, None, EnsembleResult]:
    """Train ``members`` joint models in turn; a generator of :class:`EnsembleProgress`.

    Parameters
    ----------
    data : ndarray (N, C, H, W) / (N, H, W), or Stack
        As for :func:`napari_ivae.train.fit`.
    model_config : ModelConfig
        A joint kind (``jvae`` / ``jrvae``) with ``n_classes``.
    train_config : TrainConfig, optional
        Shared by all members except its ``seed``.
    members : int
        Number of members (2 to :data:`MAX_MEMBERS`).
    seed : int, optional
        Seed of the first member (default ``train_config.seed``).

    Returns
    -------
    generator
        Yields :class:`EnsembleProgress`, returns :class:`EnsembleResult`.
        Everything is validated when called (before the first ``next``);
        ``close()`` stops the member being trained and the rest.
    """
    from napari_ivae.train import TrainConfig, fit

    if model_config is None or not getattr(model_config, "joint", False):
        kind = getattr(model_config, "kind", None)
        raise IvaeError(f"an ensemble needs a joint model (jvae or jrvae), got kind={kind!r}")
    check_range("members", members, low=2, high=MAX_MEMBERS)
    tc = train_config or TrainConfig()
    seeds = member_seeds(tc.seed if seed is None else seed, members)
    first = fit(data, model_config, dataclasses.replace(tc, seed=seeds[0]))  # validates now
    return _members(first, data, model_config, tc, seeds)


def _members(first, data, model_config, tc, seeds):
    from napari_ivae.train import fit

    result = EnsembleResult(models=[], histories=[], seeds=seeds)
    for i, s in enumerate(seeds):
        gen = first if i == 0 else fit(data, model_config, dataclasses.replace(tc, seed=s))
        try:
            while True:
                try:
                    p = next(gen)
                except StopIteration as stop:
                    done = stop.value
                    break
                yield EnsembleProgress(member=i, n_members=len(seeds), seed=s, progress=p)
        finally:
            gen.close()
        if done.stopped:
            result.stopped = f"member {i} (seed {s}): {done.stopped}"
            return result
        result.models.append(done.model)
        result.histories.append(done.history)
    return result


def _as_prob_stack(probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """The members' probabilities as one (M, N, K) array, checked."""
    if len(probabilities) < 2:
        raise IvaeError(f"probabilities: need ≥ 2 members, got {len(probabilities)}")
    shapes = {np.shape(p) for p in probabilities}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise IvaeError(f"probabilities: every member must be one (N, K) array, got {shapes}")
    p = np.stack([np.asarray(a, dtype=np.float64) for a in probabilities])
    if p.shape[2] < 2 or p.shape[1] < 1:
        raise IvaeError(f"probabilities: need N ≥ 1 rows and K ≥ 2 classes, got {p.shape[1:]}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise IvaeError("probabilities: values must be finite and ≥ 0")
    return p


def _match(reference: np.ndarray, member: np.ndarray) -> np.ndarray:
    """Columns of ``member`` for the reference's classes 0..K-1 (max. soft co-occurrence)."""
    from scipy.optimize import linear_sum_assignment

    overlap = reference.T @ member  # (K, K): reference class a with member class b
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    return cols[np.argsort(rows)].astype(np.int64)


def align_members(probabilities: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Permutations that align every member's classes to member 0's.

    Parameters
    ----------
    probabilities : sequence of (N, K) arrays
        Each member's class probabilities on the same N images (≥ 2 members).

    Returns
    -------
    list of int arrays (K,)
        ``perm[m]`` with ``probabilities[m][:, perm[m]]`` aligned; ``perm[0]``
        is the identity.  Each member is matched to member 0 (Hungarian
        matching of the soft co-occurrence ``P_0ᵀ P_m``), then once more to the
        mean of the aligned members, which is steadier than any one member.
    """
    p = _as_prob_stack(probabilities)
    perms = [np.arange(p.shape[2])] + [_match(p[0], p[m]) for m in range(1, len(p))]
    mean = np.mean([p[m][:, perms[m]] for m in range(len(p))], axis=0)
    return [perms[0]] + [_match(mean, p[m]) for m in range(1, len(p))]


def consensus(
    probabilities: Sequence[np.ndarray], permutations: Sequence[np.ndarray] | None = None
) -> pd.DataFrame:
    """Consensus class, uncertainty and agreement of an ensemble (see the module docstring).

    Parameters
    ----------
    probabilities : sequence of (N, K) arrays
        Each member's class probabilities.
    permutations : sequence of int arrays, optional
        From :func:`align_members`; default: computed here.

    Returns
    -------
    DataFrame
        N rows: ``class``, ``class_uncertainty``, ``class_agreement``, ``p0..p{K-1}``.
    """
    p = _as_prob_stack(probabilities)
    if permutations is None:
        permutations = align_members(p)
    k = p.shape[2]
    if len(permutations) != len(p) or any(
        sorted(np.asarray(q).tolist()) != list(range(k)) for q in permutations
    ):
        raise IvaeError(f"permutations: need {len(p)} permutations of 0..{k - 1}")
    aligned = np.stack([p[m][:, np.asarray(q)] for m, q in enumerate(permutations)])
    aligned /= np.maximum(aligned.sum(2, keepdims=True), 1e-300)
    mean = aligned.mean(0)
    cls = mean.argmax(1)
    cols: dict[str, np.ndarray] = {
        "class": cls.astype(np.int64),
        "class_uncertainty": 0.5 * np.abs(aligned - mean).sum(2).mean(0),
        "class_agreement": (aligned.argmax(2) == cls).mean(0),
    }
    for j in range(k):
        cols[f"p{j}"] = mean[:, j]
    return pd.DataFrame(cols)


def _probabilities(latent: pd.DataFrame) -> np.ndarray:
    k = sum(1 for c in latent.columns if c.startswith("p") and c[1:].isdigit())
    return latent[[f"p{j}" for j in range(k)]].to_numpy(np.float64)


def ensemble_table(models: Sequence, data) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Encode ``data`` with every member: member 0's latents with the consensus columns.

    Parameters
    ----------
    models : sequence of IVAE
        The members (joint kinds, same ``n_classes``).
    data : ndarray or Stack
        Usually the training data (the alignment is made on it).

    Returns
    -------
    (DataFrame, list of int arrays)
        Member 0's latent table (``z…``, ``angle``, ``dy``, ``dx``, ``y, x,
        frame, index`` for a Stack) whose ``class`` / ``p…`` columns are the
        consensus ones, plus ``class_uncertainty`` and ``class_agreement``;
        and the permutations of :func:`align_members`.
    """
    from napari_ivae.analysis import encode
    from napari_ivae.latent import join_latent

    tables = [encode(m, data) for m in models]
    probs = [_probabilities(t) for t in tables]
    perms = align_members(probs)
    cons = consensus(probs, perms)
    base = tables[0].drop(columns=[c for c in cons.columns if c in tables[0].columns])
    table = pd.concat([base.reset_index(drop=True), cons], axis=1)
    index = getattr(data, "index", None)
    if index is not None and not isinstance(data, np.ndarray):
        table = join_latent(None, table, index)
    return table, perms
