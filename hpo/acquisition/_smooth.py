"""Smooth, log-space approximations of ``max`` and ``ReLU`` for Monte-Carlo LogEI.

The definitions follow Ament et al., "Unexpected Improvements to Expected Improvement for
Bayesian Optimization", NeurIPS 2023, and their reference implementation in BoTorch
(``botorch/utils/safe_math.py``): the fat-tailed softplus ``fatplus`` (a softplus plus
``0.1`` times a Cauchy density, which keeps ``log`` of it from saturating far below 0) and
the fat-tailed smooth maximum ``fatmax`` (a rational "Pareto" kernel with a ``1/x^2`` tail
instead of the exponential tail of ``logsumexp``). The plain ``log_softplus`` and
temperature-scaled ``logsumexp`` variants are kept for ``fat=False``.

All functions are differentiable and accept any floating dtype.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["log_softplus", "log_fatplus", "smooth_amax", "fatmax", "logmeanexp"]


def log_softplus(x: torch.Tensor, tau: float) -> torch.Tensor:
    """``log(tau * softplus(x / tau))``, exact far into the left tail (where it is ``x/tau + log tau``)."""
    import torch

    z = x / tau
    lower = -35.0 if x.dtype == torch.float64 else -15.0
    mask = z > lower
    soft = torch.nn.functional.softplus(z.masked_fill(~mask, lower)).log() + math.log(tau)
    return torch.where(mask, soft, z + math.log(tau))


def log_fatplus(x: torch.Tensor, tau: float) -> torch.Tensor:
    """``log(tau * (softplus(x/tau) + 0.1 / (1 + (x/tau)^2)))``: a ReLU smoothing with a fat left tail.

    The Cauchy term decays like ``1/x^2``, so the logarithm decays like ``-2 log|x|``
    rather than linearly, and the gradient does not vanish far from improvement.
    """
    import torch

    z = x / tau
    return (torch.nn.functional.softplus(z) + 0.1 / (1 + z.square())).log() + math.log(tau)


def smooth_amax(x: torch.Tensor, tau: float, dim: int = -1) -> torch.Tensor:
    """``tau * logsumexp(x / tau)`` along ``dim``: tends to ``max`` as ``tau -> 0``."""
    import torch

    return torch.logsumexp(x / tau, dim=dim) * tau


def fatmax(x: torch.Tensor, tau: float, dim: int = -1, alpha: float = 2.0) -> torch.Tensor:
    """A smooth maximum along ``dim`` with a fat (``O(1/x^alpha)``) tail.

    ``M + tau * log(sum_i pareto((M - x_i) / tau))`` with ``M = max_i x_i`` and
    ``pareto(u) = (b0 / (b0 + b1 u + u^2))^(alpha/2)``, ``b1 = alpha``, ``b0 = alpha^2/2``
    (equal to 1 with unit first and second derivative at ``u = 0``). Entries equal to
    ``-inf`` contribute nothing; an all ``-inf`` slice gives ``-inf``.
    """
    import torch

    m = x.amax(dim=dim, keepdim=True)
    m_finite = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    u = ((m_finite - x) / tau).clamp_min(0.0)
    a = alpha / 2
    b1 = 2 * a
    b0 = a * b1
    kernel = (b0 / (b0 + b1 * u + u.square())).pow(a)
    kernel = torch.where(torch.isfinite(x), kernel, torch.zeros_like(kernel))
    out = m_finite + tau * kernel.sum(dim=dim, keepdim=True).log()
    out = torch.where(torch.isinf(m), m, out)
    return out.squeeze(dim)


def logmeanexp(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``log(mean(exp(x)))`` along ``dim``."""
    import torch

    return torch.logsumexp(x, dim=dim) - math.log(x.shape[dim])
