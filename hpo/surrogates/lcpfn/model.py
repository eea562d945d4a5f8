"""The LC-PFN network: a transformer encoder over (epoch, value) tokens with a bar-distribution head.

Reference: Adriaensen et al., "Efficient Bayesian Learning Curve Extrapolation using
Prior-Data Fitted Networks", NeurIPS 2023; the bar distribution of Müller et al.,
"Transformers Can Do Bayesian Inference", ICLR 2022.

* Tokens: an observed point is ``Linear(x/101) + Linear((y - 0.5)/sqrt(1/12))``; a query
  is ``Linear(x/101)`` alone. No positional encoding: the set of points is what counts.
* Attention: every token attends to the observed prefix only (queries never see each other).
* Output: logits over ``n_buckets`` buckets of equal prior mass (borders from prior
  samples), the outer two with half-normal tails, so the density has full support.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["LCPFNConfig", "LCPFNet", "BarDistribution"]

X_SCALE = 101.0
Y_MEAN, Y_STD = 0.5, math.sqrt(1.0 / 12.0)
_HALF_NORMAL_MEDIAN = 0.6744897501960817  # icdf(0.5) of a unit half-normal


@dataclass(frozen=True)
class LCPFNConfig:
    """Size of the network (stored next to the weights)."""

    emsize: int = 128
    nlayers: int = 6
    nhead: int = 4
    nhid: int = 256
    n_buckets: int = 1000
    n_epochs: int = 100  # training curve length
    dropout: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Largest width (in y units) used for the scale of the half-normal tails.
TAIL_WIDTH_CAP = 0.2


class BarDistribution(nn.Module):
    """A density on the real line from logits over buckets (``borders`` has ``n + 1`` entries).

    Inner buckets are uniform; the first and last are half-normal tails pointing outwards,
    with the scale that puts half their mass inside min(bucket width, TAIL_WIDTH_CAP).
    """

    def __init__(self, borders: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("borders", borders.clone().to(torch.float32))

    @property
    def widths(self) -> torch.Tensor:
        return self.borders[1:] - self.borders[:-1]

    def _tail_scales(self) -> tuple[torch.Tensor, torch.Tensor]:
        # The outermost equal-mass buckets span the prior's rare high-noise draws (about
        # -4.9 and +4.5 for the shipped borders); a half-normal that wide drags the
        # predictive mean far outside [0, 1]. Their widths are capped at TAIL_WIDTH_CAP
        # (a deviation from the plain PFN bar distribution; it also raised the held-out
        # prior log-likelihood slightly).
        w = self.widths.clamp(max=TAIL_WIDTH_CAP)
        return w[0] / _HALF_NORMAL_MEDIAN, w[-1] / _HALF_NORMAL_MEDIAN

    def log_prob(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Log density of ``y`` (shape ``(...)``) under ``logits`` (shape ``(..., n)``)."""
        n = logits.shape[-1]
        b = self.borders
        idx = torch.searchsorted(b[1:-1].contiguous(), y.contiguous(), right=False).clamp(0, n - 1)
        # log softmax at the chosen bucket only
        chosen = logits.gather(-1, idx.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
        inner = chosen - torch.log(self.widths[idx])
        s_lo, s_hi = self._tail_scales()
        # half-normal on (-inf, b1] pointing down and on [b_{n-1}, inf) pointing up
        lo = chosen + _half_normal_logpdf(b[1] - y, s_lo)
        hi = chosen + _half_normal_logpdf(y - b[-2], s_hi)
        return torch.where(idx == 0, lo, torch.where(idx == n - 1, hi, inner))

    def cdf(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """P(Y <= y); ``y`` has the shape of ``logits`` without its last axis."""
        p = torch.softmax(logits, dim=-1)
        n = p.shape[-1]
        b = self.borders
        idx = torch.searchsorted(b[1:-1].contiguous(), y.contiguous()).clamp(0, n - 1)
        before = torch.cumsum(p, dim=-1) - p  # mass of the buckets left of each bucket
        mass_before = before.gather(-1, idx.unsqueeze(-1)).squeeze(-1)
        p_i = p.gather(-1, idx.unsqueeze(-1)).squeeze(-1)
        s_lo, s_hi = self._tail_scales()
        frac_inner = ((y - b[idx]) / self.widths[idx]).clamp(0, 1)
        frac_lo = 1 - _half_normal_cdf((b[1] - y).clamp(min=0), s_lo)
        frac_hi = _half_normal_cdf((y - b[-2]).clamp(min=0), s_hi)
        frac = torch.where(idx == 0, frac_lo, torch.where(idx == n - 1, frac_hi, frac_inner))
        return mass_before + p_i * frac

    def icdf(self, logits: torch.Tensor, q: float) -> torch.Tensor:
        """The ``q`` quantile, shape of ``logits`` without its last axis."""
        p = torch.softmax(logits, dim=-1)
        n = p.shape[-1]
        b = self.borders
        cum = torch.cumsum(p, dim=-1)
        target = torch.full(cum.shape[:-1] + (1,), float(q), dtype=cum.dtype, device=cum.device)
        idx = torch.searchsorted(cum.contiguous(), target).squeeze(-1).clamp(0, n - 1)
        before = (cum - p).gather(-1, idx.unsqueeze(-1)).squeeze(-1)
        p_i = p.gather(-1, idx.unsqueeze(-1)).squeeze(-1).clamp(min=1e-12)
        frac = ((q - before) / p_i).clamp(1e-6, 1 - 1e-6)
        s_lo, s_hi = self._tail_scales()
        inner = b[idx] + frac * self.widths[idx]
        lo = b[1] - s_lo * _half_normal_icdf(1 - frac)
        hi = b[-2] + s_hi * _half_normal_icdf(frac)
        return torch.where(idx == 0, lo, torch.where(idx == n - 1, hi, inner))

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        """The predictive mean, shape of ``logits`` without its last axis."""
        b = self.borders
        s_lo, s_hi = self._tail_scales()
        mean_half = math.sqrt(2 / math.pi)
        centers = torch.cat([(b[1] - s_lo * mean_half).view(1), (b[2:-1] + b[1:-2]) / 2, (b[-2] + s_hi * mean_half).view(1)])
        return torch.matmul(torch.softmax(logits, dim=-1), centers.to(logits.dtype))


def _half_normal_logpdf(z: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    z = z.clamp(min=0)
    return math.log(2) - 0.5 * math.log(2 * math.pi) - torch.log(scale) - 0.5 * (z / scale) ** 2


def _half_normal_cdf(z: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return torch.erf(z / (scale * math.sqrt(2)))


def _half_normal_icdf(q: torch.Tensor) -> torch.Tensor:
    return math.sqrt(2) * torch.erfinv(q.clamp(0, 1 - 1e-7))


class LCPFNet(nn.Module):
    """The network; ``borders`` (``n_buckets + 1``) come from prior samples (see ``train.py``).

    Shapes: ``x_obs, y_obs`` are ``(B, n_obs)``; ``x_query`` is ``(B, n_query)``; the
    output logits are ``(B, n_query, n_buckets)``. ``x`` are epochs (1-based), ``y`` are
    values in the prior's [0, 1] scale.
    """

    def __init__(self, config: LCPFNConfig, borders: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        self.x_encoder = nn.Linear(1, config.emsize)
        self.y_encoder = nn.Linear(1, config.emsize)
        layer = nn.TransformerEncoderLayer(
            config.emsize, config.nhead, config.nhid, config.dropout, activation="gelu", batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, config.nlayers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.Linear(config.emsize, config.nhid), nn.GELU(), nn.Linear(config.nhid, config.n_buckets))
        if borders is None:  # placeholder until trained borders are loaded
            borders = torch.linspace(-0.1, 1.1, config.n_buckets + 1)
        self.bar = BarDistribution(borders)

    def forward(self, x_obs: torch.Tensor, y_obs: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
        n_obs = x_obs.shape[1]
        obs = self.x_encoder((x_obs / X_SCALE).unsqueeze(-1)) + self.y_encoder(((y_obs - Y_MEAN) / Y_STD).unsqueeze(-1))
        query = self.x_encoder((x_query / X_SCALE).unsqueeze(-1))
        out = torch.cat([obs, query], dim=1)
        for layer in self.encoder.layers:
            out = _prefix_layer(layer, out, n_obs)
        return self.head(out[:, n_obs:])


def _prefix_layer(layer: nn.TransformerEncoderLayer, x: torch.Tensor, n_obs: int) -> torch.Tensor:
    """One post-norm encoder layer in which every token attends to the first ``n_obs`` tokens only.

    This is the masked attention the module docstring describes (``layer`` keeps its
    parameters, so weights are those of ``nn.TransformerEncoderLayer``), computed without
    the ``(L, L)`` mask: keys and values come from the prefix alone, so attention costs
    ``L * n_obs`` instead of ``L * L`` and needs no masked softmax. With ``n_obs == 0``
    each token attends to itself only (its own value). ``x`` is ``(B, L, emsize)``.
    """
    attn = layer.self_attn
    batch, length, emsize = x.shape
    heads, width = attn.num_heads, emsize // attn.num_heads
    w, b = attn.in_proj_weight, attn.in_proj_bias
    if n_obs == 0:
        mixed = nn.functional.linear(x, w[2 * emsize :], b[2 * emsize :])
    else:
        # queries for every token, keys and values for the prefix only
        q = nn.functional.linear(x, w[:emsize], b[:emsize]).view(batch, length, heads, width).transpose(1, 2)
        k, v = nn.functional.linear(x[:, :n_obs], w[emsize:], b[emsize:]).view(batch, n_obs, 2, heads, width).unbind(2)
        mixed = nn.functional.scaled_dot_product_attention(q, k.transpose(1, 2), v.transpose(1, 2))
        mixed = mixed.transpose(1, 2).reshape(batch, length, emsize)
    x = layer.norm1(x + layer.dropout1(attn.out_proj(mixed)))
    return layer.norm2(x + layer.dropout2(layer.linear2(layer.dropout(layer.activation(layer.linear1(x))))))
