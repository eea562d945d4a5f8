"""Deep-kernel-learning surrogate: a GP on the features of a tanh MLP, trained jointly.

Model (Wilson, Hu, Salakhutdinov & Xing, "Deep Kernel Learning", AISTATS 2016; the DKL
surrogate of Li, Rudner & Wilson, "A Study of Bayesian Neural Network Surrogates for
Bayesian Optimization", ICLR 2024):

* **inputs**: numeric columns enter as ``2x - 1``; each categorical column (``cat_dims``:
  column -> ``k`` categories, holding the cell centre ``(i + 0.5) / k``) gets a learned
  embedding of ``min(embedding_dim, k)`` dimensions (N(0, 1) initialization), concatenated
  with the numeric columns. Inactive conditional parameters hold a constant encoding, so
  they need nothing special;
* **feature extractor**: a multilayer perceptron with tanh activations, 3 hidden layers of
  128 units by default; the last hidden layer is the feature vector (as in Li et al., whose
  network's output layer is dropped after pre-training);
* **kernel**: GPyTorch ``ScaleKernel(MaternKernel(nu=2.5))`` with one lengthscale per
  feature (ARD), a constant mean and a Gaussian likelihood whose noise is bounded below
  by ``min_noise`` (standardized units);
* **training**, in float64, on targets standardized inside :meth:`~DKLSurrogate.fit`, in
  two phases (a documented deviation, below):

  1. the GP's hyperparameters (lengthscales, outputscale, mean, noise) alone, on the exact
     log marginal likelihood of every point, with the network frozen at its random
     initialization (a GP on random tanh features, a kernel of the NNGP family);
  2. network, embeddings and hyperparameters *jointly* on the marginal likelihood of a random
     ``1 - holdout`` (80%) of the points, kept only while the predictive log-likelihood of
     the held-out rest improves; the parameters with the best held-out score are kept,
     those of phase 1 included, and the posterior then conditions on every point.

  No priors: Li et al. kept BoTorch's ``Gamma(3, 6)`` lengthscale prior; with it, and
  BoTorch's noise and outputscale priors, the overconfidence below remained (held-out
  negative log-likelihood 26-190 on Hartmann-6).

**Why the held-out guard.** Training the network on the marginal likelihood alone (this
surrogate until 2026-12-03) overfits at BO's sample sizes, as Ober, Rasmussen & van der Wilk
("The promises and pitfalls of deep kernel learning", UAI 2021) describe: the features
collapse, the noise goes to its floor, and the posterior is confidently wrong. On Hartmann-6
(3 seeds, 500 uniform test points) its held-out negative log-likelihood per point was 1214
at 30 points and 109 at 80, with RMSE / std 1.12 and 0.94 (a constant scores 1.0); the BO
study's regret @100 was near random search's (Hartmann-6 0.68, Ackley-10 20.1). With the two
phases: 1.71 and 1.25, RMSE / std 1.01 and 0.90 (the GP: 0.32 and 0.06, 0.84 and 0.70); on
Branin 1.75 and 0.35, RMSE / std 0.035 and 0.008 (the GP: 0.062 and 0.005). On Hartmann-6 the
joint phase never improved the held-out score, so the random features were kept; on Branin
at 30 points it did.

Choices for an affordable fit on 2 CPU cores:

* **no pre-training** (Li et al. pre-train the network by 1000 MSE steps, then run 5000
  Adam steps at learning rate 1e-3). Instead, two learning rates: ``lr`` (3e-3) for the
  network and embeddings, ``hyper_lr`` (0.1) for the GP's raw hyperparameters, which are
  log-like (softplus), so that they can move by decades within a hundred steps (with one
  rate of 1e-2, the noise was still near 0.04 after 300 steps on noiseless functions).
  The lengthscales start at the median pairwise distance of the initial features, so the
  initial kernel is neither diagonal nor constant;
* **early stopping**: each phase takes at most ``max_steps`` Adam steps. Phase 1 stops when
  the training loss (negative log marginal likelihood per point) has not improved by
  ``tol`` for ``patience`` steps; phase 2 when the held-out score, checked every
  ``check_every`` steps, has not improved by ``tol`` for ``patience`` steps;
* **warm start**: a refit on the same columns starts from the previous fit's parameters
  and runs phase 2 only, for at most ``warm_max_steps`` steps (the Adam state starts afresh);
* training runs with one intra-op thread (tiny matrices: threading only adds overhead).

Measured with both CPU cores busy with other work, first fits of both phases: 0.4-0.6 s at
30 points and 0.6-0.9 s at 80 (Branin and Hartmann-6; 270-390 Adam steps in all). Before
the two phases (one joint phase): 0.5-0.9, 1.2 and 2.1 s at 20, 50 and 100 points of a 3-d
input, a warm refit with 3 more points 0.2-0.6 s, predicting 6144 points 0.12-0.2 s.

The predictive is the exact GP posterior on the learned features
(:class:`hpo.surrogates.gp.ExactGPPredictive`): means and variances of the latent function
and joint, reparameterised samples ``mean + L z`` with seeded Sobol base samples; they are
differentiable in the numeric inputs through the network (categorical columns are looked
up, so their gradient is zero).

All randomness (initialization) comes from ``seed`` through a local ``torch.Generator``;
the global RNGs are never touched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hpo.surrogates.base import BaseSurrogate, Predictive

if TYPE_CHECKING:
    import torch

__all__ = ["DKLSurrogate"]


def _feature_extractor(d: int, cat_dims: Mapping[int, int], hidden: Sequence[int], embedding_dim: int, gen: torch.Generator) -> Any:
    """The network ``x_unit (... x d) -> features (... x hidden[-1])`` in float64, initialized from ``gen``."""
    import torch

    class FeatureExtractor(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.num_cols = [j for j in range(d) if j not in cat_dims]
            self.cat_cols = sorted(cat_dims)
            self.cat_sizes = [int(cat_dims[j]) for j in self.cat_cols]
            # `skip_init`: no draw from the global RNG; every weight is set from `gen` below.
            self.embeddings = torch.nn.ModuleList(
                torch.nn.utils.skip_init(torch.nn.Embedding, k, min(embedding_dim, k), dtype=torch.float64)
                for k in self.cat_sizes
            )
            n_in = len(self.num_cols) + sum(e.embedding_dim for e in self.embeddings)
            sizes = [n_in, *hidden]
            self.layers = torch.nn.ModuleList(
                torch.nn.utils.skip_init(torch.nn.Linear, a, b, dtype=torch.float64) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
            )
            with torch.no_grad():
                for emb in self.embeddings:
                    emb.weight.normal_(generator=gen)
                for layer in self.layers:  # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
                    bound = 1.0 / math.sqrt(max(layer.in_features, 1))
                    layer.weight.uniform_(-bound, bound, generator=gen)
                    layer.bias.uniform_(-bound, bound, generator=gen)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            parts = [2 * x[..., self.num_cols] - 1]
            for j, k, emb in zip(self.cat_cols, self.cat_sizes, self.embeddings, strict=True):
                cell = torch.clamp(torch.floor(x[..., j].detach() * k), 0, k - 1).long()
                parts.append(emb(cell))
            h = torch.cat(parts, dim=-1)
            for layer in self.layers:
                h = torch.tanh(layer(h))
            return h

    return FeatureExtractor()


def _deep_kernel_gp(d: int, cat_dims: Mapping[int, int], hidden: Sequence[int], embedding_dim: int, min_noise: float, ard: bool, gen: torch.Generator) -> Any:
    """Feature extractor, ``ScaleKernel(Matérn-5/2 ARD)``, ``ConstantMean`` and ``GaussianLikelihood`` in one module."""
    import torch
    from gpytorch.constraints import GreaterThan
    from gpytorch.kernels import MaternKernel, ScaleKernel
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.means import ConstantMean

    module = torch.nn.Module()
    module.feature_extractor = _feature_extractor(d, cat_dims, hidden, embedding_dim, gen)
    module.covar_module = ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=hidden[-1] if ard else None))
    module.mean_module = ConstantMean()
    module.likelihood = GaussianLikelihood(noise_constraint=GreaterThan(min_noise))
    return module.to(torch.float64)


class DKLSurrogate(BaseSurrogate):
    """Exact GP on learned tanh-MLP features, trained jointly (see the module docstring).

    Args:
        hidden: Width of each hidden layer (an int for 3 layers, or a sequence of widths);
            the last one is the number of features.
        embedding_dim: Largest embedding size of a categorical column (``min(., k)``).
        max_steps: Most Adam steps of each phase of a first (cold) fit.
        warm_max_steps: Most Adam steps of a refit that starts from the previous fit.
        lr: Adam learning rate of the network and embeddings.
        hyper_lr: Adam learning rate of the GP's (raw, log-like) hyperparameters.
        patience: Stop a phase when its loss (training loss in phase 1, held-out score in
            phase 2) has not improved by ``tol`` for this many steps.
        tol: Improvement (nats per point) that counts for ``patience``.
        min_noise: Lower bound of the noise variance (standardized units).
        warm_start: Start a refit on the same columns from the previous parameters.
        ard: One lengthscale per feature (True) or one for all.
        holdout: Fraction of the points held out to guard the joint phase; 0 skips that
            phase (a GP on the random initial features).
        check_every: Steps between two held-out checks of the joint phase.
        seed: Seed of the initialization.

    Attributes:
        n_steps: Adam steps taken by the last fit (both phases).
        warm_started: Whether the last fit started from the previous one.
    """

    differentiable = True

    def __init__(
        self,
        hidden: int | Sequence[int] = 128,
        embedding_dim: int = 4,
        max_steps: int = 300,
        warm_max_steps: int = 100,
        lr: float = 3e-3,
        hyper_lr: float = 0.1,
        patience: int = 20,
        tol: float = 1e-3,
        min_noise: float = 1e-4,
        warm_start: bool = True,
        ard: bool = True,
        holdout: float = 0.2,
        check_every: int = 5,
        seed: int = 0,
    ) -> None:
        if not 0.0 <= holdout < 1.0:
            raise ValueError(f"holdout must be in [0, 1), got {holdout!r}")
        if check_every < 1:
            raise ValueError(f"check_every must be at least 1, got {check_every!r}")
        self.holdout = holdout
        self.check_every = check_every
        self.ard = ard
        self.hidden = (hidden,) * 3 if isinstance(hidden, int) else tuple(hidden)
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden must be positive layer widths, got {hidden!r}")
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be at least 1, got {embedding_dim}")
        self.embedding_dim = embedding_dim
        self.max_steps = max_steps
        self.warm_max_steps = warm_max_steps
        self.lr = lr
        self.hyper_lr = hyper_lr
        self.patience = patience
        self.tol = tol
        self.min_noise = min_noise
        self.warm_start = warm_start
        self.seed = seed
        self.n_steps = 0
        self.warm_started = False
        self._module: Any = None
        self._key: tuple[Any, ...] | None = None
        self._cache: dict[str, Any] = {}

    # ----------------------------------------------------------------- fit
    def fit(self, x_unit: Any, y: Any, cat_dims: Mapping[int, int] | None = None) -> None:
        import numpy as np
        import torch

        x_np = np.asarray(x_unit, dtype=float)
        y_np = np.asarray(y, dtype=float).reshape(-1)
        if len(y_np) == 0:
            raise ValueError("DKLSurrogate.fit needs at least one observation")
        if not np.all(np.isfinite(y_np)):
            raise ValueError("DKLSurrogate.fit got non-finite targets")
        cats = {int(j): int(k) for j, k in (cat_dims or {}).items()}
        key = (x_np.shape[-1], tuple(sorted(cats.items())))
        mu = float(y_np.mean())
        sd = float(y_np.std())
        sd = sd if sd > 1e-12 else 1.0
        x = torch.as_tensor(x_np, dtype=torch.float64)
        y_std = torch.as_tensor((y_np - mu) / sd, dtype=torch.float64)
        self.warm_started = self.warm_start and self._module is not None and self._key == key
        if not self.warm_started:
            gen = torch.Generator().manual_seed(self.seed)
            self._module = _deep_kernel_gp(x_np.shape[-1], cats, self.hidden, self.embedding_dim, self.min_noise, self.ard, gen)
            self._init_lengthscales(x)
            self._key = key
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            self.n_steps = self._train(x, y_std, self.warm_max_steps if self.warm_started else self.max_steps)
        finally:
            torch.set_num_threads(threads)
        self._cache = self._factorize(x, y_std, mu, sd)

    def _init_lengthscales(self, x: torch.Tensor) -> None:
        """All lengthscales at the median pairwise distance of the initial features (at least 1e-2)."""
        import torch

        with torch.no_grad():
            feats = self._module.feature_extractor(x)
            dist = torch.cdist(feats, feats)
            upper = dist[torch.triu(torch.ones_like(dist, dtype=torch.bool), diagonal=1)]
            median = float(upper.median()) if upper.numel() else 1.0
            self._module.covar_module.base_kernel.lengthscale = max(median, 1e-2)

    def _kernel_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Features (`n x m`), lengthscales (`m`), outputscale, constant mean and noise at the current parameters."""
        m = self._module
        feats = m.feature_extractor(x)
        return (
            feats,
            m.covar_module.base_kernel.lengthscale.reshape(-1),
            m.covar_module.outputscale.reshape(()),
            m.mean_module.constant.reshape(()),
            m.likelihood.noise.reshape(()),
        )

    def _loss(self, x: torch.Tensor, y_std: torch.Tensor) -> torch.Tensor:
        """Negative exact log marginal likelihood per point."""
        import torch

        from hpo.surrogates._gp_fit import matern52

        feats, ls, scale, constant, noise = self._kernel_parts(x)
        scaled = feats / ls
        n = len(y_std)
        k = scale * matern52(scaled, scaled) + noise * torch.eye(n, dtype=x.dtype)
        chol = torch.linalg.cholesky(k)
        resid = (y_std - constant).unsqueeze(-1)
        alpha = torch.cholesky_solve(resid, chol)
        nll = 0.5 * (resid * alpha).sum() + torch.log(torch.diagonal(chol)).sum() + 0.5 * n * math.log(2 * math.pi)
        return nll / n

    def _train(self, x: torch.Tensor, y_std: torch.Tensor, max_steps: int) -> int:
        """Both phases of a fit (module docstring); returns the Adam steps taken.

        A cold fit first fits the GP's hyperparameters on the initial features (phase 1),
        then trains everything jointly under the held-out guard (phase 2); a warm refit
        runs phase 2 only, from the previous parameters.
        """
        steps = 0
        if not self.warm_started:
            steps += self._fit_hyperparameters(x, y_std, max_steps)
        return steps + self._fit_jointly(x, y_std, max_steps)

    def _groups(self, joint: bool) -> list[dict[str, Any]]:
        """Adam parameter groups: the GP's hyperparameters, plus the network's with ``joint``."""
        net = list(self._module.feature_extractor.parameters())
        ids = {id(p) for p in net}
        hyper = [p for p in self._module.parameters() if id(p) not in ids]
        return [{"params": hyper, "lr": self.hyper_lr}] + ([{"params": net, "lr": self.lr}] if joint else [])

    def _state(self) -> dict[str, Any]:
        return {k: v.detach().clone() for k, v in self._module.state_dict().items()}

    def _fit_hyperparameters(self, x: torch.Tensor, y_std: torch.Tensor, max_steps: int) -> int:
        """Phase 1: the GP's hyperparameters on the frozen initial features, by the marginal
        likelihood of every point; early stopping on the training loss, best parameters kept."""
        import torch

        net = list(self._module.feature_extractor.parameters())
        for p in net:
            p.requires_grad_(False)
        try:
            opt = torch.optim.Adam(self._groups(joint=False))
            best, best_state, since, steps = math.inf, None, 0, 0
            while steps < max_steps:
                opt.zero_grad()
                try:
                    loss = self._loss(x, y_std)
                except RuntimeError:  # a covariance that does not factorize: keep the best so far
                    break
                value = float(loss.detach())
                if not math.isfinite(value):
                    break
                if value < best - self.tol:
                    best, since, best_state = value, 0, self._state()
                else:
                    since += 1
                    if since >= self.patience:
                        break
                loss.backward()
                opt.step()
                steps += 1
        finally:
            for p in net:
                p.requires_grad_(True)
        if best_state is not None:
            self._module.load_state_dict(best_state)
        return steps

    def _fit_jointly(self, x: torch.Tensor, y_std: torch.Tensor, max_steps: int) -> int:
        """Phase 2: network, embeddings and hyperparameters by the marginal likelihood of a
        random ``1 - holdout`` of the points, kept only while the predictive log-likelihood
        of the held-out rest improves (checked every ``check_every`` steps); the parameters
        with the best held-out score, those before this phase included, are kept. Skipped
        below 2 held-out or 3 training points."""
        import numpy as np
        import torch

        n = len(y_std)
        n_out = int(round(self.holdout * n))
        if self.holdout <= 0 or n_out < 2 or n - n_out < 3:
            return 0
        perm = torch.as_tensor(np.random.default_rng([self.seed, n]).permutation(n))
        held, kept = perm[:n_out], perm[n_out:]
        try:
            best, best_state = self._heldout_nll(x, y_std, kept, held), self._state()
        except RuntimeError:
            return 0
        opt = torch.optim.Adam(self._groups(joint=True))
        since, steps = 0, 0
        while steps < max_steps and since < self.patience:
            opt.zero_grad()
            try:
                loss = self._loss(x[kept], y_std[kept])
            except RuntimeError:
                break
            if not math.isfinite(float(loss.detach())):
                break
            loss.backward()
            opt.step()
            steps += 1
            if steps % self.check_every:
                continue
            try:
                score = self._heldout_nll(x, y_std, kept, held)
            except RuntimeError:
                break
            if score < best - self.tol:
                best, since, best_state = score, 0, self._state()
            else:
                since += self.check_every
        self._module.load_state_dict(best_state)
        return steps

    def _heldout_nll(self, x: torch.Tensor, y_std: torch.Tensor, kept: torch.Tensor, held: torch.Tensor) -> float:
        """Mean negative predictive log-likelihood of the ``held`` points given the ``kept`` ones
        (the same exact-GP cache and predictive as :meth:`predict`, plus the noise)."""
        import torch

        from hpo.surrogates.gp import ExactGPPredictive

        cache = self._factorize(x[kept], y_std[kept], 0.0, 1.0)
        with torch.no_grad():
            pred = ExactGPPredictive(cache, self._module.feature_extractor(x[held]))
            var = pred.variance + self._module.likelihood.noise.reshape(())
            return float((0.5 * torch.log(2 * math.pi * var) + 0.5 * (y_std[held] - pred.mean) ** 2 / var).mean())

    def _factorize(self, x: torch.Tensor, y_std: torch.Tensor, mu: float, sd: float) -> dict[str, Any]:
        import torch

        from hpo.surrogates._gp_fit import matern52
        from hpo.surrogates.gp import exact_gp_cache

        with torch.no_grad():
            feats, ls, scale, constant, noise = self._kernel_parts(x)
            scaled = feats / ls
            k = scale * matern52(scaled, scaled)
            cache = exact_gp_cache(feats, y_std - constant, k, noise, mu, sd)
            # Clones: training a warm-started refit updates the parameters in place, and a
            # predictive made before must keep describing its own fit.
            cache.update(lengthscale=ls.clone(), x_scaled=scaled, outputscale=scale.clone(), constant=constant.clone())
        return cache

    # ----------------------------------------------------------------- predict
    def predict(self, x_unit: torch.Tensor) -> Predictive:
        import torch

        from hpo.surrogates.gp import ExactGPPredictive

        if not self._cache:
            raise RuntimeError("DKLSurrogate.predict called before fit")
        x = x_unit if isinstance(x_unit, torch.Tensor) else torch.as_tensor(x_unit, dtype=torch.float64)
        return ExactGPPredictive(self._cache, self._module.feature_extractor(x.to(torch.float64)))
