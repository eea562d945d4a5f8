"""Hamiltonian Monte Carlo on a flat parameter tensor, for several chains at once.

The sampler knows nothing of networks: it takes a function returning the log density
(and its gradient) of `C x P`-dim states, one row per chain, so the chains run as one
batched computation. :class:`~hpo.surrogates.bnn.HMCBNNSurrogate` runs it on a Bayesian
MLP; its tests run it on Bayesian linear regression, whose posterior is known exactly.

Algorithm:

* leapfrog integration with ``n_leapfrog`` steps and an identity mass matrix (callers
  whiten the parameters by their prior scale, so one step size fits all of them), a
  Metropolis correction per chain (Neal, "MCMC using Hamiltonian dynamics", Handbook of
  MCMC, 2011);
* the step size is adapted per chain during burn-in by dual averaging towards
  ``target_accept`` (Hoffman & Gelman, "The No-U-Turn Sampler", JMLR 2014, Algorithm 5,
  with their constants ``gamma = 0.05, t0 = 10, kappa = 0.75``), starting from their
  heuristic initial step (Algorithm 4), and then fixed at the averaged value;
* each iteration's step size is jittered by a uniform factor in ``1 +- jitter`` (against
  periodic trajectories, Neal 2011 section 5.4.2.2);
* an optional Gibbs step (``gibbs``) after every HMC transition updates parameters kept
  outside the state (e.g. a noise variance drawn from its conjugate conditional); the
  log density is re-evaluated after it.

All randomness comes from the ``generator`` argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["HMCResult", "hmc", "log_prob_and_grad"]

LogProbGrad = Callable[["torch.Tensor"], tuple["torch.Tensor", "torch.Tensor"]]


@dataclass(frozen=True)
class HMCResult:
    """What :func:`hmc` returns.

    Attributes:
        samples: `S x C x P`-dim states kept after burn-in (every ``thin``-th), per chain.
        step_size: `C`-dim step sizes after adaptation.
        accept_rate: `C`-dim mean Metropolis acceptance probability after burn-in.
        n_grad: Gradient evaluations (of all chains at once) spent.
    """

    samples: torch.Tensor
    step_size: torch.Tensor
    accept_rate: torch.Tensor
    n_grad: int


def log_prob_and_grad(log_prob: Callable[[torch.Tensor], torch.Tensor]) -> LogProbGrad:
    """Wrap a `C x P` -> `C` log density into the ``(value, gradient)`` function :func:`hmc` takes."""
    import torch

    def f(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            lp = log_prob(z)
            (grad,) = torch.autograd.grad(lp.sum(), z)
        return lp.detach(), grad

    return f


def _leapfrog(
    f: LogProbGrad, z: torch.Tensor, p: torch.Tensor, grad: torch.Tensor, eps: torch.Tensor, n_steps: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n_steps`` leapfrog steps of per-chain size ``eps`` (`C x 1`); returns z, p, log p(z), grad."""
    p = p + 0.5 * eps * grad
    lp = grad  # placeholder, replaced in the loop (n_steps >= 1)
    for i in range(n_steps):
        z = z + eps * p
        lp, grad = f(z)
        if i < n_steps - 1:
            p = p + eps * grad
    p = p + 0.5 * eps * grad
    return z, p, lp, grad


def _log_accept(lp0: torch.Tensor, p0: torch.Tensor, lp1: torch.Tensor, p1: torch.Tensor) -> torch.Tensor:
    """Per-chain log Metropolis acceptance probability (``-inf`` for a diverged trajectory)."""
    import torch

    delta = (lp1 - 0.5 * (p1 * p1).sum(-1)) - (lp0 - 0.5 * (p0 * p0).sum(-1))
    delta = torch.where(torch.isfinite(delta), delta, torch.full_like(delta, -math.inf))
    return delta.clamp(max=0.0)


def _initial_step_size(
    f: LogProbGrad, z: torch.Tensor, lp: torch.Tensor, grad: torch.Tensor, gen: torch.Generator, eps0: float
) -> tuple[torch.Tensor, int]:
    """Hoffman & Gelman's Algorithm 4, per chain: halve or double until one step's acceptance crosses 1/2."""
    import torch

    c = z.shape[0]
    eps = torch.full((c,), eps0, dtype=z.dtype)
    p = torch.randn(z.shape, generator=gen, dtype=z.dtype)
    _, p1, lp1, _ = _leapfrog(f, z, p, grad, eps[:, None], 1)
    log_a = _log_accept(lp, p, lp1, p1)
    direction = torch.where(log_a > math.log(0.5), 1.0, -1.0).to(z.dtype)
    active = torch.ones(c, dtype=torch.bool)
    n_grad = 1
    for _ in range(30):
        trial = torch.where(active, eps * 2.0**direction, eps)
        _, p1, lp1, _ = _leapfrog(f, z, p, grad, trial[:, None], 1)
        n_grad += 1
        log_a = _log_accept(lp, p, lp1, p1)
        crossed = (direction * log_a) <= (direction * math.log(0.5))
        eps = torch.where(active & ~crossed, trial, eps)
        active = active & ~crossed
        if not active.any():
            break
    return eps, n_grad


