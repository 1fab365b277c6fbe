"""The training objective: β-ELBO or the capacity-controlled objective of joint kinds."""

from __future__ import annotations

import math

from napari_ivae.models import ModelConfig
from napari_ivae.train.config import CAPACITY_SHAPE, TrainConfig


def _ramp(a: float, b: float, frac: float) -> float:
    return a + (b - a) * min(max(frac, 0.0), 1.0)


def _loss(terms, mc: ModelConfig, tc: TrainConfig, frac: float):
    kl_cont = sum(v for k, v in terms.items() if k in ("kl_z", "kl_angle", "kl_shift"))
    if not mc.joint:
        return terms["recon"] + tc.beta * kl_cont
    kl_pose = 0.0
    if tc.capacity_terms == "content":
        kl_pose = kl_cont - terms["kl_z"]
        kl_cont = terms["kl_z"]
    ramp = frac / tc.capacity_ramp if tc.capacity_ramp > 0 else 1.0
    c_z = _ramp(*(tc.capacity_cont or CAPACITY_SHAPE), ramp)
    if tc.capacity_disc is None and mc.discrete == "exact":
        # the exact class posterior: recon + KL_disc = -log Σ_k p(k) p(x|k), the
        # ELBO.  A capacity C_α < log K can only be met by making the class
        # templates alike: the classes merged (docs/experiments.md, "What was tried")
        disc = terms["kl_disc"]
    else:
        c_a = _ramp(*(tc.capacity_disc or (0.0, math.log(mc.n_classes))), ramp)
        disc = tc.beta_disc * (terms["kl_disc"] - c_a).abs()
    if "class_ce" in terms:  # semi-supervised kinds: the labelled rows' classification term
        disc = disc + mc.supervision * terms["class_ce"]
    return (
        terms["recon"]
        + tc.class_balance * terms.get("kl_marg", 0.0)
        + tc.beta * kl_pose
        + tc.beta_cont * (kl_cont - c_z).abs()
        + disc
    )
