"""The Detect widget's options and their defaults from the channel roles.

A mixin of :class:`napari_ivae._qt.detect.DetectWidget`: the task (atoms or
walls), the per-task option boxes (forms of the keyword options of
:func:`~napari_ivae.detect.detect_atoms` and :func:`~napari_ivae.detect.detect_walls`:
the usual ones, the others under "Advanced") and the device; the task and the channels
are preselected from the channel roles the reader assigned
(:func:`napari_ivae.io.default_channels`) until the user chooses by hand.
"""

from __future__ import annotations

from typing import Any

from napari.layers import Image
from qtpy.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QRadioButton,
)

from napari_ivae._qt._common import is_source_image
from napari_ivae._qt._forms import ConfigForm, Hint
from napari_ivae._qt._layers import LayerCombo

__all__ = ["DetectOptionsMixin"]

#: What the widget passes itself (arrays, device, Cancel) rather than the forms.
ATOM_FIXED = ("image", "device", "cancel")
WALL_FIXED = ("phase", "amplitude", "device", "cancel")
ATOM_FIELDS = ("method", "spacing", "threshold")
WALL_FIELDS = ("method", "kind", "stride")

_ATOM_HINTS = {
    "method": Hint(
        tooltip="log: Laplacian-of-Gaussian peaks refined to sub-pixel (fast, classical). "
        "dcnn: the shipped U-Net atom finder (robust to noise and contrast changes)."
    ),
    "spacing": Hint(
        none_text="auto", suffix=" px", max=500.0, step=0.5, decimals=1,
        tooltip="Atom spacing in pixels; auto estimates it from the image.",
    ),
    "threshold": Hint(
        none_text="auto", max=1000.0, step=0.5, decimals=2,
        tooltip="Smallest accepted score; auto uses the method's default. "
        "log: peak signal-to-noise, in σ of the filtered image noise (auto 3; the same "
        "threshold means the same on every image). dcnn: heatmap value in 0–1 (auto 0.5).",
    ),
    "sigma": Hint(label="LoG sigma", none_text="auto", suffix=" px", max=100.0),
}  # fmt: skip
_WALL_HINTS = {
    "method": Hint(
        tooltip="gaussian: smooth the (circular) phase, segment up/down domains, walls at "
        "the borders. canny: Canny edges with automatic thresholds. dcnn: the shipped U-Net "
        "wall finder."
    ),
    "kind": Hint(
        label="Wall kind",
        tooltip="180: walls where the phase reverses. all: every dark line of the amplitude "
        "(ferroelastic a/c walls too; needs the amplitude). non180: all minus 180 (needs "
        "both). Each wall point gets a 'kind' feature (180 / non180).",
    ),
    "stride": Hint(label="Point stride", min=1, max=256, suffix=" px"),
    "sigma": Hint(suffix=" px", max=50.0),
    "min_size": Hint(label="Min size", suffix=" px"),
    "threshold": Hint(label="dcnn threshold", max=1.0),
}


