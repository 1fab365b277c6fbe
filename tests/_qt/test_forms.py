"""Option forms built from config dataclasses: fields declared once appear, configs validate."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import pytest

from napari_ivae._errors import IvaeError, check_range
from napari_ivae._qt._forms import ConfigForm, Hint, field_docs

pytestmark = pytest.mark.gui


@dataclass
class _Toy:
    """A config as a new model would declare it.

    Parameters
    ----------
    mode : {"fast", "exact"}
        How it is computed.
    depth : int
        Number of layers (≥ 1).
    scale, offset : float
        Two numbers documented together.
    flag : bool
        Switch.
    span : (float, float)
        Start and end.
    limit : int or None
        ``None``: no limit.
    """

    mode: Literal["fast", "exact"] = "exact"
    depth: int = 3
    scale: float = math.pi
    offset: float = 0.0
    flag: bool = True
    span: tuple[float, float] = (0.0, 5.0)
    limit: int | None = None

    def __post_init__(self) -> None:
        check_range("depth", self.depth, low=1)


def test_every_field_gets_a_widget_label_and_docstring_tooltip(qtbot):
    form = ConfigForm(_Toy, hints={"depth": Hint(label="Layers")})
    assert form.names == [f.name for f in dataclasses.fields(_Toy)]
    kinds = {n: type(form[n]).__name__ for n in form.names}
    assert kinds == {
        "mode": "ComboBox",
        "depth": "SpinBox",
        "scale": "FloatSpinBox",
        "offset": "FloatSpinBox",
        "flag": "CheckBox",
        "span": "TupleEdit",
        "limit": "OptionalWidget",
    }
    assert form["mode"].choices == ("fast", "exact")
    assert form["depth"].label == "Layers" and form["scale"].label == "Scale"
    assert "Two numbers documented together." in form["offset"].tooltip
    assert form["limit"].tooltip.startswith("limit (_Toy)") and "no limit" in form["limit"].tooltip
    assert field_docs(_Toy)["scale"] == field_docs(_Toy)["offset"]
    # untouched, the form gives the defaults exactly (π shown as 3.14 stays π)
    assert form.build() == _Toy()


def test_values_round_trip_and_the_config_refuses_with_its_own_message(qtbot):
    form = ConfigForm(_Toy)
    form.set_values(_Toy(mode="fast", depth=5, flag=False, span=(1.0, 2.0), limit=7))
    assert form.build() == _Toy(mode="fast", depth=5, flag=False, span=(1.0, 2.0), limit=7)
    form["limit"].toggle.value = False
    assert form.values()["limit"] is None and not form["limit"].inner.enabled
    form["depth"].value = 0
    with pytest.raises(IvaeError) as got:
        form.build()
    with pytest.raises(IvaeError) as direct:
        _Toy(depth=0)
    assert str(got.value) == str(direct.value) == "depth=0 is out of range; expected 1 ≤ depth"


def test_every_config_field_is_in_the_train_widget(dock):
    from napari_ivae._qt._train_options import MODEL_FIXED, TRAIN_FIXED
    from napari_ivae._qt.train import TrainWidget
    from napari_ivae.models import ModelConfig
    from napari_ivae.train import TrainConfig

    _viewer, w = dock(TrainWidget)
    for cls, form, fixed in (
        (ModelConfig, w.model_form, MODEL_FIXED),
        (TrainConfig, w.train_form, TRAIN_FIXED),
    ):
        names = [f.name for f in dataclasses.fields(cls) if f.name not in fixed]
        assert form.names == names
        for name in names:  # each one is a row of the widget, with its docstring as tooltip
            native = form[name].native
            assert w.isAncestorOf(native), name
            assert form[name].tooltip.startswith(f"{name} ({cls.__name__})")
    assert not w.options.advanced_model.is_open and not w.options.advanced_train.is_open
    mc, tc = w.configs()  # untouched: the configs' defaults (GUI-set threads aside)
    assert mc == ModelConfig()
    assert dataclasses.replace(tc, num_threads=None) == TrainConfig()


def test_an_invalid_option_gives_the_config_message_in_the_status_and_start_refuses(dock, notes):
    from napari_ivae._qt.train import TrainWidget
    from napari_ivae.train import TrainConfig

    _viewer, w = dock(TrainWidget)
    w.epochs.setValue(3)
    w.train_form["restarts"].value = 2
    w.train_form["restart_epochs"].value = 3
    with pytest.raises(IvaeError) as direct:
        TrainConfig(epochs=3, restarts=2, restart_epochs=3)
    message = str(direct.value)
    assert message.startswith("restart_epochs=3 must be smaller than epochs=3")
    assert w.status.text() == message and w.status.kind == "error"  # at once, in red
    notes.clear()
    assert w.start() is None and w.worker is None
    assert ("error", f"Train: {message}") in list(notes)
    w.train_form["restart_epochs"].value = 2  # fixed: the complaint goes
    assert w.status.kind == "info" and w.status.text() == ""
    w.train_form["init_fraction"].value = 2.0
    assert w.status.text() == "init_fraction=2.0 is out of range; expected 0 ≤ init_fraction ≤ 1"


def test_loading_a_model_shows_all_its_options(dock, tmp_path):
    from napari_ivae._qt.train import TrainWidget
    from napari_ivae.models import ModelConfig, build_model
    from napari_ivae.train import save_model

    config = ModelConfig(kind="jvae", in_channels=1, size=8, latent_dim=3, n_classes=4, hidden=16)
    save_model(tmp_path / "m.ivae", build_model(config), [])
    _viewer, w = dock(TrainWidget)
    assert w.load_model(str(tmp_path / "m.ivae")) is not None
    mc, _tc = w.configs()
    assert mc == dataclasses.replace(config, in_channels=None, size=None)
    assert w.model_form["hidden"].value == 16 and w.classes.value() == 4


def test_core_function_options_appear_and_refuse_with_the_core_message(dock, make_blobs):
    """Detect and Crop show every keyword option of the core functions, the rarer ones
    under "Advanced"; a value the core refuses is its own one-line message."""
    import inspect

    from napari_ivae._qt.crop import CropWidget
    from napari_ivae._qt.detect import DetectWidget
    from napari_ivae.crop import crop
    from napari_ivae.detect import detect_atoms, detect_walls

    viewer, det = dock(DetectWidget)
    for func, form, fixed in (
        (detect_atoms, det.atoms_form, ("image", "device", "cancel")),
        (detect_walls, det.walls_form, ("phase", "amplitude", "device", "cancel")),
    ):
        assert form.names == [p for p in inspect.signature(func).parameters if p not in fixed]
        assert all(det.isAncestorOf(form[n].native) for n in form.names)
    assert det.walls_form["significance"].tooltip.startswith("significance (detect_walls)")
    assert det.atoms_form.values() == {"method": "log", "spacing": None, "threshold": None,
                                       "sigma": None}  # fmt: skip
    det.spacing.setValue(12.0)
    assert det.atoms_form.values()["spacing"] == 12.0

    img, centres = make_blobs(shape=(64, 64), spacing=8)
    _viewer, w = dock(CropWidget, viewer)
    assert w.form.names == ["window", "border", "normalize", "neighborhood", "time_delay", "phase"]
    image = viewer.add_image(img, name="img")
    w.points_combo.value = viewer.add_points(centres, name="pts")
    w.images_list.value = [image]
    w.window.setValue(8)
    w.normalize.setCurrentText("local")
    w.form["neighborhood"].value = 500
    with pytest.raises(IvaeError) as direct:
        crop(img, centres, window=8, normalize="local", neighborhood=500)
    assert w.run() is None
    assert w.status.kind == "error" and w.status.text() == str(direct.value)
    w.form["neighborhood"].value = 24
    stack = w.run()
    assert stack is not None and len(stack.index) > 0
