"""The domain-randomised training generator of scripts/train_dcnn.py (atoms DCNN)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_ivae.detect._metrics import match_points

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "_dcnn_domain.py"


@pytest.fixture(scope="module")
def domain():
    spec = importlib.util.spec_from_file_location("_dcnn_domain", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_patch_is_a_function_of_its_seed(domain):
    a, b, c = (domain.domain_sample(s, 96) for s in (5, 5, 6))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (96, 96) and a[0].dtype == np.float32
    assert ((a[1] >= 0) & (a[1] <= 95)).all()


def test_targets_are_exactly_the_drawn_atoms(domain, monkeypatch):
    """Noise-free, well separated: the image's peaks and the targets match one to one.

    Edges and holes are always on, with 6 % vacancies: removed sites and vacuum
    must have neither a peak nor a target, and every target must sit on a peak.
    """
    quiet = {
        "dose": [1e6, 1e6 + 1],
        "readout_over_dose": [0.0, 0.0],
        "line_noise_p": 0.0,
        "contamination_p": 0.0,
        "amorphous_p": 0.0,
        "tail_p": 0.0,
        "jitter_p": 0.0,
        "spacing_px": [9.0, 9.01],
        "blur_over_spacing": [0.15, 0.15],
        "sublattice_ratio": [0.5, 1.0],
        "perovskite_o_p": 0.0,
        "intensity_jitter": [0.0, 0.0],
        "edge_p": 1.0,
        "hole_p": 1.0,
        "vacancy_fraction": [0.06, 0.06],
        "background": [0.0, 0.0],  # a vacuum step would make peaks of its own
    }
    monkeypatch.setattr(domain, "RECIPE", {**domain.RECIPE, **quiet})
    for seed in range(4):
        img, yx = domain.domain_sample(100 + seed, 128)
        img = img / 1e6
        peak = (img == ndi.maximum_filter(img, size=5)) & (
            img - ndi.minimum_filter(img, size=9) > 0.25
        )
        found = np.argwhere(peak).astype(float)
        m = match_points(found, yx, radius=1.0)
        # away from the border, every peak has a target and every target a peak
        inner_f = ((found >= 5) & (found <= 122)).all(axis=1)
        inner_t = ((yx >= 5) & (yx <= 122)).all(axis=1)
        hit_f, hit_t = np.zeros(len(found), bool), np.zeros(len(yx), bool)
        hit_f[m["pairs"][:, 0]] = hit_t[m["pairs"][:, 1]] = True
        assert inner_t.sum() > 20
        assert hit_f[inner_f].all(), (seed, found[inner_f & ~hit_f])
        assert hit_t[inner_t].all(), (seed, yx[inner_t & ~hit_t])
