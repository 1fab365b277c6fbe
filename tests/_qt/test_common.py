"""Shared adapters: error notification, worker guards, latent join."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from napari_ivae import IvaeError
from napari_ivae._qt._common import Outcome, UserError, guarded, join_latent, notify_errors

pytestmark = pytest.mark.gui


def test_notify_errors_as_context_manager_and_decorator(notes):
    with notify_errors("Crop"):
        raise IvaeError("window=80 is larger than the image (64×64)")

    @notify_errors("Train")
    def bad():
        raise ValueError("lr=-1 is out of range")

    assert bad() is None
    got = [(sev, text) for sev, text in notes]
    assert got == [
        ("error", "Crop: window=80 is larger than the image (64×64)"),
        ("error", "Train: lr=-1 is out of range"),
    ]
    with pytest.raises(KeyError), notify_errors("Crop"):  # bugs are not swallowed
        raise KeyError("bug")


def test_guarded_returns_errors_and_warnings_as_values():
    def warns():
        warnings.warn("no wall found in the phase image", UserWarning, stacklevel=1)
        return 3

    assert guarded(warns) == Outcome(3, None, ("no wall found in the phase image",))
    out = guarded(lambda: (_ for _ in ()).throw(IvaeError("stride=0 is out of range")))
    assert out.error == UserError("stride=0 is out of range") and out.value is None
    with pytest.raises(ZeroDivisionError):
        guarded(lambda: 1 / 0)


def test_join_latent_by_index_keeps_other_columns_and_replaces_old_latents():
    feats = pd.DataFrame(
        {"y": [1.0, 2, 3, 4], "label": ["a", "", "b", ""], "z3": 9.0, "p1": 9.0, "angle": 9.0}
    )
    latent = pd.DataFrame({"y": [0.0, 0.0], "z1": [0.1, 0.3], "z2": [1.0, 3.0], "class": [0, 1]})
    out = join_latent(feats, latent, np.array([0, 2]))
    assert list(out.columns) == ["y", "label", "z1", "z2", "class"]
    np.testing.assert_array_equal(out["y"], feats["y"])  # the stack's y is not copied over
    np.testing.assert_allclose(out["z1"], [0.1, np.nan, 0.3, np.nan])
    np.testing.assert_allclose(out["class"], [0, np.nan, 1, np.nan])
    assert list(out["label"]) == ["a", "", "b", ""]
    # every point kept: dtypes survive (class stays an integer)
    full = join_latent(feats.iloc[:2], latent, np.array([0, 1]))
    assert full["class"].dtype.kind == "i"
    with pytest.raises(IvaeError, match="crop again"):
        join_latent(feats.iloc[:2], latent, np.array([0, 5]))
