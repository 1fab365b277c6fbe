"""The explorer's second scatter: a dual VAE's two latents side by side, one selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("napari")
pytest.importorskip("pyqtgraph")

from napari_ivae._errors import IvaeError
from napari_ivae._qt.explorer import ExplorerWidget

pytestmark = pytest.mark.gui

N = 200


def _dual_features(seed=0):
    """zs splits rows 0..99 / 100..199 along zs1; zp splits even / odd rows along zp2."""
    rng = np.random.default_rng(seed)
    rows = np.arange(N)
    return pd.DataFrame(
        {
            "y": rng.uniform(0, 50, N),
            "x": rng.uniform(0, 50, N),
            "zs1": np.where(rows < N // 2, -3.0, 3.0) + rng.normal(0, 0.3, N),
            "zs2": rng.normal(0, 0.3, N),
            "zp1": rng.normal(0, 0.3, N),
            "zp2": np.where(rows % 2 == 0, -3.0, 3.0) + rng.normal(0, 0.3, N),
            "spectrum_mse": rng.uniform(0, 1, N),
        }
    )


@pytest.fixture
def dual(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    feats = _dual_features()
    layer = viewer.add_points(feats[["y", "x"]].to_numpy(), features=feats, name="pts")
    w = ExplorerWidget(viewer)
    qtbot.addWidget(w)
    return viewer, layer, w


def _ringed(scatter) -> np.ndarray:
    """Rows ringed in ``scatter`` (matched by their plotted coordinates)."""
    sx, sy = scatter._sel.getData()
    key = {(float(a), float(b)): i for i, (a, b) in enumerate(zip(scatter.x, scatter.y))}
    return np.sort([key[(float(a), float(b))] for a, b in zip(sx, sy)])


def test_dual_latents_side_by_side_and_a_lasso_in_either_selects_in_both(dual):
    _viewer, layer, w = dual
    assert (w._xcol, w._ycol) == ("zs1", "zs2") and w.second_axes == ("zp1", "zp2")
    assert w.second_check.isChecked() and not w.scatter2.isHidden()
    assert np.array_equal(w.scatter2.y, layer.features["zp2"].to_numpy())
    # same colours in both (by spectrum_mse here, the dock's colouring)
    w.set_color_by("spectrum_mse")
    assert np.array_equal(w.scatter2.point_colors(), w.scatter.point_colors())
    # a lasso in the property scatter: the even rows, ringed in both and in the image
    box = np.array([[-2, -5], [2, -5], [2, 0], [-2, 0]], float)
    w.scatter2.sigPolygon.emit(box, False)
    even = np.arange(0, N, 2)
    assert np.array_equal(w.selected, even)
    assert np.array_equal(_ringed(w.scatter), even) and np.array_equal(_ringed(w.scatter2), even)
    assert len(w.highlight_layer.data) == even.size
    # shift-lasso in the structure scatter adds the rows 100..199
    w.scatter.sigPolygon.emit(np.array([[1, -2], [6, -2], [6, 2], [1, 2]], float), True)
    expect = np.union1d(even, np.arange(N // 2, N))
    assert np.array_equal(w.selected, expect) and np.array_equal(_ringed(w.scatter2), expect)
    # a selection made in napari rings the points in both scatters
    layer.selected_data = {1, 3}
    assert np.array_equal(_ringed(w.scatter2), [1, 3]) and np.array_equal(
        _ringed(w.scatter), [1, 3]
    )


def test_second_axes_are_chosen_validated_and_hidden_without_latents(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    feats = _dual_features().drop(columns=["zs1", "zs2"])
    layer = viewer.add_points(feats[["y", "x"]].to_numpy(), features=feats, name="plain")
    w = ExplorerWidget(viewer)
    qtbot.addWidget(w)
    assert not w.second_check.isChecked() and w.scatter2.isHidden()  # not a dual VAE
    w.set_second_axes("zp2", "spectrum_mse")
    assert w.second_check.isChecked() and not w.scatter2.isHidden()
    assert np.array_equal(w.scatter2.x, layer.features["zp2"].to_numpy())
    with pytest.raises(IvaeError, match="xcol='nope' is not a numeric feature column"):
        w.set_second_axes("nope", "zp1")
    w.scatter2.sigClick.emit(float(w.scatter2.x[5]), float(w.scatter2.y[5]), False)
    assert np.array_equal(w.selected, [5])
    w.show_second(False)
    assert w.scatter2.isHidden()


def test_dual_latents_arriving_after_training_are_shown_side_by_side(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    feats = _dual_features()
    plain = feats[["y", "x", "spectrum_mse"]]
    layer = viewer.add_points(feats[["y", "x"]].to_numpy(), features=plain, name="grid")
    w = ExplorerWidget(viewer)
    qtbot.addWidget(w)
    assert (w._xcol, w._ycol) == ("y", "x") and not w.second_check.isChecked()
    layer.features = feats  # what the Structure–property dock writes when training ends
    assert (w._xcol, w._ycol) == ("zs1", "zs2") and w.second_axes == ("zp1", "zp2")
    assert w.second_check.isChecked() and np.array_equal(w.scatter2.y, feats["zp2"].to_numpy())
