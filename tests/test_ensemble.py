"""Ensembles: class alignment (Hungarian), consensus and its uncertainty, fit_ensemble."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ivae import IvaeError
from napari_ivae.ensemble import align_members, consensus, member_seeds


def _soft(labels: np.ndarray, k: int, sharp: float, rng) -> np.ndarray:
    """Probabilities peaked on ``labels`` (N, K), each row a little noisy."""
    p = np.full((len(labels), k), (1 - sharp) / (k - 1))
    p[np.arange(len(labels)), labels] = sharp
    p += rng.uniform(0, 0.02, p.shape)
    return p / p.sum(1, keepdims=True)


@pytest.mark.parametrize("k", [2, 4, 6])
def test_align_recovers_known_permutations(k):
    rng = np.random.default_rng(k)
    truth = rng.integers(0, k, 300)
    base = _soft(truth, k, 0.9, rng)
    shuffles = [np.arange(k)] + [rng.permutation(k) for _ in range(4)]
    # member m's class j is the true class shuffles[m][j]
    members = [base[:, s] for s in shuffles]
    flip = rng.random(300) < 0.1  # 10 % of rows disagree in member 3: alignment must hold
    members[3][flip] = np.roll(members[3][flip], 1, axis=1)
    perms = align_members(members)
    for m, s in enumerate(shuffles):
        np.testing.assert_array_equal(s[perms[m]], np.arange(k))
        np.testing.assert_array_equal(members[m][:, perms[m]].argmax(1)[~flip], truth[~flip])


def test_consensus_hand_made():
    # 3 members, 2 classes, 3 rows; member 2 labels its classes the other way round
    a = np.array([[1.0, 0.0], [0.5, 0.5], [1.0, 0.0]])
    b = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    c = np.array([[0.0, 1.0], [0.1, 0.9], [0.0, 1.0]])  # swapped: row 0 is class 0 in truth
    perms = [np.array([0, 1]), np.array([0, 1]), np.array([1, 0])]
    t = consensus([a, b, c], perms)
    np.testing.assert_array_equal(t["class"], [0, 0, 0])
    # row 0: all agree exactly -> 0; row 2: probs (1,0),(0,1),(1,0): mean (2/3,1/3),
    # TV distances 1/3, 2/3, 1/3 -> 4/9; row 1: (.5,.5),(.9,.1),(.9,.1): mean (.7667,.2333)
    np.testing.assert_allclose(t["class_uncertainty"], [0.0, (0.26667 + 2 * 0.13333) / 3, 4 / 9],
                               atol=1e-4)  # fmt: skip
    np.testing.assert_allclose(t["class_agreement"], [1.0, 1.0, 2 / 3])
    np.testing.assert_allclose(t["p0"], [1.0, (0.5 + 0.9 + 0.9) / 3, 2 / 3])
    np.testing.assert_allclose(t["p0"] + t["p1"], 1.0)
    assert list(t.columns) == ["class", "class_uncertainty", "class_agreement", "p0", "p1"]
    # without permutations the alignment finds the swap itself (given a few more clear rows:
    # on these 3 rows alone, b's two labellings overlap a's equally)
    more = [np.vstack([m, np.repeat(m[:1], 3, axis=0)]) for m in (a, b, c)]
    np.testing.assert_allclose(consensus(more)["class_uncertainty"][:3], t["class_uncertainty"])


def test_uncertainty_bounds():
    eye = np.eye(3)
    t = consensus([eye, eye[[1, 2, 0]], eye[[2, 0, 1]]], [np.arange(3)] * 3)
    np.testing.assert_allclose(t["class_uncertainty"], 1 - 1 / 3)  # maximal: 3 certain, all differ
    np.testing.assert_allclose(t["class_agreement"], 1 / 3)


def test_uncertainty_of_certain_members_is_the_gini_impurity_of_their_votes():
    """One-hot members: class_uncertainty = 1 − Σ_k f_k² (f_k: share of votes for k)."""
    rng = np.random.default_rng(5)
    votes = rng.integers(0, 3, size=(6, 40))  # 6 members, 40 images, K = 3
    t = consensus([np.eye(3)[v] for v in votes], [np.arange(3)] * 6)
    f = np.stack([(votes == k).mean(0) for k in range(3)], 1)
    np.testing.assert_allclose(t["class_uncertainty"], 1 - (f**2).sum(1))
    half = consensus([np.eye(2)[[0]], np.eye(2)[[1]]], [np.arange(2)] * 2)
    np.testing.assert_allclose(half["class_uncertainty"], 0.5)  # an even split


@pytest.mark.parametrize(
    ("probs", "perms", "word"),
    [
        ([np.eye(2)], None, "≥ 2 members"),
        ([np.eye(2), np.eye(3)], None, "(N, K)"),
        ([np.ones((3, 1)), np.ones((3, 1))], None, "K ≥ 2"),
        ([np.eye(2), np.eye(2) * np.nan], None, "finite"),
        ([np.eye(2), np.eye(2)], [np.array([0, 0]), np.array([0, 1])], "permutations"),
    ],
)
def test_bad_probabilities(probs, perms, word):
    with pytest.raises(IvaeError, match="^.*" + ".*".join(map(__import__("re").escape, [word]))):
        consensus(probs, perms)


def test_member_seeds():
    assert member_seeds(7, 3) == [7, 8, 9]


def test_fit_ensemble_refuses_and_trains(tmp_path):
    from napari_ivae.ensemble import fit_ensemble
    from napari_ivae.models import ModelConfig
    from napari_ivae.train import TrainConfig, run_fit

    x = np.random.default_rng(0).normal(size=(16, 1, 16, 16)).astype(np.float32)
    tc = TrainConfig(epochs=1, batch_size=16, num_threads=1)
    with pytest.raises(IvaeError, match="joint model"):
        fit_ensemble(x, ModelConfig(kind="rvae", latent_dim=2), tc, members=2)
    jm = ModelConfig(kind="jvae", latent_dim=2, n_classes=2)
    with pytest.raises(IvaeError, match="members"):
        fit_ensemble(x, jm, tc, members=1)
    seen = []
    res = run_fit(fit_ensemble(x, jm, tc, members=2, seed=5), lambda p: seen.append(p.member))
    assert res.stopped is None and res.seeds == [5, 6] and len(res.models) == 2
    assert sorted(set(seen)) == [0, 1] and seen == sorted(seen)  # one after another
    w0, w1 = (next(m.parameters()).detach().numpy() for m in res.models)
    assert not np.allclose(w0, w1)  # different seeds, different members
