"""Explorer class views, opened from the Plugins menu: colour by class_uncertainty, the
confusion matrix against a truth column, and per-class manifolds of a conditional model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("napari")
pytest.importorskip("pyqtgraph")

from napari_ivae._qt.explorer import ExplorerWidget
from napari_ivae.record import get_record

pytestmark = pytest.mark.gui

#: truth × predicted counts of :func:`_ensemble_points` (rows and columns A, B, C)
COUNTS = [[40, 5, 0], [2, 50, 0], [0, 0, 30]]


def _ensemble_points(seed=0):
    """Points as an ensemble writes them: ``class`` (predicted), ``class_uncertainty``,
    ``class_agreement``; ``label`` holds the truth of all but 13 unlabelled rows."""
    rng = np.random.default_rng(seed)
    truth, pred = [], []
    for i, row in enumerate(COUNTS):
        for j, k in enumerate(row):
            truth += ["ABC"[i]] * k
            pred += ["ABC"[j]] * k
    n = len(truth) + 13
    truth += [""] * 13
    pred += list(rng.choice(list("ABC"), 13))
    wrong = np.array([t not in ("", p) for t, p in zip(truth, pred)])
    unc = np.where(wrong, rng.uniform(0.3, 0.5, n), rng.uniform(0.0, 0.1, n))
    feats = pd.DataFrame(
        {
            "y": rng.uniform(0, 100, n),
            "x": rng.uniform(0, 100, n),
            "z1": rng.normal(size=n),
            "z2": rng.normal(size=n),
            "class": pred,
            "class_uncertainty": unc,
            "class_agreement": np.where(wrong, 0.6, 1.0),
            "label": pd.Categorical(truth),
        }
    )
    return feats


@pytest.fixture
def explorer(dock):
    def _make(feats, model=None):
        viewer, w = dock(ExplorerWidget)
        layer = viewer.add_points(feats[["y", "x"]].to_numpy(), features=feats, name="pts")
        if model is not None:  # what Train leaves: the model in the record, then the features
            get_record(layer).model = model
            layer.features = layer.features.copy()
        assert w.layer is layer
        return viewer, layer, w

    return _make


def test_class_uncertainty_and_agreement_are_colour_bars(explorer):
    _viewer, layer, w = explorer(_ensemble_points())
    w.set_color_by("class_uncertainty")
    assert w.scatter.scheme.kind == "sequential"
    legend = w.legend.text()
    assert "<b>class_uncertainty</b>" in legend and "data:image/png" in legend
    assert legend.rstrip().endswith(f"0 … {layer.features['class_uncertainty'].max():.3g}")
    # the uncertain (misclassified) points are brighter than the sure ones
    rgb = w.scatter.point_colors()[:, :3].astype(int).sum(1)
    unc = layer.features["class_uncertainty"].to_numpy()
    assert rgb[unc > 0.3].min() > rgb[unc < 0.1].max()
    # agreement: all members agree on most points; low agreement is the bright end
    w.set_color_by("class_agreement")
    assert w.scatter.scheme.kind == "sequential"
    assert "0 … 1" in w.legend.text()
    rgb = w.scatter.point_colors()[:, :3].astype(int).sum(1)
    agree = layer.features["class_agreement"].to_numpy()
    assert rgb[agree < 1].min() > rgb[agree == 1].max()


def test_confusion_matrix_counts_follow_the_labels_and_save_png(explorer, tmp_path, qtbot):
    _viewer, layer, w = explorer(_ensemble_points())
    assert w.confusion_box.isVisibleTo(w)
    assert w.truth_combo.currentText() == "label"  # the default truth column
    cm = w.confusion
    assert cm.counts.to_numpy().tolist() == COUNTS and cm.n_skipped == 13
    table = w.confusion_table
    got = [[int(table.item(i, j).text()) for j in range(3)] for i in range(3)]
    assert got == COUNTS
    assert [table.verticalHeaderItem(i).text() for i in range(3)] == ["A", "B", "C"]
    assert "accuracy 0.945" in w.accuracy_label.text()  # 120 of 127
    # labelling the unlabelled points of class C as C (the truth) recomputes the matrix
    feats = layer.features
    rows = np.flatnonzero((feats["label"].astype(str) == "") & (feats["class"] == "C"))
    w.select_indices(rows)
    w.assign_label("C")
    assert w.confusion.counts.loc["C", "C"] == 30 + len(rows)
    assert int(table.item(2, 2).text()) == 30 + len(rows)
    # new predictions (retraining) recompute it too
    new = layer.features.copy()
    new["class"] = new["label"].astype(str).replace("", "A")
    layer.features = new
    assert w.confusion.accuracy == 1.0 and "accuracy 1.000" in w.accuracy_label.text()
    out = w.save_confusion(tmp_path / "cm.png")
    assert out.is_file() and out.stat().st_size > 5000
    # no class column: no box
    layer.features = new.drop(columns="class")
    assert not w.confusion_box.isVisibleTo(w) and w.confusion is None


def test_a_truth_column_with_cluster_numbers_and_no_truth(explorer):
    feats = _ensemble_points().drop(columns="label")
    feats["class"] = feats["class"].map({"A": 2, "B": 0, "C": 1})
    _viewer, layer, w = explorer(feats)
    assert w.truth_combo.count() == 0 and w.confusion is None
    assert "No truth column" in w.accuracy_label.text()
    assert not w.save_confusion_button.isEnabled()
    feats["truth"] = ["ABC"[[2, 0, 1].index(c)] for c in feats["class"]]
    layer.features = feats
    assert w.truth_combo.currentText() == "truth"
    assert "matched accuracy 1.000" in w.accuracy_label.text()


@pytest.fixture(scope="module")
def crvae():
    """A crvae trained 1 epoch on tiny cards of two named classes."""
    pytest.importorskip("torch")
    from napari_ivae.models.cond_config import CondConfig
    from napari_ivae.simulate.cards import make_cards
    from napari_ivae.train import TrainConfig, fit, run_fit

    cards = make_cards(12, size=32, seed=3, shear=0.0)
    two = cards.labels < 2
    names = np.array(["spade", "heart"])[cards.labels[two]]
    tc = TrainConfig(epochs=1, batch_size=32, seed=0, device="cpu", num_threads=1)
    cfg = CondConfig(kind="crvae", latent_dim=2, hidden=16)
    return run_fit(fit(cards.images[two], cfg, tc, labels=names)).model


def test_per_class_manifold_of_a_conditional_model(explorer, crvae, qtbot):
    from napari_ivae._qt.explorer._preview import _channels_side_by_side
    from napari_ivae.analysis import decode, manifold

    feats = _ensemble_points().drop(columns=["class", "class_uncertainty", "class_agreement"])
    viewer, _layer, w = explorer(feats, model=crvae)
    combo = w.manifold_class_combo
    assert combo.isVisibleTo(w)
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "heart",
        "spade",
    ]  # sorted vocabulary
    combo.setCurrentText("heart")
    lay = w.show_manifold(n=3)
    assert lay.name == "pts manifold class heart" and lay in viewer.layers
    span = float(np.clip(np.percentile(np.abs(feats[["z1", "z2"]].to_numpy()), 98), 0.05, 6))
    want = {c: manifold(crvae, dims=(0, 1), n=3, span=span, cls=c)[0] for c in ("spade", "heart")}
    assert np.allclose(lay.data, want["heart"], atol=1e-5)
    assert not np.allclose(want["spade"], want["heart"], atol=1e-3)  # each class its own space
    spade = w.show_manifold(n=3, cls="spade")
    assert spade.name == "pts manifold class spade" and np.allclose(spade.data, want["spade"])
    assert combo.currentText() == "spade"
    # a click in empty latent space decodes as the chosen class
    img = w.decode_at(0.3, -0.2)
    assert np.allclose(img, decode(crvae, [0.3, -0.2], cls="spade")[0], atol=1e-6)
    assert _channels_side_by_side(img).shape == (32, 32)
    with pytest.raises(ValueError, match="not a class of the model"):
        w.set_manifold_class("club")


def test_per_class_manifold_of_a_joint_model_uses_class_numbers(explorer):
    pytest.importorskip("torch")
    from napari_ivae.analysis import manifold
    from napari_ivae.models import ModelConfig, build_model

    model = build_model(ModelConfig(kind="jvae", in_channels=1, size=32, latent_dim=2, n_classes=3))
    feats = _ensemble_points().drop(columns=["class", "class_uncertainty", "class_agreement"])
    _viewer, _layer, w = explorer(feats, model=model)
    combo = w.manifold_class_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["0", "1", "2"]
    lay = w.show_manifold(n=2, cls=2)
    assert lay.name == "pts manifold class 2"
    span = float(np.clip(np.percentile(np.abs(feats[["z1", "z2"]].to_numpy()), 98), 0.05, 6))
    assert np.allclose(lay.data, manifold(model, dims=(0, 1), n=2, span=span, cls=2)[0])
    assert not np.allclose(lay.data, manifold(model, dims=(0, 1), n=2, span=span, cls=0)[0])
