"""The jvae kind (see :mod:`napari_ivae.models.base`)."""

from __future__ import annotations

from napari_ivae.models.base import IVAE


class JVAE(IVAE):
    """JVAE: a thin pin of :class:`~napari_ivae.models.base.IVAE` to ``kind="jvae"``."""

    kind = "jvae"
