"""Acquisition functions over a surrogate's :class:`~hpo.surrogates.Predictive`.

Every acquisition maps `batch x q x d`-dim unit-cube inputs to a `batch`-dim tensor to be
maximized, and is differentiable in its inputs. Targets are maximized (searchers negate
minimized metrics).

* :class:`LogEI` — analytic log expected improvement, computed stably far into the tails
  (Ament et al., "Unexpected Improvements to Expected Improvement for Bayesian
  Optimization", NeurIPS 2023).
* :class:`UCB` — upper confidence bound ``mu + sqrt(beta) * sigma`` (Srinivas et al., 2010).
* :class:`ThompsonSampling` — one joint posterior sample over a candidate set
  (Thompson 1933; Kandasamy et al., 2018 for the parallel case); discrete only.
* :class:`QLogNEI` — batch-/pending-aware Monte-Carlo log noisy EI (Ament et al. 2023),
  with the running trials as ``X_pending``, via BoTorch's ``qLogNoisyExpectedImprovement``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from hpo.surrogates.base import BaseSurrogate

if TYPE_CHECKING:
    import torch

__all__ = ["BaseAcquisition", "LogEI", "UCB", "ThompsonSampling", "QLogNEI", "log_h"]

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
    """Monte-Carlo log noisy expected improvement with pending points.

    Pending points (running trials) join every candidate batch, so the value of a
    candidate is what it adds beyond what the running trials will probably find: K
    parallel workers get K different, informative suggestions.

    Needs a surrogate with a ``botorch_model`` (BoTorch ``qLogNoisyExpectedImprovement``
    with baseline pruning).

    Args:
        surrogate: A fitted surrogate exposing ``botorch_model``.
        x_baseline: `n x d`-dim observed inputs.
        x_pending: `p x d`-dim inputs of running trials.
        n_samples: Quasi-MC samples.
        seed: Seed of the QMC sampler.
    """

    def __init__(
        self, surrogate: BaseSurrogate, x_baseline: torch.Tensor, x_pending: torch.Tensor | None, n_samples: int = 128, seed: int = 0
    ) -> None:
        super().__init__(surrogate)
        model = surrogate.botorch_model
        if model is None:
            raise TypeError(f"{type(surrogate).__name__} has no botorch_model; QLogNEI needs one")
        import warnings

        import torch
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.exceptions.warnings import BotorchWarning
        from botorch.sampling import SobolQMCNormalSampler

        to_model = getattr(surrogate, "_to_model_inputs", lambda x: x)
        self._to_model = to_model
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=BotorchWarning)
            self._acq: Any = qLogNoisyExpectedImprovement(
                model=model,
                X_baseline=to_model(x_baseline),
                sampler=SobolQMCNormalSampler(sample_shape=torch.Size([n_samples]), seed=seed),
                X_pending=None if x_pending is None or len(x_pending) == 0 else to_model(x_pending),
                prune_baseline=True,
                cache_root=False,
            )

    def __call__(self, x_unit: torch.Tensor) -> torch.Tensor:
        return self._acq(self._to_model(x_unit))
