"""The shipped sample data (``<repo>/sample_data/``) and the npe2 sample-data adapters.

Three simulated samples, each with ground truth:

==============  ==============================================  =========================
name            data                                            ground truth
==============  ==============================================  =========================
``"stem"``      graphene HAADF-STEM image, 512×512              atoms (y, x, kind, grain,
                (3 grains, dopants, vacancies, 12 Stone–Wales   intensity), vacancies
                defects)
``"pfm"``       PFM amplitude + wrapped phase (deg), 256×256    domains (±1), walls
``"switching"`` PFM switching series, 6 × 192×192,              domains, walls,
                with 8 pinning defects                          switched_fraction, pinning
==============  ==============================================  =========================

:func:`load_sample` reads the files written by ``scripts/make_sample_data.py``
when the ``sample_data/`` folder is there (a source checkout); an installed
package without it regenerates exactly the same arrays from the seeded
simulators with the parameters in :data:`SAMPLE_SPECS`.  Nothing is ever
downloaded.  This module never imports napari.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from napari_ivae._errors import check_choice
from napari_ivae.io import napari_units

SampleName = Literal["stem", "pfm", "switching"]
SAMPLE_NAMES: tuple[str, ...] = ("stem", "pfm", "switching")

#: The folder the samples are read from (repo root / sample_data).
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"

#: Simulator and arguments of each sample (the single source of truth, also
#: used by scripts/make_sample_data.py), pixel size and its unit.
SAMPLE_SPECS: dict[str, dict[str, Any]] = {
    "stem": {
        "simulator": "simulate_stem",
        # 12 Stone–Wales defects (5-7-7-5 rings) for the ring labels; their own random
        # stream, so the dopants, vacancies and noise are those of the seed without them
        "kwargs": {
            "shape": (512, 512),
            "lattice": "graphene",
            "n_grains": 3,
            "stone_wales": 12,
            "seed": 1,
        },
        # C–C distance 0.142 nm drawn as 8 px
        "pixel_size": 0.142 / 8.0,
        "unit": "nm",
        "files": ["stem_graphene.tif", "stem_graphene_atoms.csv", "stem_graphene_vacancies.csv"],
    },
    "pfm": {
        "simulator": "simulate_pfm",
        "kwargs": {"shape": (256, 256), "seed": 2},
        # a 2 µm scan of 256 lines
        "pixel_size": 2000.0 / 256,
        "unit": "nm",
        "files": ["pfm_domains.tif", "pfm_domains_truth.npz"],
    },
    "switching": {
        "simulator": "simulate_switching",
        # 8 pinning defects (discs of radius 5 px that never switch): walls stick there
        "kwargs": {"shape": (192, 192), "n_frames": 6, "n_pins": 8, "pin_radius": 5.0, "seed": 3},
        "pixel_size": 1500.0 / 192,
        "unit": "nm",
        "files": ["pfm_switching.tif", "pfm_switching_truth.npz"],
    },
}

_CHANNELS = ("Amplitude", "Phase")


def _simulate(name: str) -> Any:
    from napari_ivae import simulate

    spec = SAMPLE_SPECS[name]
    return getattr(simulate, spec["simulator"])(**spec["kwargs"])


def simulate_sample(name: SampleName) -> dict[str, Any]:
    """Regenerate sample ``name`` from its seeded simulator (ignores the files).

    Parameters
    ----------
    name : {"stem", "pfm", "switching"}
        Which sample.

    Returns
    -------
    dict
        Same keys as :func:`load_sample`, with ``source="simulated"``.
    """
    check_choice("name", name, SAMPLE_NAMES)
    s = _simulate(name)
    spec = SAMPLE_SPECS[name]
    out: dict[str, Any] = {
        "name": name,
        "params": _jsonable(s.params),
        "pixel_size": spec["pixel_size"],
        "unit": spec["unit"],
        "source": "simulated",
    }
    if name == "stem":
        out.update(image=s.image, atoms=s.atoms, vacancies=s.vacancies)
    else:
        out.update(amplitude=s.amplitude, phase=s.phase, domains=s.domains, walls=s.walls)
        if name == "switching":
            out["switched_fraction"] = s.switched_fraction
            out["pinning"] = s.pinning
    return out


def sample_files_present(name: SampleName, folder: Path | None = None) -> bool:
    """Whether every file of sample ``name`` exists in ``folder`` (default :data:`SAMPLE_DIR`)."""
    folder = SAMPLE_DIR if folder is None else Path(folder)
    return all((folder / f).is_file() for f in SAMPLE_SPECS[name]["files"])


def load_sample(name: SampleName, *, folder: str | Path | None = None) -> dict[str, Any]:
    """Load a shipped sample with its ground truth.

    Parameters
    ----------
    name : {"stem", "pfm", "switching"}
        Which sample.
    folder : path, optional
        Where the files are; default :data:`SAMPLE_DIR`.  When the files are
        missing the sample is regenerated from its seeded simulator (same
        arrays).

    Returns
    -------
    dict
        Always ``name``, ``params`` (simulator arguments, resolved), ``pixel_size``
        (float, in ``unit``), ``unit`` and ``source`` (``"file"`` or
        ``"simulated"``), plus

        - ``"stem"``: ``image`` (Y, X) float32; ``atoms`` DataFrame[y, x, kind,
          grain, intensity]; ``vacancies`` DataFrame[y, x, kind, grain].
        - ``"pfm"``: ``amplitude``, ``phase`` (deg, wrapped) (Y, X) float32;
          ``domains`` int8 ±1; ``walls`` bool.
        - ``"switching"``: the same as (T, Y, X) stacks, ``switched_fraction``
          (T,) and ``pinning`` (Y, X) bool, the pinning defects (never switch).
    """
    check_choice("name", name, SAMPLE_NAMES)
    folder = SAMPLE_DIR if folder is None else Path(folder)
    if not sample_files_present(name, folder):
        return simulate_sample(name)
    import tifffile

    spec = SAMPLE_SPECS[name]
    params_file = folder / "params.json"
    params = json.loads(params_file.read_text())[name] if params_file.is_file() else {}
    out: dict[str, Any] = {
        "name": name,
        "params": params,
        "pixel_size": spec["pixel_size"],
        "unit": spec["unit"],
        "source": "file",
    }
    files = [folder / f for f in spec["files"]]
    if name == "stem":
        out["image"] = tifffile.imread(files[0]).astype(np.float32, copy=False)
        out["atoms"] = pd.read_csv(files[1], dtype={"kind": str})
        out["vacancies"] = pd.read_csv(files[2], dtype={"kind": str})
        return out
    data = tifffile.imread(files[0]).astype(np.float32, copy=False)  # (C,Y,X) or (T,C,Y,X)
    out["amplitude"] = np.ascontiguousarray(data[..., 0, :, :])
    out["phase"] = np.ascontiguousarray(data[..., 1, :, :])
    with np.load(files[1]) as z:
        out["domains"] = z["domains"].astype(np.int8)
        out["walls"] = z["walls"].astype(bool)
        if name == "switching":
            out["switched_fraction"] = z["switched_fraction"].astype(np.float64)
            out["pinning"] = z["pinning"].astype(bool)
    return out


def _jsonable(obj: Any) -> Any:
    """Params dict with tuples/numpy scalars turned into JSON types."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


