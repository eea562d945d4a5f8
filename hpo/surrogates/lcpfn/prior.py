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

:class:`MixturePrior` extends it, as a documented deviation, with curves that never learn,
diverge, or follow a learning-rate schedule; the shipped default weights are trained on it
and the paper-prior weights stay selectable (``LCPFN.load(variant="paper")``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PRIORS", "CurvePrior", "MixturePrior", "chance_levels", "sample_curves"]


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
        return self._accepted(n, rng, batch)[0]

    def sample_clean(self, n: int, rng: np.random.Generator, batch: int = 4096) -> np.ndarray:
        """The noiseless versions of ``n`` accepted curves, shape ``(n, n_epochs)``."""
        return self._accepted(n, rng, batch)[1]

    def _accepted(self, n: int, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
        noisy_parts: list[np.ndarray] = []
        clean_parts: list[np.ndarray] = []
        have = 0
        while have < n:
            noisy, clean = self.draw(batch, rng)
            keep = self.accept(noisy, clean)
            noisy_parts.append(noisy[keep])
            clean_parts.append(clean[keep])
            have += int(keep.sum())
        return np.concatenate(noisy_parts)[:n], np.concatenate(clean_parts)[:n]


def sample_curves(n: int, rng: np.random.Generator, n_epochs: int = 100, prior: str = "paper") -> np.ndarray:
    """Shorthand for ``PRIORS[prior](n_epochs).sample(n, rng)`` (``prior``: ``"paper"`` or ``"mixture"``)."""
    if prior not in PRIORS:
        raise ValueError(f"unknown LC-PFN prior {prior!r}; known: {sorted(PRIORS)}")
    return PRIORS[prior](n_epochs).sample(n, rng)


def chance_levels(n: int, rng: np.random.Generator) -> np.ndarray:
    """Levels a run that learns nothing sits at, shape ``(n, 1)``.

    Six in ten are the chance accuracy ``1/K`` of a ``K``-class problem, ``log K ~ U(log 2,
    log 1000)`` (binary to ImageNet-sized label sets); the rest are ``U(0, 0.3)``, which covers a
    loss that never leaves its starting value (0 after normalisation) and metrics whose
    floor is not a class count (balanced accuracy, AUC - 0.5 rescaled, R^2 clipped at 0).
    """
    k = np.exp(rng.uniform(np.log(2.0), np.log(1000.0), (n, 1)))
    return np.where(rng.random((n, 1)) < 0.6, 1.0 / np.round(k), rng.uniform(0.0, 0.3, (n, 1)))


@dataclass(frozen=True)
class MixturePrior:
    """The paper's prior mixed with shapes of real training runs it rarely draws.

    **A documented deviation from Adriaensen et al. (NeurIPS 2023).** Their prior (:class:`CurvePrior`)
    draws smooth, saturating, rising curves with homoscedastic noise. Real curves also
    (a) never learn and sit at a chance level, (b) diverge after some progress, and
    (c) follow the learning-rate schedule: a jump at each step decay, an accelerating late
    rise under cosine or linear decay, and a slow start under warm-up (Loshchilov & Hutter,
    ICLR 2017; Goyal et al. 2017). Their noise shrinks as training goes on (small batches
    and a high learning rate early). On such curves the paper-prior network predicts a rise
    for flat runs and misses late jumps, and last value beats it at late cutoffs.

    Components (``weights``, normalised to sum to 1), each over ``x = 1..n_epochs``
    with ``u = x / n_epochs``; ``g`` is a clean curve of the paper's prior:

    * ``paper`` (0.72): the paper's prior unchanged, noise included. It keeps most of the mass
      so that the network stays close to the paper's on curves the paper models well: the
      other 28% cost the Bayes-optimal predictive at most ``log(1/0.72) = 0.33`` nats per point
      on the paper's curves, and in practice far less, since the schedule components share
      their base curve ``g`` (the log-likelihood on the paper's curves is checked in ``lcpfn.md``).
    * ``flat`` (0.08): never learns. ``c + s u``, ``c`` from :func:`chance_levels`,
      a drift ``s ~ U(-0.02, 0.02)``. The largest extra weight: in random and early-rung
      search a sizeable share of configurations (too high or too low a learning rate) never
      learn, and predicting a rise for them is the costliest stopping error.
    * ``diverge`` (0.03): ``g`` up to ``t_d = U(0.05, 0.9) n``, then an exponential
      collapse to a chance level with time constant ``LogU(0.5, 5)`` epochs.
    * ``step`` (0.05): 1-3 step decays at epochs ``U(0.25, 0.9) n``. At each, progress after it
      is damped by ``U(0, 0.5)`` and the curve jumps by ``U(0.05, 0.5)`` of the headroom left
      (``1 - y``), reached with time constant ``U(0.3, 2)`` epochs. Damping plus jump stay
      under the headroom, so curves stay in [0, 1].
    * ``anneal`` (0.05): cosine or linear decay to the end: ``g + A (1 - g) u^p``,
      ``A ~ U(0.1, 0.6)``, ``log p ~ U(log 1.5, log 10)`` (from nearly linear to a rise
      packed into the last tenth).
    * ``warmup`` (0.04): a slow start from below the run's own start: ``s + (g - s) min(1, x /
      T_w)^q``, ``s = U(0, 1) g_1``, ``log T_w ~ U(log 0.03, log 0.6) n``, ``q ~ U(1, 4)``. Long
      ``T_w`` and large ``q`` give a plateau and then a take-off, as when a network sits on a
      saddle before it learns (Dauphin et al., NeurIPS 2014), so a run that is still near its
      start is not certain to stay flat.
    * ``recover`` (0.03): an unstable phase at a high learning rate that calms when the rate
      decays. Until ``t_c = U(0.25, 0.9) n``: ``g`` with 1-4 short dips (spikes), each
      starting at ``U(1, t_c)``, lasting ``LogU(1, 0.1 n)`` epochs (cut at ``t_c``) and falling
      ``U(0.2, 0.9)`` of the way from ``g`` to a chance level; from ``t_c`` on: no dips, and a
      jump by ``U(0, 0.5)`` of the headroom, as at a step decay. The dips are short and do not
      reach chance on purpose: a first version with dips of up to ``t_c / 2`` epochs down to
      chance taught the network that runs sitting at chance for many epochs recover (median
      predicted final 0.75 for diverged runs at chance), and a long collapse stays
      ``diverge``'s. Loss spikes and collapses
      that recover are common at large learning rates (Lewkowycz et al., "The large learning
      rate phase of deep learning: the catapult mechanism", 2020; Cohen et al., "Gradient
      Descent on Neural Networks Typically Occurs at the Edge of Stability", ICLR 2021), and
      ``diverge`` alone taught the network that a run which once collapsed may collapse again
      at any time: on curves that dipped early and then held a high level for many epochs, its
      mean final prediction fell far below the last value (added 2026-12-04, after recorded
      cosine and step-schedule curves, ``benchmarks/schedule_curves.py``, showed it).

    The extra components carry heteroscedastic noise ``sigma_x = sigma (1 + kappa exp(-(x - 1) /
    tau))`` with ``log sigma ~ N(-4.5, 1)``, ``kappa ~ U(0, 4)``, ``tau ~ U(0.05, 0.3) n``, and
    their values are clipped to [0, 1]. None of the ranges is fitted to a curve set: they are
    read off the schedules' definitions and kept wide.
    """

    n_epochs: int = 100
    weights: tuple[tuple[str, float], ...] = (
        ("paper", 0.72), ("flat", 0.08), ("diverge", 0.03), ("step", 0.05), ("anneal", 0.05), ("warmup", 0.04),
        ("recover", 0.03),
    )  # fmt: skip

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` noisy curves, shape ``(n, n_epochs)``, components in random order."""
        names = [name for name, _ in self.weights]
        p = np.array([w for _, w in self.weights], dtype=np.float64)
        counts = rng.multinomial(n, p / p.sum())
        parts = [self.component(name, int(k), rng) for name, k in zip(names, counts, strict=True) if k > 0]
        out = np.concatenate(parts) if parts else np.empty((0, self.n_epochs))
        return out[rng.permutation(len(out))]

    def component(self, name: str, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` noisy curves of one component (see the class docstring)."""
        paper = CurvePrior(self.n_epochs)
        batch = min(4096, max(64, 6 * n))  # about 20% of the paper's draws are accepted
        if name == "paper":
            return paper.sample(n, rng, batch)
        t = np.arange(1, self.n_epochs + 1, dtype=np.float64)[None, :]
        u = t / self.n_epochs
        if name == "flat":
            clean = chance_levels(n, rng) + rng.uniform(-0.02, 0.02, (n, 1)) * u
        elif name == "diverge":
            g = paper.sample_clean(n, rng, batch)
            td = np.ceil(rng.uniform(0.05, 0.9, (n, 1)) * self.n_epochs)
            at = np.take_along_axis(g, td.astype(int) - 1, axis=1)
            floor = np.minimum(chance_levels(n, rng), at)
            tau = np.exp(rng.uniform(np.log(0.5), np.log(5.0), (n, 1)))
            clean = np.where(t <= td, g, floor + (at - floor) * np.exp(-(t - td) / tau))
        elif name == "step":
            clean = self._steps(paper.sample_clean(n, rng, batch), t, rng)
        elif name == "anneal":
            g = paper.sample_clean(n, rng, batch)
            p = np.exp(rng.uniform(np.log(1.5), np.log(10.0), (n, 1)))
            clean = g + rng.uniform(0.1, 0.6, (n, 1)) * (1.0 - g) * u**p
        elif name == "warmup":
            g = paper.sample_clean(n, rng, batch)
            tw = np.exp(rng.uniform(np.log(0.03), np.log(0.6), (n, 1))) * self.n_epochs
            start = g[:, :1] * rng.uniform(0.0, 1.0, (n, 1))  # warm-up starts below where the run would be
            clean = start + (g - start) * np.minimum(1.0, t / tw) ** rng.uniform(1.0, 4.0, (n, 1))
        elif name == "recover":
            clean = self._recover(paper.sample_clean(n, rng, batch), t, rng)
        else:
            raise ValueError(f"unknown prior component {name!r}; known: {[k for k, _ in self.weights]}")
        sigma = np.exp(rng.normal(-4.5, 1.0, (n, 1)))
        scale = sigma * (1.0 + rng.uniform(0.0, 4.0, (n, 1)) * np.exp(-(t - 1) / (rng.uniform(0.05, 0.3, (n, 1)) * self.n_epochs)))
        return np.clip(clean + scale * rng.standard_normal(clean.shape), 0.0, 1.0)

    @staticmethod
    def _steps(g: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, n_epochs = g.shape
        y = g.copy()
        m = rng.integers(1, 4, n)
        at = np.sort(np.ceil(rng.uniform(0.25, 0.9, (n, 3)) * n_epochs), axis=1)
        for j in range(3):
            live = (m > j)[:, None]
            tj = at[:, j : j + 1]
            before = np.take_along_axis(y, np.maximum(tj.astype(int) - 2, 0), axis=1)  # the value just before the step
            after = (t >= tj) & live
            damp = rng.uniform(0.0, 0.5, (n, 1))
            jump = rng.uniform(0.05, 0.5, (n, 1)) * (1.0 - before)
            y = np.where(after, before + (y - before) * damp + jump * _rise(t, tj, rng), y)
        return y


    @staticmethod
    def _recover(g: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Dips before a calm epoch ``t_c``, none after it, and a jump at it (the class docstring's ``recover``)."""
        n, n_epochs = g.shape
        tc = np.ceil(rng.uniform(0.25, 0.9, (n, 1)) * n_epochs)
        floor = np.minimum(chance_levels(n, rng), g)
        depth = np.zeros_like(g)
        k = rng.integers(1, 5, n)
        for j in range(4):
            begin = np.floor(rng.uniform(1.0, tc))
            length = np.exp(rng.uniform(0.0, np.log(max(0.1 * n_epochs, 1.0)), (n, 1)))
            dip = (t >= begin) & (t < np.minimum(begin + length, tc)) & (k > j)[:, None]
            depth = np.where(dip, np.maximum(depth, rng.uniform(0.2, 0.9, (n, 1))), depth)
        jump = rng.uniform(0.0, 0.5, (n, 1)) * (1.0 - g)  # a share of the headroom left
        return np.where(t < tc, g - depth * (g - floor), g + jump * _rise(t, tc, rng))


def _rise(t: np.ndarray, t0: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``1 - exp(-(t - t0 + 1) / tau)``, ``tau ~ U(0.3, 2)`` epochs per curve: how far a jump at ``t0`` has got."""
    return 1.0 - np.exp(-(t - t0 + 1) / rng.uniform(0.3, 2.0, (len(t0), 1)))


PRIORS = {"paper": CurvePrior, "mixture": MixturePrior}
