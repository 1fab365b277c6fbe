"""The atoms training sampler of the shipped weights (``train_dcnn.py --recipe v1``).

``simulate_stem`` with randomised parameters (graphene / hexagonal / square, spacing
5-20 px, dose 20-200, noise ×0.5-3), half of the patches stretched along y or x.
Kept so that the shipped ``atoms.pt`` (171 steps, seed 0) can be reproduced.
"""

from __future__ import annotations

import numpy as np
from _dcnn_domain import atom_target
from scipy import ndimage as ndi

from napari_ivae.detect import dcnn

SPACING_RANGE = (5.0, 20.0)  # nearest-neighbour spacing (px) seen in training
PATCH = 128


def v1_sample(rng: np.random.Generator, sim_seed: int, size: int = PATCH):
    """One (input (1,H,W), target (1,H,W)) pair from simulate_stem with random parameters."""
    from napari_ivae.simulate import simulate_stem

    lattice = rng.choice(["graphene", "hexagonal", "square"], p=[0.4, 0.3, 0.3])
    spacing = float(np.exp(rng.uniform(*np.log(SPACING_RANGE))))
    # half of the samples are stretched along y or x (rectangular projections, drift)
    stretch = np.ones(2)
    if rng.random() < 0.5:
        stretch[rng.integers(2)] = np.exp(rng.uniform(np.log(0.75), np.log(1.5)))
    sim_size = int(np.ceil(size / stretch.min())) + 1
    s = simulate_stem(
        (sim_size, sim_size),
        lattice=str(lattice),
        spacing=spacing,
        n_grains=int(rng.integers(1, 5)),
        dopant_fraction=float(rng.uniform(0, 0.06)),
        vacancy_fraction=float(rng.uniform(0, 0.04)),
        dose=float(np.exp(rng.uniform(np.log(20), np.log(200)))),
        noise_scale=float(np.exp(rng.uniform(np.log(0.5), np.log(3.0)))),
        blur=float(rng.uniform(0.14, 0.3) * spacing),
        background=float(rng.uniform(0, 1.5)),
        intensity_jitter=float(rng.uniform(0, 0.15)),
        scan_distortion=float(rng.uniform(0, 0.3 * spacing) if rng.random() < 0.5 else 0.0),
        seed=sim_seed,
    )
    img, yx = s.image, s.atoms[["y", "x"]].to_numpy() * stretch
    if (stretch != 1).any():  # output pixel (i, j) samples the simulation at (i, j) / stretch
        img = ndi.affine_transform(img, 1 / stretch, order=1, output_shape=(size, size))
    yx = yx[(yx >= 0).all(axis=1) & (yx <= size - 1).all(axis=1)]
    img = dcnn.normalize(img[:size, :size])
    return img[None], atom_target(img.shape, yx)[None]
