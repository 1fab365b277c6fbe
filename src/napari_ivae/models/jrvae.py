"""The jrvae kind (see :mod:`napari_ivae.models.base`)."""

from __future__ import annotations

from napari_ivae.models.base import IVAE


class JRVAE(IVAE):
    """JRVAE: a thin pin of :class:`~napari_ivae.models.base.IVAE` to ``kind="jrvae"``."""

    kind = "jrvae"
