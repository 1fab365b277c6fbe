"""The shared invariant VAE: content z, optional rotation/shift and class latents."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from napari_ivae.models.nets import ConvEncoder, CoordDecoder, MLPEncoder, TemplateDecoder

_LOGSTD_MIN, _LOGSTD_MAX = -8.0, 4.0


def kl_normal(mu: torch.Tensor, logstd: torch.Tensor, prior_std: float) -> torch.Tensor:
    """KL(N(mu, exp(logstd)²) ‖ N(0, prior_std²)) summed over the last axis."""
    var_ratio = torch.exp(2 * logstd) / prior_std**2
    kl = 0.5 * (var_ratio + mu.pow(2) / prior_std**2 - 1.0) - logstd + math.log(prior_std)
    return kl.sum(-1)


class IVAE(nn.Module):
    """(Invariant, joint) VAE.  Subclasses only pin the ``kind``.

    The encoder gives, per image: the mean and log-std of z; for rotation
    kinds a 2-vector whose direction is the mean angle (no wrap-around
    discontinuity for the encoder to learn), the angle log-std, the mean and
    log-std of the shift (dy, dx); for joint kinds the class logits.
    ``forward(x)`` returns the per-sample averages of the loss terms; the
    trainer combines them (β-weighting or capacity control).
    """

    kind = "vae"

    def __init__(self, config):
        super().__init__()
        if config.kind != self.kind:
            raise ValueError(f"{type(self).__name__} needs kind={self.kind!r}")
        self.config = config
        c, k = config, config.latent_dim
        self.n_classes = c.n_classes if c.joint else 0
        n_out = 2 * k + (7 if c.rotation else 0) + self.n_classes
        enc = MLPEncoder if c.encoder == "mlp" else ConvEncoder
        self.encoder = enc(c.in_channels, c.size, c.hidden, c.n_layers, n_out, c.activation)
        n_code = k + self.n_classes
        if c.decoder == "coord":
            self.decoder = CoordDecoder(
                n_code, c.in_channels, c.size, c.hidden, c.n_layers, c.activation
            )
        else:
            self.decoder = TemplateDecoder(
                n_code, c.in_channels, c.size, c.hidden, c.n_layers, c.activation,
                enlarge=c.rotation,
            )  # fmt: skip

    # ----------------------------------------------------------------- encoder
    def posterior(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Posterior parameters for a batch (N, C, H, W).

        Returns a dict with ``z_mu``, ``z_logstd`` (N, k); for rotation kinds
        ``angle`` (N,) radians in (-π, π], ``angle_logstd`` (N,), ``shift``
        and ``shift_logstd`` (N, 2) = (dy, dx) in grid units; for joint kinds
        ``logits`` (N, K).
        """
        h = self.encoder(x)
        k = self.config.latent_dim
        out = {"z_mu": h[:, :k], "z_logstd": h[:, k : 2 * k].clamp(_LOGSTD_MIN, _LOGSTD_MAX)}
        i = 2 * k
        if self.config.rotation:
            out["angle"] = torch.atan2(h[:, i + 1], h[:, i])
            out["angle_logstd"] = h[:, i + 2].clamp(_LOGSTD_MIN, _LOGSTD_MAX)
            out["shift"] = h[:, i + 3 : i + 5]
            out["shift_logstd"] = h[:, i + 5 : i + 7].clamp(_LOGSTD_MIN, _LOGSTD_MAX)
            i += 7
        if self.n_classes:
            out["logits"] = h[:, i : i + self.n_classes]
        return out

    # ----------------------------------------------------------------- decoder
    def decode_raw(self, z, angle=None, shift=None, onehot=None) -> torch.Tensor:
        """Decoder output (Gaussian mean or Bernoulli logits), (N, C, H, W)."""
        code = z if onehot is None else torch.cat([z, onehot.to(z.dtype)], dim=1)
        return self.decoder(code, angle, shift)

    def decode_mean(self, z, angle=None, shift=None, onehot=None) -> torch.Tensor:
        """Expected image under the likelihood, (N, C, H, W)."""
        out = self.decode_raw(z, angle, shift, onehot)
        return torch.sigmoid(out) if self.config.likelihood == "bernoulli" else out

    def _nll(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Per-sample negative log-likelihood summed over pixels (constants dropped)."""
        if self.config.likelihood == "bernoulli":
            nll = F.binary_cross_entropy_with_logits(out, x, reduction="none")
        else:
            nll = 0.5 * (out - x).pow(2) / self.config.recon_sigma**2
        return nll.flatten(1).sum(1)

    # ----------------------------------------------------------------- ELBO terms
    def forward(
        self, x, generator=None, temperature: float = 1.0, use_z: bool = True
    ) -> dict[str, torch.Tensor]:
        """Loss terms averaged over the batch: ``recon``, ``kl_z`` [, ``kl_angle``,
        ``kl_shift``] [, ``kl_disc``].

        ``use_z=False`` decodes with z = 0 (the trainer's rotation warm-up: the
        decoder must then explain orientation through the grid, not through z).
        """
        c = self.config
        p = self.posterior(x)

        def sample(mu, logstd):
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            return mu + torch.exp(logstd) * eps

        z = sample(p["z_mu"], p["z_logstd"])
        if not use_z:
            z = torch.zeros_like(z)
        terms = {"kl_z": kl_normal(p["z_mu"], p["z_logstd"], 1.0)}
        angle = shift = None
        if c.rotation:
            angle = sample(p["angle"], p["angle_logstd"])
            shift = sample(p["shift"], p["shift_logstd"])
            terms["kl_angle"] = kl_normal(
                p["angle"][:, None], p["angle_logstd"][:, None], c.sigma_angle
            )
            terms["kl_shift"] = kl_normal(p["shift"], p["shift_logstd"], c.sigma_shift)
        if not self.n_classes:
            terms["recon"] = self._nll(x, self.decode_raw(z, angle, shift))
        else:
            logq = F.log_softmax(p["logits"].float(), dim=1)
            q = logq.exp()
            terms["kl_disc"] = (q * logq).sum(1) + math.log(self.n_classes)
            kk = self.n_classes
            if c.discrete == "enumerate":
                b = x.shape[0]
                eye = torch.eye(kk, device=x.device, dtype=z.dtype)
                onehot = eye.repeat(b, 1)  # (B*K, K): sample-major
                rep = lambda t: None if t is None else t.repeat_interleave(kk, 0)  # noqa: E731
                out = self.decode_raw(rep(z), rep(angle), rep(shift), onehot)
                nll = self._nll(rep(x), out).view(b, kk)
                terms["recon"] = (q * nll).sum(1)
            else:
                u = torch.rand(q.shape, generator=generator, device=x.device).clamp(1e-10, 1)
                g = -torch.log(-torch.log(u))
                soft = F.softmax((logq + g) / temperature, dim=1)
                terms["recon"] = self._nll(x, self.decode_raw(z, angle, shift, soft))
        return {k: v.mean() for k, v in terms.items()}
