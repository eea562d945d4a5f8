"""Gaussian-process surrogate on BoTorch.

Model (chosen deliberately; see shared/DESIGN.md §6):
    * continuous/integer columns: BoTorch ``SingleTaskGP`` with a Matérn-5/2 ARD kernel,
      ``Gamma(3, 6)`` lengthscale and ``Gamma(2, 0.15)`` outputscale priors (the set-up of
      BoTorch before 0.12, which beat the newer dimension-scaled RBF default on Hartmann6,
      Ackley and Rosenbrock in our measurements), standardized outcomes, learned noise
      (BoTorch's ``LogNormal(-4, 1)`` prior) bounded below by ``min_noise = 1e-6``
      (BoTorch's 1e-4 floor kept Branin from converging past ~1e-4 regret; Optuna's
      GPSampler uses 1e-6 too);
    * with categorical columns: ``MixedSingleTaskGP`` (a categorical/Hamming kernel for those
      columns, combined with a Matérn kernel for the rest); categories are fed as integers.
    * fitted in float64 by maximum a posteriori: exact marginal likelihood plus the priors
      (see :mod:`hpo.surrogates._gp_fit`, a lean equivalent of ``fit_gpytorch_mll``).

Cost control as ``n`` grows:
    * **warm start**: hyperparameters start from the previous fit;
    * **cold restarts** (``restart_growth``): a warm start can stay in a poor local optimum
      of the posterior once it is there. Seen on six 8-way categoricals (``dbr-cats``,
      ``benchmarks/problems.py``): early on the float explained most of the variance, the
      categorical kernels' outputscales went to ~0, and every later warm fit stayed there
      (an outputscale near 0 has a vanishing gradient in the softplus parameterization), so
      the model ignored the categoricals and BO tuned the float to the fourth decimal for 40
      trials; a fit from the default initialization on the same 24 points had a posterior
      higher by 1.5 nats per point. So whenever the data have grown by ``restart_growth``
      since the last cold fit, a refit also starts from the default initialization and the
      higher posterior wins (O(log n) cold fits over a study; BoTorch cold-fits every time,
      Optuna's GPSampler only after a failed warm fit);
    * **lazy refits**: above ``full_refit_until`` observations, hyperparameters are re-fitted
      every ``max(refit_every, n // 20)`` new observations (in between, the GP conditions
      on the new data with the previous hyperparameters: the posterior is exact for them);
    * **subsampling**: hyperparameters are fitted on at most ``max_fit_points`` points and
      the GP conditions on at most ``max_points``, each the best quarter plus a seeded
      random subset of the rest.

Conditional spaces: inactive parameters hold the constant encoding of the search space
(0.5), so they add no distance between configs that share a branch, and the selector's
categorical kernel separates branches (an imputation approach, cf. Lévesque et al. 2017).

Reference: Li, Rudner & Wilson, "A Study of Bayesian Neural Network Surrogates for
Bayesian Optimization", ICLR 2024 (GP baseline); Balandat et al., "BoTorch", NeurIPS 2020.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hpo.surrogates._gp_fit import is_scaled_matern52, matern52
from hpo.surrogates.base import BaseSurrogate, Predictive

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["GPSurrogate", "ExactGPPredictive", "LENGTHSCALE_PRIORS", "exact_gp_cache", "botorch_gp_cache"]

#: Lengthscale priors of :class:`GPSurrogate` (``lengthscale_prior``).
LENGTHSCALE_PRIORS = ("gamma", "dimscaled")


class ExactGPPredictive(Predictive):
    """Mean, variance and joint samples of an exact GP from a cached Cholesky factor.

    Same numbers as ``model.posterior(x)`` for the latent function, without GPyTorch's
    per-call overhead, which dominates acquisition optimization. Joint samples are
    reparameterised: ``mean + L z`` with ``L`` the Cholesky factor of each batch's
    posterior covariance (jitter added only where a factorization fails) and ``z``
    scrambled-Sobol normal base samples, seeded from the generator and shared by every
    batch.

    Any exact GP with Gaussian noise serves (the GP, deep-kernel and infinite-width-BNN
    surrogates use it), with inputs in the model's own space (integer categories, one-hot
    columns, or learned features).

    Args:
        cache: From :func:`exact_gp_cache` (or :func:`botorch_gp_cache`): training inputs,
            Cholesky factor, weights and outcome scaling; with ``lengthscale``,
            ``outputscale`` and ``constant`` the kernel is a scaled Matérn-5/2 with a
            constant mean, written out.
        x_model: `batch_shape x q x m`-dim inputs in the model's space.
        model: Anything with GPyTorch ``mean_module`` and ``covar_module`` (callable on
            model-space inputs); used only when the cache has no Matérn-5/2 entries.
    """

    def __init__(self, cache: dict[str, Any], x_model: torch.Tensor, model: Any = None) -> None:
        if "lengthscale" not in cache and model is None:
            raise ValueError("ExactGPPredictive needs the model's mean and kernel modules unless the kernel is Matérn-5/2")
        self._cache = cache
        self._model = model
        self._x = x_model
        self._mean: torch.Tensor | None = None
        self._var: torch.Tensor | None = None

    def _cross(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardized prior mean (`N`) and cross-covariance to the data (`N x n`) of `N x d` points."""
        cache = self._cache
        if "lengthscale" in cache:  # Matérn-5/2 written out: no GPyTorch call overhead
            k_star = matern52(flat / cache["lengthscale"], cache["x_scaled"]) * cache["outputscale"]
            return cache["constant"].expand(len(flat)), k_star
        return self._model.mean_module(flat), self._model.covar_module(flat, cache["x"]).to_dense()

    def _compute(self) -> None:
        import torch

        cache = self._cache
        flat = self._x.reshape(-1, self._x.shape[-1])
        prior_mean, k_star = self._cross(flat)
        mean = prior_mean + k_star @ cache["alpha"]
        if "lengthscale" in cache:
            prior = cache["outputscale"].expand(len(flat))
        else:
            prior = self._model.covar_module(flat, diag=True)
        v = torch.linalg.solve_triangular(cache["chol"], k_star.T, upper=False)
        var = (prior - (v * v).sum(0)).clamp_min(1e-12)
        shape = self._x.shape[:-1]
        self._mean = (mean * cache["std"] + cache["mu"]).reshape(shape)
        self._var = (var * cache["std"] ** 2).reshape(shape)

    @property
    def mean(self) -> torch.Tensor:
        if self._mean is None:
            self._compute()
        return self._mean  # type: ignore[return-value]

    @property
    def variance(self) -> torch.Tensor:
        if self._var is None:
            self._compute()
        return self._var  # type: ignore[return-value]

    def joint(self) -> tuple[torch.Tensor, torch.Tensor]:
        """`B x q`-dim means and `B x q x q`-dim covariances, standardized, of the flattened batches."""
        import torch

        cache = self._cache
        q, d = self._x.shape[-2], self._x.shape[-1]
        sets = self._x.reshape(-1, q, d)
        flat = sets.reshape(-1, d)
        prior_mean, k_star = self._cross(flat)
        mean = (prior_mean + k_star @ cache["alpha"]).reshape(-1, q)
        if "lengthscale" in cache:
            scaled = sets / cache["lengthscale"]
            k_qq = matern52(scaled, scaled) * cache["outputscale"]
        else:
            k_qq = self._model.covar_module(sets).to_dense()
        v = torch.linalg.solve_triangular(cache["chol"], k_star.T, upper=False)  # `n x Bq`
        v = v.T.reshape(-1, q, v.shape[0])
        return mean, k_qq - v @ v.transpose(-1, -2)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        import torch

        cache = self._cache
        mean, cov = self.joint()
        chol = _safe_cholesky(cov)
        gen = generator if generator is not None else torch.Generator()
        z = _normal_base_samples(n, mean.shape[-1], gen, mean.dtype)
        f = mean.unsqueeze(0) + torch.einsum("bij,nj->nbi", chol, z)
        return (f * cache["std"] + cache["mu"]).reshape(n, *self._x.shape[:-1])


