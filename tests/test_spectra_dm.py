"""Gatan DM spectrum images: the axis layout rosettasciio gives, and the memory map of the counts."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ivae._errors import IvaeError
from napari_ivae.spectra import _read, is_spectrum_image_file, read_spectrum_image


def _dm_signal(data_eyx, signal_type="EELS", e_unit="eV"):
    """What rosettasciio's DM reader returns for a spectrum image: (E | Y, X), E navigating."""
    e, h, w = data_eyx.shape
    axes = [
        {"name": "Energy loss", "size": e, "index_in_array": 0, "scale": 0.01, "offset": 1.5,
         "units": e_unit, "navigate": True},
        {"name": "y", "size": h, "index_in_array": 1, "scale": 2.0, "offset": 0.0,
         "units": "nm", "navigate": False},
        {"name": "x", "size": w, "index_in_array": 2, "scale": 2.0, "offset": 0.0,
         "units": "nm", "navigate": False},
    ]  # fmt: skip
    meta = {"General": {"title": "EELS SI"}, "Signal": {"signal_type": signal_type}}
    return {"data": data_eyx, "axes": axes, "metadata": meta}


@pytest.fixture
def fake_dm(tmp_path, monkeypatch):
    """A .dm3 path whose rosettasciio reading is replaced by ``signals`` (set by the test)."""
    import rsciio.digitalmicrograph as dm

    holder = {"signals": []}
    monkeypatch.setattr(dm, "file_reader", lambda f, lazy=False: holder["signals"])
    monkeypatch.setattr(_read, "_dm_memmap", lambda p, k, shape: None)
    path = tmp_path / "si.dm3"
    path.write_bytes(b"\0")
    return path, holder


def test_dm_spectrum_image_axes(fake_dm):
    path, holder = fake_dm
    cube = np.random.default_rng(0).random((9, 4, 5)).astype(np.float32)  # (E, Y, X)
    survey = {"data": np.zeros((8, 8)), "axes": [], "metadata": {}}
    holder["signals"] = [survey, _dm_signal(cube)]
    assert is_spectrum_image_file(path)
    si = read_spectrum_image(path)
    assert si.shape == (4, 5, 9) and np.array_equal(si.data, np.moveaxis(cube, 0, -1))
    assert np.allclose(si.energy, 1.5 + 0.01 * np.arange(9)) and si.unit == "eV"
    assert si.metadata["pixel_size"] == (2.0, 2.0) and si.metadata["pixel_unit"] == "nm"
    assert np.allclose(si.band_map(1.52, 1.55), cube[2:6].sum(0))


def test_dm_image_stack_is_not_a_spectrum_image(fake_dm):
    path, holder = fake_dm
    holder["signals"] = [_dm_signal(np.zeros((3, 4, 5)), signal_type="", e_unit="s")]
    assert not is_spectrum_image_file(path)
    with pytest.raises(IvaeError, match=r"si\.dm3: holds no spectrum image.*\(3, 4, 5\)"):
        read_spectrum_image(path)


def test_dm_memmap_matches_rosettasciio_on_a_real_file(real_data):
    """The private-API memory map reads the same counts as rosettasciio (real survey image)."""
    from rsciio.digitalmicrograph import file_reader

    path = real_data / "DMReader_Image_SI-Survey.dm3"
    (sig,) = file_reader(str(path))
    mm = _read._dm_memmap(path, 0, sig["data"].shape)
    assert isinstance(mm, np.memmap) and np.array_equal(mm, sig["data"])
    assert _read._dm_memmap(path, 0, (3, 3)) is None  # shape mismatch: not trusted
    assert not is_spectrum_image_file(path)
