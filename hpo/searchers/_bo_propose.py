"""The BO engine: fit a surrogate, maximize an acquisition, return unit-cube points.

Split out of :mod:`hpo.searchers.bo` (which re-exports :func:`propose`) by
responsibility: :class:`~hpo.searchers.bo.BOSearcher` decides *which* observations and
settings, this module turns them into proposals. Shared with
:class:`hpo.integrations.optuna.HPOSampler`.

Reference: Jones, Schonlau & Welch, "Efficient Global Optimization of Expensive
Black-Box Functions", 1998 (EI); Ament et al., NeurIPS 2023 (LogEI, qLogNEI);
Balandat et al., "BoTorch", NeurIPS 2020. The cap on fitted points:
:mod:`hpo.searchers._bo_subset`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hpo.presets import ACQUISITIONS
from hpo.search_spaces import SearchSpace
from hpo.searchers._bo_subset import MAX_FIT_POINTS, fit_subset
from hpo.searchers._warp import warp_targets

if TYPE_CHECKING:
    import numpy as np

    from hpo.surrogates.base import BaseSurrogate

__all__ = ["propose", "cat_dims", "check_cap"]


def check_cap(max_fit_points: int | None) -> int | None:
    """``max_fit_points`` if it is None or an integer of at least 2.

    Raises:
        ValueError: otherwise.
    """
    if max_fit_points is not None and (isinstance(max_fit_points, bool) or not isinstance(max_fit_points, int) or max_fit_points < 2):
        raise ValueError(f"max_fit_points must be an integer >= 2 or None, got {max_fit_points!r}")
    return max_fit_points


def cat_dims(space: SearchSpace) -> dict[int, int]:
    """Column -> number of categories of the space's categorical columns (what surrogates take)."""
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
    fixed: Mapping[int, float] | None = None,
    incumbent: np.ndarray | None = None,
    cost: tuple[Any, np.ndarray, np.ndarray, float] | None = None,
    max_fit_points: int | None = MAX_FIT_POINTS,
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
        fixed: Column -> unit-cube value every proposed point keeps (e.g. a ``Choice``
            selector: search one branch; a fidelity column: propose at that fidelity).
        incumbent: `m`-dim boolean mask of the observations the incumbent (EI's best
            value, the local starts, the noisy-EI baseline) comes from; all by default.
        cost: For ``"ei_per_cost"``/``"ei_cool"``: ``(log-cost surrogate, `c x d`-dim
            encoded configs, `c`-dim log costs, alpha)``; the score is then
            ``log EI - alpha * mu_logcost`` (:class:`~hpo.acquisition.CostWeighted`). Without
            it those acquisitions are plain LogEI.
        max_fit_points: With more observations, the surrogate is fitted on this many:
            the best quarter (the incumbent always among them) and a uniform draw from
            ``rng`` of the rest (:func:`hpo.searchers._bo_subset.fit_subset`); qLogNEI's
            baseline is that subset too. EI's best value and the local starts still come
            from the best of *all* observations. None: no cap.

    Raises:
        ValueError: for an unknown acquisition or a ``max_fit_points`` below 2.
    """
    import torch

    if acquisition not in ACQUISITIONS:
        raise ValueError(f"unknown acquisition {acquisition!r}; choose from {ACQUISITIONS}")
    check_cap(max_fit_points)
    # The many tiny tensor operations of fitting and acquisition optimization run faster on
    # one thread than with intra-op parallelism; the caller's setting is restored after.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _propose(space, x_obs, warp_targets(y_obs, warp)[0], x_pending, surrogate, acquisition, rng, n, fixed, incumbent,
                        cost, max_fit_points)
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
    fixed: Mapping[int, float] | None = None,
    incumbent: np.ndarray | None = None,
    cost: tuple[Any, np.ndarray, np.ndarray, float] | None = None,
    max_fit_points: int | None = MAX_FIT_POINTS,
) -> np.ndarray:
    import numpy as np
    import torch

    from hpo.acquisition import (
        UCB,
        CostWeighted,
        LogEI,
        QLogNEI,
        ThompsonSampling,
        optimize_acquisition,
    )

    rows = np.ones(len(y_obs), dtype=bool) if incumbent is None or not np.any(incumbent) else np.asarray(incumbent, dtype=bool)
    x_inc, y_inc = x_obs[rows], y_obs[rows]  # every observation: the true incumbent
    fit_rows = fit_subset(y_obs, max_fit_points, rng, always=np.flatnonzero(rows)[[int(np.argmax(y_inc))]])
    if fit_rows is not None:  # past the cap: the model and qLogNEI's baseline see a subset
        x_obs, y_obs, rows = x_obs[fit_rows], y_obs[fit_rows], rows[fit_rows]
    surrogate.fit(x_obs, y_obs, cat_dims(space))
    if cost is not None:
        cost[0].fit(cost[1], cost[2], cat_dims(space))
    pending = np.zeros((0, space.d)) if x_pending is None else np.asarray(x_pending, dtype=float).reshape(-1, space.d)
    # Local starts: the incumbent and multi-scale Gaussian perturbations of it.
    best = x_inc[int(np.argmax(y_inc))]
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
            # Only the surrogate's joint samples are used, so any surrogate serves here.
            acq = QLogNEI(
                surrogate,
                torch.as_tensor(x_obs[rows], dtype=torch.float64),
                torch.as_tensor(pending, dtype=torch.float64),
                seed=int(rng.integers(2**31)),
            )
        else:
            acq = LogEI(surrogate, best_f=float(np.max(y_inc)))
        if cost is not None and isinstance(acq, (LogEI, QLogNEI)):
            acq = CostWeighted(acq, cost[0], cost[3])
        x, _ = optimize_acquisition(acq, space, rng, extra_starts=np.clip(local, 0.0, 1.0), fixed=fixed)
        out.append(x)
        pending = np.vstack([pending, x[None, :]])
    return np.asarray(out)
