"""Bayesian optimization: a surrogate plus an acquisition, after a Sobol initial design.

:func:`propose` is the engine, shared by :class:`BOSearcher` (hyperbandit studies) and
:class:`hpo.integrations.optuna.HPOSampler` (Optuna studies).

Reference: Jones, Schonlau & Welch, "Efficient Global Optimization of Expensive
Black-Box Functions", 1998 (EI); Ament et al., NeurIPS 2023 (LogEI, qLogNEI);
Balandat et al., "BoTorch", NeurIPS 2020.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from hpo.search_spaces import SearchSpace
from hpo.searchers._warp import WARPS, warp_targets
from hpo.searchers.base import BaseSearcher
from hpo.searchers.sobol import SobolSearcher
from hpo.trial import Trial, TrialStatus

if TYPE_CHECKING:
    import numpy as np

    from hpo.surrogates.base import BaseSurrogate

__all__ = ["BOSearcher", "thompson_bo", "propose", "ACQUISITIONS"]

ACQUISITIONS = ("logei", "ucb", "ts", "qlognei")


def _cat_dims(space: SearchSpace) -> dict[int, int]:
    return {j: dim.n_choices for j, dim in enumerate(space.dims) if dim.kind == "categorical"}


def propose(
    space: SearchSpace,
    x_obs: np.ndarray,
    y_obs: np.ndarray,
    x_pending: np.ndarray | None,
    surrogate: BaseSurrogate,
    acquisition: str,
    rng: np.random.Generator,
    n: int = 1,
    warp: str = "auto",
) -> np.ndarray:
    """Fit ``surrogate`` and return `n x d`-dim unit-cube points maximizing the acquisition.

    Args:
        space: The search space.
        x_obs: `m x d`-dim encoded observations.
        y_obs: `m`-dim targets, to be **maximized**.
        x_pending: `p x d`-dim encoded running configs (or None).
        surrogate: Any :class:`~hpo.surrogates.BaseSurrogate`.
        acquisition: ``"logei"`` (LogEI; qLogNEI when there are pending points),
            ``"qlognei"``, ``"ucb"`` or ``"ts"`` (Thompson sampling on a candidate set).
        rng: Generator for raw samples and local perturbations.
        n: Number of points; the 2nd..n-th treat the earlier ones as pending.
        warp: Output warp of the targets before fitting (see :mod:`hpo.searchers._warp`):
            ``"auto"``, ``"log"`` or ``"none"``.
    """
    import torch

    if acquisition not in ACQUISITIONS:
        raise ValueError(f"unknown acquisition {acquisition!r}; choose from {ACQUISITIONS}")
    # The many tiny tensor operations of fitting and acquisition optimization run faster on
    # one thread than with intra-op parallelism; the caller's setting is restored after.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _propose(space, x_obs, warp_targets(y_obs, warp)[0], x_pending, surrogate, acquisition, rng, n)
    finally:
        torch.set_num_threads(threads)


def _propose(
    space: SearchSpace,
    x_obs: np.ndarray,
    y_obs: np.ndarray,
    x_pending: np.ndarray | None,
    surrogate: BaseSurrogate,
    acquisition: str,
    rng: np.random.Generator,
    n: int,
) -> np.ndarray:
    import warnings

    import numpy as np
    import torch
    from botorch.exceptions.warnings import BotorchWarning
    from linear_operator.utils.warnings import NumericalWarning

    from hpo.acquisition import UCB, LogEI, QLogNEI, ThompsonSampling, optimize_acquisition

    surrogate.fit(x_obs, y_obs, _cat_dims(space))
    pending = np.zeros((0, space.d)) if x_pending is None else np.asarray(x_pending, dtype=float).reshape(-1, space.d)
    # Local starts: the incumbent and multi-scale Gaussian perturbations of it.
    best = x_obs[int(np.argmax(y_obs))]
    scales = np.repeat([0.1, 0.02, 0.004], 22)[:, None]
    local = np.vstack([best[None, :], best[None, :] + rng.normal(0.0, 1.0, size=(len(scales), space.d)) * scales])
    out = []
    for _ in range(n):
        if acquisition == "ucb":
            acq: Any = UCB(surrogate)
        elif acquisition == "ts":
            gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
            acq = ThompsonSampling(surrogate, gen)
        elif acquisition == "qlognei" or len(pending):
            acq = QLogNEI(
                surrogate,
                torch.as_tensor(x_obs, dtype=torch.float64),
                torch.as_tensor(pending, dtype=torch.float64),
                seed=int(rng.integers(2**31)),
            )
        else:
            acq = LogEI(surrogate, best_f=float(np.max(y_obs)))
        with warnings.catch_warnings():
            # Jitter added to near-singular posterior covariances (pending points close to
            # observations) is expected; BoTorch/linear_operator warn about it.
            warnings.simplefilter("ignore", category=NumericalWarning)
            warnings.simplefilter("ignore", category=BotorchWarning)
            x, _ = optimize_acquisition(acq, space, rng, extra_starts=np.clip(local, 0.0, 1.0))
        out.append(x)
        pending = np.vstack([pending, x[None, :]])
    return np.asarray(out)


class BOSearcher(BaseSearcher):
    """GP (or any surrogate) Bayesian optimization with a scrambled-Sobol initial design.

    Args:
        space: The search space.
        seed: Seed for the design, raw samples and MC samples.
        surrogate: ``"gp"`` or a :class:`~hpo.surrogates.BaseSurrogate`.
        acquisition: ``"logei"`` (default), ``"qlognei"``, ``"ucb"`` or ``"ts"``. With
            ``"logei"``, suggestions made while trials run use qLogNEI with the running
            configs as ``X_pending``.
        n_init: Initial design size; ``max(5, d + 1)`` by default.
        warp: Output warp (``"auto"``: a Yeo-Johnson power transform of the gaps to the
            incumbent with the exponent chosen by maximum likelihood, as in HEBO;
            ``"log"``; ``"none"``). See :mod:`hpo.searchers._warp`.

    Failed and pruned trials are left out of the model. Completed trials whose metric is
    not finite never reach it either (the study records them FAILED).
    """

    uses_history: ClassVar[bool] = True
    supports_pending: ClassVar[bool] = True

    def __init__(
        self,
        space: SearchSpace,
        seed: int | None = None,
        surrogate: Any = "gp",
        acquisition: str = "logei",
        n_init: int | None = None,
        warp: str = "auto",
    ) -> None:
        super().__init__(space, seed)
        if warp not in WARPS:
            raise ValueError(f"unknown output warp {warp!r}; choose from {WARPS}")
        self.warp = warp
        from hpo.surrogates import make_surrogate

        if acquisition not in ACQUISITIONS:
            raise ValueError(f"unknown acquisition {acquisition!r}; choose from {ACQUISITIONS}")
        self.surrogate = make_surrogate(surrogate, seed=seed or 0) if isinstance(surrogate, str) else surrogate
        self.acquisition = acquisition
        self.n_init = n_init if n_init is not None else max(5, space.d + 1)
        self._design = SobolSearcher(space, seed)
        self._n_suggested = 0
        self._x: list[list[float]] = []
        self._y: list[float] = []

    def observe(self, trials: Sequence[Trial]) -> None:
        done = [t for t in trials if t.status is TrialStatus.COMPLETED and t.value is not None and math.isfinite(t.value)]
        if done:
            self._x.extend(self.space.encode([t.config for t in done]).tolist())
            self._y.extend(self.sign * float(t.value) for t in done)  # type: ignore[arg-type]
        super().observe(trials)
        if len(trials) > 1:  # history replay: the design already handed out these points
            self._design.observe(trials)
            self._n_suggested = max(self._n_suggested, self.n_observed)

    def reset(self) -> None:
        super().reset()
        self._x.clear()
        self._y.clear()

    def suggest(self, n: int, pending: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        import numpy as np

        out: list[dict[str, Any]] = []
        while len(out) < n and (self._n_suggested < self.n_init or not self._y):
            out.extend(self._design.suggest(1))
            self._n_suggested += 1
        if len(out) < n:
            x_pending = self.space.encode(list(pending) + out) if (pending or out) else None
            points = propose(
                self.space,
                np.asarray(self._x),
                np.asarray(self._y),
                x_pending,
                self.surrogate,
                self.acquisition,
                self.rng,
                n - len(out),
                self.warp,
            )
            out.extend(self.space.decode(points))
            self._n_suggested += len(points)
        return out


def thompson_bo(space: SearchSpace, seed: int | None = None, **kwargs: Any) -> BOSearcher:
    """``BOSearcher`` that picks by Thompson sampling (registered as ``"bo-ts"``).

    One joint GP posterior draw over the candidate set: parallel workers get different
    configs without pending-point integration, at about a fifth of qLogNEI's cost per
    suggestion. It is the default searcher of ``scheduler="asha"``, whose many short
    trials ask for a config often (``benchmarks/results/multifidelity.md``: model-based
    ASHA with it is our best multi-fidelity method on LCBench). Kandasamy et al.,
    "Parallelised Bayesian Optimisation via Thompson Sampling", AISTATS 2018.
    """
    return BOSearcher(space, seed=seed, acquisition="ts", **kwargs)