def _normal_base_samples(n: int, q: int, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """`n x q` standard normal base samples: scrambled Sobol (seeded from ``generator``) through the normal quantile.

    Quasi-MC as BoTorch's ``SobolQMCNormalSampler``: lower-variance Monte-Carlo estimates
    than i.i.d. draws at the same ``n`` (qLogNEI uses 128).
    """
    import torch
    from torch.quasirandom import SobolEngine

    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    if q > SobolEngine.MAXDIM:
        return torch.randn((n, q), generator=torch.Generator().manual_seed(seed), dtype=dtype)
    u = SobolEngine(q, scramble=True, seed=seed).draw(n, dtype=torch.float64)
    z = torch.special.ndtri(u.clamp(1e-10, 1 - 1e-10))
    return z.to(dtype)


def _safe_cholesky(cov: torch.Tensor) -> torch.Tensor:
    """Cholesky factors of `B x q x q` covariances, adding jitter (from 1e-9) only to the ones that fail."""
    import torch

    eye = torch.eye(cov.shape[-1], dtype=cov.dtype)
    jitter = torch.zeros(cov.shape[:-2] + (1, 1), dtype=cov.dtype)
    for step in range(9):
        chol, info = torch.linalg.cholesky_ex(cov + jitter * eye)
        failed = (info > 0).reshape(jitter.shape)
        if not bool(failed.any()):
            return chol
        jitter = torch.where(failed, torch.full_like(jitter, 1e-9 * 10.0**step), jitter)
    raise RuntimeError("posterior covariance is not positive definite even with jitter 1e-1")


def exact_gp_cache(x: torch.Tensor, resid: torch.Tensor, k: torch.Tensor, noise: torch.Tensor, mu: Any, std: Any) -> dict[str, Any]:
    """The cache of :class:`ExactGPPredictive`: Cholesky factor and weights, standardized outcomes.

    Args:
        x: `n x m`-dim training inputs in the model's space.
        resid: `n`-dim standardized targets minus the prior mean at ``x``.
        k: `n x n`-dim prior covariance of the latent function at ``x``.
        noise: Noise variance (standardized units).
        mu, std: Outcome scaling: observations are ``mu + std * standardized``.

    The factor gets jitter (from 1e-8) only if ``k + noise I`` fails to factorize.
    Add ``lengthscale``, ``x_scaled`` (``x / lengthscale``), ``outputscale`` and
    ``constant`` for the written-out Matérn-5/2 path.
    """
    import torch

    with torch.no_grad():
        eye = torch.eye(len(x), dtype=x.dtype)
        k = k + noise.reshape(-1)[0] * eye
        jitter = 0.0
        for _ in range(6):
            chol, info = torch.linalg.cholesky_ex(k + jitter * eye)
            if int(info) == 0:
                break
            jitter = 1e-8 if jitter == 0.0 else jitter * 10
        alpha = torch.cholesky_solve(resid.unsqueeze(-1), chol).squeeze(-1)
        return {"x": x, "chol": chol, "alpha": alpha, "mu": torch.as_tensor(mu).reshape(()), "std": torch.as_tensor(std).reshape(())}


def botorch_gp_cache(model: Any) -> dict[str, Any]:
    """:func:`exact_gp_cache` of a fitted single-output BoTorch GP with a ``Standardize`` outcome transform."""
    import torch

    with torch.no_grad():
        x = model.train_inputs[0]
        y = model.train_targets
        tf = model.outcome_transform
        cache = exact_gp_cache(
            x, y - model.mean_module(x), model.covar_module(x).to_dense(), model.likelihood.noise, tf.means, tf.stdvs
        )
        kernel = model.covar_module
        if is_scaled_matern52(model):
            ls = kernel.base_kernel.lengthscale.detach().reshape(-1)
            cache.update(
                lengthscale=ls,
                x_scaled=x / ls,
                outputscale=kernel.outputscale.detach().reshape(()),
                constant=model.mean_module.constant.detach().reshape(()),
            )
        return cache


class GPSurrogate(BaseSurrogate):
    """Exact GP regression with BoTorch (see the module docstring for every choice).

    Args:
        max_points: Largest training set; beyond it the data are subsampled.
        max_fit_points: Largest set the hyperparameters are fitted on.
        full_refit_until: Re-fit hyperparameters at every ``fit`` up to this many points.
        refit_every: Above that, re-fit every ``max(refit_every, n // 20)`` new points.
        cold_maxiter, warm_maxiter: L-BFGS-B iterations of a first fit and of a warm refit.
        seed: Seed for subsampling.
        min_noise: Lower bound of the noise variance (in standardized units).
        lengthscale_prior: Prior of the Matérn lengthscales (continuous spaces):
            ``"gamma"`` (default), ``Gamma(3, 6)``; ``"dimscaled"``, the dimension-scaled
            ``LogNormal(sqrt(2) + log(d) / 2, sqrt(3))`` of Hvarfner, Hellsten & Nardi,
            "Vanilla Bayesian Optimization Performs Great in High Dimensions", ICML 2024
            (BoTorch's default since 0.12, there with an RBF kernel; here on our Matérn-5/2).
        restart_growth: A refit also fits from the default initialization (and keeps
            whichever of that and the warm start has the higher posterior) once the data
            have grown by this factor since the last such fit; None: warm starts only.

    Attributes:
        botorch_model: The fitted BoTorch model after :meth:`fit` (for inspection; the
            predictive does not go through it for continuous spaces).
    """

    def __init__(
        self,
        max_points: int = 1000,
        max_fit_points: int = 200,
        full_refit_until: int = 50,
        refit_every: int = 2,
        cold_maxiter: int = 150,
        warm_maxiter: int = 40,
        seed: int = 0,
        min_noise: float = 1e-6,
        lengthscale_prior: str = "gamma",
        restart_growth: float | None = 1.5,
    ) -> None:
        if lengthscale_prior not in LENGTHSCALE_PRIORS:
            raise ValueError(f"lengthscale_prior must be one of {LENGTHSCALE_PRIORS}, got {lengthscale_prior!r}")
        self.lengthscale_prior = lengthscale_prior
        if restart_growth is not None and not restart_growth > 1.0:
            raise ValueError(f"restart_growth must be above 1 or None, got {restart_growth!r}")
        self.restart_growth = restart_growth
        self._n_at_last_cold = 0
        self.min_noise = min_noise
        self.max_points = max_points
        self.max_fit_points = max_fit_points
        self.cold_maxiter = cold_maxiter
        self.warm_maxiter = warm_maxiter
        self.full_refit_until = full_refit_until
        self.refit_every = refit_every
        self.seed = seed
        self.botorch_model: Any = None
        self._hyper: dict[str, Any] | None = None
        self._hyper_key: tuple[Any, ...] | None = None
        self._n_at_last_refit = 0
        self._cat_dims: dict[int, int] = {}
        self._cache: dict[str, Any] = {}
        self.n_fits = 0
        self.n_refits = 0

    # ----------------------------------------------------------------- inputs
    def _to_model_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Categorical columns: unit-cube cell centre -> integer category."""
        if not self._cat_dims:
            return x
        import torch

        x = x.clone()
        for j, k in self._cat_dims.items():
            x[..., j] = torch.clamp(torch.floor(x[..., j] * k), 0, k - 1)
        return x

    def _subsample(self, x: np.ndarray, y: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """At most ``limit`` points: the best quarter and a seeded random subset of the rest."""
        import numpy as np

        n = len(y)
        if n <= limit:
            return x, y
        order = np.argsort(-y)
        n_best = limit // 4
        rest = np.random.default_rng([self.seed, n]).choice(order[n_best:], limit - n_best, replace=False)
        keep = np.concatenate([order[:n_best], rest])
        return x[keep], y[keep]

    # ----------------------------------------------------------------- model
    def _build(self, x: torch.Tensor, y: torch.Tensor) -> Any:
        from botorch.models import MixedSingleTaskGP, SingleTaskGP
        from botorch.models.transforms.outcome import Standardize
        from gpytorch.constraints import GreaterThan
        from gpytorch.kernels import MaternKernel, ScaleKernel
        from gpytorch.likelihoods import GaussianLikelihood
        from gpytorch.priors import GammaPrior, LogNormalPrior

        likelihood = GaussianLikelihood(
            noise_prior=LogNormalPrior(-4.0, 1.0),  # BoTorch's default prior
            noise_constraint=GreaterThan(self.min_noise, transform=None, initial_value=1e-3),
        )
        if self._cat_dims:
            return MixedSingleTaskGP(
                x, y, cat_dims=sorted(self._cat_dims), likelihood=likelihood, outcome_transform=Standardize(m=1)
            )
        d = x.shape[-1]
        ls_prior = GammaPrior(3.0, 6.0) if self.lengthscale_prior == "gamma" else LogNormalPrior(math.sqrt(2) + math.log(d) / 2, math.sqrt(3))
        covar = ScaleKernel(
            MaternKernel(nu=2.5, ard_num_dims=d, lengthscale_prior=ls_prior),
            outputscale_prior=GammaPrior(2.0, 0.15),
        )
        return SingleTaskGP(x, y, likelihood=likelihood, covar_module=covar, outcome_transform=Standardize(m=1))

    def _needs_refit(self, n: int, warm: bool) -> bool:
        if not warm or n <= self.full_refit_until:
            return True
        return n - self._n_at_last_refit >= max(self.refit_every, n // 20)

    def fit(self, x_unit: Any, y: Any, cat_dims: Mapping[int, int] | None = None) -> None:
        import numpy as np

        x_np, y_np = self._subsample(np.asarray(x_unit, dtype=float), np.asarray(y, dtype=float).reshape(-1), self.max_points)
        if len(y_np) == 0:
            raise ValueError("GPSurrogate.fit needs at least one observation")
        if not np.all(np.isfinite(y_np)):
            raise ValueError("GPSurrogate.fit got non-finite targets")
        self._cat_dims = dict(cat_dims or {})
        key = (x_np.shape[-1], tuple(sorted(self._cat_dims.items())))
        warm = self._hyper is not None and self._hyper_key == key
        n = len(y_np)
        if self._needs_refit(n, warm):
            # Hyperparameters are fitted on at most `max_fit_points` points (best quarter +
            # random rest); the model then conditions on all `max_points`.
            xf, yf = self._subsample(x_np, y_np, self.max_fit_points)
            self._store_hyper(self._fit_hyper(xf, yf, n, warm), key)
            self._n_at_last_refit = n
            self.n_refits += 1
        model = self._model(x_np, y_np)
        model.load_state_dict(self._hyper, strict=False)
        model.eval()
        self._cache = botorch_gp_cache(model)
        self.botorch_model = model
        self.n_fits += 1

    def _fit_hyper(self, xf: Any, yf: Any, n: int, warm: bool) -> Any:
        """A model on ``(xf, yf)`` with MAP hyperparameters: warm-started, from the default
        initialization, or both (the higher posterior wins; see ``restart_growth``)."""
        import torch

        from hpo.surrogates._gp_fit import fit_map, neg_log_posterior

        fitted = []
        if warm:
            model = self._model(xf, yf)
            model.load_state_dict(self._hyper, strict=False)
            fit_map(model, maxiter=self.warm_maxiter)
            fitted.append(model)
        if not warm or (self.restart_growth is not None and n >= self.restart_growth * self._n_at_last_cold):
            model = self._model(xf, yf)
            fit_map(model, maxiter=self.cold_maxiter)
            fitted.append(model)
            self._n_at_last_cold = n
        if len(fitted) == 1:
            return fitted[0]

        def score(model: Any) -> float:
            try:
                with torch.no_grad():
                    value = float(neg_log_posterior(model))
            except RuntimeError:
                return math.inf
            return value if math.isfinite(value) else math.inf

        return min(fitted, key=score)

    def _model(self, x_np: Any, y_np: Any) -> Any:
        import torch

        x = self._to_model_inputs(torch.as_tensor(x_np, dtype=torch.float64))
        return self._build(x, torch.as_tensor(y_np, dtype=torch.float64).unsqueeze(-1))

    def _store_hyper(self, model: Any, key: tuple[Any, ...]) -> None:
        self._hyper = {
            k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith("outcome_transform")
        }
        self._hyper_key = key

    def predict(self, x_unit: torch.Tensor) -> Predictive:
        if self.botorch_model is None:
            raise RuntimeError("GPSurrogate.predict called before fit")
        return ExactGPPredictive(self._cache, self._to_model_inputs(x_unit), self.botorch_model)

    @property
    def lengthscales(self) -> Any:
        """Fitted ARD lengthscales (continuous model), for inspection."""
        kernel = getattr(self.botorch_model, "covar_module", None)
        base = getattr(kernel, "base_kernel", None)
        return None if base is None else base.lengthscale.detach().squeeze()


