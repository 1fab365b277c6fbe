"""Latent-space explorer and domain-wall labeling (dock widget "4 Explore and label").

A pyqtgraph scatter of two ``features`` columns of a Points layer, linked both
ways with the napari canvas:

* lasso / rectangle / click in the scatter → the selected points are shown in
  the image by a small, separate highlight Points layer ``"<layer> selection"``
  (the colours of the points themselves are never rewritten);
* selecting points in napari (``layer.selected_data``) → the same points are
  ringed in the scatter;
* hovering the scatter shows the sub-image of the point under the cursor (the
  layer record's ``stack``); a click in empty latent space decodes the latent
  vector there (the record's ``model``); the crop gallery (``"<layer> gallery"``,
  made by Crop) shows a montage of the selected points' crops.

Labels are named classes with their own colours (:class:`napari_ivae.labels.LabelSet`):
the classes in the layer's record, the labels in a categorical ``label`` column
of its features (``""`` = unlabeled).  There are no placeholder classes: the
first class the user adds (or names when assigning) is class 1 in the exported
wall mask.  "Export points CSV" writes every point with all its features
(latents included), labelled or not, with ``y_nm, x_nm`` beside ``y, x`` when
the image is calibrated.

Files, one concern each: ``_widget.py`` (layout, following the layers),
``_plot.py`` (axes, colours, legend), ``_selection.py`` (both-way selection,
:class:`HighlightPoints`), ``_preview.py`` (hover, decode, manifold, gallery),
``_labels.py`` (the Labels box), ``_classes.py`` (confusion matrix of ``class``
against a truth column, the class of a per-class manifold), ``_exports.py``
(points CSV, labeled wall mask).
"""

from napari_ivae._qt.explorer._labels import CLASSES_KEY
from napari_ivae._qt.explorer._plot import LEGEND_ROWS
from napari_ivae._qt.explorer._selection import HIGHLIGHT_KEY, HighlightPoints
from napari_ivae._qt.explorer._widget import SCATTER_MIN_HEIGHT, ExplorerWidget

__all__ = [
    "CLASSES_KEY",
    "HIGHLIGHT_KEY",
    "LEGEND_ROWS",
    "SCATTER_MIN_HEIGHT",
    "ExplorerWidget",
    "HighlightPoints",
]
