"""Infinite-width-BNN surrogate: a GP whose kernel is that of an infinitely wide ReLU network.

Model (Lee, Bahri, Novak, Schoenholz, Pennington & Sohl-Dickstein, "Deep Neural Networks
as Gaussian Processes", ICLR 2018, the NNGP; Cho & Saul, NeurIPS 2009, for the ReLU
arc-cosine recursion; the infinite-width BNN surrogate of Li, Rudner & Wilson, "A Study
of Bayesian Neural Network Surrogates for Bayesian Optimization", ICLR 2024):

* BoTorch ``SingleTaskGP`` with ``InfiniteWidthBNNKernel(depth)`` (default depth 3): the
  covariance of a fully connected ReLU network with i.i.d. Gaussian weights and biases
  as its width goes to infinity. It is **not stationary**: it depends on the inputs'
  norms and angles, not only on their distance;
* the kernel's weight and bias variances are **fixed** at Li et al.'s values (10 and 1.3),
  as in their study; the noise (BoTorch's default ``LogNormal(-4, 1)`` prior, at least 1e-4)
  and the constant mean are fitted by maximizing the exact marginal likelihood plus that
  prior with BoTorch's ``fit_gpytorch_mll``, in float64, with outcomes standardized by
  BoTorch's ``Standardize``. ``learn_variances=True`` fits the two variances too; we do not
  make it the default because, in our BO loop on Branin, that fit drove the bias variance
  to ~1e-11 and explained all signal as noise, after which the searcher proposed the same
  corner for 25 suggestions in a row (regret 11.2 at 30 evaluations, against 0.005-0.05
  with the variances fixed, 3 seeds at 40). Should ``fit_gpytorch_mll`` fail
  (``ModelFittingError``), :func:`hpo.surrogates._gp_fit.fit_map` (the GP surrogate's
  L-BFGS-B fit of the same objective, which treats a failed factorization as infeasible)
  fits from the same start instead;
* **deviation**: the kernel clamps the cosine of the angle between two inputs' hidden
  representations to ``1 - acos_eps``; we pass ``acos_eps = 1e-12`` instead of BoTorch's
  1e-7. With 1e-7 the clamp perturbs every diagonal entry by about 1e-7 of the prior
  variance, which the fit drives into the thousands (the bias variance grew above 100):
  ``K + noise I`` became indefinite near the 1e-4 noise floor, so ``fit_gpytorch_mll``
  failed outright in 2 of 6 fits of 2-d functions with 50 and 100 points ("All attempts
  to fit the model have failed", after 3-6 s of restarts), and the posterior covariance
  of 4 points had an eigenvalue of -0.24 (standardized units), so joint samples failed
  even with jitter. With 1e-12 the same fits succeeded, all matrices were positive
  definite and the fits were as good or better; the clamp's gradient stays finite in
  float64;
* inputs: numeric columns enter as their unit-cube values (as in Li et al.);
  **categorical columns are one-hot encoded** (a column with ``k`` categories becomes ``k``
  columns, one of them 1): the kernel acts on continuous inputs through inner products,
  and a one-hot makes every pair of distinct categories equally far apart, whereas the
  cell centre ``(i + 0.5) / k`` would impose an order. Inactive conditional parameters
  hold a constant encoding, so they need nothing special.

The predictive is the exact GP posterior (:class:`hpo.surrogates.gp.ExactGPPredictive`):
means and variances of the latent function and joint, reparameterised samples
``mean + L z`` with seeded Sobol base samples, differentiable in the numeric inputs.

``fit_gpytorch_mll`` may draw from the global torch RNG (restarts from the noise prior
after a failed attempt); it runs inside ``torch.random.fork_rng`` seeded with ``seed``, so
the fit is reproducible and the caller's global RNG state is left as it was. Its
``OptimizationWarning`` s only trigger those restarts and are not passed on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hpo.surrogates.base import BaseSurrogate, Predictive

if TYPE_CHECKING:
    import torch

__all__ = ["InfiniteWidthBNNSurrogate"]


class InfiniteWidthBNNSurrogate(BaseSurrogate):
    """Exact GP with BoTorch's infinite-width BNN (NNGP) kernel (see the module docstring).

    Args:
        depth: Number of hidden layers of the infinitely wide ReLU network.
        weight_var: Weight variance of the kernel (the start of its fit if
            ``learn_variances``).
        bias_var: Bias variance of the kernel (likewise).
        learn_variances: Fit the two variances by marginal likelihood instead of keeping
            them fixed.
        maxiter: Most L-BFGS-B iterations of a fit (per attempt).
        acos_eps: The kernel's clamp of cosines to ``[-1 + acos_eps, 1 - acos_eps]``.
        warm_start: Start a refit from the previous fit's hyperparameters (only when
            ``learn_variances``; otherwise the fit is small and starts afresh).
        seed: Seed of the global RNG inside the (forked) fit.

    Attributes:
        botorch_model: The fitted BoTorch model after :meth:`fit` (for inspection).
    """

    differentiable = True

    def __init__(
        self,
        depth: int = 3,
        weight_var: float = 10.0,
        bias_var: float = 1.3,
        maxiter: int = 150,
        learn_variances: bool = False,
        acos_eps: float = 1e-12,
        warm_start: bool = True,
        seed: int = 0,
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        if weight_var <= 0 or bias_var <= 0:
            raise ValueError(f"weight_var and bias_var must be positive, got {weight_var} and {bias_var}")
        self.depth = depth
        self.weight_var = weight_var
        self.bias_var = bias_var
        self.maxiter = maxiter
        self.learn_variances = learn_variances
        self.acos_eps = acos_eps
        self.warm_start = warm_start
        self.seed = seed
        self.botorch_model: Any = None
        self._hyper: dict[str, Any] | None = None
        self._hyper_key: tuple[Any, ...] | None = None
        self._cat_dims: dict[int, int] = {}
        self._cache: dict[str, Any] = {}

    def _to_model_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """`... x d` unit-cube inputs -> `... x D`: numeric columns as they are, categories one-hot."""
        import torch

        if not self._cat_dims:
            return x
        cols = []
        for j in range(x.shape[-1]):
            k = self._cat_dims.get(j)
            if k is None:
                cols.append(x[..., j : j + 1])
            else:
                cell = torch.clamp(torch.floor(x[..., j].detach() * k), 0, k - 1).long()
                cols.append(torch.nn.functional.one_hot(cell, k).to(x.dtype))
        return torch.cat(cols, dim=-1)

    def fit(self, x_unit: Any, y: Any, cat_dims: Mapping[int, int] | None = None) -> None:
        import warnings

        import numpy as np
        import torch
        from botorch.exceptions.errors import ModelFittingError
        from botorch.exceptions.warnings import OptimizationWarning
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.kernels.infinite_width_bnn import InfiniteWidthBNNKernel
        from botorch.models.transforms.outcome import Standardize
        from gpytorch.mlls import ExactMarginalLogLikelihood

        from hpo.surrogates._gp_fit import fit_map
        from hpo.surrogates.gp import botorch_gp_cache

        x_np = np.asarray(x_unit, dtype=float)
        y_np = np.asarray(y, dtype=float).reshape(-1)
        if len(y_np) == 0:
            raise ValueError("InfiniteWidthBNNSurrogate.fit needs at least one observation")
        if not np.all(np.isfinite(y_np)):
            raise ValueError("InfiniteWidthBNNSurrogate.fit got non-finite targets")
        self._cat_dims = {int(j): int(k) for j, k in (cat_dims or {}).items()}
        key = (x_np.shape[-1], tuple(sorted(self._cat_dims.items())))
        x = self._to_model_inputs(torch.as_tensor(x_np, dtype=torch.float64))
        y_t = torch.as_tensor(y_np, dtype=torch.float64).unsqueeze(-1)
        kernel = InfiniteWidthBNNKernel(depth=self.depth, acos_eps=self.acos_eps).to(torch.float64)
        kernel.weight_var = self.weight_var
        kernel.bias_var = self.bias_var
        if not self.learn_variances:
            kernel.raw_weight_var.requires_grad_(False)
            kernel.raw_bias_var.requires_grad_(False)
        model = SingleTaskGP(x, y_t, covar_module=kernel, outcome_transform=Standardize(m=1))
        if self.learn_variances and self.warm_start and self._hyper is not None and self._hyper_key == key:
            model.load_state_dict(self._hyper, strict=False)
        start = {k: v.detach().clone() for k, v in model.state_dict().items()}
        # Small elementwise kernels: one thread is much faster than intra-op parallelism on
        # busy cores; the caller's setting is restored.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizationWarning)
                torch.manual_seed(self.seed)
                mll = ExactMarginalLogLikelihood(model.likelihood, model)
                fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": self.maxiter}})
        except ModelFittingError:
            model.load_state_dict(start)
            fit_map(model, maxiter=self.maxiter)
        finally:
            torch.set_num_threads(threads)
        model.eval()
        self._hyper = {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith("outcome_transform")}
        self._hyper_key = key
        self._cache = botorch_gp_cache(model)
        self.botorch_model = model

    def predict(self, x_unit: torch.Tensor) -> Predictive:
        import torch

        from hpo.surrogates.gp import ExactGPPredictive

        if self.botorch_model is None:
            raise RuntimeError("InfiniteWidthBNNSurrogate.predict called before fit")
        x = x_unit if isinstance(x_unit, torch.Tensor) else torch.as_tensor(x_unit, dtype=torch.float64)
        return ExactGPPredictive(self._cache, self._to_model_inputs(x.to(torch.float64)), self.botorch_model)
