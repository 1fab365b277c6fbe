"""Session: save the work from the "5 Session" dock, reopen it by File > Open and by the dock.

Everything goes the user's way: the dock from the Plugins menu
(``add_plugin_dock_widget``), the image from File > Open
(``viewer.open(path, plugin="napari-ivae")``), the labels from the explorer
dock, the buttons with their file dialogs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("napari")
torch = pytest.importorskip("torch")

from napari_ivae._qt._common import GALLERY_KEY  # noqa: E402
from napari_ivae._qt.explorer import HIGHLIGHT_KEY  # noqa: E402
from napari_ivae.crop import Stack  # noqa: E402
from napari_ivae.record import RECORD_KEY, get_record  # noqa: E402
from napari_ivae.session import VIEW_KEYS  # noqa: E402

pytestmark = pytest.mark.gui

PLUGIN = "napari-ivae"


def test_view_keys_are_the_widgets_keys():
    assert set(VIEW_KEYS) == {HIGHLIGHT_KEY, GALLERY_KEY}


def _work(viewer, tmp_path):
    """An opened TIFF, a points layer with latents, a Stack and a model, labelled in the explorer."""
    import tifffile

    from napari_ivae.models import ModelConfig, build_model

    rng = np.random.default_rng(0)
    tif = tmp_path / "scan.tif"
    tifffile.imwrite(tif, rng.random((24, 20), dtype=np.float32))
    (image,) = viewer.open(str(tif), plugin=PLUGIN)
    image.scale = (0.5, 0.5)
    image.contrast_limits = (0.1, 0.9)
    n = 12
    feats = pd.DataFrame(
        {
            "y": rng.uniform(2, 22, n),
            "x": rng.uniform(2, 18, n),
            "frame": np.zeros(n, np.int64),
            "score": np.r_[np.nan, rng.random(n - 1)],
            "z1": np.r_[rng.normal(-3, 0.2, n // 2), rng.normal(3, 0.2, n - n // 2)],
            "z2": rng.normal(size=n),
            "angle": rng.uniform(-np.pi, np.pi, n),
            "class": np.arange(n) % 2,
            "p0": rng.random(n),
        }
    )
    points = viewer.add_points(
        feats[["y", "x"]].to_numpy(), features=feats, name="walls", size=1.5, scale=image.scale
    )
    get_record(points).stack = Stack(
        images=rng.random((n, 1, 8, 8), dtype=np.float32),
        yx=feats[["y", "x"]].to_numpy(),
        frame=np.zeros(n),
        index=np.arange(n),
        channels=(image.name,),
    )
    torch.manual_seed(0)
    get_record(points).model = build_model(
        ModelConfig(kind="vae", in_channels=1, size=8, latent_dim=2)
    )
    _, explorer = viewer.window.add_plugin_dock_widget(PLUGIN, "4 Explore and label")
    explorer.set_layer(points)
    explorer.add_class("domain wall", "#ff0000")
    explorer.select_indices(range(n // 2))
    explorer.assign_label("domain wall")
    explorer.add_class("defect", "#00ffff")
    explorer.select_indices([n - 1])
    explorer.assign_label("defect")  # leaves the explorer's selection overlay in the viewer
    assert any(HIGHLIGHT_KEY in layer.metadata for layer in viewer.layers)
    mask = np.zeros((24, 20), np.uint8)
    mask[5:8, 2:15] = 1
    viewer.add_labels(mask, name="walls mask", scale=image.scale, opacity=0.6)
    return image, points, explorer


def _snapshot(viewer):
    out = {}
    for layer in viewer.layers:
        if HIGHLIGHT_KEY in layer.metadata:
            continue
        out[layer.name] = dict(
            type=type(layer).__name__,
            data=np.array(layer.data, copy=True),
            scale=tuple(layer.scale),
            units=tuple(str(u) for u in layer.units),
            opacity=layer.opacity,
            visible=layer.visible,
            metadata={k: v for k, v in layer.metadata.items()},
            features=layer.features.copy() if hasattr(layer, "features") else None,
        )
        if hasattr(layer, "contrast_limits"):
            out[layer.name].update(
                contrast=tuple(layer.contrast_limits), colormap=layer.colormap.name
            )
    return out


def _assert_restored(viewer, before):
    names = [layer.name for layer in viewer.layers]
    assert names == list(before), names  # same layers, same order, no overlay
    for name, want in before.items():
        layer = viewer.layers[name]
        assert type(layer).__name__ == want["type"]
        assert np.array_equal(np.asarray(layer.data), want["data"])
        assert np.asarray(layer.data).dtype == want["data"].dtype
        assert tuple(layer.scale) == want["scale"]
        assert tuple(str(u) for u in layer.units) == want["units"]
        assert layer.opacity == pytest.approx(want["opacity"])
        assert layer.visible == want["visible"]
        if "contrast" in want:
            assert tuple(layer.contrast_limits) == pytest.approx(want["contrast"])
            assert layer.colormap.name == want["colormap"]
        if want["type"] == "Points":
            pd.testing.assert_frame_equal(layer.features, want["features"])
            assert set(layer.metadata) == set(want["metadata"]) == {RECORD_KEY}
            rec, old = get_record(layer), want["metadata"][RECORD_KEY]
            assert rec is not old and rec.classes == old.classes
            assert list(rec.classes) == list(old.classes)
            assert list(rec.labels) == list(old.labels)
            assert np.array_equal(rec.stack.images, old.stack.images)
            assert np.array_equal(rec.stack.index, old.stack.index)
            a, b = old.model.state_dict(), rec.model.state_dict()
            assert all(torch.equal(a[k], b[k]) for k in a)
        else:
            skip = {"source"}  # napari records where the layer came from
            assert {k: v for k, v in layer.metadata.items() if k not in skip} == {
                k: v for k, v in want["metadata"].items() if k not in skip
            }


def test_save_reopen_by_file_open_and_by_the_dock(make_napari_viewer, tmp_path, monkeypatch, notes):
    from qtpy.QtWidgets import QFileDialog

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "5 Session")
    image, points, explorer = _work(viewer, tmp_path)
    assert points.features["label"].tolist()[:6] == ["domain wall"] * 6
    before = _snapshot(viewer)
    assert list(before) == [image.name, "walls", "walls mask"]

    # Save session… (the dialog answers a path without the suffix)
    session = tmp_path / "work.ivaesession"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "work"), "")
    )
    widget.save_button.click()
    assert session.is_file(), widget.status.text()
    assert widget.path_edit.text() == str(session)
    assert "Saved 3 layer(s)" in widget.status.text()

    # File > Open on a cleared viewer
    viewer.layers.clear()
    viewer.open(str(session), plugin=PLUGIN)
    _assert_restored(viewer, before)
    # the explorer works on the reopened layer: latent scatter, classes, labels, decoding
    explorer.set_layer(viewer.layers["walls"])
    assert (explorer._xcol, explorer._ycol) == ("z1", "z2")
    assert explorer.classes == {"domain wall": "#ff0000", "defect": "#00ffff"}
    assert explorer.decode_at(0.5, -0.5).shape == (1, 8, 8)

    # Open session… from the dock
    viewer.layers.clear()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(session), ""))
    widget.open_button.click()
    _assert_restored(viewer, before)
    assert "Opened 3 layer(s)" in widget.status.text()
    assert not [text for sev, text in notes if "error" in sev]


def test_file_save_layers_writes_a_session(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    image = viewer.add_image(np.arange(12, dtype=np.float32).reshape(3, 4), name="img")
    points = viewer.add_points(
        [[1, 1], [2, 3]], features=pd.DataFrame({"label": ["a", ""]}), name="pts"
    )
    path = tmp_path / "layers.ivaesession"
    written = viewer.layers.save(str(path), plugin=PLUGIN)
    assert written == [str(path)] and path.is_file()
    viewer.layers.clear()
    viewer.open(str(path), plugin=PLUGIN)
    assert [layer.name for layer in viewer.layers] == [image.name, points.name]
    assert viewer.layers["pts"].features["label"].tolist() == ["a", ""]


def test_errors_are_one_notification_and_nothing_is_added_or_lost(
    make_napari_viewer, tmp_path, notes, monkeypatch
):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "5 Session")
    bad = tmp_path / "bad.ivaesession"
    bad.write_bytes(b"not a zip at all")
    assert widget.load(bad) == []
    assert len(viewer.layers) == 0
    errors = [text for sev, text in notes if "error" in sev]
    assert len(errors) == 1 and "bad.ivaesession" in errors[0]
    assert "bad.ivaesession" in widget.status.text()
    # nothing to save: a message, no file
    assert widget.save(tmp_path / "empty.ivaesession") is None
    assert not (tmp_path / "empty.ivaesession").exists()
    # a failed save keeps the previous file
    viewer.add_image(np.zeros((3, 3), np.float32), name="a")
    good = widget.save(tmp_path / "keep.ivaesession")
    before = good.read_bytes()
    viewer.add_image(np.zeros((3, 3), np.float32), name="b")
    import napari_ivae.session as session_mod

    def _boom(*_a, **_k):
        raise OSError(28, "No space left on device")

    orig = session_mod.atomic_write

    def _atomic(path, write, **kw):
        return orig(path, lambda tmp: (write(tmp), _boom()), **kw)

    monkeypatch.setattr(session_mod, "atomic_write", _atomic)
    assert widget.save(good) is None
    assert good.read_bytes() == before
    assert "No space left" in widget.status.text()


@pytest.mark.parametrize("name", ["scan_0001.ibw", "example_Se_implanted_MoS2.dm3"])
def test_real_files_come_back_from_a_session(make_napari_viewer, real_data, tmp_path, name):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "5 Session")
    viewer.open(str(real_data / name), plugin=PLUGIN)
    before = _snapshot(viewer)
    out = widget.save(tmp_path / "real.ivaesession")
    assert out is not None, widget.status.text()
    viewer.layers.clear()
    assert len(widget.load(out)) == len(before)
    _assert_restored(viewer, before)
