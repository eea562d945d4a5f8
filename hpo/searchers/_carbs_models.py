"""The maths of :class:`hpo.searchers.carbs.CARBS`: its GPs, output/cost transforms,
acquisition factors and Pareto groups (the basic-space codec is :mod:`hpo.searchers._carbs_space`,
re-exported here).

Reference: Fetterman et al., "Tune As You Scale: Hyperparameter Optimization For Compute
Efficient Training", 2023 (imbue-ai/carbs ``model.py`` and ``utils.py``).

The GPs work on `float64` torch tensors: `n x D`-dim model inputs (see
:meth:`BasicSpace.model_inputs`), `n`-dim targets. torch, gpytorch,
botorch and scikit-learn are imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpo.searchers._carbs_space import TRANSFORMS, BasicSpace

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = [
    "BasicSpace",
    "TRANSFORMS",
    "NOISE_MEDIAN",
    "QuantileOutput",
    "LogCostScale",
    "fit_gp",
    "predict",
    "with_fantasies",
    "success_probability",
    "predict_success",
    "log_expected_improvement",
    "Group",
    "group_observations",
    "pareto_groups",
]

#: Median of the noise prior of every GP (the reference's ``LogNormal(log(1e-2), 0.5)``).
NOISE_MEDIAN = 1e-2

# ---------------------------------------------------------------------- transforms
class QuantileOutput:
    """Quantile transform of the maximized outputs to a standard normal (the "surrogate" space).

    As the reference: scikit-learn's ``QuantileTransformer`` with ``sqrt(n)`` quantiles
    (fewer than ``n`` keeps more of the distances between outputs; at least 2). With
    fewer than two distinct outputs every target is 0.
    """

    def __init__(self, y: np.ndarray) -> None:
        import numpy as np

        y = np.asarray(y, dtype=float).reshape(-1, 1)
        self._tf: Any = None
        if len(y) >= 2 and np.ptp(y) > 0:
            from sklearn.preprocessing import QuantileTransformer

            self._tf = QuantileTransformer(output_distribution="normal", n_quantiles=max(2, int(math.sqrt(len(y)))))
            self._tf.fit(y)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        import numpy as np

        y = np.asarray(y, dtype=float).reshape(-1, 1)
        return np.zeros(len(y)) if self._tf is None else self._tf.transform(y)[:, 0]

    def inverse(self, z: np.ndarray) -> np.ndarray | None:
        """Outputs for surrogate values, or None while the transform is constant."""
        import numpy as np

        return None if self._tf is None else self._tf.inverse_transform(np.asarray(z, dtype=float).reshape(-1, 1))[:, 0]


class LogCostScale:
    """``log(cost)`` min-max scaled to ``[-1, 1]`` over the successful observations.

    Costs are floored at ``1e-9`` (a trial can report 0); with one distinct cost, every
    cost maps to 0.
    """

    FLOOR = 1e-9

    def __init__(self, costs: np.ndarray) -> None:
        import numpy as np

        logc = np.log(np.maximum(np.asarray(costs, dtype=float), self.FLOOR))
        self.lo, self.hi = float(logc.min()), float(logc.max())

    def from_log(self, logc: Any) -> Any:
        """Scaled values of natural-log costs (array or tensor)."""
        if self.hi <= self.lo:
            return logc * 0.0
        return 2.0 * (logc - self.lo) / (self.hi - self.lo) - 1.0

    def __call__(self, costs: np.ndarray) -> np.ndarray:
        import numpy as np

        return self.from_log(np.log(np.maximum(np.asarray(costs, dtype=float), self.FLOOR)))

    def to_log(self, scaled: Any) -> Any:
        """Natural-log costs of scaled values (the inverse of :meth:`from_log`)."""
        return self.lo + (scaled + 1.0) / 2.0 * (self.hi - self.lo)


# ---------------------------------------------------------------------- GPs
def _kernel(d: int, radius: float, pareto: bool) -> Any:
    """Linear + Matérn-3/2 (ARD, lengthscale ``radius``), or RBF on 1-D log-cost for the Pareto GP.

    The priors (log-normal, centred on the starting values) matter only to a MAP fit.
    """
    from gpytorch.kernels import LinearKernel, MaternKernel, RBFKernel, ScaleKernel
    from gpytorch.priors import LogNormalPrior

    if pareto:
        rbf = ScaleKernel(RBFKernel(lengthscale_prior=LogNormalPrior(0.0, 1.0)), outputscale_prior=LogNormalPrior(0.0, 1.0))
        rbf.base_kernel.lengthscale = 1.0
        rbf.outputscale = 1.0
        return rbf
    linear = LinearKernel(variance_prior=LogNormalPrior(0.0, 1.0))
    linear.variance = 1.0
    matern = MaternKernel(nu=1.5, ard_num_dims=d, lengthscale_prior=LogNormalPrior(math.log(radius), 1.0))
    matern.lengthscale = radius
    scaled = ScaleKernel(matern, outputscale_prior=LogNormalPrior(0.0, 1.0))
    scaled.outputscale = 1.0
    return linear + scaled


def fit_gp(x: torch.Tensor, y: torch.Tensor, radius: float, pareto: bool = False, fit: bool = False) -> Any:
    """A zero-mean exact GP on `n x D`-dim ``x`` and `n`-dim ``y``.

    By default its hyperparameters are the reference's starting values (variances 1,
    Matérn lengthscale ``radius``, RBF lengthscale 1, noise ``NOISE_MEDIAN``), where the
    reference's 1000 Adam steps at lr 1e-4 leave them (within about 10%).

    Args:
        x: Model inputs (`n x 1` scaled log-costs for the Pareto GP).
        y: Targets.
        radius: The Matérn lengthscale (the search radius ``r``).
        pareto: Use the Pareto GP's 1-D RBF kernel.
        fit: Fit the hyperparameters by MAP instead (L-BFGS, at most 50 iterations, with
            log-normal priors centred on the starting values;
            :func:`hpo.surrogates._gp_fit.fit_map`).
    """
    import warnings

    from botorch.exceptions.warnings import InputDataWarning
    from botorch.models import SingleTaskGP
    from gpytorch.constraints import GreaterThan
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.means import ZeroMean
    from gpytorch.priors import LogNormalPrior

    from hpo.surrogates._gp_fit import fit_map

    likelihood = GaussianLikelihood(
        noise_prior=LogNormalPrior(math.log(NOISE_MEDIAN), 0.5), noise_constraint=GreaterThan(1e-6)
    )
    likelihood.noise = NOISE_MEDIAN
    with warnings.catch_warnings():  # basic-space inputs are not in the unit cube, on purpose
        warnings.simplefilter("ignore", InputDataWarning)
        model = SingleTaskGP(
            x,
            y.reshape(-1, 1),
            likelihood=likelihood,
            covar_module=_kernel(x.shape[-1], radius, pareto),
            mean_module=ZeroMean(),
            outcome_transform=None,
        )
    model.to(dtype=x.dtype)
    if fit:
        fit_map(model, maxiter=50)
    model.eval()
    return model


def predict(model: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`n`-dim latent mean and variance at `n x D`-dim ``x`` (any model with ``posterior``)."""
    import torch

    with torch.no_grad():
        post = model.posterior(x)
        return post.mean.reshape(-1), post.variance.reshape(-1).clamp_min(1e-12)


