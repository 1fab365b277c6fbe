"""The Train widget's model files: Save, Load and their buttons.

A mixin of :class:`napari_ivae._qt.train.TrainWidget`: it uses the widget's
``model``, ``history``, ``train_config``, ``options``, ``status``,
``is_running`` and ``_update_buttons``.
"""

from __future__ import annotations

import os
from typing import Any

from qtpy.QtWidgets import QFileDialog, QHBoxLayout, QPushButton

from napari_ivae._qt._common import notify_errors, show_info, show_warning

__all__ = ["ModelFilesMixin"]


class ModelFilesMixin:
    """Save model… / Load model… / Encode with loaded model."""

    def _io_buttons(self) -> QHBoxLayout:
        self.save_button = QPushButton("Save model…")
        self.save_button.setToolTip("Write the trained model (weights + settings + history).")
        self.load_button = QPushButton("Load model…")
        self.load_button.setToolTip("Read a model saved by napari-ivae (or `ivae train`).")
        self.encode_button = QPushButton("Encode with loaded model")
        self.encode_button.setToolTip(
            "Write the latents of the chosen points (after Crop) with the current model, "
            "without training — e.g. a new image analysed with an earlier model."
        )
        self.save_button.clicked.connect(lambda: self.save_model())
        self.load_button.clicked.connect(lambda: self.load_model())
        self.encode_button.clicked.connect(lambda: self.encode())
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addWidget(self.load_button)
        return row

    def save_model(self, path: str | None = None) -> str | None:
        """Save the current model (asks for a file when ``path`` is None)."""
        if self.model is None:
            show_warning("Train: no model to save yet; train or load one first.")
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Save model", "model.ivae", "napari-ivae model (*.ivae);;All files (*)"
            )
            if not path:
                return None
        from napari_ivae.train import TrainConfig, save_model

        self.status.clear_error()
        with notify_errors("Save model", self.status):
            trained = TrainConfig(**self.train_config) if self.train_config else None
            try:
                save_model(path, self.model, self.history, train_config=trained)
            except OSError as err:
                raise ValueError(f"cannot write {path!r}: {err.strerror or err}") from err
            show_info(f"Model saved to {path}")
            self.status.setText(f"Model saved to {path}.")
            return str(path)
        return None

    def load_model(self, path: str | None = None) -> Any:
        """Load a saved model (asks for a file when ``path`` is None); returns it or None."""
        if self.is_running:
            show_warning("Train: wait for training to finish (or Stop it) before loading a model.")
            return None
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Load model", "", "napari-ivae model (*.ivae *.pt);;All files (*)"
            )
            if not path:
                return None
        from napari_ivae.train import load_model

        self.status.clear_error()
        with notify_errors("Load model", self.status):
            model, history = load_model(path)
            self.model, self.history = model, list(history)
            self.train_config = None
            c = model.config
            self.options.set_model(c)  # every option of the model, advanced ones too
            self.status.setText(
                f"Loaded {c.kind} ({c.latent_dim} latents, {c.in_channels}×{c.size}×{c.size} input) "
                f"from {os.path.basename(str(path))}; press “Encode with loaded model”."
            )
            self._update_buttons()
            return model
        return None
