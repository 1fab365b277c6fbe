"""Private napari / pyqtgraph API the plugin and its tests rely on: fail loudly, by name.

pyproject.toml caps napari (<0.10) and pyqtgraph (<0.15) because of these. Before
raising a cap, run this file against the new release; each failure names the
attribute that changed and where we use it.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _need(obj, attr: str, used_in: str):
    """``getattr(obj, attr)``, or a failure naming the private attribute and its user."""
    owner = obj if isinstance(obj, type) else type(obj)
    if not hasattr(obj, attr):
        pytest.fail(
            f"private API gone: {owner.__module__}.{owner.__qualname__}.{attr} "
            f"(used in {used_in}); adapt it, then raise the upper bound in pyproject.toml",
            pytrace=False,
        )
    return getattr(obj, attr)


def _need_module_attr(module: str, attr: str, used_in: str):
    try:
        mod = importlib.import_module(module)
    except ImportError as err:
        pytest.fail(f"private module gone: {module} ({err}; used in {used_in})", pytrace=False)
    return _need(mod, attr, used_in)


def test_points_symbol_internals_used_by_highlight_points():
    """``HighlightPoints`` (explorer/_selection.py) overrides ``Points._view_symbol``."""
    from napari.layers import Points

    where = "napari_ivae/_qt/explorer/_selection.py HighlightPoints"
    assert isinstance(_need(Points, "_view_symbol", where), property)
    assert _need(Points, "symbol", where).fset is not None
    layer = Points(np.zeros((3, 2)), symbol="disc")
    assert len(_need(layer, "_symbol", where)) == 3
    assert len(_need(layer, "_view_indices", where)) == 3


def test_highlight_points_still_overrides_view_symbol():
    from napari_ivae._qt.explorer._selection import HighlightPoints

    layer = HighlightPoints(np.zeros((4, 2)), symbol="disc")
    assert list(layer._view_symbol) == ["disc"] * 4


def test_points_face_color_properties_used_by_the_labels_box():
    from napari.layers import Points

    where = "napari_ivae/_qt/explorer/_labels.py (color by label)"
    layer = Points(np.zeros((2, 2)), features={"label": ["a", "b"]}, face_color="label")
    face = _need(layer, "_face", where)
    props = _need(face, "color_properties", where)
    assert _need(props, "name", where) == "label"


def test_duplicate_layer_action_used_by_tests():
    _need_module_attr(
        "napari.layers._layer_actions",
        "_duplicate_layer",
        "tests/_qt/test_explorer.py (Layers > Duplicate Layer)",
    )


def test_window_and_canvas_internals_used_by_tests(make_napari_viewer):
    viewer = make_napari_viewer()
    window = viewer.window
    qt_window = _need(window, "_qt_window", "tests/_qt/test_explorer.py, scripts/*screenshots.py")
    assert callable(qt_window.resize)
    qt_viewer = _need(window, "_qt_viewer", "tests/_qt/test_user_path.py (scale bar text)")
    canvas = _need(qt_viewer, "canvas", "tests/_qt/test_user_path.py")
    overlays = _need(canvas, "_viewer_overlay_to_visual", "tests/_qt/test_user_path.py")
    assert hasattr(overlays, "values")


def test_pyqtgraph_internals_used_by_the_scatter():
    where = "napari_ivae/_qt/_scatter.py PaletteScatterItem"
    array_cls = _need_module_attr("pyqtgraph.Qt.internals", "PrimitiveArray", where)
    for attr in ("resize", "ndarray", "drawargs"):
        _need(array_cls, attr, where)
    _need_module_attr("pyqtgraph.functions", "transformCoordinates", where)


def test_layer_transform_and_slice_internals_used_by_the_spectrum_dock():
    from napari.layers import Image, Points

    where = "napari_ivae/_qt/_spectrum_selection.py (selection → SI pixels)"
    image = Image(np.zeros((4, 5), np.float32), scale=(2.0, 2.0), translate=(1.0, 0.0))
    points = Points(np.array([[5.0, 4.0]]))
    to_world = _need(points, "_data_to_world", where)
    world = to_world(np.array([[5.0, 4.0]]))
    pixel = _need(image, "_data_to_world", where).inverse(world)
    np.testing.assert_allclose(pixel, [[2.0, 2.0]])
    _need(to_world, "affine_matrix", where)
    view = _need(_need(image, "_slice", "tests/_qt/test_spectrum_widget.py"), "image", "tests")
    assert np.asarray(_need(view, "view", "tests/_qt/test_spectrum_widget.py")).shape == (4, 5)
