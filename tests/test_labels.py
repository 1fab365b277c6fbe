"""Labelling without Qt: paint_wall_labels (nearest wall point of the frame) and LabelSet."""

import numpy as np
import pandas as pd
import pytest

from napari_ivae import IvaeError
from napari_ivae.labels import LabelSet, paint_wall_labels, write_points_csv


def test_two_walls_two_classes_and_unlabeled_wall():
    mask = np.zeros((40, 40), bool)
    mask[10, 5:35] = True  # wall A: labeled 1
    mask[30, 5:35] = True  # wall B: labeled 2 on the left half, unlabeled on the right
    yx = np.array([[10, 8], [10, 20], [10, 32], [30, 8], [30, 14], [30, 26], [30, 32]], float)
    codes = np.array([1, 1, 1, 2, 2, 0, 0])
    out = paint_wall_labels(mask, yx, codes)
    assert out.dtype == np.uint8 and out.shape == mask.shape
    assert (out[~mask] == 0).all()
    assert (out[10, 5:35] == 1).all()
    assert (out[30, 5:20] == 2).all() and (out[30, 21:35] == 0).all()


def test_frames_are_kept_apart_and_nan_points_ignored():
    mask = np.zeros((2, 20, 20), bool)
    mask[:, 10, :] = True
    yx = np.array([[10, 10], [10, 10], [np.nan, np.nan]])
    out = paint_wall_labels(mask, yx, np.array([1, 2, 3]), frame=np.array([0, 1, 0]))
    assert (out[0][mask[0]] == 1).all() and (out[1][mask[1]] == 2).all()


def test_bad_shapes_are_named():
    with pytest.raises(IvaeError, match="mask must be"):
        paint_wall_labels(np.zeros(5), np.zeros((1, 2)), np.zeros(1, int))
    with pytest.raises(IvaeError, match="yx must be"):
        paint_wall_labels(np.zeros((5, 5)), np.zeros((2, 3)), np.zeros(2, int))


# --------------------------------------------------------------------------- LabelSet


def test_labelset_classes_assign_rename_remove_recolour():
    ls = LabelSet(6)
    assert ls.classes == {} and ls.n_labeled == 0  # no placeholder classes
    ls.assign([0, 1], "charged")  # a new class on the fly: the first is 1
    ls.add("neutral", "#00FF00")
    ls.assign(np.array([False, True, False, False, True, False]), "neutral")  # relabels row 1
    assert list(ls.classes) == ["charged", "neutral"]
    assert ls.classes["neutral"] == "#00ff00"
    assert ls.labels.tolist() == ["charged", "neutral", "", "", "neutral", ""]
    assert ls.codes().tolist() == [1, 2, 0, 0, 2, 0]
    assert ls.counts() == {"charged": 1, "neutral": 2}
    col = ls.column()
    assert list(col.categories) == ["", "charged", "neutral"] and col[1] == "neutral"
    ls.rename("charged", "wall A")
    assert list(ls.classes) == ["wall A", "neutral"] and ls.labels[0] == "wall A"
    ls.recolor("wall A", "blue")
    assert ls.classes["wall A"] == "#0000ff" and ls.rgba()["wall A"] == (0, 0, 255, 255)
    assert ls.point_colormap()[""] == [0.55, 0.55, 0.55, 1.0]
    ls.remove("wall A")  # its points become unlabeled, "neutral" is now class 1
    assert ls.labels.tolist() == ["", "neutral", "", "", "neutral", ""]
    assert ls.codes().tolist() == [0, 1, 0, 0, 1, 0]
    ls.clear_labels([1])
    assert ls.n_labeled == 1
    ls.clear_labels()
    assert ls.n_labeled == 0 and list(ls.classes) == ["neutral"]