def with_fantasies(model: Any, x_pending: torch.Tensor, generator: torch.Generator) -> Any:
    """``model`` conditioned on one joint Thompson sample of its latent function at ``x_pending``.

    The reference's ``THOMPSON`` estimator of outstanding suggestions. The hyperparameters
    stay those of ``model`` (the reference refits, with steps too small to move them).
    """
    import torch

    if len(x_pending) == 0:
        return model
    with torch.no_grad():
        mvn = model.posterior(x_pending).distribution
        cov = mvn.covariance_matrix
        eye = torch.eye(len(x_pending), dtype=cov.dtype)
        chol, jitter = None, 1e-9
        while chol is None:
            chol, info = torch.linalg.cholesky_ex(cov + jitter * eye)
            chol, jitter = (chol if int(info) == 0 else None), jitter * 10
        z = torch.randn(len(x_pending), generator=generator, dtype=cov.dtype)
        f = mvn.mean.reshape(-1) + chol @ z
        return model.condition_on_observations(X=x_pending, Y=f.reshape(-1, 1))


def success_probability(mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """``P(f < 0)`` for ``f ~ Normal(mean, sqrt(variance))``: the success model's labels are
    -1 for success, +1 for failure.

    The standard deviation, not the variance, is the scale (the reference passes the
    variance, which makes its probabilities too confident whenever the variance is below 1).
    """
    import torch

    return torch.distributions.Normal(mean, variance.clamp_min(1e-12).sqrt()).cdf(torch.zeros_like(mean))


def predict_success(model: Any | None, x: torch.Tensor) -> torch.Tensor:
    """`n`-dim probability of success at ``x``; ones without a success model (no failure yet)."""
    import torch

    if model is None:
        return torch.ones(len(x), dtype=x.dtype)
    return success_probability(*predict(model, x))


def log_expected_improvement(mu: torch.Tensor, var: torch.Tensor, best: torch.Tensor, bias: float) -> torch.Tensor:
    """``log EI`` of ``mu - best - bias`` under ``Normal(mu, sqrt(var))``.

    The reference computes EI itself with Faddeeva's function; the log (BoTorch's stable
    ``log(phi(z) + z Phi(z))``) keeps the ranking where EI underflows.
    """
    from botorch.acquisition.analytic import _log_ei_helper

    sigma = var.clamp_min(1e-12).sqrt()
    return sigma.log() + _log_ei_helper((mu - best - bias) / sigma)


# ---------------------------------------------------------------------- Pareto groups
@dataclass
class Group:
    """Successful observations of one config (resampling repeats configs).

    Attributes:
        config: The config, in the user's space.
        x_basic: `d`-dim basic-space vector of the config.
        costs, outputs: One per observation; outputs are maximized (``sign * value``).
    """

    config: Mapping[str, Any]
    x_basic: np.ndarray
    costs: list[float] = field(default_factory=list)
    outputs: list[float] = field(default_factory=list)

    @property
    def cost(self) -> float:
        return sum(self.costs) / len(self.costs)

    @property
    def output(self) -> float:
        return sum(self.outputs) / len(self.outputs)


def config_key(config: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A hashable key of a config (the same config suggested again has the same key)."""
    return tuple(sorted(config.items(), key=lambda kv: kv[0]))


def group_observations(rows: Sequence[tuple[Mapping[str, Any], np.ndarray, float, float]]) -> list[Group]:
    """Groups of ``(config, x_basic, cost, output)`` rows with equal configs, in first-seen order."""
    groups: dict[tuple[tuple[str, Any], ...], Group] = {}
    for config, x_basic, cost, output in rows:
        group = groups.setdefault(config_key(config), Group(config, x_basic))
        group.costs.append(float(cost))
        group.outputs.append(float(output))
    return list(groups.values())


def pareto_groups(groups: Sequence[Group], min_cost_fraction: float = 0.2, conservative: bool = True) -> list[Group]:
    """The cost-output Pareto groups, cheapest first (never empty for non-empty ``groups``).

    Every group at most as expensive as the ``min_cost_fraction`` quantile of the
    observations' costs is one bucket, of which only the best counts: cheap runs are noisy
    and dull. Above the floor, a group joins when its mean output beats the last member's;
    with ``conservative``, a single observation must beat the last member's *best*
    observation, and below the floor resampled groups are preferred (the reference's
    ``get_pareto_groups_conservative``).

    **carbs#6.** The reference takes the quantile over single observations but compares
    group means to it, so with resampled configs no group may lie below it, and ``max``
    fails on an empty list. The floor here is raised to at least the cheapest group's
    mean cost: the same floor whenever the reference's has a group below it, and that
    cheapest group otherwise.
    """
    import numpy as np

    if not groups:
        return []
    all_costs = np.array([c for g in groups for c in g.costs])
    floor = max(float(np.quantile(all_costs, min_cost_fraction)), min(g.cost for g in groups))
    below = [g for g in groups if g.cost <= floor]
    if conservative and any(len(g.outputs) > 1 for g in below):
        below = [g for g in below if len(g.outputs) > 1]
    front = [max(below, key=lambda g: g.output)]
    best_mean, best_max = front[0].output, max(front[0].outputs)
    for g in sorted((g for g in groups if g.cost > floor), key=lambda g: g.cost):
        bar = best_max if conservative and len(g.outputs) == 1 else best_mean
        if g.output > bar:
            front.append(g)
            best_mean, best_max = g.output, max(g.outputs)
    return front
