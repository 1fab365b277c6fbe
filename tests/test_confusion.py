"""Confusion matrix of predicted classes against truth: exact counts, scores, bad input, PNG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_ivae._errors import IvaeError
from napari_ivae.confusion import confusion_matrix, plot_confusion


def _truth_and_prediction(seed=0):
    """300 rows, 3 named classes; known errors: 7 A→B, 3 B→C, 5 C→A; 10 unlabelled rows."""
    rng = np.random.default_rng(seed)
    truth = np.array(["A"] * 100 + ["B"] * 120 + ["C"] * 80, dtype=object)
    pred = truth.copy()
    pred[:7] = "B"
    pred[100:103] = "C"
    pred[220:225] = "A"
    truth[rng.choice(np.arange(240, 300), 10, replace=False)] = ""  # unlabelled: left out
    perm = rng.permutation(300)
    return truth[perm], pred[perm]


def test_exact_counts_accuracy_and_recall():
    truth, pred = _truth_and_prediction()
    cm = confusion_matrix(truth, pred)
    assert list(cm.counts.index) == ["A", "B", "C"] == list(cm.counts.columns)
    assert cm.counts.to_numpy().tolist() == [[93, 7, 0], [0, 117, 3], [5, 0, 65]]
    assert cm.n == 290 and cm.n_skipped == 10
    assert cm.accuracy == pytest.approx((93 + 117 + 65) / 290)
    assert cm.recall.tolist() == pytest.approx([0.93, 117 / 120, 65 / 70])
    assert cm.matched_accuracy == pytest.approx(cm.accuracy)


def test_integers_match_their_text_and_floats_with_nan():
    # truth read as text, class as floats with NaN (points without a crop)
    truth = pd.Series(["0", "1", "1", "2", "2", "2"])
    pred = pd.Series([0.0, 1.0, np.nan, 2.0, 1.0, 2.0])
    cm = confusion_matrix(truth, pred)
    assert list(cm.counts.index) == ["0", "1", "2"]
    assert cm.counts.to_numpy().tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 2]]
    assert cm.n_skipped == 1 and cm.accuracy == pytest.approx(4 / 5)
    # numbers sort as numbers, not as text
    cm = confusion_matrix([10, 2, 10], [10, 2, 2])
    assert list(cm.counts.index) == ["2", "10"]


def test_clusters_against_names_use_matched_accuracy():
    truth = ["A"] * 5 + ["B"] * 5
    pred = [1] * 4 + [0] + [0] * 5  # cluster 1 is A (4 of 5), cluster 0 is B
    cm = confusion_matrix(truth, pred)
    assert list(cm.counts.index) == ["A", "B"] and list(cm.counts.columns) == ["0", "1"]
    assert cm.counts.to_numpy().tolist() == [[1, 4], [5, 0]]
    assert not cm.shared and np.isnan(cm.accuracy) and cm.recall.isna().all()
    assert cm.matched_accuracy == pytest.approx(0.9)


def test_labels_fix_the_order_and_show_never_predicted_classes():
    cm = confusion_matrix(["b", "a", "a"], ["a", "a", "a"], labels=["c", "b", "a"])
    assert list(cm.counts.index) == ["c", "b", "a"] == list(cm.counts.columns)
    assert cm.counts.to_numpy().tolist() == [[0, 0, 0], [0, 0, 1], [0, 0, 2]]
    assert np.isnan(cm.recall["c"]) and cm.recall["a"] == 1.0


@pytest.mark.parametrize(
    ("truth", "pred", "kw", "message"),
    [
        (["a", "b"], ["a"], {}, "predicted has 1 values but truth has 2"),
        ([], [], {}, "no row with both a label and a prediction (of 0 rows)"),
        (["", None], ["a", "b"], {}, "no row with both a label and a prediction (of 2 rows)"),
        (["a", "z"], ["a", "a"], {"labels": ["a", "b"]}, "truth holds ['z']"),
        (["a", "b"], ["a", "a"], {"labels": ["a", "a"]}, "labels=['a', 'a'] must be different"),
        ([1.5, 2.0], [1, 2], {}, None),  # a fractional label is a label, not an error
    ],
)
def test_bad_input_is_one_sentence_naming_the_parameter(truth, pred, kw, message):
    if message is None:
        assert confusion_matrix(truth, pred, **kw).n == 2
        return
    with pytest.raises(IvaeError) as err:
        confusion_matrix(truth, pred, **kw)
    text = str(err.value)
    assert message in text and "\n" not in text


def test_png_is_written_atomically_and_shows_the_counts(tmp_path):
    pytest.importorskip("matplotlib")
    import imageio.v3 as iio

    truth, pred = _truth_and_prediction()
    cm = confusion_matrix(truth, pred)
    out = plot_confusion(cm, tmp_path / "cm.png", truth_name="label", predicted_name="class")
    img = iio.imread(out)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 200
    # the darkest cells are the diagonal's: some dark blue pixels, and the white background
    rgb = img[..., :3].astype(int)
    assert (rgb.sum(-1) > 740).mean() > 0.3
    assert ((rgb[..., 2] - rgb[..., 0]) > 100).any()
    assert [p.name for p in tmp_path.iterdir()] == ["cm.png"]  # no temp file left
    with pytest.raises(IvaeError, match=r"must end in \.png"):
        plot_confusion(cm, tmp_path / "cm.jpg")


# ----------------------------------------------------------------------------- ivae confusion
def test_cli_prints_accuracy_and_writes_the_png(tmp_path, capsys):
    from napari_ivae.cli import main

    truth, pred = _truth_and_prediction()
    feats = tmp_path / "latent.csv"
    pd.DataFrame({"z1": np.zeros(300), "class": pred, "truth": truth}).to_csv(feats, index=False)
    out = tmp_path / "cm.png"
    assert main(["confusion", str(feats), "--truth", "truth", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"accuracy {275 / 290:.4f}; 290 rows counted, 10 without truth" in printed
    assert out.is_file()
    # truth from a separate labels file (one row per row), classes as cluster numbers
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"label": truth}).to_csv(labels, index=False)
    codes = pd.Series(pred).map({"A": 2, "B": 0, "C": 1})
    pd.DataFrame({"class": codes.astype(float)}).to_csv(feats, index=False)
    assert main(["confusion", str(feats), "--truth", "label", "--labels", str(labels)]) == 0
    assert f"matched accuracy {275 / 290:.4f}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--truth", "nope"], "--truth 'nope' is not a column of"),
        (["--truth", "truth", "--predicted", "cls"], "--predicted 'cls' is not a column"),
        (["--truth", "truth", "-o", "cm.jpg"], "-o cm.jpg must end in .png"),
        (["--truth", "truth", "--labels", "short.csv"], "has 2 rows but"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, capsys, args, message):
    from napari_ivae.cli import main

    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"class": [0, 1, 1], "truth": ["0", "1", ""]}).to_csv("f.csv", index=False)
    pd.DataFrame({"truth": ["0", "1"]}).to_csv("short.csv", index=False)
    assert main(["confusion", "f.csv", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ivae: error:") and message in err and "\n" not in err
    assert not list(tmp_path.glob("*.png"))
