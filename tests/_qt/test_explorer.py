"""Latent explorer: selection both ways, hover, recolour, labels and exports (real Qt + napari)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("napari")
pytest.importorskip("pyqtgraph")


from napari_ivae._qt.explorer import HIGHLIGHT_KEY, ExplorerWidget
from napari_ivae.crop import Stack
from napari_ivae.record import get_record

pytestmark = pytest.mark.gui


def _two_clusters(n=400, seed=0):
    """Points with two latent clusters: rows 0..n/2-1 at z≈(-3, 0), the rest at z≈(+3, 0).

    Positions: cluster A on the left half of a 100×100 image, cluster B on the right.
    Each point has a stack entry (in reverse order, to test the index mapping) whose
    image is filled with the point's row number.
    """
    rng = np.random.default_rng(seed)
    half = n // 2
    z1 = np.r_[rng.normal(-3, 0.3, half), rng.normal(3, 0.3, n - half)]
    z2 = rng.normal(0, 0.3, n)
    y = rng.uniform(0, 100, n)
    x = np.r_[rng.uniform(0, 45, half), rng.uniform(55, 100, n - half)]
    feats = pd.DataFrame(
        {
            "y": y,
            "x": x,
            "frame": np.zeros(n, dtype=np.int64),
            "z1": z1,
            "z2": z2,
            "angle": rng.uniform(-np.pi, np.pi, n),
            "class": np.r_[np.zeros(half, int), np.ones(n - half, int)],
            "intensity": rng.normal(size=n),
        }
    )
    order = np.arange(n)[::-1]
    images = np.broadcast_to(order[:, None, None, None].astype(np.float32), (n, 1, 8, 8)).copy()
    stack = Stack(
        images=images, yx=np.c_[y, x][order], frame=np.zeros(n), index=order, channels=("a",)
    )
    return np.c_[y, x], feats, stack


@pytest.fixture
def setup(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    coords, feats, stack = _two_clusters()
    layer = viewer.add_points(coords, features=feats, size=2, name="walls")
    get_record(layer).stack = stack
    w = ExplorerWidget(viewer)
    qtbot.addWidget(w)
    return viewer, layer, w


def test_defaults_to_z_axes_and_lasso_highlights_exactly_the_cluster(setup, qtbot):
    viewer, layer, w = setup
    assert w.layer is layer
    assert (w._xcol, w._ycol) == ("z1", "z2")
    sel = w.lasso(np.array([[-6, -3], [0, -3], [0, 3], [-6, 3]]))
    assert np.array_equal(sel, np.arange(200))
    hl = w.highlight_layer
    assert hl is not None and hl in viewer.layers and hl.name == "walls selection"
    assert hl.metadata[HIGHLIGHT_KEY] == "walls"
    got = np.asarray(hl.data)
    assert got.shape == (200, 2)
    assert np.allclose(np.sort(got, axis=0), np.sort(np.asarray(layer.data)[:200], axis=0))
    # the points layer keeps its colours (never rewritten) and stays the active layer
    assert np.allclose(layer.face_color, layer.face_color[0])
    assert viewer.layers.selection.active is layer
    # the highlight layer is not offered as a layer to explore
    assert [w.layer_combo.itemText(i) for i in range(w.layer_combo.count())] == ["walls"]
    # shift-add the other cluster with a rectangle, then clear
    w.rect(0, -3, 6, 3, add=True)
    assert np.array_equal(w.selected, np.arange(400))
    assert len(hl.data) == 400
    # one marker symbol per point, whatever the growth (HighlightPoints skips
    # napari's per-point re-validation; the visual gets plain strings)
    assert len(hl.symbol) == 400 and {str(s) for s in hl.symbol} == {"disc"}
    assert set(hl._view_symbol) == {"disc"} and len(hl._view_symbol) == 400
    w.select_indices([5, 6])
    assert len(hl.symbol) == 2 and len(hl.size) == 2 and len(hl.border_color) == 2
    w.select_indices([])
    assert len(hl.data) == 0 and w.selected.size == 0
    # renaming follows in the combo and in the highlight layer's name
    layer.name = "walls B"
    assert w.layer_combo.currentText() == "walls B"
    assert hl.name == "walls B selection"
    # removing the points layer removes its highlight layer too
    viewer.layers.remove(layer)
    qtbot.waitUntil(lambda: hl not in viewer.layers, timeout=2000)
    assert w.layer is None


def test_napari_selection_rings_points_in_scatter(setup):
    _viewer, layer, w = setup
    layer.selected_data = {3, 250, 7}
    assert np.array_equal(w.selected, [3, 7, 250])
    sx, _sy = w.scatter._sel.getData()
    assert np.allclose(np.sort(sx), np.sort(layer.features["z1"].to_numpy()[[3, 7, 250]]))
    assert len(w.highlight_layer.data) == 3
    # the explorer does not write back into napari's selection (no loop)
    w.select_indices([1])
    assert set(layer.selected_data) == {3, 250, 7}


def test_recolour_categorical_cyclic_sequential(setup):
    _viewer, _layer, w = setup
    w.set_color_by("class")
    colors = w.scatter.point_colors()
    assert len(np.unique(colors, axis=0)) == 2  # two classes → two shared markers
    assert (colors[:200] == colors[0]).all() and (colors[200:] == colors[399]).all()
    assert "class" in w.legend.text()
    w.set_color_by("angle")
    assert "cyclic" in w.legend.text()
    w.set_color_by("intensity")
    assert "cyclic" not in w.legend.text()
    colors = w.scatter.point_colors()
    assert len(colors) == 400 and len(np.unique(colors, axis=0)) > 20
    # the sequential map is monotonic in the value: the darkest points have the lowest values
    v = w.layer.features["intensity"].to_numpy()
    lum = colors[:, :3].astype(float) @ [0.3, 0.6, 0.1]
    assert np.corrcoef(v, lum)[0, 1] > 0.8
    assert len(w.scatter._points) == 400
    with pytest.raises(ValueError, match="col='nope'"):
        w.set_color_by("nope")


def test_axes_switch_and_hover_shows_the_right_sub_image(setup, qtbot):
    _viewer, layer, w = setup
    w.set_axes("x", "y")
    w.scatter.resize(300, 300)
    w.scatter.auto_range()
    row = 123
    x, y = layer.features.loc[row, ["x", "y"]]
    assert w.hover_at(x, y) == row
    # the stack is stored in reverse order: entry n-1-row holds the image of `row`
    assert w.hover_entry == 400 - 1 - row
    assert float(get_record(layer).stack.images[w.hover_entry].mean()) == row
    assert not w.preview.pixmap().isNull()
    with pytest.raises(ValueError, match="xcol='label'"):
        w.set_axes("label", "y")


def test_labels_assign_relabel_clear_and_export_csv(setup, tmp_path):
    _viewer, layer, w = setup
    w.add_class("charged", "#ff0000")
    w.select_indices(np.arange(0, 10))
    w.assign_label("charged")
    w.select_indices(np.arange(200, 205))
    w.assign_label("neutral")  # a new class is added on the fly
    assert list(w.classes)[-2:] == ["charged", "neutral"]
    lab = layer.features["label"]
    assert isinstance(lab.dtype, pd.CategoricalDtype)
    assert (lab[:10] == "charged").all() and (lab[200:205] == "neutral").all()
    assert (lab[10:200] == "").all()
    # relabel two of them, unlabel one
    w.select_indices([0, 1])
    w.assign_label("neutral")
    w.select_indices([2])
    w.clear_labels(selected_only=True)
    # scatter coloured by label: unlabeled grey + two classes
    assert w._color_col == "label"
    _, counts = np.unique(w.scatter.point_colors(), axis=0, return_counts=True)
    assert sorted(counts) == [7, 7, 386]
    assert (w.scatter.point_colors()[5] == [255, 0, 0, 255]).all()
    # every point is exported with all its features, labelled or not
    out = w.export_points(tmp_path / "labels.csv")
    csv = pd.read_csv(out, keep_default_na=False)
    assert len(csv) == 400 and list(csv["point"]) == list(range(400))
    labelled = csv[csv["label"] != ""]
    assert dict(zip(labelled["point"], labelled["label"])) == {
        **{i: "neutral" for i in (0, 1, 200, 201, 202, 203, 204)},
        **{i: "charged" for i in range(3, 10)},
    }
    for col in ("y", "x", "z1", "z2", "angle", "class", "intensity"):
        assert np.allclose(csv[col], layer.features[col].to_numpy(dtype=float)), col
    assert "y_nm" not in csv  # no calibrated image: pixels only
    # napari colours by label on request, with the class colours
    w.color_points_by_label()
    assert np.allclose(layer.face_color[5], [1, 0, 0, 1])
    w.clear_labels()
    assert (layer.features["label"] == "").all()
    assert len(pd.read_csv(w.export_points(tmp_path / "none.csv"))) == 400


def test_labels_survive_a_features_rewrite(setup):
    _viewer, layer, w = setup
    w.select_indices([5, 6])
    w.assign_label("a")
    df = layer.features.drop(columns=["label"])
    df["z1"] = -df["z1"]  # "retrained"
    layer.features = df
    assert list(layer.features["label"][[5, 6, 7]]) == ["a", "a", ""]
    assert np.allclose(w.scatter.x, df["z1"])


def test_export_label_mask_nearest_wall_point(make_napari_viewer, qtbot, tmp_path):
    import tifffile

    viewer = make_napari_viewer()
    mask = np.zeros((40, 60), dtype=np.uint8)
    mask[10, 5:55] = 1  # a horizontal wall
    mask[5:35, 30] = 1  # a vertical wall
    viewer.add_labels(mask, name="walls mask")
    coords = np.array([[10, 10], [10, 50], [20, 30], [30, 30]], float)
    feats = pd.DataFrame(
        {"y": coords[:, 0], "x": coords[:, 1], "z1": [0, 1, 2, 3.0], "z2": [0, 1, 0, 1.0]}
    )
    viewer.add_points(coords, features=feats, name="pts")
    w = ExplorerWidget(viewer)
    qtbot.addWidget(w)
    w.select_indices([0])
    w.assign_label("class 1")
    w.select_indices([2, 3])
    w.assign_label("class 2")
    out = w.export_label_mask(tmp_path / "m.tif")
    lab = tifffile.imread(out)
    assert lab.shape == mask.shape and lab.dtype == np.uint8
    assert (lab[mask == 0] == 0).all()
    assert lab[10, 5] == 1 and lab[10, 20] == 1  # nearest is point 0
    assert lab[10, 45] == 0 and lab[10, 54] == 0  # nearest is point 1 (unlabeled)
    assert lab[34, 30] == 2 and lab[15, 30] == 2  # vertical wall → points 2, 3
    shown = w.show_label_mask()
    assert np.array_equal(shown.data, lab)


def test_layer_combo_follows_layers_and_bad_layers_do_not_crash(make_napari_viewer, qtbot, notes):
    def _warnings():
        return [text for sev, text in notes if "warning" in sev]

    viewer = make_napari_viewer()
    w = ExplorerWidget(viewer)
    qtbot.addWidget(w)
    assert w.layer is None and w.layer_combo.count() == 0
    empty = viewer.add_points(np.zeros((0, 2)), name="empty")
    assert w.layer is empty
    assert _warnings() and "no points" in _warnings()[-1]
    w.select_indices([])  # nothing to select: no crash
    assert w.lasso(np.array([[0, 0], [1, 0], [1, 1]])).size == 0
    plain = viewer.add_points(
        np.random.default_rng(0).uniform(0, 9, (5, 2)),
        name="plain",
        features={"name": list("abcde")},
    )
    assert w.layer_combo.count() == 2
    w.set_layer(plain)
    assert "numeric" in _warnings()[-1]
    coords, feats, _ = _two_clusters(50)
    good = viewer.add_points(coords, features=feats, name="good")
    assert w.layer is good  # a layer with latents is preferred
    viewer.layers.remove(good)
    assert w.layer_combo.count() == 2 and w.layer is not good
    # a points layer whose features gain z1.. later (training) is picked up
    w.set_layer(plain)
    plain.features = pd.DataFrame({"name": list("abcde"), "z1": np.arange(5.0), "z2": np.ones(5)})
    assert (w._xcol, w._ycol) == ("z1", "z2")
    assert len(w.scatter.x) == 5
    # detection points (y, x, score) are plotted y against x until training writes z1, z2
    det = viewer.add_points(
        np.c_[np.arange(6.0), np.arange(6.0)],
        features={"y": np.arange(6.0), "x": np.arange(6.0), "score": np.ones(6)},
        name="det",
    )
    w.set_layer(det)
    assert (w._xcol, w._ycol) == ("y", "x")
    f = det.features.copy()
    f["z1"], f["z2"] = np.arange(6.0), -np.arange(6.0)
    det.features = f
    assert (w._xcol, w._ycol) == ("z1", "z2")
    assert np.allclose(w.scatter.y, -np.arange(6.0))


def test_points_added_in_napari_refresh_the_scatter(setup):
    _viewer, layer, w = setup
    w.select_indices([1, 2])
    layer.add([[50.0, 50.0]])
    assert len(w.scatter.x) == 401
    # napari selects the new point; the explorer follows napari's selection
    assert np.array_equal(w.selected, sorted(layer.selected_data))
    assert len(w.highlight_layer.data) == len(layer.selected_data)


def test_manifold_layer_and_decode_in_empty_latent_space(setup):
    pytest.importorskip("torch")
    from napari_ivae.analysis import decode
    from napari_ivae.models import ModelConfig, build_model

    viewer, layer, w = setup
    model = build_model(ModelConfig(kind="vae", in_channels=1, size=8, latent_dim=3))
    get_record(layer).model = model
    img = w.decode_at(0.5, -1.0)
    expected = decode(model, np.array([[0.5, -1.0, 0.0]]))[0]
    assert np.allclose(img, expected, atol=1e-6)
    manifold_layer = w.show_manifold(n=4)
    assert manifold_layer in viewer.layers
    assert manifold_layer.data.shape == (4 * 8, 4 * 8)
    # placed beside the points, not over them
    assert manifold_layer.translate[-1] > layer.extent.world[1, -1]
    # a layer without a model: a notification, not a crash
    get_record(layer).model = None
    assert w.show_manifold() is None
    with pytest.raises(ValueError, match="trained model"):
        w.decode_at(0.0, 0.0)


def test_label_mask_of_a_time_series_uses_the_points_of_each_frame(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    mask = np.zeros((2, 20, 30), dtype=np.uint8)
    mask[:, 10, 2:28] = 1  # the same wall in both frames
    viewer.add_labels(mask, name="series wall mask")
    coords = np.array([[0, 10, 15], [1, 10, 15]], float)  # (frame, y, x)
    feats = pd.DataFrame(
        {"y": [10.0, 10.0], "x": [15.0, 15.0], "frame": [0, 1], "z1": [0.0, 1.0], "z2": [1.0, 0.0]}
    )
    layer = viewer.add_points(coords, features=feats, name="series walls")
    w = ExplorerWidget(viewer)
    qtbot.addWidget(w)
    w.select_indices([1])
    w.assign_label("class 2")
    assert np.array_equal(w.highlight_layer.data, coords[[1]])  # 3-D coordinates, same frame
    lab = w.label_mask()
    assert (lab[0] == 0).all()  # frame 0: its only wall point is unlabeled
    # the only class there is (whatever its name) is 1 in the mask
    assert (lab[1][mask[1] > 0] == 1).all() and (lab[1][mask[1] == 0] == 0).all()
    assert layer.features["label"].tolist() == ["", "class 2"]


def test_manifold_of_a_two_channel_model_is_one_layer_with_channels_side_by_side(setup):
    pytest.importorskip("torch")
    from napari_ivae.models import ModelConfig, build_model

    viewer, layer, w = setup
    get_record(layer).model = build_model(
        ModelConfig(kind="vae", in_channels=2, size=8, latent_dim=2)
    )
    n_layers = len(viewer.layers)
    lay = w.show_manifold(n=3)
    assert len(viewer.layers) == n_layers + 1
    assert lay.data.shape == (3 * 8, 2 * 3 * 8 + 2)
    assert np.isnan(lay.data[:, 24:26]).all()  # the gap between the channels
    assert w.show_manifold(n=3) is lay  # updated in place, not piled up


def test_no_placeholder_classes_first_class_is_1_in_the_exported_mask(
    make_napari_viewer, qtbot, tmp_path
):
    import tifffile

    viewer = make_napari_viewer()
    mask = np.zeros((40, 60), dtype=np.uint8)
    mask[10, 5:55] = 1
    viewer.add_labels(mask, name="walls mask")
    coords = np.array([[10, 10], [10, 50]], float)
    feats = pd.DataFrame({"y": coords[:, 0], "x": coords[:, 1], "z1": [0, 1.0], "z2": [1, 0.0]})
    viewer.add_points(coords, features=feats, name="pts")
    _, w = viewer.window.add_plugin_dock_widget("napari-ivae", "4 Explore and label")
    assert w.classes == {}  # no "class 1" / "class 2" placeholders
    assert w.class_list.count() == 1 and not w.class_list.item(0).flags()  # a hint only
    w.select_indices([1])
    w.assign_label("charged wall")
    assert list(w.classes) == ["charged wall"] and w.class_list.count() == 1
    lab = tifffile.imread(w.export_label_mask(tmp_path / "m.tif"))
    assert set(np.unique(lab)) == {0, 1}
    assert lab[10, 54] == 1 and lab[10, 5] == 0


def test_class_columns_get_a_categorical_legend(setup):
    _viewer, layer, w = setup
    feats = layer.features.copy()
    cls = feats["class"].astype(float)
    cls[:3] = np.nan  # points without a crop: class is a float column with NaN after the join
    feats["class"] = cls
    feats["frame"] = np.arange(400) % 3
    layer.features = feats
    for col, values in (("class", ["0", "1", "n/a"]), ("frame", ["0", "1", "2"])):
        w.set_color_by(col)
        assert w.scatter.scheme.kind == "categorical" and w.scatter.scheme.labels == values
        text = w.legend.text()
        assert "<img" not in text and text.count("■") == 3  # swatches, no colour bar
        assert "1.0" not in text
        counts = {"class": ("(197)", "(200)", "(3)"), "frame": ("(134)", "(133)")}[col]
        assert all(c in text for c in counts)  # how many points per category
    w.set_color_by("z1")  # a latent stays continuous
    assert w.scatter.scheme.kind == "sequential" and "<img" in w.legend.text()


def test_gallery_is_a_montage_that_follows_the_selection(setup, qtbot):
    from napari_ivae._qt.crop import show_gallery
    from napari_ivae.gallery import montage

    viewer, layer, w = setup
    stack = get_record(layer).stack
    gallery = show_gallery(viewer, layer, stack)
    assert gallery.ndim == 2 and viewer.dims.ndim == 2  # no slider, no "-3" axis
    assert gallery.data.shape == (8 * 10 - 2, 8 * 10 - 2)  # 8×8 tiles of 8 px, 2 px gaps
    w.select_indices([7, 300])
    qtbot.waitUntil(lambda: gallery.data.shape == (8, 18), timeout=300_000)
    # the tiles are the crops of rows 7 and 300 (the stack is stored in reverse order)
    entries = [399 - 7, 399 - 300]
    np.testing.assert_array_equal(gallery.metadata["rows"], entries)
    np.testing.assert_allclose(gallery.data, montage(stack.images[entries]), equal_nan=True)


def test_export_adds_nm_columns_for_a_calibrated_image(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    viewer.add_image(
        np.zeros((100, 100), np.float32), name="Phase", scale=(2.5, 2.5), units=("nm", "nm")
    )
    coords, feats, _ = _two_clusters(20)
    layer = viewer.add_points(
        coords * 2.5, features=feats, name="Phase walls", scale=(1, 1), metadata={}
    )
    _, w = viewer.window.add_plugin_dock_widget("napari-ivae", "4 Explore and label")
    w.set_layer(layer)
    csv = pd.read_csv(w.export_points(tmp_path / "p.csv"), keep_default_na=False)
    cols = list(csv.columns)
    assert cols[:6] == ["point", "y", "x", "y_nm", "x_nm", "frame"]
    np.testing.assert_allclose(csv["y_nm"], feats["y"] * 2.5)
    np.testing.assert_allclose(csv["x_nm"], feats["x"] * 2.5)
    assert len(csv) == 20 and (csv["label"] == "").all()


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1200)])
def test_docked_panels_do_not_overlap_and_the_scatter_keeps_its_height(
    make_napari_viewer, qtbot, size
):
    from napari_ivae._qt.explorer import SCATTER_MIN_HEIGHT

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(*size)
    coords, feats, stack = _two_clusters()
    layer = viewer.add_points(coords, features=feats, name="walls")
    get_record(layer).stack = stack
    widgets = [
        viewer.window.add_plugin_dock_widget("napari-ivae", name)[1]
        for name in ("1 Detect", "2 Crop", "3 Train", "4 Explore and label")
    ]
    w = widgets[-1]
    qtbot.waitUntil(lambda: w.scatter.isVisible() and w.scatter.height() > 0, timeout=300_000)
    assert w.scatter.height() >= SCATTER_MIN_HEIGHT
    # scatter, hover/legend and labels never overlap (a splitter; the dock scrolls instead)
    parts = [w.splitter.widget(i) for i in range(w.splitter.count())]
    rects = [p.geometry() for p in parts]
    for a, b in itertools.pairwise(rects):
        assert a.bottom() < b.top()
    # no docked panel is taller than the window: each scrolls its own content
    for wid in widgets:
        assert wid.minimumSizeHint().height() < size[1] / 2


def test_a_duplicated_layer_gets_its_own_record_sharing_stack_and_model(setup):
    from napari.layers._layer_actions import _duplicate_layer

    viewer, layer, w = setup
    w.select_indices([1, 2])
    w.assign_label("a")
    viewer.layers.selection.clear()
    viewer.layers.selection.add(layer)
    _duplicate_layer(viewer.layers)  # Layers > Duplicate Layer
    dup = viewer.layers["walls copy"]
    rec, drec = get_record(layer), get_record(dup)
    assert drec is not rec and drec.stack is rec.stack  # the crops are not copied
    assert drec.classes == rec.classes and list(dup.features["label"][[1, 2]]) == ["a", "a"]
    w.set_layer(dup)
    w.select_indices([5])
    w.assign_label("b")  # labelling the copy leaves the original alone
    assert list(get_record(dup).classes) == ["a", "b"] and list(get_record(layer).classes) == ["a"]
    assert (layer.features["label"] == "b").sum() == 0
