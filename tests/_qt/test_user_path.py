"""The way in a user takes: Plugins menu, ``napari -w``, File > Open Sample, File > Open.

Nothing here builds a widget from its constructor: every widget comes from the
plugin manifest through ``viewer.window.add_plugin_dock_widget``, every sample
through ``viewer.open_sample`` and every file through
``viewer.open(path, plugin="napari-ivae")``, exactly as napari does it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.gui

PLUGIN = "napari-ivae"


def _manifest():
    from npe2 import PluginManager

    pm = PluginManager.instance()
    pm.discover()
    return pm.get_manifest(PLUGIN)


def _widget_names() -> list[str]:
    return [w.display_name for w in _manifest().contributions.widgets]


def _sample_keys() -> list[str]:
    return [s.key for s in _manifest().contributions.sample_data]


def test_manifest_lists_the_four_steps():
    names = _widget_names()
    for step in ("1 Detect", "2 Crop", "3 Train", "4 Explore and label"):
        assert step in names


@pytest.mark.parametrize("name", _widget_names())
def test_every_widget_opens_from_the_plugins_menu(make_napari_viewer, name):
    viewer = make_napari_viewer()
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
    assert widget is not None and dock is not None
    # napari hands plugins a public-only proxy of the viewer
    assert getattr(widget.viewer, "__wrapped__", widget.viewer) is viewer
    # the dock is listed in the window under the name the menu shows
    assert any(name in key for key in viewer.window.dock_widgets)


def test_all_widgets_open_together_and_follow_layers(make_napari_viewer):
    viewer = make_napari_viewer()
    widgets = {n: viewer.window.add_plugin_dock_widget(PLUGIN, n)[1] for n in _widget_names()}
    # a layer added after docking reaches the widgets' layer choices
    viewer.open_sample(PLUGIN, "pfm")
    crop = widgets["2 Crop"]
    assert crop.images_list.count() >= 2


def test_napari_dash_w_opens_the_plugin():
    """``napari -w napari-ivae`` (run in a child process, its event loop replaced by a check)."""
    script = textwrap.dedent(
        """
        import sys
        import napari, napari.__main__ as m
        sys.argv = ["napari", "-w", "napari-ivae"]
        def check(**_kw):
            v = napari.current_viewer()
            print("DOCKS:" + "|".join(sorted(v.window.dock_widgets)))
            v.close()
        napari.run = check  # _run() imports it from napari when it starts the event loop
        m._run()
        """
    )
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("DOCKS:"))
    assert "1 Detect" in line, line
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("key", _sample_keys())
def test_every_sample_opens_from_file_open_sample(make_napari_viewer, key):
    viewer = make_napari_viewer()
    layers = viewer.open_sample(PLUGIN, key)
    assert layers, key
    for layer in layers:
        assert layer.data.ndim >= 2
        assert np.isfinite(np.asarray(layer.data[..., :8, :8], dtype=float)).all()
        # the samples are calibrated: napari knows their length unit
        assert str(layer.units[-1]) in {"nanometer", "micrometer"}, layer.units


# ------------------------------------------------------------------ File > Open
def _write_synthetic(path, suffix):
    rng = np.random.default_rng(0)
    img = rng.normal(size=(32, 40)).astype(np.float32)
    if suffix in (".tif", ".tiff"):
        import tifffile

        tifffile.imwrite(path, img)
    elif suffix == ".npy":
        np.save(path, img)
    elif suffix == ".npz":
        np.savez(path, image=img)
    return img


@pytest.mark.parametrize("suffix", [".tif", ".tiff", ".npy", ".npz"])
def test_file_open_written_files(make_napari_viewer, tmp_path, suffix):
    path = tmp_path / f"image{suffix}"
    img = _write_synthetic(path, suffix)
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin=PLUGIN)
    assert len(layers) == 1
    np.testing.assert_allclose(np.asarray(layers[0].data), img)


#: file -> layers and pixel size in nm (from the shared data README)
REAL_FILES = {
    "scan_0001.ibw": {"n_layers": 6, "pixel_nm": 5000.0 / 256},
    "PTO_Funakubo0005.tif": {"n_layers": 4, "pixel_nm": 3.92},
    "DMReader_Image_SI-Survey.dm3": {"n_layers": 1, "pixel_nm": None},
    "example_Se_implanted_MoS2.dm3": {"n_layers": 1, "pixel_nm": 0.0127},
}
_NM = {"nanometer": 1.0, "micrometer": 1000.0}


@pytest.mark.real
@pytest.mark.parametrize("name", list(REAL_FILES))
def test_file_open_real_files(make_napari_viewer, real_data, name):
    want = REAL_FILES[name]
    viewer = make_napari_viewer()
    layers = viewer.open(str(real_data / name), plugin=PLUGIN)
    assert len(layers) == want["n_layers"]
    for layer in layers:
        assert layer.data.shape[-2:] in {(256, 256), (512, 512), (1024, 1024)}
    for layer in layers:
        unit = str(layer.units[-1])
        if want["pixel_nm"] is None:
            assert unit == "pixel"
        else:
            assert unit in _NM, layer.units
            np.testing.assert_allclose(layer.scale[-1] * _NM[unit], want["pixel_nm"], rtol=0.02)


@pytest.mark.real
def test_uncalibrated_file_says_so(make_napari_viewer, real_data):
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(real_data / "DMReader_Image_SI-Survey.dm3"), plugin=PLUGIN)
    assert str(layer.units[-1]) == "pixel"
    assert layer.metadata.get("calibrated") is False


def _scale_bar_text(viewer) -> str:
    canvas = viewer.window._qt_viewer.canvas
    for visuals in canvas._viewer_overlay_to_visual.values():
        for vis in visuals if isinstance(visuals, list) else [visuals]:
            if "ScaleBar" in type(vis).__name__:
                return str(vis.node.text.text)
    raise AssertionError("no scale bar visual")


@pytest.mark.real
def test_scale_bar_speaks_micrometres_on_a_5_um_scan(make_napari_viewer, real_data):
    viewer = make_napari_viewer()
    layers = viewer.open(str(real_data / "scan_0001.ibw"), plugin=PLUGIN)
    from napari_ivae._qt._common import scale_bar

    scale_bar(viewer).visible = True
    viewer.reset_view()
    text = _scale_bar_text(viewer)
    assert text.endswith(("µm", "nm")), text
    assert "pixel" not in text and "px" not in text
    # the top layer is a PFM signal channel, not Height or Frequency
    top = layers[-1] if layers[-1] is viewer.layers[-1] else viewer.layers[-1]
    assert top.metadata.get("role") in {"phase", "amplitude"}
