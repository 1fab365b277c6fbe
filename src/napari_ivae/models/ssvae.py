"""The semi-supervised kinds ``ssvae`` and ``ssrvae`` (see :mod:`napari_ivae.models.base`).

A joint model (``jvae`` / ``jrvae``) with the exact class posterior
q(k | x) ∝ p(k) exp(-(NLL_k + KL_angle,k)) (enumeration over the classes at
the posterior z and shift), where some rows come with their class:

* a labelled row's class weights are the one-hot of its label (its ELBO is
  that of the generative model with the class observed: ``-log p(y)`` as the
  class KL);
* a labelled row adds a classification term ``-log q(y | x)`` of the same
  exact posterior the unlabelled rows get (``class_ce``, weighted by
  ``SSConfig.supervision`` in the objective), so the per-class decoders learn
  the difference between the classes, not only each class's look;
* an unlabelled row is a joint model's row: its class is inferred.

The labels reach the model as ``cond`` (B, 1): the class code of every row,
-1 where unlabelled (the trainer's per-row side data, as the condition of the
conditional kinds).  Encoding needs no labels: ``posterior`` infers every row.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from napari_ivae._errors import IvaeError
from napari_ivae.models.base import IVAE
from napari_ivae.models.class_init import CODE_PER_CHANNEL, invariant_code
from napari_ivae.models.nets import mlp

__all__ = ["SSIVAE", "SSRVAE", "SSVAE"]


class SSIVAE(IVAE):
    """An :class:`IVAE` with a class latent supervised on the labelled rows.

    ``config`` is a :class:`~napari_ivae.models.ss_config.SSConfig` with its
    vocabulary set (``config.ready``).
    """

    kind = "ssvae"

    def __init__(self, config):
        if not getattr(config, "ready", False):
            raise IvaeError(
                f"kind={config.kind!r} needs its classes (train it with labels: "
                "some rows labelled, the others empty)"
            )
        super().__init__(config)
        self._known: torch.Tensor | None = None
        self._evidence: torch.Tensor | None = None
        c = config
        self.class_head = None
        if c.classifier == "on":
            # rotation kinds: rotation-invariant features about the centre of
            # contrast; the others: the image itself
            n_in = c.in_channels * (CODE_PER_CHANNEL if c.rotation else c.size * c.size)
            self.class_head = nn.Sequential(
                nn.LayerNorm(n_in), mlp(n_in, c.hidden, c.n_layers, self.n_classes, c.activation)
            )

    def class_evidence(self, x: torch.Tensor) -> torch.Tensor | None:
        """The classifier's logits (B, K) added to the class log-posterior (None without one)."""
        if self.class_head is None:
            return None
        if self.config.rotation:
            return self.class_head(invariant_code(x, self.centroid(x), self.scale_estimate(x)))
        return self.class_head(x.flatten(1))

    def _class_posterior(self, x, p):
        logits, nll = super()._class_posterior(x, p)
        ev = self.class_evidence(x)
        return (logits if ev is None else logits + ev), nll

    def forward(
        self,
        x,
        generator=None,
        temperature: float = 1.0,
        use_z: bool = True,
        class_target: torch.Tensor | None = None,
        angle_target: torch.Tensor | None = None,
        class_mix: float = 1.0,
        prior_rate: float = 0.0,
        cond: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """:meth:`IVAE.forward` given ``cond`` (B, 1): every row's class code, -1 unlabelled.

        Adds the term ``class_ce``: per row ``-log q(y | x)`` on the labelled rows
        (0 elsewhere), scaled by B / (labelled rows in the batch), so its batch
        mean is the mean over the labelled rows.
        """
        if cond is None:
            raise IvaeError("a semi-supervised model trains with cond: the class code of every row")
        known = cond.reshape(-1).round().long().to(x.device)
        if known.shape[0] != x.shape[0]:
            raise IvaeError(f"cond has {known.shape[0]} rows for {x.shape[0]} images")
        if int(known.max()) >= self.n_classes or int(known.min()) < -1:
            raise IvaeError(f"class codes must be -1 (unlabelled) or 0..{self.n_classes - 1}")
        self._known, self._evidence = known, self.class_evidence(x)
        try:
            return super().forward(x, generator, temperature, use_z, class_target, angle_target,
                                   class_mix, prior_rate)  # fmt: skip
        finally:
            self._known = self._evidence = None

    def _exact_class(self, nll, kl_rot, terms, class_target, class_mix):
        """The joint model's exact class posterior, replaced by the label on labelled rows."""
        per_class = nll + (kl_rot if kl_rot is not None else 0.0)
        if self._evidence is not None:
            per_class = per_class - self._evidence
        logq = F.log_softmax(self.class_log_prior - per_class, dim=1)
        q = logq.exp()
        if class_target is not None:  # the warm start's classes (unlabelled rows)
            seed_q = F.one_hot(class_target, self.n_classes).to(q.dtype)
            q = seed_q if class_mix <= 0 else class_mix * q + (1 - class_mix) * seed_q
        known = self._known
        ce = torch.zeros_like(q[:, 0])
        if known is not None:
            lab = known >= 0
            n_lab = int(lab.sum())
            if n_lab:
                code = known.clamp_min(0)
                picked = -logq.gather(1, code[:, None])[:, 0]
                ce = torch.where(lab, picked, ce) * (len(lab) / n_lab)
                q = torch.where(lab[:, None], F.one_hot(code, self.n_classes).to(q.dtype), q)
        terms["class_ce"] = ce
        logq = torch.log(q.clamp_min(1e-12))
        terms["kl_disc"] = (q * (logq - self.class_log_prior)).sum(1)
        if kl_rot is not None:
            terms["kl_angle"] = (q * kl_rot).sum(1)
        return q


class SSVAE(SSIVAE):
    """Semi-supervised VAE (no rotation latents): ``kind="ssvae"``."""

    kind = "ssvae"


class SSRVAE(SSIVAE):
    """Semi-supervised rotation-invariant VAE: ``kind="ssrvae"``."""

    kind = "ssrvae"