def test_labelset_errors_are_one_sentence():
    ls = LabelSet(3, {"a": "#ff0000"})
    for call, match in (
        (lambda: ls.add(" "), "empty"),
        (lambda: ls.add("a"), "already exists"),
        (lambda: ls.add("b", "nope"), "not a colour"),
        (lambda: ls.rename("x", "y"), "old='x' is not a class"),
        (lambda: ls.rename("a", ""), "empty or already"),
        (lambda: ls.remove("x"), "name='x' is not a class"),
        (lambda: ls.assign([0], ""), "clear_labels"),
        (lambda: ls.assign([3], "a"), r"rows must be in 0\.\.2"),
        (lambda: LabelSet(2, labels=["a"]), "1 values for 2 points"),
        (lambda: ls.label_mask(np.ones((4, 4)), np.zeros((3, 2))), "no labeled points"),
    ):
        with pytest.raises(IvaeError, match=match):
            call()


def test_labelset_from_a_table_adds_unknown_labels_as_classes():
    table = pd.DataFrame(
        {"y": [1.0, 2, 3], "label": pd.Categorical(["b", None, "a"], categories=["", "a", "b"])}
    )
    ls = LabelSet.from_table(table, {"a": "#ff0000"})
    assert ls.labels.tolist() == ["b", "", "a"]
    assert list(ls.classes) == ["a", "b"] and ls.classes["a"] == "#ff0000"
    assert LabelSet.from_table(pd.DataFrame({"y": [1.0]}), n_points=1).n_labeled == 0
    # a label column of the wrong length (features out of step): nobody labeled
    assert LabelSet.from_table(table, n_points=5).labels.tolist() == [""] * 5


def test_label_mask_first_class_is_1_and_tiff_export(tmp_path):
    import tifffile

    mask = np.zeros((40, 60), dtype=np.uint8)
    mask[10, 5:55] = 1
    yx = np.array([[10, 10], [10, 50]], float)
    ls = LabelSet(2)
    ls.assign([1], "charged wall")
    lab = ls.label_mask(mask, yx)
    assert set(np.unique(lab)) == {0, 1} and lab[10, 54] == 1 and lab[10, 5] == 0
    out = ls.save_mask(tmp_path / "m.tif", mask, yx)
    with tifffile.TiffFile(out) as tif:
        assert np.array_equal(tif.asarray(), lab)
        assert "1=charged wall" in tif.pages[0].description
    # frames: a point of frame 1 labels only frame 1; NaN frames count as 0
    series = np.stack([mask, mask])
    lab3 = ls.label_mask(series, yx, frame=[np.nan, 1.0])
    assert (lab3[0] == 0).all() and lab3[1, 10, 54] == 1
    with pytest.raises(IvaeError, match="folder"):
        ls.save_mask(tmp_path / "missing" / "m.tif", mask, yx)


def test_points_table_every_point_with_features_label_and_nm(tmp_path):
    feats = pd.DataFrame({"z1": [0.1, 0.2, 0.3], "class": [0.0, 1.0, np.nan]})
    pos = pd.DataFrame({"y": [1.0, 2.0, 3.0], "x": [4.0, 5.0, 6.0], "frame": [0, 0, 0]})
    ls = LabelSet(3)
    ls.assign([2], "a")
    table = ls.points_table(feats, positions=pos, pixel_size_nm=(2.0, 0.5))
    assert list(table.columns) == [
        "point",
        "y",
        "x",
        "y_nm",
        "x_nm",
        "frame",
        "z1",
        "class",
        "label",
    ]
    assert table["label"].tolist() == ["", "", "a"] and table["point"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(table["y_nm"], [2, 4, 6])
    np.testing.assert_allclose(table["x_nm"], [2, 2.5, 3])
    plain = ls.points_table(pd.concat([pos, feats], axis=1))
    assert "y_nm" not in plain and len(plain) == 3  # uncalibrated: pixels only
    out = write_points_csv(tmp_path / "p.csv", table)
    back = pd.read_csv(out, keep_default_na=False)
    assert len(back) == 3 and back["label"].tolist() == ["", "", "a"]
    with pytest.raises(IvaeError, match="no points"):
        write_points_csv(tmp_path / "e.csv", table.iloc[:0])
    with pytest.raises(IvaeError, match="rows"):
        ls.points_table(feats.iloc[:2])
