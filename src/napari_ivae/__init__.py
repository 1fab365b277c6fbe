"""napari-ivae: invariant variational autoencoders for PFM and STEM images.

Importing this package is cheap: it imports neither torch nor Qt.  The core
lives in :mod:`napari_ivae.io`, :mod:`napari_ivae.detect`, :mod:`napari_ivae.crop`,
:mod:`napari_ivae.models`, :mod:`napari_ivae.train` and :mod:`napari_ivae.analysis`;
the napari widgets live in :mod:`napari_ivae._qt`, the only package that imports
Qt, napari, magicgui or pyqtgraph.
"""

from napari_ivae._errors import IvaeError

__version__ = "0.1.0"
__all__ = ["IvaeError", "__version__"]
