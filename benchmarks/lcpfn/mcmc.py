"""Baseline: the MCMC curve-combination model of Domhan, Springenberg & Hutter, "Speeding up
Automatic Hyperparameter Optimization of Deep Neural Networks by Extrapolation of
Learning Curves", IJCAI 2015.

``y(x) = sum_k w_k f_k(x | theta_k) + eps``, ``eps ~ N(0, sigma^2)``, over the 11 families
of the paper's Table 1 (vapor pressure, pow3, log-log linear, Hill3, log power, pow4,
MMF, exp4, Janoschek, Weibull, ilog2). Prior, as in the paper: weights ``w_k >= 0``; the
combined curve is increasing (``f(1) < f(x_final)``) and its prediction at ``x_final``
stays in [0, 1]; flat elsewhere. Posterior sampling with emcee's affine-invariant
ensemble: 100 walkers, 2,500 steps, 500 of burn-in (DESIGN.md §4). Walkers start around
per-family least-squares fits of the observed prefix, with weights 1/11.

``steps``/``burn`` may be lowered for time; the results table says when they were.
The predictive distribution at a query epoch is the mixture, over thinned posterior
samples, of ``N(f_s(x), sigma_s^2)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["FAMILIES", "MCMCCurveModel"]


def _vap(x, a, b, c):  # type: ignore[no-untyped-def]
    return np.exp(a + b / x + c * np.log(x))


def _pow3(x, c, a, alpha):  # type: ignore[no-untyped-def]
    return c - a * x ** (-alpha)


def _loglog_linear(x, a, b):  # type: ignore[no-untyped-def]
    return np.log(a * np.log(x) + b)


def _hill3(x, ymax, eta, kappa):  # type: ignore[no-untyped-def]
    return ymax * x**eta / (kappa**eta + x**eta)


def _log_power(x, a, b, c):  # type: ignore[no-untyped-def]
    return a / (1.0 + (x / np.exp(b)) ** c)


def _pow4(x, c, a, b, alpha):  # type: ignore[no-untyped-def]
    return c - (a * x + b) ** (-alpha)


def _mmf(x, alpha, beta, kappa, delta):  # type: ignore[no-untyped-def]
    return alpha - (alpha - beta) / (1.0 + (kappa * x) ** delta)


def _exp4(x, c, a, b, alpha):  # type: ignore[no-untyped-def]
    return c - np.exp(-a * x**alpha + b)


def _janoschek(x, alpha, beta, kappa, delta):  # type: ignore[no-untyped-def]
    return alpha - (alpha - beta) * np.exp(-kappa * x**delta)


def _weibull(x, alpha, beta, kappa, delta):  # type: ignore[no-untyped-def]
    return alpha - (alpha - beta) * np.exp(-((kappa * x) ** delta))


def _ilog2(x, c, a):  # type: ignore[no-untyped-def]
    return c - a / np.log(x + 1.0)  # log(x + 1): finite at x = 1 (the paper's x starts later)


@dataclass(frozen=True)
class Family:
    name: str
    f: Callable[..., np.ndarray]
    start: tuple[float, ...]  # default starting parameters (Domhan's code uses similar ones)


FAMILIES: tuple[Family, ...] = (
    Family("vap", _vap, (-0.6, -0.5, 0.04)),
    Family("pow3", _pow3, (0.8, 0.5, 0.5)),
    Family("loglog_linear", _loglog_linear, (0.1, 2.0)),
    Family("hill3", _hill3, (0.8, 1.0, 3.0)),
    Family("log_power", _log_power, (0.8, 1.0, -1.0)),
    Family("pow4", _pow4, (0.8, 1.0, 1.0, 0.5)),
    Family("mmf", _mmf, (0.8, 0.1, 0.3, 1.0)),
    Family("exp4", _exp4, (0.8, 0.5, 0.0, 0.5)),
    Family("janoschek", _janoschek, (0.8, 0.1, 0.2, 1.0)),
    Family("weibull", _weibull, (0.8, 0.1, 0.2, 1.0)),
    Family("ilog2", _ilog2, (0.8, 0.3)),
)
_SIZES = [len(f.start) for f in FAMILIES]
_OFFSETS = np.cumsum([0, *_SIZES])
N_THETA = int(_OFFSETS[-1])
N_DIM = N_THETA + len(FAMILIES) + 1  # parameters, weights, log sigma


def _combined(params: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Curves of shape ``(n_walkers, len(x))`` for parameter rows ``(n_walkers, N_DIM)``."""
    out = np.zeros((len(params), len(x)))
    xs = x[None, :]
    with np.errstate(all="ignore"):
        for k, fam in enumerate(FAMILIES):
            theta = params[:, _OFFSETS[k] : _OFFSETS[k + 1]]
            w = params[:, N_THETA + k][:, None]
            out += w * fam.f(xs, *[theta[:, j : j + 1] for j in range(theta.shape[1])])
    return out


