"""The Train widget's options: forms built from ``ModelConfig`` and ``TrainConfig``.

The usual options sit in one box; every other field of the two configs is in
a collapsed "Advanced" section, so a field added to a config (or a new model
kind in the registry) appears here without changing the widget.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QFormLayout, QGroupBox, QVBoxLayout, QWidget

from napari_ivae._limits import cpu_budget
from napari_ivae._qt._forms import ConfigForm, Hint

__all__ = ["MODEL_FIELDS", "TRAIN_FIELDS", "TrainOptions"]

#: Fields the widget shows first; every other field of the configs is under "Advanced".
MODEL_FIELDS = ("kind", "latent_dim", "n_classes")
TRAIN_FIELDS = ("epochs", "batch_size", "lr", "seed", "device")
#: Fields set by the widget or the data, not by the user.
MODEL_FIXED = ("in_channels", "size")
TRAIN_FIXED = ("checkpoint", "num_threads", "progress_interval")


def _model_form() -> ConfigForm:
    from napari_ivae.models import KINDS, ModelConfig, registry

    hints = {
        "kind": Hint(label="Model", choices=KINDS),
        "latent_dim": Hint(label="Latent dims", min=1, max=64),
        "n_classes": Hint(label="Classes", min=2, max=64, unset=2),
        "hidden": Hint(label="Hidden width"),
        "n_layers": Hint(label="Hidden layers"),
        "scale": Hint(label="Scale latent"),
    }
    joint = {"n_classes": lambda v: ModelConfig(kind=v["kind"]).joint}
    form = ConfigForm(ModelConfig, exclude=MODEL_FIXED, hints=hints, enabled_when=joint)
    combo = form["kind"].native
    for i in range(combo.count()):
        combo.setItemData(i, registry.get(combo.itemText(i)).summary, 3)  # 3 = Qt.ToolTipRole
    return form


def _train_form() -> ConfigForm:
    from napari_ivae.train import TrainConfig  # torch-free (train/__init__ is lazy)

    hints = {
        "epochs": Hint(min=1, max=100000),
        "batch_size": Hint(min=1, max=65536),
        "lr": Hint(label="Learning rate", min=1e-5, max=1.0, step=1e-4, decimals=5),
        "amp": Hint(label="AMP (bfloat16)"),
        "lr_schedule": Hint(label="LR schedule"),
    }
    return ConfigForm(TrainConfig, exclude=TRAIN_FIXED, hints=hints)


class TrainOptions(QWidget):
    """The model and training options of the Train widget.

    Attributes
    ----------
    model_form, train_form : ConfigForm
        The forms of ``ModelConfig`` and ``TrainConfig``.
    advanced_model, advanced_train : Collapsible
        The sections holding the other fields (closed at first).
    changed : Signal
        Emitted whenever an option changes.
    """

    changed = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.model_form, self.train_form = _model_form(), _train_form()
        box = QGroupBox("Model and training")
        form = QFormLayout(box)
        self.model_form.add_rows(form, MODEL_FIELDS)
        self.train_form.add_rows(form, TRAIN_FIELDS)
        self.advanced_model = self.model_form.section(
            "Advanced model options", besides=MODEL_FIELDS
        )
        self.advanced_train = self.train_form.section(
            "Advanced training options", besides=TRAIN_FIELDS
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (box, self.advanced_model, self.advanced_train):
            layout.addWidget(w)
        for f in (self.model_form, self.train_form):
            f.changed.connect(self.changed.emit)

    def settings(self) -> tuple[Any, dict]:
        """``ModelConfig`` and the (validated) ``TrainConfig`` arguments.

        ``num_threads`` is the CPUs the process may use less one, so a core
        stays free for the GUI.  A value a config refuses raises its
        ``IvaeError``: the message the CLI prints.
        """
        mc = self.model_form.build()
        settings = self.train_form.values()
        settings["num_threads"] = max(1, cpu_budget() - 1)
        self.train_form.cls(**settings)  # refuse bad values here, not in the worker
        return mc, settings

    def set_model(self, config: Any) -> None:
        """Show the options of ``config`` (a loaded model's ``ModelConfig``)."""
        self.model_form.set_values(config)
