"""Ring statistics (napari_ivae.rings) and the simulator's graphene defects, against exact truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_ivae import IvaeError
from napari_ivae.rings import find_rings, ring_label, ring_statistics
from napari_ivae.rings._graph import _crossing_pairs, planar_bonds
from napari_ivae.simulate import simulate_stem

B = 8.0  # bond length (px)


def honeycomb(n: int = 10, angle: float = 0.0) -> np.ndarray:
    """A hand-made graphene patch: n × n cells, bond length B, rotated by ``angle``."""
    a = B * np.sqrt(3)
    v = np.array([[0.0, a], [a * np.sqrt(3) / 2, a / 2]])
    basis = np.array([[0.0, 0.0], (v[0] + v[1]) / 3])
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    cells = i.reshape(-1, 1) * v[0] + j.reshape(-1, 1) * v[1]
    yx = (cells[:, None, :] + basis[None]).reshape(-1, 2)
    c, s = np.cos(angle), np.sin(angle)
    return yx @ np.array([[c, -s], [s, c]]).T + 500.0


def test_label_table():
    assert ring_label([6]) == 0 and ring_label([]) == 0
    expected = {(6, 6): 1, (6, 5): 2, (7, 6, 6): 3, (6, 6, 6): 4, (7, 5, 6): 5, (6, 5, 6): 6}
    for sizes, label in expected.items():
        assert ring_label(sizes) == label
    assert ring_label([5, 7, 7]) == 7 and ring_label([6, 6, 6, 6]) == 7


@pytest.mark.parametrize("angle", [0.0, 0.37])
def test_perfect_honeycomb_interior_is_666(angle):
    yx = honeycomb(angle=angle)
    df = ring_statistics(yx)
    inner = df[~df.border]
    assert len(inner) > 0.6 * len(df)
    assert (inner.ring_label == 4).all() and (inner.ring_sizes == "6;6;6").all()
    rings = find_rings(yx)
    assert (rings.sizes == 6).all()
    assert rings.bond_length == pytest.approx(B)
    # every ring is 6 atoms at bond distance around its centre
    for ring in rings.rings[:20]:
        assert np.allclose(np.hypot(*(yx[ring] - yx[ring].mean(0)).T), B)
    # the boundary of the patch is border, and only it: its atoms miss rings
    hull = df.border.to_numpy()
    assert (df.ring_count[hull] < 3).all()


def test_vacancy_merges_three_hexagons():
    yx = honeycomb()
    centre = np.argmin(np.hypot(*(yx - yx.mean(0)).T))
    d = np.hypot(*(yx - yx[centre]).T)
    first, second = np.isclose(d, B), np.isclose(d, np.sqrt(3) * B)
    keep = np.arange(len(yx)) != centre
    df = ring_statistics(yx[keep])
    assert (df.ring_sizes[first[keep]] == "6").all() and (df.ring_label[first[keep]] == 0).all()
    assert (df.ring_label[second[keep]] == 1).all()
    assert not df.border[first[keep] | second[keep]].any()
    big = ring_statistics(yx[keep], max_ring=12)
    assert (big.ring_sizes[first[keep]] == "6;12").all()


def _stone_wales_by_hand(yx: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Rotate the central bond by 90° and shorten it to 0.8 B (a crude relaxation)."""
    a = int(np.argmin(np.hypot(*(yx - yx.mean(0)).T)))
    d = np.hypot(*(yx - yx[a]).T)
    b = int(np.flatnonzero(np.isclose(d, B))[0])
    mid = (yx[a] + yx[b]) / 2
    out = yx.copy()
    for k in (a, b):
        dy, dx = (yx[k] - mid) * 0.8
        out[k] = mid + np.array([-dx, dy])
    return out, a, b


def test_stone_wales_by_hand_gives_5775():
    yx, a, b = _stone_wales_by_hand(honeycomb())
    df = ring_statistics(yx)
    assert df.ring_sizes[a] == df.ring_sizes[b] == "5;7;7"
    assert df.ring_label[a] == 7
    counts = df[~df.border].ring_sizes.value_counts()
    assert counts["5;7;7"] == 2 and counts["5;6;7"] == 4
    assert counts["5;6;6"] == 4 and counts["6;6;7"] == 6
    assert set(df[~df.border].ring_label) == {3, 4, 5, 6, 7}