# ---------------------------------------------------------------- npe2 adapters


def _meta(s: dict[str, Any], role: str, **extra: Any) -> dict[str, Any]:
    return {
        "unit": s["unit"],
        "calibrated": True,
        "pixel_size_nm": _nm(s),
        "role": role,
        "source": f"napari-ivae sample '{s['name']}' ({s['source']})",
        "simulation_params": s["params"],
        **extra,
    }


def _nm(s: dict[str, Any]) -> list[float] | None:
    from napari_ivae.io import pixel_size_nm

    px = float(s["pixel_size"])
    size = pixel_size_nm({"unit": s["unit"], "pixel_size": (px, px)})
    return [float(v) for v in size] if size is not None else None


def stem_sample() -> list[tuple]:
    """npe2 sample: the simulated graphene STEM image (one image layer)."""
    s = load_sample("stem")
    px = s["pixel_size"]
    kwargs = {
        "name": "STEM (simulated graphene)",
        "scale": (px, px),
        "units": napari_units(s["unit"], 2),
        "colormap": "gray",
        "metadata": _meta(s, "image"),
    }
    return [(s["image"], kwargs, "image")]


def _pfm_layers(s: dict[str, Any], suffix: str) -> list[tuple]:
    px = s["pixel_size"]
    scale = (1.0, px, px) if s["amplitude"].ndim == 3 else (px, px)
    units = napari_units(s["unit"], len(scale))
    amp = {
        "name": f"Amplitude{suffix}",
        "scale": scale,
        "units": units,
        "colormap": "gray",
        "metadata": _meta(s, "amplitude", channel="Amplitude"),
    }
    phase = {
        "name": f"Phase{suffix}",
        "scale": scale,
        "units": units,
        "colormap": "twilight",
        "contrast_limits": (-180.0, 180.0),
        "metadata": _meta(s, "phase", channel="Phase", phase_unit="deg"),
    }
    return [(s["amplitude"], amp, "image"), (s["phase"], phase, "image")]


