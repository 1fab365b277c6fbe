"""Colour schemes, legends and class colours (napari_ivae.colors) and scatter selection, no Qt."""

import numpy as np
import pandas as pd
import pytest

from napari_ivae import IvaeError
from napari_ivae.colors import (
    N_CONTINUOUS,
    NAN_COLOR,
    categorical_colors,
    color_scheme,
    is_categorical,
    is_cyclic,
    legend,
    next_class_color,
    to_hex,
    to_rgba,
)
from napari_ivae.selection import points_in_polygon, points_in_rect


def test_categorical_columns_get_one_colour_per_category_and_n_a_for_nan():
    cls = pd.Series([0.0, 1.0, np.nan, 1.0])  # class after a join: float with NaN
    s = color_scheme("class", cls)
    assert s.kind == "categorical" and s.labels == ["0", "1", "n/a"]
    assert list(s.codes) == [0, 1, 2, 1]
    assert tuple(s.colors[2]) == NAN_COLOR
    assert (s.point_colors()[1] == s.point_colors()[3]).all()
    assert is_categorical("frame", np.arange(30) % 3)
    assert not is_categorical("z1", np.linspace(0, 1, 50))
    assert not is_categorical("angle", np.zeros(5, int))  # angles are never categories
    assert is_categorical("name", ["a", "b"]) and is_categorical("flag", [True, False])


def test_cyclic_and_sequential_maps():
    angle = np.linspace(-np.pi, np.pi, 100, endpoint=False)
    s = color_scheme("angle", angle)
    assert is_cyclic("angle") and is_cyclic("wall_angle") and not is_cyclic("z1")
    assert s.kind == "cyclic" and (s.vmin, s.vmax) == (0.0, 2 * np.pi)
    assert len(s.colors) == N_CONTINUOUS and s.codes.max() < N_CONTINUOUS
    deg = color_scheme("orientation", np.array([0.0, 90.0, 179.0]))
    assert (deg.vmin, deg.vmax) == (0.0, 180.0)
    v = np.r_[np.linspace(0, 10, 99), np.nan]
    seq = color_scheme("intensity", v)
    assert seq.kind == "sequential" and seq.vmin < 0.1 and seq.vmax > 9.9
    assert np.all(np.diff(seq.codes[:99]) >= 0)  # monotonic in the value
    assert seq.codes[-1] == N_CONTINUOUS and tuple(seq.colors[-1]) == NAN_COLOR


def test_label_scheme_uses_the_class_colours_unlabeled_grey_first():
    labels = pd.Series(["", "b", "a", "other", ""])
    s = color_scheme("label", labels, label_colors={"a": (255, 0, 0, 255), "b": (0, 0, 255, 255)})
    assert s.labels == ["unlabeled", "a", "b", "other"]  # classes in order, then the rest
    assert list(s.codes) == [0, 2, 1, 3, 0]
    assert tuple(s.colors[0]) == NAN_COLOR and tuple(s.colors[1]) == (255, 0, 0, 255)


def test_legend_lists_counts_or_a_colour_bar():
    s = color_scheme("frame", pd.Series(np.arange(30) % 3))
    leg = legend("frame", s)
    assert leg.kind == "categorical" and [(n, c) for n, _rgba, c in leg.entries] == [
        ("0", 10),
        ("1", 10),
        ("2", 10),
    ]
    many = legend("frame", color_scheme("frame", np.arange(20)), max_rows=12)
    assert len(many.entries) == 12 and many.more == 8
    lab = legend("label", color_scheme("label", ["", "a"], label_colors={"a": (1, 2, 3, 255)}))
    assert lab.entries[0][0] == "unlabeled" and lab.entries[1] == ("a", (1, 2, 3, 255), 1)
    bar = legend("angle", color_scheme("angle", [0.0, 1.0, np.nan]))
    assert bar.cyclic and len(bar.bar) == N_CONTINUOUS and bar.vmax == pytest.approx(2 * np.pi)


def test_colour_conversions_and_free_class_colours():
    assert to_hex("#FF0000") == "#ff0000" == to_hex("red") == to_hex((255, 0, 0, 255))
    assert to_rgba("#00ff00") == (0, 255, 0, 255)
    with pytest.raises(IvaeError, match="not a colour"):
        to_hex("no such colour")
    with pytest.raises(IvaeError, match="not a colour"):
        to_hex((300, 0, 0))
    tab10 = [to_hex(c) for c in categorical_colors(10)]
    assert next_class_color([]) == tab10[0]
    assert next_class_color([tab10[0], "#123456"]) == tab10[1]
    assert next_class_color(tab10) == tab10[0]  # all taken: they repeat
    assert len({tuple(c) for c in categorical_colors(25)}) == 25


def test_lasso_and_rectangle_selection():
    x = np.array([0.0, 1.0, 2.0, np.nan, 0.5])
    y = np.array([0.0, 1.0, 2.0, 0.5, 0.4])
    square = np.array([[-0.5, -0.5], [1.5, -0.5], [1.5, 1.5], [-0.5, 1.5]])
    assert points_in_polygon(x, y, square).tolist() == [0, 1, 4]
    assert points_in_polygon(x, y, square[:2]).size == 0  # not a polygon
    assert points_in_rect(x, y, 2.0, 2.0, 0.5, 0.4).tolist() == [1, 2, 4]  # any corner order


def test_class_scores_always_get_a_colour_bar_with_a_fixed_meaning():
    from napari_ivae.colors import score_map

    # all members agree (agreement 1.0, uncertainty 0.0): still a bar, not one category "1"
    for name, values in (("class_agreement", np.ones(20)), ("class_uncertainty", np.zeros(20))):
        assert not is_categorical(name, values)
        assert color_scheme(name, values).kind == "sequential"
    # M = 5 members: agreement in fifths over the fixed range [0, 1], low agreement bright
    agree = color_scheme("class_agreement", np.array([0.2, 0.6, 1.0]))
    assert (agree.vmin, agree.vmax) == (0.0, 1.0)
    bright = agree.point_colors()[:, :3].astype(int).sum(1)
    assert bright[0] > bright[1] > bright[2]
    # uncertainty from 0 (not its smallest value) to its largest
    unc = color_scheme("class_uncertainty", np.array([0.1, 0.2, 0.4]))
    assert (unc.vmin, unc.vmax) == (0.0, 0.4) and unc.codes[-1] == N_CONTINUOUS - 1
    assert unc.codes[0] == int(0.25 * N_CONTINUOUS)
    assert score_map("p_spade") == score_map("p3") == ("viridis", 0.0, 1.0)
    assert score_map("prob") is None and score_map("class") is None
    # class probabilities stay a [0, 1] bar whatever their spread
    p = color_scheme("p_A", np.array([0.4, 0.5]))
    assert (p.vmin, p.vmax) == (0.0, 1.0)
