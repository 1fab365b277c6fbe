"""Render the Spectrum dock in use into ``docs/images/spectrum_dock.png``.

The simulated nanoparticle sample (File > Open Sample), the Spectrum dock from
the Plugins menu: the energy band on the coupled plasmon mode (the map shows
where it lives), two spectra pinned by clicks (an isolated particle, a
particle in a chain), the cursor over a third, and the mean spectrum of a
rectangle drawn over the support between particles.

    xvfb-run -a -s "-screen 0 1920x1200x24" nice -n 5 python scripts/spectrum_screenshots.py
"""

from __future__ import annotations

import numpy as np
from screenshots import ROOT, _settle, _shot


def spectrum_dock(viewer) -> None:
    """Band, pins, cursor and a Shapes mean on the nanoparticle sample."""
    from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks

    viewer.open_sample("napari-ivae", "nanoparticles_eels")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-ivae", "Spectrum")
    layer = w.si_layer
    si = layer.metadata["spectrum_image"]
    # pixels whose plasmon peak (above 1.5 eV) is low (coupled) and high (isolated)
    for other in viewer.layers:  # the HAADF image: hidden, so the band map shows
        other.visible = "spectrum_image" in other.metadata
    band = np.asarray(si.data).reshape(-1, si.n_energy)
    peak = si.energy[np.argmax(band[:, si.energy > 1.5], axis=1) + np.sum(si.energy <= 1.5)]
    order = np.argsort(peak)
    picks = [np.unravel_index(order[int(q * (len(order) - 1))], si.shape[:2]) for q in (0.1, 0.9)]
    viewer.layers.selection.active = layer

    class _Click:  # a click without a drag, as the canvas sends it
        def __init__(self, kind, pos):
            self.type, self.position, self.is_dragging = kind, pos, False
            self.modifiers, self.button, self.handled = (), 1, False

    from napari.utils._proxies import ReadOnlyWrapper

    for y, x in picks:
        pos = tuple(np.asarray(layer.data_to_world((y, x)), float))
        mouse_press_callbacks(viewer, ReadOnlyWrapper(_Click("mouse_press", pos)))
        mouse_release_callbacks(viewer, ReadOnlyWrapper(_Click("mouse_release", pos)))
    h, w_ = si.shape[:2]
    shapes = viewer.add_shapes(
        [
            [
                [h * 0.05, w_ * 0.05],
                [h * 0.05, w_ * 0.3],
                [h * 0.25, w_ * 0.3],
                [h * 0.25, w_ * 0.05],
            ]
        ],
        shape_type="rectangle",
        scale=tuple(layer.scale),  # drawn on the SI's grid (the sample is calibrated)
        edge_color="#ffb000",
        face_color="transparent",
        edge_width=0.4,
        name="region",
    )
    w.selection_combo.value = shapes
    w.set_band(2.2, 2.8)
    _settle(viewer, 0.5)
    mid = np.unravel_index(order[len(order) // 2], si.shape[:2])
    viewer.cursor.position = tuple(float(v) for v in layer.data_to_world(mid))
    viewer.layers.selection.active = layer
    viewer.reset_view()
    print(w.status.text(), "pins:", len(w.plot.pins))
    _shot(viewer, "spectrum_dock")


def main() -> None:
    import napari

    viewer = napari.Viewer(title="napari-ivae — Spectrum dock (simulated nanoparticle EELS SI)")
    viewer.window.resize(1400, 860)
    spectrum_dock(viewer)
    viewer.close()
    print("see", ROOT / "docs" / "images" / "spectrum_dock.png")


if __name__ == "__main__":
    main()