def hmc(
    f: LogProbGrad,
    init: torch.Tensor,
    n_samples: int,
    n_burnin: int,
    n_leapfrog: int,
    generator: torch.Generator,
    *,
    step_size: float | None = None,
    target_accept: float = 0.8,
    thin: int = 1,
    jitter: float = 0.2,
    gibbs: Callable[[torch.Tensor, torch.Generator], None] | None = None,
) -> HMCResult:
    """Sample `C` chains of HMC from `C x P`-dim ``init`` (see the module docstring).

    Args:
        f: `C x P` -> (`C` log densities, `C x P` gradients), e.g. :func:`log_prob_and_grad`.
        init: `C x P`-dim starting states (one row per chain); its dtype is used throughout.
        n_samples: Iterations after burn-in.
        n_burnin: Iterations of step-size adaptation, discarded.
        n_leapfrog: Leapfrog steps per iteration.
        generator: Source of all randomness (momenta, acceptance, jitter).
        step_size: Fixed step size (no adaptation); None adapts it during burn-in.
        target_accept: Mean acceptance probability that the adaptation aims for.
        thin: Keep every ``thin``-th state after burn-in.
        jitter: Relative half-width of the uniform jitter of each iteration's step size.
        gibbs: Called as ``gibbs(z, generator)`` after every transition (updates state kept
            outside ``z``; ``f`` must reflect it).

    Returns:
        An :class:`HMCResult`.
    """
    import torch

    if n_leapfrog < 1 or n_samples < 1 or n_burnin < 0 or thin < 1:
        raise ValueError("hmc needs n_leapfrog >= 1, n_samples >= 1, n_burnin >= 0 and thin >= 1")
    z = init.detach().clone()
    c, dtype = z.shape[0], z.dtype
    lp, grad = f(z)
    n_grad = 1
    adapt = step_size is None
    if adapt:
        eps, used = _initial_step_size(f, z, lp, grad, generator, 0.01)
        n_grad += used
        # Dual averaging state (Hoffman & Gelman 2014, Algorithm 5).
        mu = torch.log(10 * eps)
        h_bar = torch.zeros(c, dtype=dtype)
        log_eps_bar = torch.zeros(c, dtype=dtype)
    else:
        eps = torch.full((c,), float(step_size), dtype=dtype)
    gamma, t0, kappa = 0.05, 10.0, 0.75
    kept, accept_sum = [], torch.zeros(c, dtype=dtype)
    for it in range(n_burnin + n_samples):
        u = torch.rand((c,), generator=generator, dtype=dtype)
        eps_it = eps * (1.0 + jitter * (2.0 * u - 1.0))
        p0 = torch.randn(z.shape, generator=generator, dtype=dtype)
        z1, p1, lp1, grad1 = _leapfrog(f, z, p0, grad, eps_it[:, None], n_leapfrog)
        n_grad += n_leapfrog
        log_a = _log_accept(lp, p0, lp1, p1)
        accept = torch.log(torch.rand((c,), generator=generator, dtype=dtype)) < log_a
        z = torch.where(accept[:, None], z1, z)
        lp = torch.where(accept, lp1, lp)
        grad = torch.where(accept[:, None], grad1, grad)
        if gibbs is not None:
            gibbs(z, generator)
            lp, grad = f(z)
            n_grad += 1
        if it < n_burnin:
            if adapt:
                m = it + 1
                h_bar = (1 - 1 / (m + t0)) * h_bar + (target_accept - log_a.exp()) / (m + t0)
                log_eps = mu - math.sqrt(m) / gamma * h_bar
                eta = m**-kappa
                log_eps_bar = eta * log_eps + (1 - eta) * log_eps_bar
                eps = log_eps.exp() if it < n_burnin - 1 else log_eps_bar.exp()
        else:
            accept_sum += log_a.exp()
            if (it - n_burnin) % thin == thin - 1:
                kept.append(z.clone())
    return HMCResult(torch.stack(kept), eps, accept_sum / n_samples, n_grad)
