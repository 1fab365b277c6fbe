"""Sessions: one file with layers, features, classes, Stack and model; safe and atomic."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from napari_ivae import IvaeError
from napari_ivae.crop import Stack
from napari_ivae.models import ModelConfig, build_model
from napari_ivae.record import RECORD_KEY, PointsRecord
from napari_ivae.session import FORMAT, VERSION, load_session, save_session, write_session

CLASSES = {"wall A": "#ff0000", "wall B": "#00ff00"}


def _model():
    torch.manual_seed(0)
    return build_model(ModelConfig(kind="rvae", in_channels=1, size=8, hidden=8, angle_bins=8))


def _layers(n=7):
    rng = np.random.default_rng(0)
    image = rng.random((12, 10), dtype=np.float32)
    image_meta = {
        "unit": "nm",
        "source": "/data/scan.ibw",
        "role": "phase",
        "axes": "yx",
        "channels": ("Phase", "Amplitude"),
        "n_nonfinite": 0,
        "offset": float("nan"),
        "raw": np.arange(4, dtype=np.int16),
    }
    image_attrs = {
        "name": "Phase",
        "scale": (0.5, 0.25),
        "translate": (1.0, -2.0),
        "units": ("nm", "nm"),
        "colormap": "twilight",
        "contrast_limits": (-180.0, 180.0),
        "opacity": 0.8,
        "visible": False,
        "blending": "additive",
        "metadata": image_meta,
    }
    label = pd.Categorical(
        ["wall A", "", "wall B", "wall A", "", "", "wall B"][:n],
        categories=["", "wall A", "wall B"],
    )
    features = pd.DataFrame(
        {
            "y": rng.random(n) * 12,
            "x": rng.random(n) * 10,
            "frame": np.zeros(n, dtype=np.int64),
            "score": np.r_[np.nan, rng.random(n - 1)],
            "z1": rng.normal(size=n),
            "z2": rng.normal(size=n),
            "angle": rng.uniform(-np.pi, np.pi, n),
            "class": np.arange(n) % 2,
            "p0": rng.random(n),
            "is_edge": np.arange(n) % 3 == 0,
            "note": ["a", "b", None, "d", "é", "", "g"][:n],
            # an object column of text (wall kinds) stays object, not pandas' str dtype
            "kind": pd.Series(
                ["180", "non180", "180", "180", "non180", "180", "180"][:n], dtype=object
            ),
            "count": pd.array([1, None, 3, 4, 5, 6, 7][:n], dtype="Int64"),
            "label": label,
        }
    )
    stack = Stack(
        images=rng.random((n, 1, 8, 8), dtype=np.float32),
        yx=features[["y", "x"]].to_numpy(),
        frame=np.zeros(n),
        index=np.arange(n)[::-1],
        channels=("Phase",),
    )
    model = _model()
    history = [{"epoch": 1, "loss": 1.5, "recon": float("nan")}]
    points_attrs = {
        "name": "walls",
        "scale": (0.5, 0.25),
        "size": np.full(n, 2.5),
        "face_color": np.tile([1.0, 1.0, 0.0, 1.0], (n, 1)),
        "symbol": "disc",
        "ndim": 2,
        "features": features,
        "metadata": {
            "ivae": PointsRecord(
                stack=stack,
                model=model,
                history=history,
                train_config={"epochs": 3, "lr": 0.001, "device": "cpu"},
                classes=dict(CLASSES),
                labels=np.asarray(label.astype(str), dtype=object),
                task="walls",
                image="Phase",
                detection={"domains": 2, "noise": 0.25},
            ),
            "note": "kept",
        },
    }
    labels = np.zeros((12, 10), dtype=np.int32)
    labels[2:5, 3:6] = 2
    labels_attrs = {
        "name": "walls labeled",
        "colormap": {None: [0, 0, 0, 0], 0: [0, 0, 0, 0], 1: [1, 0, 0, 1], 2: [0, 1, 0, 1]},
        "opacity": 0.9,
    }
    return [
        (image, image_attrs, "image"),
        (features[["y", "x"]].to_numpy(), points_attrs, "points"),
        (labels, labels_attrs, "labels"),
    ]


def _assert_same_record(rec, rec0):
    """Every field of the points record came back (live stack and model included)."""
    assert isinstance(rec, PointsRecord)
    assert rec.classes == CLASSES and list(rec.classes) == list(CLASSES)  # order = class index
    assert rec.labels.dtype == object and list(rec.labels) == list(rec0.labels)
    assert rec.history[0]["loss"] == 1.5 and np.isnan(rec.history[0]["recon"])
    assert (rec.task, rec.image, rec.detection) == (rec0.task, rec0.image, rec0.detection)
    assert isinstance(rec.stack, Stack) and rec.stack.channels == rec0.stack.channels
    for key in ("images", "yx", "frame", "index"):
        assert np.array_equal(getattr(rec.stack, key), getattr(rec0.stack, key))
    want = rec0.model.config
    old_shift = {"centroid_limit": 1.0, "shift_scale": 1.0}  # a model file of format 2
    if all(getattr(rec.model.config, k) == v for k, v in old_shift.items()):
        want = dataclasses.replace(want, **old_shift)
    assert rec.model.config == want and not rec.model.training
    s0, s1 = rec0.model.state_dict(), rec.model.state_dict()
    assert s0.keys() == s1.keys() and all(torch.equal(s0[k], s1[k]) for k in s0)


def test_round_trip_keeps_layers_features_classes_stack_and_model(tmp_path):
    layers = _layers()
    path = save_session(tmp_path / "work.ivaesession", layers)
    assert path == tmp_path / "work.ivaesession"
    got = load_session(path)
    assert [(a["name"], k) for _d, a, k in got] == [
        ("Phase", "image"),
        ("walls", "points"),
        ("walls labeled", "labels"),
    ]

    # image: data, placement, units, display, metadata with tuple / NaN / array values
    (d0, _, _), (data, attrs, _) = layers[0], got[0]
    assert data.dtype == d0.dtype and np.array_equal(data, d0)
    assert attrs["scale"] == (0.5, 0.25) and attrs["translate"] == (1.0, -2.0)
    assert attrs["units"] == ("nm", "nm") and attrs["colormap"] == "twilight"
    assert attrs["contrast_limits"] == (-180.0, 180.0)
    assert (attrs["opacity"], attrs["visible"], attrs["blending"]) == (0.8, False, "additive")
    meta = attrs["metadata"]
    assert meta["channels"] == ("Phase", "Amplitude") and meta["unit"] == "nm"
    assert np.isnan(meta["offset"]) and meta["raw"].dtype == np.int16
    assert np.array_equal(meta["raw"], np.arange(4))

    # points: every feature column with its dtype, NaN, None, categorical labels
    (p0, pa0, _), (pdata, pattrs, _) = layers[1], got[1]
    assert np.array_equal(pdata, p0)
    pd.testing.assert_frame_equal(pattrs["features"], pa0["features"])
    assert pattrs["features"]["label"].dtype == pa0["features"]["label"].dtype
    assert pattrs["features"]["count"].isna().tolist() == [False, True] + [False] * 5
    assert pattrs["size"] == 2.5 and pattrs["face_color"] == [1.0, 1.0, 0.0, 1.0]
    assert pattrs["metadata"]["note"] == "kept" and set(pattrs["metadata"]) == {"ivae", "note"}
    _assert_same_record(pattrs["metadata"][RECORD_KEY], pa0["metadata"][RECORD_KEY])

    # labels: data and the class colours
    (l0, _, _), (ldata, lattrs, _) = layers[2], got[2]
    assert ldata.dtype == np.int32 and np.array_equal(ldata, l0)
    assert lattrs["colormap"][2] == [0.0, 1.0, 0.0, 1.0] and None in lattrs["colormap"]

    # the format: a zip with session.json and .npy / .npz / .ivae members, nothing pickled
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        doc = json.loads(zf.read("session.json"))
    assert doc["format"] == FORMAT and doc["version"] == VERSION == 2
    rec = doc["layers"][1]["metadata"]["ivae"]["$record"]
    assert rec["classes"] == CLASSES and rec["train_config"]["epochs"] == 3
    assert rec["model"] == {"$model": "models/0.ivae"} and rec["task"] == "walls"
    assert _assert_same_record(got[1][1]["metadata"]["ivae"], pa0["metadata"]["ivae"]) is None
    assert got[1][1]["metadata"]["ivae"].train_config == {"epochs": 3, "lr": 0.001, "device": "cpu"}
    assert "stacks/0.npz" in names and "models/0.ivae" in names
    assert all(n.endswith((".npy", ".npz", ".ivae", ".json")) for n in names)


def test_shared_stack_and_model_are_stored_once_and_come_back_shared(tmp_path):
    layers = _layers()
    data, attrs, kind = layers[1]
    twin = dict(attrs, name="walls copy")
    path = save_session(tmp_path / "s.ivaesession", [layers[1], (data, twin, kind)])
    with zipfile.ZipFile(path) as zf:
        assert sum(n.startswith("models/") for n in zf.namelist()) == 1
    a, b = load_session(path)
    ra, rb = a[1]["metadata"][RECORD_KEY], b[1]["metadata"][RECORD_KEY]
    assert ra is not rb and ra.model is rb.model and ra.stack is rb.stack


def test_version_1_sessions_still_open_into_a_record(tmp_path):
    """tests/data/session_v1.ivaesession: written by napari-ivae at commit cb0b686 (format 1)
    from ``_layers()``, with ``ivae_task``/``ivae_image``/``ivae_detection`` added."""
    from pathlib import Path

    v1 = Path(__file__).parent / "data" / "session_v1.ivaesession"
    with zipfile.ZipFile(v1) as zf:
        doc = json.loads(zf.read("session.json"))
    assert doc["version"] == 1 and "ivae_stack" in doc["layers"][1]["metadata"]
    got = load_session(v1)
    meta = got[1][1]["metadata"]
    assert set(meta) == {RECORD_KEY}  # the version-1 keys are folded into the record
    rec0 = _layers()[1][1]["metadata"][RECORD_KEY]
    _assert_same_record(meta[RECORD_KEY], rec0)
    assert meta[RECORD_KEY].train_config is None  # version 1 did not keep it
    expected = _layers()[1][1]["features"].drop(columns="kind")  # the v1 file predates it
    pd.testing.assert_frame_equal(got[1][1]["features"], expected)
    # saved again, it is a version-2 file with the same record
    again = load_session(save_session(tmp_path / "v2.ivaesession", got))
    _assert_same_record(again[1][1]["metadata"][RECORD_KEY], rec0)


def test_version_1_keys_set_by_a_script_are_saved_in_the_record(tmp_path):
    data, attrs, kind = _layers()[1]
    live = attrs["metadata"][RECORD_KEY]
    model = _model()
    attrs = dict(attrs, metadata={RECORD_KEY: live, "ivae_model": model, "ivae_task": "atoms"})
    got = load_session(save_session(tmp_path / "s.ivaesession", [(data, attrs, kind)]))
    rec = got[0][1]["metadata"][RECORD_KEY]
    assert rec.task == "atoms" and rec.classes == CLASSES and set(got[0][1]["metadata"]) == {"ivae"}
    assert live.task == "walls" and "ivae_model" in attrs["metadata"]  # the live layer untouched


def test_a_malformed_record_is_one_sentence(tmp_path):
    path = save_session(tmp_path / "r.ivaesession", _layers()[1:2])

    def _bad(name, data):
        if name == "session.json":
            doc = json.loads(data)
            doc["layers"][0]["metadata"]["ivae"]["$record"]["classes"] = ["not", "a", "dict"]
            return name, json.dumps(doc)
        return name, data

    bad = tmp_path / "bad.ivaesession"
    _rewrite(path, bad, _bad)
    with pytest.raises(IvaeError, match=r"bad\.ivaesession.*record whose 'classes' is a list"):
        load_session(bad)


def test_suffix_added_views_skipped_other_types_refused_and_npe2_writer(tmp_path):
    image, attrs, _ = _layers()[0]
    overlay = (
        np.zeros((2, 2)),
        {"name": "sel", "metadata": {"ivae_highlight_of": "walls"}},
        "points",
    )
    gallery = (np.zeros((4, 4)), {"name": "g", "metadata": {"ivae_gallery_of": "walls"}}, "image")
    path = save_session(tmp_path / "plain", [(image, attrs, "image"), overlay, gallery])
    assert path.name == "plain.ivaesession"
    assert [a["name"] for _d, a, _k in load_session(path)] == ["Phase"]
    with pytest.raises(IvaeError, match="'s' is a shapes layer"):
        save_session(tmp_path / "x.ivaesession", [(np.zeros((1, 4, 2)), {"name": "s"}, "shapes")])
    with pytest.raises(IvaeError, match="nothing to save"):
        save_session(tmp_path / "y.ivaesession", [overlay])
    assert write_session(str(tmp_path / "w.ivaesession"), [(image, attrs, "image")]) == [
        str(tmp_path / "w.ivaesession")
    ]


def test_unstorable_metadata_is_left_out_with_a_warning(tmp_path):
    image, attrs, _ = _layers()[0]
    attrs = dict(attrs, metadata={"ok": 1, "fn": print, "mixed": np.array([1, "a"], dtype=object)})
    with pytest.warns(UserWarning, match="'fn'"), pytest.warns(UserWarning, match="'mixed'"):
        path = save_session(tmp_path / "s.ivaesession", [(image, attrs, "image")])
    assert load_session(path)[0][1]["metadata"] == {"ok": 1}


def _rewrite(src, dst, change):
    """Copy the zip ``src`` to ``dst``, passing each (name, bytes) through ``change``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            item = change(name, zin.read(name))
            if item is not None:
                zout.writestr(*item)


