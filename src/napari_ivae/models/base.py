"""The shared invariant VAE: content z, optional rotation/shift and class latents."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from napari_ivae.models.bins import AngleBins, gain_free_sse
from napari_ivae.models.class_init import CODE_PER_CHANNEL
from napari_ivae.models.nets import (
    ConvEncoder,
    CoordDecoder,
    MLPEncoder,
    TemplateDecoder,
    base_grid,
    mlp,
)
from napari_ivae.models.pose import (
    _LOGSTD_MAX,
    _LOGSTD_MIN,
    _SCALE_LIMIT,
    PoseMixin,
    kl_normal,
)

#: weight of the uniform distribution in the learned class prior (a symmetric
#: Dirichlet pull): a small class can still exist, but a class that grows by a few
#: per cent does not feed its own growth (balanced classes stayed balanced)
_PRIOR_SHRINK = 0.5


def _repeat(t: torch.Tensor | None, k: int) -> torch.Tensor | None:
    """Every row ``k`` times (one per class), or None."""
    return None if t is None else t.repeat_interleave(k, 0)


def _standardise(x: torch.Tensor) -> torch.Tensor:
    """Every crop minus its mean, over its standard deviation (channels together).

    The encoder's input in gain-free models: what the likelihood cannot see
    (a per-crop contrast and background) is then not in z either, where the
    capacity objective would otherwise spend its nats on it.
    """
    v = x.flatten(1)
    mean, std = v.mean(1), v.std(1).clamp_min(1e-6)
    return (x - mean[:, None, None, None]) / std[:, None, None, None]


class IVAE(PoseMixin, nn.Module):
    """(Invariant, joint) VAE.  Subclasses only pin the ``kind``.

    Encoder outputs per image: mean and log-std of z; for rotation kinds the
    angle posterior (``angle_inference="grid"``: M bin logits and a sub-bin
    offset; ``"encoder"``: a 2-vector whose direction is the mean angle and a
    log-std) and the mean and log-std of the shift (dy, dx); for joint kinds
    the class logits.  ``forward(x)`` returns per-sample averages of the loss
    terms; the trainer combines them (β weighting or capacity control).
    """

    kind = "vae"

    def __init__(self, config):
        super().__init__()
        if config.kind != self.kind:
            raise ValueError(f"{type(self).__name__} needs kind={self.kind!r}")
        self.config = config
        c, k = config, config.latent_dim
        self.n_classes = c.n_classes if c.joint else 0
        # "auto" is decided from the data by fit; unresolved (a model built
        # directly, checkpoints written before the option) it is "fixed"
        self.gain_free = getattr(c, "gain", "fixed") == "free" and c.likelihood == "gaussian"
        self.grid_angles = c.rotation and c.angle_inference == "grid"
        self.free_scale = getattr(c, "scale", "fixed") == "free" and self.grid_angles
        n_rot = (1 if self.grid_angles else 3) + 4 + 2 * self.free_scale if c.rotation else 0
        # z from rotation- and shift-invariant features, so z cannot carry the
        # orientation (and the decoder cannot rotate through z); "auto": rvae
        # only (in jrvae an invariant z competes with the class latent)
        self.invariant_z = c.z_encoder == "invariant" or (
            c.z_encoder == "auto" and c.kind == "rvae"
        )
        n_out = (0 if self.invariant_z else 2 * k) + n_rot + self.n_classes
        enc = MLPEncoder if c.encoder == "mlp" else ConvEncoder
        self.encoder = enc(c.in_channels, c.size, c.hidden, c.n_layers, n_out, c.activation)
        if self.invariant_z:
            n_feat = c.in_channels * CODE_PER_CHANNEL
            self.z_encoder = nn.Sequential(
                nn.LayerNorm(n_feat), mlp(n_feat, c.hidden, c.n_layers, 2 * k, c.activation)
            )
        self.decoder = self._make_decoder(k + self.n_classes)
        self.register_buffer("crop_grid", base_grid(c.size), persistent=False)
        if self.free_scale:
            # median radius of gyration of the training crops (grid units),
            # set by fit before the first step; 0 = unknown (s starts at 1)
            self.register_buffer("scale_ref", torch.zeros(()))
        if self.n_classes:
            # log of the class prior p(α): the mixture weights, learned by the
            # trainer as the mean class posterior (forward's ``prior_rate``);
            # uniform at the start and in checkpoints written before it existed
            prior = torch.full((self.n_classes,), -math.log(self.n_classes))
            self.register_buffer("class_log_prior", prior)
        if self.grid_angles:
            self.bins = AngleBins(c.size, c.angle_bins, c.sigma_angle, c.sigma_shift, c.likelihood,
                                  c.recon_sigma, gain_free=self.gain_free,
                                  min_scale=math.exp(-_SCALE_LIMIT) if self.free_scale else 1.0)  # fmt: skip

    def _make_decoder(self, n_code: int) -> nn.Module:
        """The decoder of the configuration, from a code of ``n_code`` values."""
        c = self.config
        if c.decoder == "coord":
            return CoordDecoder(n_code, c.in_channels, c.size, c.hidden, c.n_layers, c.activation)
        return TemplateDecoder(
            n_code, c.in_channels, c.size, c.hidden, c.n_layers, c.activation, enlarge=c.rotation
        )

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # checkpoints written before the learned class prior: uniform, their behaviour
        key = prefix + "class_log_prior"
        if self.n_classes and key not in state_dict:
            state_dict[key] = torch.full((self.n_classes,), -math.log(self.n_classes))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _update_class_prior(self, q: torch.Tensor, rate: float) -> None:
        """Move the class prior towards the batch-mean posterior ``q`` (B, K) by ``rate``
        (the M-step of a mixture's weights, as a running mean), shrunk half-way to
        uniform (``_PRIOR_SHRINK``: the fixed point is ``(q̄ + 1/K) / 2``); floored at
        0.1 % so a class that empties can come back.  Under DDP the mean is over all
        ranks' batches, so every rank keeps the same prior."""
        with torch.no_grad():
            qbar = q.detach().float().mean(0)
            dist = torch.distributed
            if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
                dist.all_reduce(qbar)
                qbar /= dist.get_world_size()
            prior = self.class_log_prior.exp()
            qbar = (1 - _PRIOR_SHRINK) * qbar + _PRIOR_SHRINK / qbar.numel()
            prior = (1 - rate) * prior + rate * qbar
            prior = prior.clamp_min(1e-3)
            self.class_log_prior.copy_((prior / prior.sum()).log())

    # ----------------------------------------------------------------- encoder
    def posterior(self, x: torch.Tensor, exact: bool = True) -> dict[str, torch.Tensor]:
        """Posterior parameters for a batch (N, C, H, W).

        Returns a dict with ``z_mu``, ``z_logstd`` (N, k); for rotation kinds
        ``angle`` (N,) radians (the posterior mode), ``angle_logstd`` (N,),
        ``shift``, ``shift_logstd`` (N, 2) = (dy, dx) in grid units, and with
        grid inference ``angle_logits`` (N, M) and ``angle_offset`` (N,); for
        joint kinds ``logits`` (N, K).
        """
        c = self.config
        h = self.encoder(_standardise(x) if self.gain_free else x)
        k = c.latent_dim
        i = 0 if self.invariant_z else 2 * k
        out = {"z_mu": h[:, :k], "z_logstd": h[:, k : 2 * k]}
        if c.rotation:
            i = self._pose_posterior(x, h, i, out)
        out["z_logstd"] = out["z_logstd"].clamp(_LOGSTD_MIN, _LOGSTD_MAX)
        if self.n_classes:
            out["logits"] = h[:, i : i + self.n_classes]
        if not exact:  # the training loss computes these itself
            return out
        class_nll = None
        if self.n_classes and c.discrete == "exact":
            out["logits"], class_nll = self._class_posterior(x, out)
        if self.grid_angles:
            out.update(self._angle_posterior(x, out, class_nll))
        return out

    def _class_posterior(self, x, p) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Exact class log-posterior (up to a constant) at the posterior means,
        and with grid inference the per-class bin NLL (B, K, M) it used."""
        b, kk = x.shape[0], self.n_classes
        onehot = torch.eye(kk, device=x.device, dtype=x.dtype).repeat(b, 1)
        z = _repeat(p["z_mu"], kk)
        if self.grid_angles:  # the input is centred on the shift instead
            out = self._decode_bins(z, _repeat(p["angle_offset"], kk), onehot)
            out = out.view(b, kk, *out.shape[1:])
            nll = self.bins.nll(x, out, p["shift"], scale=p.get("scale")).float()
            logits = torch.logsumexp(self.bins.log_prior_bins - nll, dim=2)
            return logits + self.class_log_prior, nll
        out = self.decode_raw(z, _repeat(p.get("angle"), kk), _repeat(p.get("shift"), kk), onehot)
        return self.class_log_prior - self._nll(x, out.view(b, kk, *out.shape[1:])), None

    def _angle_posterior(self, x, p, class_nll=None) -> dict[str, torch.Tensor]:
        """Exact posterior over the angle bins at the posterior means of z and Δr
        (most probable class for joint kinds; ``class_nll`` (B, K, M): the bin
        NLL of every class, from :meth:`_class_posterior`, reused)."""
        if class_nll is not None:
            nll = class_nll[torch.arange(x.shape[0], device=x.device), p["logits"].argmax(1)]
        else:
            onehot = None
            if self.n_classes:
                onehot = F.one_hot(p["logits"].argmax(1), self.n_classes).to(x.dtype)
            out = self._decode_bins(p["z_mu"], p["angle_offset"], onehot)
            nll = self.bins.nll(x, out[:, None], p["shift"], scale=p.get("scale"))[:, 0]
        logits = self.bins.log_prior_bins - nll
        q = F.softmax(logits.float(), dim=1)
        r = (q * torch.exp(1j * self.bins.bin_centers)).sum(1).abs().clamp(1e-6, 1.0)
        return {
            "angle_logits": logits,
            "angle": self.bins.bin_centers[q.argmax(1)] + p["angle_offset"],
            "angle_logstd": 0.5 * torch.log(-2 * torch.log(r) + 1e-12),  # circular std
        }

    # ----------------------------------------------------------------- decoder
    def decode_raw(self, z, angle=None, shift=None, onehot=None, scale=None) -> torch.Tensor:
        """Decoder output (Gaussian mean or Bernoulli logits).

        ``angle`` (N,) gives (N, C, H, W); ``angle`` (N, M) gives (N, M, C, H, W);
        ``scale`` (N,): the object's size (``ModelConfig.scale="free"``).
        """
        code = z if onehot is None else torch.cat([z, onehot.to(z.dtype)], dim=1)
        if angle is not None and angle.dim() == 1:
            return self.decoder(code, angle[:, None], shift, scale=scale)[:, 0]
        out = self.decoder(code, angle, shift, scale=scale)
        return out if angle is not None else out[:, 0]

    def _decode_bins(self, z, offset, onehot=None, jitter: torch.Tensor | None = None):
        """Template rotated by the sub-bin ``offset`` (N,) at :attr:`bin_points`
        (moved by ``jitter`` (2,), grid units, if given): (N, C, Pd), the frame
        in which :meth:`AngleBins.nll` compares it."""
        code = z if onehot is None else torch.cat([z, onehot.to(z.dtype)], dim=1)
        pts = self.bins.bin_points if jitter is None else self.bins.bin_points + jitter
        return self.decoder(code, offset[:, None], None, points=pts)[:, 0]

    def decode_mean(self, z, angle=None, shift=None, onehot=None, scale=None) -> torch.Tensor:
        """Expected image under the likelihood, (N, C, H, W)."""
        out = self.decode_raw(z, angle, shift, onehot, scale)
        return torch.sigmoid(out) if self.config.likelihood == "bernoulli" else out

    def _nll(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood summed over (C, H, W) (constants dropped).

        ``x`` (B, C, H, W), ``out`` (B, M, C, H, W) -> (B, M).
        """
        x = x[:, None].expand_as(out)
        if self.config.likelihood == "bernoulli":
            nll = F.binary_cross_entropy_with_logits(out, x, reduction="none")
        elif self.gain_free:  # at the best gain and offsets per comparison
            xs, sx = x.flatten(3), x.flatten(3).sum(3)
            os_ = out.flatten(3)
            sse = gain_free_sse(xs.pow(2).sum((2, 3)), (os_ * xs).sum((2, 3)),
                                os_.pow(2).sum((2, 3)), sx, os_.sum(3),
                                torch.full_like(sx[..., 0], xs.shape[3]))  # fmt: skip
            return 0.5 * sse / self.config.recon_sigma**2
        else:
            nll = 0.5 * (out - x).pow(2) / self.config.recon_sigma**2
        return nll.flatten(2).sum(2)

    # ----------------------------------------------------------------- ELBO terms
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
    ) -> dict[str, torch.Tensor]:
        """Loss terms averaged over the batch: ``recon``, ``kl_z`` [, ``kl_angle``,
        ``kl_shift``] [, ``kl_disc``] [, ``kl_marg``: KL of the batch-mean class
        posterior from uniform, joint kinds with ``discrete`` "exact" or
        "enumerate"; weighted by ``TrainConfig.class_balance``].

        ``use_z=False`` decodes with z = 0 (the trainer's rotation warm-up: the
        decoder must then explain orientation through the grid, not through z).
        ``class_target`` (B,) int: joint kinds use this class for every image
        instead of the posterior (the trainer's k-means seeding of the classes);
        with ``class_mix`` < 1 (``discrete="exact"``) the class weights are
        ``class_mix · q(α|x) + (1 - class_mix) · onehot(class_target)`` instead
        (the trainer hands the classes over from the seeds to the model).
        ``angle_target`` (B,) int: rotation kinds with grid inference use this
        angle bin for every image instead of the posterior over bins (the
        trainer's warm start from per-cluster alignment).
        ``prior_rate`` > 0 (training, joint kinds): after the step the class
        prior moves towards the batch-mean class weights by this fraction.
        """
        b = x.shape[0]
        p = self.posterior(x, exact=False)

        def sample(mu, logstd):
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            return mu + torch.exp(logstd) * eps

        z = sample(p["z_mu"], p["z_logstd"])
        if not use_z:
            z = torch.zeros_like(z)
        terms = {"kl_z": kl_normal(p["z_mu"], p["z_logstd"], 1.0)}
        angles, shift, dec_shift, scale = self._sample_pose(p, sample, terms)
        jitter = None
        if self.grid_angles and self.training:
            # the lattice moved by a random sub-pixel offset at every step: its
            # points would otherwise always fall on the same half of the
            # template's pixels, and the other half (never read, so never
            # trained) showed as a checkerboard in decoded images
            # (docs/experiments.md, "What was tried")
            u = torch.rand(2, generator=generator, device=x.device, dtype=x.dtype) - 0.5
            jitter = u * (2.0 / (self.config.size - 1))
        dec = functools.partial(self._decode_bins, jitter=jitter) if self.grid_angles else (
            lambda zz, aa, oh=None: self.decode_raw(zz, aa, None if dec_shift is None else
                                                    dec_shift.repeat_interleave(len(zz) // b, 0), oh)
        )  # fmt: skip
        out, q = self._decode_classes(x, z, angles, p, dec, terms, generator, temperature,
                                      class_target)  # fmt: skip
        kl_rot = None
        if self.grid_angles:
            nll, kl_rot = self._grid_nll(x, out, shift, jitter, angle_target, scale)
            terms["kl_angle"] = kl_rot[:, 0] if q is None else (q * kl_rot).sum(1)
        else:
            nll = self._nll(x, out)  # (B, K')
        if self.config.discrete == "exact" and self.n_classes:
            q = self._exact_class(nll, kl_rot, terms, class_target, class_mix)
        if class_target is not None and self.config.discrete == "enumerate":
            q = F.one_hot(class_target, self.n_classes).to(nll.dtype)
        terms["recon"] = nll[:, 0] if q is None else (q * nll).sum(1)
        if q is not None:
            # KL of the batch-mean class posterior from uniform (class balance)
            qbar = q.mean(0).clamp_min(1e-12)
            terms["kl_marg"] = ((qbar * qbar.log()).sum() + math.log(self.n_classes)).expand(b)
            if prior_rate > 0 and self.training:
                self._update_class_prior(q, prior_rate)
        return {k: v.mean() for k, v in terms.items()}

    def _decode_classes(self, x, z, angles, p, dec, terms, generator, temperature, class_target):
        """Decoded output (B, K', ...) for every class (or the sampled one) and the
        class weights ``q`` (None where the class posterior comes later or is absent)."""
        c, kk, b = self.config, self.n_classes, x.shape[0]
        if not kk:
            return dec(z, angles)[:, None], None  # (B, 1, C, H, W) or (B, 1, C, Pd)
        q = None
        if c.discrete != "exact":
            logq = F.log_softmax(p["logits"].float(), dim=1)
            q = logq.exp()
            terms["kl_disc"] = (q * (logq - self.class_log_prior)).sum(1)
        if c.discrete in ("enumerate", "exact"):
            onehot = torch.eye(kk, device=x.device, dtype=z.dtype).repeat(b, 1)  # (B*K, K)
            out = dec(_repeat(z, kk), _repeat(angles, kk), onehot)
            return out.view(b, kk, *out.shape[1:]), q
        u = torch.rand(q.shape, generator=generator, device=x.device).clamp(1e-10, 1)
        soft = F.softmax((logq - torch.log(-torch.log(u))) / temperature, dim=1)
        if class_target is not None:
            soft = F.one_hot(class_target, kk).to(z.dtype)
        return dec(z, angles, soft)[:, None], None

    def _grid_nll(self, x, out, shift, jitter, angle_target, scale=None):
        """(nll, kl_rot) (B, K') with the exact posterior over the angle bins:
        E_q[nll] + KL(q ‖ p) = -log Σ_m p_m exp(-nll_m)."""
        nll = self.bins.nll(x, out, shift, jitter, scale).float()  # (B, K', M)
        logq_rot = F.log_softmax(self.bins.log_prior_bins - nll, dim=2)
        if angle_target is not None:
            onehot_rot = F.one_hot(angle_target, nll.shape[2]).to(nll.dtype)[:, None]
            logq_rot = torch.log(onehot_rot.clamp_min(1e-12)).expand_as(nll)
        q_rot = logq_rot.exp()
        kl_rot = (q_rot * (logq_rot - self.bins.log_prior_bins)).sum(2)  # (B, K')
        return (q_rot * nll).sum(2), kl_rot

    def _exact_class(self, nll, kl_rot, terms, class_target, class_mix):
        """Exact class posterior given z and Δ: q(k) ∝ p(k) exp(-(nll_k + KL_angle,k)),
        mixed with the seeds' classes by ``class_mix``; adds the class KL."""
        per_class = nll + (kl_rot if kl_rot is not None else 0.0)
        logq = F.log_softmax(self.class_log_prior - per_class, dim=1)
        q = logq.exp()
        if class_target is not None:
            seed_q = F.one_hot(class_target, self.n_classes).to(q.dtype)
            q = seed_q if class_mix <= 0 else class_mix * q + (1 - class_mix) * seed_q
            logq = torch.log(q.clamp_min(1e-12))
        terms["kl_disc"] = (q * (logq - self.class_log_prior)).sum(1)
        if kl_rot is not None:
            terms["kl_angle"] = (q * kl_rot).sum(1)
        return q