def pfm_sample() -> list[tuple]:
    """npe2 sample: simulated PFM amplitude and phase (two image layers)."""
    return _pfm_layers(load_sample("pfm"), "")


def switching_sample() -> list[tuple]:
    """npe2 sample: simulated PFM switching series, amplitude and phase (T, Y, X) stacks.

    The series has pinning defects; their centres are in the layers'
    ``metadata["simulation_params"]["pin_sites"]`` (and the defect mask in
    ``load_sample("switching")["pinning"]``).
    """
    return _pfm_layers(load_sample("switching"), " (switching)")


#: arguments of the nanoparticle EELS sample (generated at run time, ~0.5 s)
NANOPARTICLE_SAMPLE: dict[str, Any] = {
    "shape": (64, 64),
    "n_energy": 256,
    "radius": 3.0,
    "seed": 4,
}
#: its pixel size (nm): particles of radius 3 px are 7.5 nm, as small Ag / Au particles
NANOPARTICLE_PIXEL_NM = 2.5


def nanoparticle_sample() -> list[tuple]:
    """npe2 sample: a simulated nanoparticle monolayer, HAADF image + EELS spectrum image.

    Made at run time by :func:`napari_ivae.simulate.simulate_nanoparticle_si`
    with :data:`NANOPARTICLE_SAMPLE` (nothing is read or downloaded).  Two image
    layers: the HAADF image and the spectrum image's total-counts map, whose
    ``metadata["spectrum_image"]`` is the :class:`~napari_ivae.spectra.SpectrumImage`;
    the particle centres (pixels) are in the HAADF layer's ``metadata["centers"]``.
    Pixel size :data:`NANOPARTICLE_PIXEL_NM` nm.
    """
    from napari_ivae._reader import spectrum_layer_data
    from napari_ivae.simulate import simulate_nanoparticle_si

    sim = simulate_nanoparticle_si(**NANOPARTICLE_SAMPLE)
    source = "napari-ivae sample 'nanoparticles_eels' (simulated)"
    sim.si.name = "EELS SI (simulated)"
    px = NANOPARTICLE_PIXEL_NM
    sim.si.metadata.update(source=source, pixel_size=(px, px), pixel_unit="nm")
    haadf = {
        "name": "HAADF (simulated nanoparticles)",
        "colormap": "gray",
        "scale": (px, px),
        "units": napari_units("nm", 2),
        "metadata": {
            "role": "image",
            "unit": "nm",
            "calibrated": True,
            "pixel_size": (px, px),
            "pixel_size_nm": [px, px],
            "source": source,
            "simulation_params": _jsonable(sim.params),
            "centers": sim.centers,
            "arrangement": list(sim.arrangement),
        },
    }
    si_data, si_kwargs, _ = spectrum_layer_data(sim.si)
    si_kwargs["visible"] = False
    return [(sim.image, haadf, "image"), (si_data, si_kwargs, "image")]
