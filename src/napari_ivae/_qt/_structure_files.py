"""The Structure–property widget's model files: Save and Load (structure checkpoints).

A mixin of :class:`napari_ivae._qt.structure.StructureWidget`: it uses the
widget's ``model``, ``history``, ``status``, option widgets, ``_busy`` and
``_update_buttons``.  The files are :func:`napari_ivae.structure.save_structure`
checkpoints (the ``model.ivae`` of ``ivae structure train``).
"""

from __future__ import annotations

import os
from typing import Any

from qtpy.QtWidgets import QFileDialog

from napari_ivae._qt._common import notify_errors, show_info

__all__ = ["StructureFilesMixin"]


class StructureFilesMixin:
    """Save model… / Load model…"""

    def save_model(self, path: str | None = None) -> str | None:
        """Save the current model as a structure checkpoint (asks for a file when None)."""
        if self.model is None:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save model", "structure.ivae",
                                                  "napari-ivae model (*.ivae)")  # fmt: skip
            if not path:
                return None
        from napari_ivae.structure import save_structure

        with notify_errors("Save model", self.status):
            try:
                save_structure(path, self.model, self.history)
            except OSError as err:
                raise ValueError(f"cannot write {path!r}: {err.strerror or err}") from err
            self.status.setText(f"Model saved to {path}.")
            show_info(f"Model saved to {path}")
            return str(path)
        return None

    def load_model(self, path: str | None = None) -> Any:
        """Load a structure checkpoint (asks for a file when None); then press Predict."""
        if self._busy:
            return None
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Load model", "",
                                                  "napari-ivae model (*.ivae)")  # fmt: skip
            if not path:
                return None
        from napari_ivae.structure import load_structure

        with notify_errors("Load model", self.status):
            self.model, self.history = load_structure(path)
            c = self.model.config
            self.kind.setCurrentText(c.kind)
            self.encoder.setCurrentText(c.encoder)
            self.window.setValue(c.window)
            self.latent_dim.setValue(c.latent_dim)
            self.status.setText(
                f"Loaded {c.kind} ({c.latent_dim} latents, {c.window}×{c.window} patches) from "
                f"{os.path.basename(str(path))}; press Predict."
            )
            self._update_buttons()
            return self.model
        return None
