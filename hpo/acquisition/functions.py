"""Acquisition functions over a surrogate's :class:`~hpo.surrogates.Predictive`.

Every acquisition maps `batch x q x d`-dim unit-cube inputs to a `batch`-dim tensor to be
maximized, differentiable in its inputs when the surrogate is
(:attr:`~hpo.surrogates.BaseSurrogate.differentiable`). Targets are maximized (searchers
negate minimized metrics).

* :class:`LogEI` — analytic log expected improvement, computed stably far into the tails
  (Ament et al., "Unexpected Improvements to Expected Improvement for Bayesian
  Optimization", NeurIPS 2023).
* :class:`UCB` — upper confidence bound ``mu + sqrt(beta) * sigma`` (Srinivas et al., 2010).
* :class:`ThompsonSampling` — one joint posterior sample over a candidate set
  (Thompson 1933; Kandasamy et al., 2018 for the parallel case); discrete only.
* :class:`CostWeighted` — a log-space acquisition divided by the predicted cost to a power
  ``alpha``: EI per unit cost (Snoek et al., NeurIPS 2012) and CArBO's cost cooling (Lee
  et al., 2020).
* :class:`QLogNEI` — batch-/pending-aware Monte-Carlo log noisy EI (Ament et al. 2023)
  over the surrogate's joint samples, with the running trials in every sample's incumbent.

They use nothing but :class:`~hpo.surrogates.Predictive` (means, variances, joint
samples), so every surrogate serves every acquisition.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from hpo.surrogates.base import BaseSurrogate

if TYPE_CHECKING:
    import torch

__all__ = ["BaseAcquisition", "LogEI", "UCB", "ThompsonSampling", "QLogNEI", "CostWeighted", "prune_inferior_points", "log_h"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_SQRT_HALF_PI = math.sqrt(math.pi / 2)


def log_h(z: torch.Tensor) -> torch.Tensor:
    """``log(phi(z) + z * Phi(z))``, stable for very negative ``z`` and safe to differentiate.

    For ``z > -1`` the direct formula is exact. Below, ``Phi(z)/phi(z) =
    sqrt(pi/2) * erfcx(-z/sqrt(2))`` (the Mills ratio) gives
    ``log h(z) = -z^2/2 - log(sqrt(2 pi)) + log1p(z * sqrt(pi/2) * erfcx(-z/sqrt 2))``,
    and for ``z < -1e3`` the asymptote ``-z^2/2 - log(sqrt(2 pi)) - 2 log|z|``.
    Each branch sees only inputs clamped to its own region, so no NaN leaks into gradients.
    """
    import torch

    z_hi = z.clamp(min=-1.0)
    normal = torch.distributions.Normal(torch.zeros((), dtype=z.dtype), torch.ones((), dtype=z.dtype))
    direct = torch.log(torch.exp(normal.log_prob(z_hi)) + z_hi * normal.cdf(z_hi))
    z_mid = z.clamp(min=-1e3, max=-1.0)
    mid = -0.5 * z_mid**2 - _LOG_SQRT_2PI + torch.log1p(z_mid * _SQRT_HALF_PI * torch.special.erfcx(-z_mid / math.sqrt(2)))
    z_lo = z.clamp(max=-1e3)
    far = -0.5 * z_lo**2 - _LOG_SQRT_2PI - 2 * torch.log(-z_lo)
    return torch.where(z > -1.0, direct, torch.where(z > -1e3, mid, far))


class BaseAcquisition:
    """An acquisition function: call it on `batch x q x d` inputs, get `batch` scores.

    Attributes:
        discrete_only: The score is only meaningful on a fixed candidate set (no gradients).
    """

    discrete_only: ClassVar[bool] = False

    def __init__(self, surrogate: BaseSurrogate) -> None:
        self.surrogate = surrogate

    def __call__(self, x_unit: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def _single(pred_values: torch.Tensor) -> torch.Tensor:
    if pred_values.shape[-1] != 1:
        raise ValueError(f"analytic acquisitions take q=1 points, got q={pred_values.shape[-1]}")
    return pred_values[..., 0]


class LogEI(BaseAcquisition):
    """``log E[max(f(x) - best_f, 0)]`` under the predictive (q = 1).

    Args:
        surrogate: A fitted surrogate.
        best_f: Best target observed so far (targets are maximized).
    """

    def __init__(self, surrogate: BaseSurrogate, best_f: float) -> None:
        super().__init__(surrogate)
        self.best_f = best_f

    def __call__(self, x_unit: torch.Tensor) -> torch.Tensor:
        pred = self.surrogate.predict(x_unit)
        mean = _single(pred.mean)
        sigma = _single(pred.variance).clamp_min(1e-18).sqrt()
        z = (mean - self.best_f) / sigma
        return log_h(z) + sigma.log()


class CostWeighted(BaseAcquisition):
    """``log(EI(x) / c(x)^alpha) = base(x) - alpha * mu_logcost(x)``, for a log-space ``base``.

    Dividing in log space never divides a negative value by a cost (the pitfall of
    BoTorch discussion #2194: a negative acquisition divided by cost prefers expensive
    points); EI is positive, so its log is defined, and ``exp(mu_logcost)`` is the
    predicted cost's median under a log-normal cost model.

    Args:
        base: A log-space acquisition (:class:`LogEI` or :class:`QLogNEI`).
        cost: A fitted surrogate of the log cost.
        alpha: The cost exponent (1: EI per unit cost; CArBO cools it from 1 to 0).
    """

    def __init__(self, base: BaseAcquisition, cost: BaseSurrogate, alpha: float) -> None:
        super().__init__(base.surrogate)
        self.base = base
        self.cost = cost
        self.alpha = float(alpha)

    def __call__(self, x_unit: torch.Tensor) -> torch.Tensor:
        value = self.base(x_unit)
        if self.alpha == 0.0:
            return value
        log_cost = self.cost.predict(x_unit).mean.logsumexp(dim=-1)  # a batch of q points costs their sum
        return value - self.alpha * log_cost


class UCB(BaseAcquisition):
    """``mu + sqrt(beta) * sigma`` (q = 1)."""

    def __init__(self, surrogate: BaseSurrogate, beta: float = 4.0) -> None:
        super().__init__(surrogate)
        self.beta = beta

    def __call__(self, x_unit: torch.Tensor) -> torch.Tensor:
        pred = self.surrogate.predict(x_unit)
        return _single(pred.mean) + math.sqrt(self.beta) * _single(pred.variance).clamp_min(0).sqrt()


class ThompsonSampling(BaseAcquisition):
    """Scores a candidate set with one joint posterior draw; pick the argmax.

    Args:
        surrogate: A fitted surrogate.
        generator: Seeded ``torch.Generator`` for the draw.
    """

    discrete_only: ClassVar[bool] = True

    def __init__(self, surrogate: BaseSurrogate, generator: torch.Generator | None = None) -> None:
        super().__init__(surrogate)
        self.generator = generator

    def __call__(self, x_unit: torch.Tensor) -> torch.Tensor:
        # Treat the whole batch as one joint set: `1 x b x d` -> one draw of b values.
        flat = x_unit.reshape(1, -1, x_unit.shape[-1])
        return self.surrogate.predict(flat).sample(1, self.generator).reshape(-1)


class QLogNEI(BaseAcquisition):
    """Monte-Carlo log noisy expected improvement over joint samples of any surrogate.

    For candidates ``X`` (`batch x q x d`), running trials ``P`` (`p x d`) and a pruned
    set ``B`` of observed points (`m x d`), one joint draw ``f`` of the ``q + p + m``
    points gives the improvement ``max_j f(X_j) - max(f(B) ∪ f(P))`` per sample; the
    value is the log of its sample mean, with the two non-smooth operations smoothed:

    * ``max`` over the ``q`` candidates: a fat-tailed smooth maximum with temperature
      ``tau_max`` (``fat=False``: ``tau * logsumexp(x / tau)``);
    * ``ReLU`` of the improvement: the log of a fat-tailed softplus with temperature
      ``tau_relu`` (``fat=False``: ``log softplus``);
    * mean over samples: ``logmeanexp``.

    The running trials sit in the incumbent of every sample (BoTorch's ``incremental``
    qLogNEI), so a candidate scores by what it adds beyond what the running trials will
    probably find, and K parallel workers get K different, informative suggestions.

    Only :meth:`~hpo.surrogates.Predictive.sample` of the surrogate is used. Each call
    draws from a fresh ``torch.Generator`` seeded with ``seed``: common random numbers,
    so the optimizer sees a deterministic function (and, for surrogates whose samples are
    reparameterised, a differentiable one).

    Reference: Ament et al., "Unexpected Improvements to Expected Improvement for
    Bayesian Optimization", NeurIPS 2023; BoTorch's ``qLogNoisyExpectedImprovement``
    (``fat=True``, ``tau_max=1e-2``, ``tau_relu=1e-6``, ``prune_baseline=True``,
    ``incremental=True``), whose values it reproduces on a GP. Deviations: the base
    samples are the surrogate's own (the GP draws scrambled-Sobol normals as BoTorch's
    ``SobolQMCNormalSampler`` does; other surrogates need not be Gaussian); the baseline
    is pruned with ``n_prune`` samples (BoTorch: 2048) and to at most ``max_baseline``
    points, the most frequent argmaxes first (BoTorch keeps all); no cached Cholesky
    factor of the baseline (BoTorch's ``cache_root``): every call samples the
    ``q + p + m`` points jointly afresh.

    Args:
        surrogate: A fitted surrogate.
        x_baseline: `n x d`-dim observed inputs.
        x_pending: `p x d`-dim inputs of running trials (or None).
        n_samples: Monte-Carlo samples per call.
        seed: Seed of every call's generator (and of the pruning draw).
        tau_max: Temperature of the smooth maximum over the ``q`` candidates.
        tau_relu: Temperature of the smoothed improvement.
        fat: Fat-tailed smoothings (BoTorch's default) rather than softplus/logsumexp.
        prune_baseline: Keep only observed points that are the best in some sample.
        max_baseline: Most baseline points kept after pruning.
        n_prune: Samples drawn for pruning.
    """

    def __init__(
        self,
        surrogate: BaseSurrogate,
        x_baseline: torch.Tensor,
        x_pending: torch.Tensor | None = None,
        n_samples: int = 128,
        seed: int = 0,
        *,
        tau_max: float = 1e-2,
        tau_relu: float = 1e-6,
        fat: bool = True,
        prune_baseline: bool = True,
        max_baseline: int = 32,
        n_prune: int = 1024,
    ) -> None:
        super().__init__(surrogate)
        import torch

        x_baseline = torch.as_tensor(x_baseline, dtype=torch.float64)
        if prune_baseline and len(x_baseline) > 1:
            x_baseline = prune_inferior_points(surrogate, x_baseline, n_prune, seed, max_baseline)
        if x_pending is not None and len(x_pending):
            x_baseline = torch.cat([torch.as_tensor(x_pending, dtype=torch.float64), x_baseline])
        if len(x_baseline) == 0:
            raise ValueError("QLogNEI needs at least one observed or pending point")
        self.x_incumbents = x_baseline  # `(p + m) x d`: pending first, then the pruned baseline
        self.n_samples = n_samples
        self.seed = seed
        self.tau_max = tau_max
        self.tau_relu = tau_relu
        self.fat = fat

    def __call__(self, x_unit: torch.Tensor) -> torch.Tensor:
        import torch

        from hpo.acquisition._smooth import (
            fatmax,
            log_fatplus,
            log_softplus,
            logmeanexp,
            smooth_amax,
        )

        q = x_unit.shape[-2]
        extra = self.x_incumbents.to(x_unit).expand(*x_unit.shape[:-2], *self.x_incumbents.shape)
        joint = torch.cat([x_unit, extra], dim=-2)  # `batch x (q + p + m) x d`
        gen = torch.Generator().manual_seed(self.seed)
        samples = self.surrogate.predict(joint).sample(self.n_samples, gen)  # `n x batch x (q+p+m)`
        new, incumbents = samples[..., :q], samples[..., q:]
        best = incumbents.amax(dim=-1, keepdim=True)
        if self.fat:
            log_imp = log_fatplus(new - best, self.tau_relu)
            per_sample = fatmax(log_imp, self.tau_max, dim=-1)
        else:
            log_imp = log_softplus(new - best, self.tau_relu)
            per_sample = smooth_amax(log_imp, self.tau_max, dim=-1)
        return logmeanexp(per_sample, dim=0)


def prune_inferior_points(
    surrogate: BaseSurrogate, x: torch.Tensor, n_samples: int = 1024, seed: int = 0, max_points: int | None = None
) -> torch.Tensor:
    """The rows of ``x`` that are the argmax of at least one joint posterior sample.

    The most frequent argmaxes come first; at most ``max_points`` are kept (BoTorch's
    ``prune_inferior_points``, which ``qLogNoisyExpectedImprovement`` applies to its
    baseline).

    Args:
        surrogate: A fitted surrogate.
        x: `n x d`-dim observed inputs.
        n_samples: Joint samples drawn.
        seed: Seed of the draw.
        max_points: Cap on the number of points kept.

    Returns:
        A `k x d`-dim subset of ``x`` (``1 <= k <= n``).
    """
    import torch

    with torch.no_grad():
        samples = surrogate.predict(x).sample(n_samples, torch.Generator().manual_seed(seed))
    winners = samples.reshape(n_samples, len(x)).argmax(dim=-1)
    idx, counts = torch.unique(winners, return_counts=True)
    order = torch.argsort(counts, descending=True, stable=True)
    keep = idx[order][: max_points if max_points is not None else len(idx)]
    return x[keep]