def test_corrupt_truncated_foreign_and_unknown_version_files_are_one_sentence(tmp_path):
    good = save_session(tmp_path / "good.ivaesession", _layers()[:1])
    raw = good.read_bytes()
    cases = {}
    cases["truncated"] = raw[: len(raw) // 2]
    cases["garbage"] = b"\x00not a zip" * 50
    cases["empty"] = b""
    for name, content in cases.items():
        bad = tmp_path / f"{name}.ivaesession"
        bad.write_bytes(content)
        with pytest.raises(IvaeError, match=rf"{name}\.ivaesession") as err:
            load_session(bad)
        assert "\n" not in str(err.value)

    def _doc(change):
        def _c(name, data):
            if name == "session.json":
                doc = json.loads(data)
                change(doc)
                return name, json.dumps(doc)
            return name, data

        return _c

    future = tmp_path / "future.ivaesession"
    _rewrite(good, future, _doc(lambda d: d.update(version=99)))
    with pytest.raises(IvaeError, match=r"future\.ivaesession.*version 99"):
        load_session(future)
    other = tmp_path / "other.ivaesession"
    _rewrite(good, other, _doc(lambda d: d.update(format="something else")))
    with pytest.raises(IvaeError, match=r"other\.ivaesession.*not a napari-ivae session"):
        load_session(other)
    missing = tmp_path / "missing.ivaesession"
    _rewrite(good, missing, lambda n, d: None if n == "layers/0/data.npy" else (n, d))
    with pytest.raises(
        IvaeError, match=r"missing\.ivaesession.*missing member 'layers/0/data.npy'"
    ):
        load_session(missing)
    nojson = tmp_path / "nojson.ivaesession"
    _rewrite(good, nojson, lambda n, d: None if n == "session.json" else (n, d))
    with pytest.raises(IvaeError, match=r"nojson\.ivaesession.*no session.json"):
        load_session(nojson)
    badnpy = tmp_path / "badnpy.ivaesession"
    _rewrite(good, badnpy, lambda n, d: (n, d[:20]) if n.endswith(".npy") else (n, d))
    with pytest.raises(IvaeError, match=r"badnpy\.ivaesession.*not a readable \.npy"):
        load_session(badnpy)
    with pytest.raises(IvaeError, match="does not exist"):
        load_session(tmp_path / "absent.ivaesession")


class _Payload:
    """Unpickling this creates the marker file: proof that loading ran code."""

    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_members_are_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "PWNED"
    _Payload.marker = str(marker)
    good = save_session(tmp_path / "good.ivaesession", _layers())

    # an object array (pickled) in place of the image data
    buf = io.BytesIO()
    np.save(buf, np.array([_Payload(), 1], dtype=object), allow_pickle=True)
    evil = tmp_path / "evil.ivaesession"
    _rewrite(good, evil, lambda n, d: (n, buf.getvalue()) if n == "layers/0/data.npy" else (n, d))
    with pytest.raises(IvaeError, match=r"evil\.ivaesession.*pickled"):
        load_session(evil)
    assert not marker.exists()

    # the same as a feature column, and in the stack's npz
    feat = tmp_path / "feat.ivaesession"
    _rewrite(
        good, feat, lambda n, d: (n, buf.getvalue()) if n == "layers/1/features/0.npy" else (n, d)
    )
    with pytest.raises(IvaeError, match=r"feat\.ivaesession"):
        load_session(feat)
    npz = io.BytesIO()
    np.savez(npz, images=np.array([_Payload()], dtype=object))
    st = tmp_path / "stack.ivaesession"
    _rewrite(good, st, lambda n, d: (n, npz.getvalue()) if n == "stacks/0.npz" else (n, d))
    with pytest.raises(IvaeError, match=r"stack\.ivaesession"):
        load_session(st)
    assert not marker.exists()

    # a model checkpoint carrying a pickled payload
    ck = io.BytesIO()
    torch.save({"format": "napari-ivae-model", "version": 1, "payload": _Payload()}, ck)
    mod = tmp_path / "model.ivaesession"
    _rewrite(good, mod, lambda n, d: (n, ck.getvalue()) if n == "models/0.ivae" else (n, d))
    with pytest.raises(IvaeError, match=r"model\.ivaesession.*models/0\.ivae"):
        load_session(mod)
    assert not marker.exists()

    # the marker would be made if these payloads ran (the test can fail)
    import pickle

    pickle.loads(pickle.dumps(_Payload())).close()
    assert marker.exists()


def test_a_failed_save_leaves_the_previous_session_untouched(tmp_path, monkeypatch):
    path = save_session(tmp_path / "work.ivaesession", _layers())
    before = path.read_bytes()
    calls = {"n": 0}
    real = np.lib.format.write_array

    def _fail_later(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", _fail_later)
    with pytest.raises(IvaeError, match=r"work\.ivaesession.*No space left"):
        save_session(path, _layers())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work.ivaesession"]  # no temp left

    monkeypatch.setattr(np.lib.format, "write_array", real)
    monkeypatch.setattr(Stack, "save", lambda self, p: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        save_session(path, _layers())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work.ivaesession"]


def test_a_model_trained_for_one_epoch_comes_back_with_the_same_weights(tmp_path):
    from napari_ivae.train import TrainConfig, fit

    rng = np.random.default_rng(1)
    images = rng.random((16, 1, 8, 8), dtype=np.float32)
    gen = fit(
        images,
        ModelConfig(kind="vae", hidden=8, latent_dim=2),
        TrainConfig(epochs=1, batch_size=8, device="cpu"),
    )
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        result = stop.value
    layer = (
        np.zeros((0, 2)),
        {
            "name": "p",
            "metadata": {"ivae": PointsRecord(model=result.model, history=result.history)},
        },
        "points",
    )
    got = load_session(save_session(tmp_path / "m.ivaesession", [layer]))
    rec = got[0][1]["metadata"]["ivae"]
    a, b = result.model.state_dict(), rec.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [h["epoch"] for h in rec.history] == [1]