class DetectOptionsMixin:
    """Task, option boxes, device and role defaults of the Detect widget."""

    def _build_options(self) -> list:
        """Create the option widgets; returns the rows to lay out (layouts and boxes)."""
        task_row = self._task_row()
        self.atoms_box = self._atoms_box()
        self.walls_box = self._walls_box()
        device_row = self._device_row()
        return [task_row, self.atoms_box, self.walls_box, device_row]

    def _task_row(self) -> Any:
        """The atoms / walls choice."""
        self.atoms_radio = QRadioButton("Atoms (STEM)")
        self.walls_radio = QRadioButton("Domain walls (PFM)")
        self.atoms_radio.setToolTip("Find atomic columns as bright peaks.")
        self.walls_radio.setToolTip("Find walls between ferroelectric domains in amplitude/phase.")
        self.atoms_radio.setChecked(True)
        for radio in (self.atoms_radio, self.walls_radio):
            radio.clicked.connect(self._on_task_clicked)
        group = QButtonGroup(self)
        group.addButton(self.atoms_radio)
        group.addButton(self.walls_radio)
        task_row = QHBoxLayout()
        task_row.addWidget(self.atoms_radio)
        task_row.addWidget(self.walls_radio)
        return task_row

    def _atoms_box(self) -> Any:
        """Image, method, spacing and threshold of the atom finder."""
        self.image_combo = LayerCombo(self.viewer, Image, accept=is_source_image)
        self.image_combo.setToolTip("Image in which to find atoms (a 2-D image or a T×Y×X stack).")
        from napari_ivae.detect import detect_atoms

        self.atoms_form = ConfigForm.for_function(
            detect_atoms, exclude=ATOM_FIXED, hints=_ATOM_HINTS
        )
        self.atom_method, self.spacing, self.threshold = (
            self.atoms_form[n].native for n in ATOM_FIELDS
        )
        atoms_box = QGroupBox("Atoms")
        form = QFormLayout(atoms_box)
        form.addRow("Image", self.image_combo)
        self.atoms_form.add_rows(form, ATOM_FIELDS)
        form.addRow(self.atoms_form.section("Advanced", besides=ATOM_FIELDS))
        return atoms_box

    def _walls_box(self) -> Any:
        """Phase, amplitude, method and stride of the wall finder."""
        self.phase_combo = LayerCombo(self.viewer, Image, optional=True, accept=is_source_image)
        self.phase_combo.setToolTip("PFM phase image (degrees or radians; wrapping is handled).")
        self.amplitude_combo = LayerCombo(self.viewer, Image, optional=True, accept=is_source_image)
        self.amplitude_combo.setToolTip("PFM amplitude image (optional; walls show as dark lines).")
        from napari_ivae.detect import detect_walls

        self.walls_form = ConfigForm.for_function(
            detect_walls, exclude=WALL_FIXED, hints=_WALL_HINTS
        )
        self.wall_method, self.wall_kind, self.stride = (
            self.walls_form[n].native for n in WALL_FIELDS
        )
        walls_box = QGroupBox("Domain walls")
        form = QFormLayout(walls_box)
        form.addRow("Phase", self.phase_combo)
        form.addRow("Amplitude", self.amplitude_combo)
        self.walls_form.add_rows(form, WALL_FIELDS)
        form.addRow(self.walls_form.section("Advanced", besides=WALL_FIELDS))
        return walls_box

    def _device_row(self) -> Any:
        """Where the U-Net finders run."""
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda", "mps"])
        self.device.setToolTip(
            "Where the dcnn U-Net runs: auto picks CUDA, then MPS, then the CPU.\n"
            "The classical methods always run on the CPU."
        )
        self.atom_method.currentTextChanged.connect(self._on_method)
        self.wall_method.currentTextChanged.connect(self._on_method)
        device_row = QFormLayout()
        device_row.addRow("Device", self.device)
        return device_row

    def _on_method(self, *_args) -> None:
        method = (self.atom_method if self.task == "atoms" else self.wall_method).currentText()
        self.device.setEnabled(method == "dcnn")

    @property
    def task(self) -> str:
        """``"atoms"`` or ``"walls"``."""
        return "atoms" if self.atoms_radio.isChecked() else "walls"

    @task.setter
    def task(self, value: str) -> None:
        self._task_chosen = True
        (self.atoms_radio if value == "atoms" else self.walls_radio).setChecked(True)

    def _on_task_clicked(self, *_args: Any) -> None:
        self._task_chosen = True

    def _on_task(self, *_args: Any) -> None:
        self.atoms_box.setVisible(self.task == "atoms")
        self.walls_box.setVisible(self.task == "walls")
        rings = getattr(self, "rings_box", None)
        if rings is not None:
            rings.setVisible(self.task == "atoms")

    def _images_top_down(self) -> list:
        """Source image layers as napari's layer list shows them (top first)."""
        return [
            ly
            for ly in reversed(self.viewer.layers)
            if isinstance(ly, Image) and is_source_image(ly)
        ]

    def _guess_pfm_channels(self) -> None:
        """Preselect the phase and amplitude layers by role (then by name).

        A combo the user changed is left alone; one still showing "(none)" or
        an earlier automatic choice follows the roles.
        """
        from napari_ivae.io import default_channels, role_of

        images = self._images_top_down()
        chosen = {role_of(ly): ly for ly in default_channels(images, "walls")}
        auto = []
        for k, (combo, key) in enumerate(
            ((self.phase_combo, "phase"), (self.amplitude_combo, "amplitude"))
        ):
            pick = chosen.get(key)
            if pick is None:  # no role (e.g. a plain TIFF): by name
                pick = next((ly for ly in images if key in ly.name.lower()), None)
            current = combo.value
            if pick is not None and (current is None or current is self._auto_walls[k]):
                combo.value = pick
            auto.append(combo.value if pick is not None and combo.value is pick else None)
        self._auto_walls = tuple(auto)

    def _apply_role_defaults(self) -> None:
        """Walls when a phase/amplitude channel is open, else atoms (unless the user chose)."""
        from napari_ivae.io import default_channels

        self._guess_pfm_channels()
        if self._task_chosen:
            return
        walls = bool(default_channels(self._images_top_down(), "walls"))
        (self.walls_radio if walls else self.atoms_radio).setChecked(True)
        if not walls:  # atoms: the image on top that is not an auxiliary channel
            from napari_ivae.io import is_auxiliary, role_of

            images = self._images_top_down()
            roles = [role_of(ly) for ly in images]
            main = [ly for ly in images if not is_auxiliary(ly, roles)]
            if main and self.image_combo.value not in main:
                self.image_combo.value = main[0]

    def refresh(self, *_args: Any, inserted: Any = None) -> None:
        """Layers were added, removed, moved or renamed: choose the defaults again."""
        self._apply_role_defaults()

    def showEvent(self, event: Any) -> None:
        self._apply_role_defaults()
        super().showEvent(event)