def test_jittered_positions_keep_labels():
    rng = np.random.default_rng(3)
    yx = honeycomb(12, angle=1.1)
    truth = ring_statistics(yx)
    noisy = ring_statistics(yx + rng.normal(0, 0.06 * B, yx.shape))
    inner = ~truth.border & ~noisy.border
    assert (noisy.ring_label[inner] == truth.ring_label[inner]).all()


def test_crossing_candidates_keep_the_shorter_bond():
    # a rhombus whose both diagonals are within the cutoff: only the shorter one is a bond
    yx = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, -4.0], [5.0, 4.5], [20.0, 20.0]])
    bonds = planar_bonds(yx, 8.0, 0.35, None)
    pairs = {tuple(p) for p in bonds.tolist()}
    assert (2, 3) in pairs and (0, 1) not in pairs
    assert len(_crossing_pairs(yx, bonds, 20.0)) == 0


def test_degree_cap_and_extra_detection_never_cross():
    rng = np.random.default_rng(0)
    yx = honeycomb(8) + rng.normal(0, 0.1 * B, (128, 2))
    extra = yx.mean(0) + rng.normal(0, 2 * B, (6, 2))  # false detections
    rings = find_rings(np.concatenate([yx, extra]))
    assert len(_crossing_pairs(np.concatenate([yx, extra]), rings.bonds, 3 * B)) == 0
    assert np.bincount(rings.bonds.ravel()).max() <= 3


def test_table_keeps_columns_and_image_edge_is_border():
    yx = honeycomb(6)
    table = pd.DataFrame({"y": yx[:, 0], "x": yx[:, 1], "score": np.arange(len(yx))})
    df = ring_statistics(table)
    assert list(df.columns[:3]) == ["y", "x", "score"]
    assert {"ring_sizes", "ring_count", "ring_label", "border"} <= set(df.columns)
    shifted = table.assign(y=table.y - 500 + 0.5 * B, x=table.x - 500 + 0.5 * B)
    edge = ring_statistics(shifted, shape=(400, 400))
    near = (shifted.y < B) | (shifted.x < B)
    assert edge.border[near].all()


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (np.zeros((2, 2)), "at least 3 atoms"),
        (pd.DataFrame({"row": [1.0, 2, 3], "x": [1.0, 2, 3]}), "columns 'y' and 'x'"),
        (np.array([[0.0, 0], [100, 0], [0, 200]]), "no bonds"),
        (np.array([[0.0, np.nan], [1, 0], [0, 2]]), "finite"),
    ],
)
def test_bad_inputs_one_sentence(points, message):
    kwargs = {"bond_length": 10.0} if "bonds" in message else {}
    with pytest.raises(IvaeError, match=message):
        ring_statistics(points, **kwargs)


# ------------------------------------------------------------------ simulator defects
@pytest.fixture(scope="module")
def defects():
    return simulate_stem(
        (224, 224), n_grains=1, stone_wales=3, reconstructed_vacancies=2, vacancy_fraction=0.005,
        seed=71,
    )  # fmt: skip


def test_simulated_defects_truth(defects):
    r = defects.rings
    assert len(r) == len(defects.atoms)
    sw = r[r.defect == "stone_wales"]
    assert len(sw) == 3 * 6
    assert sorted(sw.ring_sizes.value_counts().items()) == [("5;6;7", 3 * 4), ("5;7;7", 3 * 2)]
    v59 = r[r.defect == "vacancy_59"]
    assert len(v59) == 2 * 3 and (v59.ring_sizes.str.contains("9")).all()
    assert (r.ring_sizes.str.count("5") <= 1).all()  # defects do not touch
    assert defects.params["stone_wales"] == 3
    yx = defects.atoms[["y", "x"]].to_numpy()
    length = np.hypot(*(yx[defects.bonds[:, 0]] - yx[defects.bonds[:, 1]]).T) / B
    assert 0.85 < length.min() and length.max() < 1.15


def test_rings_from_true_positions_match_truth(defects):
    got = ring_statistics(defects.atoms, shape=defects.image.shape)
    ok = defects.rings.ring_known & ~got.border
    assert ok.sum() > 300
    assert (got.ring_sizes[ok] == defects.rings.ring_sizes[ok]).all()


def test_defects_options():
    plain = simulate_stem((96, 96), seed=4)
    assert plain.rings is not None and "stone_wales" not in plain.params
    with pytest.raises(IvaeError, match="graphene"):
        simulate_stem((96, 96), lattice="square", stone_wales=1)
    with pytest.raises(IvaeError, match="do not fit"):
        simulate_stem((64, 64), stone_wales=20)
    assert simulate_stem((96, 96), lattice="square", seed=4).rings is None
