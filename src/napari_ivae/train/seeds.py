"""Warm start of a run: k-means class seeds and per-cluster aligned angle seeds."""

from __future__ import annotations

import torch


class _Seeds:
    """Warm start of a run: k-means class seeds and per-cluster aligned templates."""

    @staticmethod
    def wanted(model, mc, tc) -> tuple[bool, bool]:
        """(seed the classes, seed the angles) for this configuration."""
        return (
            mc.joint and tc.class_init == "kmeans",
            model.grid_angles and tc.pose_init == "cluster",
        )

    def __init__(self, x_all, model, mc, tc, device):
        from napari_ivae.models.class_init import (
            align_clusters,
            fit_class_seeds,
            invariant_features,
        )

        self.classes, self.poses = self.wanted(model, mc, tc)
        if self.classes:  # the pose clusters are then the classes
            k = mc.n_classes
        else:
            k = tc.pose_init_clusters or (mc.n_classes if mc.joint else 4)
        n = x_all.shape[0]
        pick = torch.randperm(n, generator=torch.Generator().manual_seed(tc.seed))[:20_000]
        pick = pick.sort().values
        feats = []
        with torch.no_grad():
            for i in range(0, len(pick), 1024):
                xb = x_all[pick[i : i + 1024]].float().to(device)
                feats.append(invariant_features(xb, model.centroid(xb)).cpu())
        self.seeds = fit_class_seeds(torch.cat(feats).numpy(), k, seed=tc.seed)
        self.templates = None
        if self.poses:
            xs = x_all[pick].float().to(device)
            labels = self.seeds.labels(xs, model.centroid(xs))
            self.templates = align_clusters(model, xs, labels, k).to(device)
        self.seeds = self.seeds.to(device)

    def targets(self, model, xb):
        """(class_target, angle_target) for a batch (None where not seeded)."""
        with torch.no_grad():
            centre = model.centroid(xb)
            labels = self.seeds.labels(xb, centre)
            angles = None
            if self.templates is not None:
                nll = model.bins.nll(xb, self.templates[labels][:, None], centre)[:, 0]
                angles = nll.argmin(1)
        return (labels if self.classes else None), angles
