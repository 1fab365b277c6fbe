"""PointsRecord: one typed record per points layer; copies share the stack and the model."""

import copy

import numpy as np
import pytest

from napari_ivae.crop import Stack
from napari_ivae.record import (
    LEGACY_KEYS,
    RECORD_KEY,
    PointsRecord,
    get_record,
    migrate_legacy,
    set_record,
)


class _Layer:
    """Stands in for a napari layer: anything with a ``metadata`` dict."""

    def __init__(self, metadata=None):
        self.metadata = dict(metadata or {})


def _stack(n=3):
    return Stack(
        images=np.zeros((n, 1, 4, 4), np.float32),
        yx=np.zeros((n, 2)),
        frame=np.zeros(n),
        index=np.arange(n),
        channels=("a",),
    )


def _full():
    model = object()  # stands in for a torch module: shared, never copied
    return PointsRecord(
        stack=_stack(),
        model=model,
        history=[{"epoch": 1, "loss": 2.0}],
        train_config={"epochs": 1},
        classes={"a": "#ff0000"},
        labels=np.array(["a", "", ""], dtype=object),
        task="walls",
        image="Phase",
        detection={"domains": 2},
    )


def test_get_record_creates_one_record_under_one_key_and_returns_the_live_one():
    layer = _Layer()
    assert get_record(layer, create=False) is None and layer.metadata == {}
    rec = get_record(layer)
    assert layer.metadata == {RECORD_KEY: rec} and rec.is_empty()
    rec.stack = _stack()
    assert get_record(layer) is rec and not rec.is_empty()
    assert get_record(layer.metadata) is rec  # a metadata dict works too
    with pytest.raises(TypeError, match="metadata"):
        get_record(42)


@pytest.mark.parametrize("how", ["copy", "copy.copy", "copy.deepcopy"])
def test_copies_share_stack_and_model_and_own_the_rest(how):
    rec = _full()
    dup = {"copy": rec.copy, "copy.copy": lambda: copy.copy(rec)}.get(
        how, lambda: copy.deepcopy(rec)
    )()
    assert dup is not rec and dup.stack is rec.stack and dup.model is rec.model
    for name in ("history", "train_config", "classes", "labels", "detection"):
        assert getattr(dup, name) is not getattr(rec, name), name
    dup.classes["b"] = "#00ff00"
    dup.labels[1] = "b"
    dup.history.append({"epoch": 2})
    dup.detection["domains"] = 3
    assert rec.classes == {"a": "#ff0000"} and rec.labels[1] == "" and len(rec.history) == 1
    assert rec.detection == {"domains": 2}
    assert (dup.task, dup.image, dup.train_config) == ("walls", "Phase", {"epochs": 1})


def test_a_duplicated_layer_gets_its_own_record():
    original = _Layer()
    rec = set_record(original, _full())
    # napari 0.9 "Duplicate Layer": a new metadata dict holding the same record object
    shallow = _Layer(original.metadata)
    assert shallow.metadata[RECORD_KEY] is rec
    mine = get_record(shallow)
    assert mine is not rec and mine.stack is rec.stack and mine.model is rec.model
    mine.classes["new"] = "#0000ff"
    assert "new" not in get_record(original).classes and get_record(original) is rec
    # older napari: the metadata deep-copied (the record's __deepcopy__ shares stack/model)
    deep = _Layer(copy.deepcopy(original.metadata))
    assert get_record(deep).stack is rec.stack and get_record(deep) is not rec
    # set_record of a record another layer holds stores a copy
    third = _Layer()
    assert set_record(third, rec) is not rec and get_record(original) is rec
    with pytest.raises(TypeError, match="PointsRecord"):
        set_record(third, {"stack": None})


def test_version_1_keys_are_folded_into_the_record():
    stack = _stack()
    layer = _Layer(
        {
            "ivae_stack": stack,
            "ivae_history": ({"epoch": 1},),
            "ivae_label_classes": {"a": "#ff0000"},
            "ivae_labels": ["a", ""],
            "ivae_task": "atoms",
            "ivae_image": "HAADF",
            "role": "kept",
        }
    )
    rec = get_record(layer)
    assert set(layer.metadata) == {"role", RECORD_KEY}
    assert rec.stack is stack and rec.history == [{"epoch": 1}] and rec.task == "atoms"
    assert rec.labels.dtype == object and rec.classes == {"a": "#ff0000"}
    # a key set later by an old script overrides that field
    layer.metadata["ivae_image"] = "Other"
    assert get_record(layer) is rec and rec.image == "Other" and "ivae_image" not in layer.metadata
    assert migrate_legacy({"x": 1}) is None
    assert set(LEGACY_KEYS.values()) < {f for f in vars(PointsRecord()) if not f.startswith("_")}
