"""The LC-PFN learning-curve prior (Adriaensen, Rakotoarison, Müller & Hutter, "Efficient
Bayesian Learning Curve Extrapolation using Prior-Data Fitted Networks", NeurIPS 2023).

A curve over epochs ``x = 1..n_epochs`` is a weighted sum of three parametric families,
each with an unnormalised weight ``w ~ U(0, 1)`` (normalising the weights to sum to 1
accepts 31% of draws with a median final value of 0.57, which does not match the
published sanity check; unnormalised weights give 20% and 0.63, as it says):

* pow3: ``c - a x^-alpha``, ``a ~ U(-0.6, 0.6)``, ``c ~ U(0, 1.25)``, ``alpha ~ LogNormal(0, 2)``;
* ilog2: ``c - a / ln(x + 1)``, ``c ~ U(0, 1)``, ``a ~ U(-0.5, 0.5)``;
* janoschek: ``a - (a - b) exp(-k x^d)``, ``a ~ U(0, 1)``, ``b ~ U(0, 2)``,
  ``k ~ LogNormal(-2, 1)``, ``d ~ LogNormal(0, 0.5)``;

plus Gaussian noise with ``sigma = exp(N(-4, 1))``. A curve is rejected when its
noiseless end is not above its noiseless start, when any noiseless value leaves [0, 1],
or when any value is NaN. About 20% of the draws are accepted, and the median final
value is about 0.63 (``tests/surrogates/test_lcpfn.py`` checks both).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CurvePrior", "sample_curves"]


@dataclass(frozen=True)
class CurvePrior:
    """The prior above, for curves of ``n_epochs`` points."""

    n_epochs: int = 100

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` candidate curves (before rejection).

        Returns:
            ``(noisy, clean)``, each of shape ``(n, n_epochs)``.
        """
        x = np.arange(1, self.n_epochs + 1, dtype=np.float64)[None, :]
        u = rng.random
        # pow3
        a3, c3 = u((n, 1)) * 1.2 - 0.6, u((n, 1)) * 1.25
        alpha = rng.lognormal(0.0, 2.0, (n, 1))
        with np.errstate(over="ignore", invalid="ignore"):
            pow3 = c3 - a3 * x ** (-alpha)
        # ilog2
        c2, a2 = u((n, 1)), u((n, 1)) - 0.5
        ilog2 = c2 - a2 / np.log(x + 1.0)
        # janoschek
        aj, bj = u((n, 1)), u((n, 1)) * 2.0
        k, d = rng.lognormal(-2.0, 1.0, (n, 1)), rng.lognormal(0.0, 0.5, (n, 1))
        with np.errstate(over="ignore", invalid="ignore"):
            jan = aj - (aj - bj) * np.exp(-k * x**d)
        w = u((n, 3))  # unnormalised, see the module docstring
        clean = w[:, :1] * pow3 + w[:, 1:2] * ilog2 + w[:, 2:] * jan
        sigma = np.exp(rng.normal(-4.0, 1.0, (n, 1)))
        noisy = clean + sigma * rng.standard_normal(clean.shape)
        return noisy, clean

    @staticmethod
    def accept(noisy: np.ndarray, clean: np.ndarray) -> np.ndarray:
        """Mask of the curves the prior keeps (see the module docstring)."""
        finite = np.isfinite(noisy).all(axis=1) & np.isfinite(clean).all(axis=1)
        with np.errstate(invalid="ignore"):
            rising = clean[:, -1] > clean[:, 0]
            inside = ((clean >= 0.0) & (clean <= 1.0)).all(axis=1)
        return finite & rising & inside

    def sample(self, n: int, rng: np.random.Generator, batch: int = 4096) -> np.ndarray:
        """``n`` accepted noisy curves, shape ``(n, n_epochs)``, drawn in batches with ``rng``."""
        out: list[np.ndarray] = []
        have = 0
        while have < n:
            noisy, clean = self.draw(batch, rng)
            kept = noisy[self.accept(noisy, clean)]
            out.append(kept)
            have += len(kept)
        return np.concatenate(out)[:n]


def sample_curves(n: int, rng: np.random.Generator, n_epochs: int = 100) -> np.ndarray:
    """Shorthand for ``CurvePrior(n_epochs).sample(n, rng)``."""
    return CurvePrior(n_epochs).sample(n, rng)
