"""Seeded simulators with exact ground truth (no torch, no Qt).

- :func:`simulate_stem`: atom-resolved HAADF-STEM images of polycrystalline
  graphene / TMD-like / perovskite-like lattices with dopants and vacancies.
- :func:`simulate_pfm`: PFM amplitude + wrapped phase with 180° domains.
- :func:`simulate_switching`: a PFM switching series (domains growing).
- :func:`simulate_ferroelastic`: a PFM frame with 180° domains and ferroelastic
  a/c stripe walls (truth masks of both wall kinds).
- :func:`simulate_nanoparticle_si`: HAADF image + EELS spectrum image of a
  plasmonic nanoparticle monolayer (peak energy/width a known law of the
  local arrangement; endmember spectra and abundances).
- :func:`make_cards`: the rotated-glyph "cards" benchmark set for invariant VAEs.
- :func:`make_subtle_cards`: cards whose classes differ by a small notch while
  rotation, scale and contrast dominate the pixel variance.

Conventions: positions are pixels, row/column order (``y``, ``x``), pixel
``(i, j)`` sampled at ``y = i, x = j``.  Every simulator takes ``seed`` and is
deterministic for it; options that are off by default and draw random numbers
(STEM ``line_noise``, ``position_jitter``, graphene ``stone_wales``; PFM
``amplitude_variation``) use their own random streams, so turning them on
leaves the rest of a seed's sample unchanged (graphene
``reconstructed_vacancies`` too, except that removing sites redraws the
dopants and ``vacancy_fraction`` vacancies).  PFM walls are the boundary pixels between domains
(:func:`domain_walls`).
"""

from napari_ivae.simulate._subtle import SUBTLE_CLASSES, SubtleCardsSample, make_subtle_cards
from napari_ivae.simulate.cards import CARD_CLASSES, CardsSample, make_cards
from napari_ivae.simulate.ferroelastic import FerroelasticSample, simulate_ferroelastic
from napari_ivae.simulate.nanoparticles import NanoparticleSI, simulate_nanoparticle_si
from napari_ivae.simulate.pfm import PFMSample, domain_walls, simulate_pfm, wall_distance
from napari_ivae.simulate.stem import STEMSample, simulate_stem
from napari_ivae.simulate.switching import SwitchingSample, simulate_switching

__all__ = [
    "CARD_CLASSES",
    "SUBTLE_CLASSES",
    "CardsSample",
    "FerroelasticSample",
    "NanoparticleSI",
    "PFMSample",
    "STEMSample",
    "SubtleCardsSample",
    "SwitchingSample",
    "domain_walls",
    "make_cards",
    "make_subtle_cards",
    "simulate_ferroelastic",
    "simulate_nanoparticle_si",
    "simulate_pfm",
    "simulate_stem",
    "simulate_switching",
    "wall_distance",
]
