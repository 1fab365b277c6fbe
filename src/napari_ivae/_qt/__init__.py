"""napari dock widgets of napari-ivae: the only package that imports Qt, napari and pyqtgraph."""
