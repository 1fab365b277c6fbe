"""The one latent → points join (napari_ivae.latent), used by the GUI, the demo and the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_ivae import IvaeError
from napari_ivae.latent import join_latent


def _tables():
    points = pd.DataFrame(
        {"y": [1.0, 2, 3, 4], "label": ["a", "", "b", ""], "z3": 9.0, "p1": 9.0, "angle": 9.0}
    )
    latent = pd.DataFrame(
        {"y": [0.0, 0.0], "x": 0.0, "frame": 0, "z1": [0.1, 0.3], "z2": [1.0, 3.0], "class": [0, 1]}
    )
    return points, latent


def test_every_point_is_kept_with_nan_where_nothing_was_cropped():
    points, latent = _tables()
    out = join_latent(points, latent, np.array([0, 2]))
    # old latent columns (z3, p1, angle) are replaced; the stack's y/x/frame are not copied
    assert list(out.columns) == ["y", "label", "z1", "z2", "class"]
    np.testing.assert_array_equal(out["y"], points["y"])
    np.testing.assert_allclose(out["z1"], [0.1, np.nan, 0.3, np.nan])
    np.testing.assert_allclose(out["class"], [0, np.nan, 1, np.nan])
    assert list(out["label"]) == ["a", "", "b", ""]
    assert list(points.columns) == ["y", "label", "z3", "p1", "angle"]  # input untouched
    # every point cropped: dtypes survive (class stays an integer)
    full = join_latent(points.iloc[:2], latent, np.array([0, 1]))
    assert full["class"].dtype.kind == "i"
    # stack order differs from the points order: rows go where the index says
    swapped = join_latent(points.iloc[:2], latent, np.array([1, 0]))
    np.testing.assert_allclose(swapped["z1"], [0.3, 0.1])


def test_without_points_the_latent_rows_get_an_index_that_joins_back():
    points, latent = _tables()
    rows = join_latent(None, latent, np.array([3, 1]))  # what ivae train writes
    assert list(rows.columns) == ["y", "x", "frame", "index", "z1", "z2", "class"]
    np.testing.assert_array_equal(rows["index"], [3, 1])
    no_place = join_latent(None, latent.drop(columns=["y", "x", "frame"]), [0, 1])
    assert no_place.columns[0] == "index"
    # latent.csv joins into the detector's table by its own index column
    back = join_latent(points, rows)
    np.testing.assert_allclose(back["z1"], [np.nan, 0.3, np.nan, 0.1])
    assert "index" not in back.columns
    pd.testing.assert_frame_equal(back, join_latent(points, latent, np.array([3, 1])))


@pytest.mark.parametrize(
    ("index", "match"),
    [
        (np.array([0, 5]), r"refers to point 5 but the layer has 2 points.*crop again"),
        (np.array([-1, 0]), r"refers to point -1"),
        (np.array([0]), r"latent table has 2 rows but the stack index has 1"),
        (np.array([0.0, 1.0]), r"index must be a 1-D array of row numbers"),
        (None, r"no 'index' column"),
    ],
)
def test_a_wrong_index_is_refused_with_a_message(index, match):
    points, latent = _tables()
    with pytest.raises(IvaeError, match=match):
        join_latent(points.iloc[:2], latent, index)
