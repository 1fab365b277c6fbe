"""Warm start of a run: k-means class seeds and per-cluster aligned angle seeds."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from napari_ivae.train.config import CAPACITY_CHEMISTRY, CAPACITY_SHAPE, TrainConfig


def resolve_seed_options(train_config: TrainConfig, data) -> TrainConfig:
    """``train_config`` with the data-decided options set for ``data``.

    ``seed_features`` / ``seed_centre`` "auto" and ``capacity_cont`` None.

    What is known about the data decides: a :class:`~napari_ivae.crop.Stack`
    cropped with ``normalize="local"`` or ``"background"`` gets raw seed
    features (its crops are measured against their neighbourhood: the gain is
    gone and brightness is chemistry), anything else gain-free ones; a Stack
    with source positions gets features about the crop centre (crops cut
    about detected points), bare images about their centre of contrast; the
    same neighbourhood-normalised Stack gets the small content capacity
    ``CAPACITY_CHEMISTRY`` (a 5-nat z would take the brightness from the
    classes), anything else ``CAPACITY_SHAPE``.

    Parameters
    ----------
    train_config : TrainConfig
    data : Stack or array
        What :func:`fit` is given.

    Returns
    -------
    TrainConfig
        A copy with those options decided (the same object when nothing was left open).
    """
    tc = train_config
    changes = {}
    local = getattr(data, "normalize", None) in ("local", "background")
    if tc.seed_features == "auto":
        changes["seed_features"] = "raw" if local else "gain_free"
    if tc.capacity_cont is None:
        changes["capacity_cont"] = CAPACITY_CHEMISTRY if local else CAPACITY_SHAPE
    if tc.seed_centre == "auto":
        yx = getattr(data, "yx", None)
        known = yx is not None and len(yx) > 0 and bool(np.isfinite(yx).all())
        changes["seed_centre"] = "crop" if known else "centroid"
    return dataclasses.replace(tc, **changes) if changes else tc


def resolve_gain(model_config, data):
    """``model_config`` with ``gain="auto"`` decided for ``data`` (None stays None).

    ``"free"`` for joint kinds with a Gaussian likelihood unless ``data`` is a
    Stack normalised against its neighbourhood (``local`` / ``background``:
    brightness is chemistry there), as for the seed features; ``"fixed"``
    otherwise (``ModelConfig.gain``).
    """
    if model_config is None or getattr(model_config, "gain", None) != "auto":
        return model_config
    local = getattr(data, "normalize", None) in ("local", "background")
    free = model_config.joint and model_config.likelihood == "gaussian" and not local
    return dataclasses.replace(model_config, gain="free" if free else "fixed")


class _Seeds:
    """Warm start of a run: k-means class seeds and per-cluster aligned templates."""

    @staticmethod
    def wanted(model, mc, tc, labelled: bool = False) -> tuple[bool, bool]:
        """(seed the classes, seed the angles) for this configuration.

        ``labelled`` (semi-supervised kinds): the labels give the classes, so
        they are not seeded.  Seeds from the features sort by what dominates
        the pixels (size, contrast) as much as by class, and forcing them for
        the first ``init_fraction`` of the steps fought the labels: on the
        subtle cards (3 % labelled) accuracy 0.75 with seeds from the labelled
        rows' centres, 0.82 without (docs/experiments.md).
        """
        return (
            mc.joint and tc.class_init != "none" and not labelled,
            model.grid_angles and tc.pose_init == "cluster",
        )

    def __init__(self, x_all, model, mc, tc, device, labelled: bool = False):
        from napari_ivae.models.class_init import (
            align_clusters,
            fit_class_seeds,
            invariant_features,
        )

        self.classes, self.poses = self.wanted(model, mc, tc, labelled)
        if self.classes:  # the pose clusters are then the classes
            k = mc.n_classes
        else:
            k = tc.pose_init_clusters or (mc.n_classes if mc.joint else 4)
        n = x_all.shape[0]
        pick = torch.randperm(n, generator=torch.Generator().manual_seed(tc.seed))[:20_000]
        pick = pick.sort().values
        self.at_crop = tc.seed_centre == "crop"
        feats = []
        with torch.no_grad():
            for i in range(0, len(pick), 1024):
                xb = x_all[pick[i : i + 1024]].float().to(device)
                feats.append(invariant_features(xb, self.centre(model, xb),
                                                model.scale_estimate(xb)).cpu())  # fmt: skip
        method = "kmeans" if tc.class_init == "kmeans" else "merged"
        features = "raw" if tc.seed_features == "raw" else "gain_free"
        self.seeds = fit_class_seeds(
            torch.cat(feats).numpy(), k, seed=tc.seed, method=method, features=features
        )
        self.templates = None
        if self.poses:
            xs = x_all[pick].float().to(device)
            labels = self.seeds.labels(xs, self.centre(model, xs), model.scale_estimate(xs))
            self.templates = align_clusters(model, xs, labels, k).to(device)
        self.seeds = self.seeds.to(device)

    def centre(self, model, xb):
        """Centre of the seed features: the crop centre or the centre of contrast."""
        return torch.zeros(len(xb), 2, device=xb.device) if self.at_crop else model.centroid(xb)

    def targets(self, model, xb):
        """(class_target, angle_target) for a batch (None where not seeded)."""
        with torch.no_grad():
            scale = model.scale_estimate(xb)
            labels = self.seeds.labels(xb, self.centre(model, xb), scale)
            centre = model.centroid(xb)
            angles = None
            if self.templates is not None:
                nll = model.bins.nll(xb, self.templates[labels][:, None], centre, scale=scale)
                angles = nll[:, 0].argmin(1)
        return (labels if self.classes else None), angles