class MCMCCurveModel:
    """Fit on a curve prefix, then predict quantities at later epochs (see the module docstring).

    Args:
        walkers, steps, burn, thin: emcee settings (100, 2500, 500, 10 by default).
        seed: Seed of the walkers' start and the sampler.
    """

    def __init__(self, walkers: int = 100, steps: int = 2500, burn: int = 500, thin: int = 10, seed: int = 0) -> None:
        self.walkers, self.steps, self.burn, self.thin = walkers, steps, burn, thin
        self.rng = np.random.default_rng(seed)
        self.samples: np.ndarray | None = None
        self.x_final = 1.0

    def _start(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        from scipy.optimize import curve_fit

        theta: list[float] = []
        for fam in FAMILIES:
            p = np.asarray(fam.start, dtype=float)
            if len(x) > len(p):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        fit, _ = curve_fit(fam.f, x, y, p0=p, maxfev=400)
                        if np.isfinite(fam.f(np.array([1.0, self.x_final]), *fit)).all():
                            p = fit
                    except (RuntimeError, ValueError, TypeError, FloatingPointError):
                        pass
            theta += list(p)
        center = np.concatenate([theta, np.full(len(FAMILIES), 1.0 / len(FAMILIES)), [np.log(max(np.std(y) * 0.1, 1e-3))]])
        spread = np.abs(center) * 1e-2 + 1e-4
        start = center + spread * self.rng.standard_normal((self.walkers, N_DIM))
        start[:, N_THETA : N_THETA + len(FAMILIES)] = np.abs(start[:, N_THETA : N_THETA + len(FAMILIES)])
        return start

    def _log_prob(self, params: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        weights = params[:, N_THETA : N_THETA + len(FAMILIES)]
        log_sigma = params[:, -1]
        ends = _combined(params, np.array([1.0, self.x_final]))
        pred = _combined(params, x)
        ok = (weights >= 0).all(axis=1) & (ends[:, 0] < ends[:, 1]) & (ends[:, 1] >= 0) & (ends[:, 1] <= 1)
        ok &= np.isfinite(pred).all(axis=1) & (log_sigma > -12) & (log_sigma < 2)
        sigma = np.exp(log_sigma)[:, None]
        with np.errstate(all="ignore"):
            ll = (-0.5 * ((y[None, :] - pred) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)).sum(axis=1)
        return np.where(ok & np.isfinite(ll), ll, -np.inf)

    def fit(self, x: np.ndarray, y: np.ndarray, x_final: float) -> MCMCCurveModel:
        import emcee

        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        self.x_final = float(x_final)
        start = self._start(x, y)
        sampler = emcee.EnsembleSampler(self.walkers, N_DIM, self._log_prob, args=(x, y), vectorize=True)
        sampler.random_state = np.random.RandomState(int(self.rng.integers(2**31))).get_state()
        # walkers that start outside the prior are moved onto a valid one
        lp = self._log_prob(start, x, y)
        good = np.isfinite(lp)
        if not good.any():
            start[:, N_THETA : N_THETA + len(FAMILIES)] = 0.0
            start[:, N_THETA + 1] = 1.0  # pow3 alone, fitted
            lp = self._log_prob(start, x, y)
            good = np.isfinite(lp)
        if not good.any():  # the fits fall or leave [0, 1]: pow3 alone, barely rising at the data's top
            o = int(_OFFSETS[1])
            start[:, o : o + 3] = [float(np.clip(y.max(), 0.02, 0.98)), 0.01, 0.5]
            start[:, -1] = np.log(max(float(np.std(y)), 1e-3))
            start[:, o : o + 3] *= 1 + 1e-4 * self.rng.standard_normal((self.walkers, 3))
            lp = self._log_prob(start, x, y)
            good = np.isfinite(lp)
        if good.any() and not good.all():  # copies of valid walkers, jittered a little
            copies = start[good][self.rng.integers(good.sum(), size=(~good).sum())]
            start[~good] = copies * (1 + 1e-4 * self.rng.standard_normal(copies.shape))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sampler.run_mcmc(start, self.steps, progress=False, skip_initial_state_check=True)
        chain = sampler.get_chain(discard=self.burn, thin=self.thin, flat=True)
        logp = sampler.get_log_prob(discard=self.burn, thin=self.thin, flat=True)
        self.samples = chain[np.isfinite(logp)]
        return self

    def _components(self, x_query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.samples is None or len(self.samples) == 0:
            raise RuntimeError("fit() first (or no valid posterior sample)")
        return _combined(self.samples, np.asarray(x_query, dtype=float)), np.exp(self.samples[:, -1])[:, None]

    def log_likelihood(self, x_query: np.ndarray, y_query: np.ndarray) -> np.ndarray:
        """Log predictive density of each ``y_query`` point (a mixture over samples)."""
        mu, sigma = self._components(x_query)
        y = np.asarray(y_query, dtype=float)[None, :]
        comp = -0.5 * ((y - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
        top = comp.max(axis=0)
        return top + np.log(np.exp(comp - top).mean(axis=0))

    def mean(self, x_query: np.ndarray) -> np.ndarray:
        mu, _ = self._components(x_query)
        return mu.mean(axis=0)
