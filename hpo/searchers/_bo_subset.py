"""Which observations a BO model fits once there are many: a subset of data.

An exact GP costs `O(n^3)` to fit and `O(n)` per prediction, and qLogNEI draws joint
samples over its baseline; past a few thousand observations a suggestion would take
minutes and gigabytes. So past a cap the model is fitted on a subset, the
"subset of data" approximation (Rasmussen & Williams, *Gaussian Processes for Machine
Learning*, 2006, §8.3.3), chosen as:

* always the best ``BEST_FRACTION`` of the cap by value (the region expected improvement
  looks at, which local models such as TuRBO, Eriksson et al., "Scalable Global
  Optimization via Local Bayesian Optimization", NeurIPS 2019, fit exclusively), with
  the single best point first among them;
* the rest drawn uniformly at random, without replacement, from the remaining points,
  with the searcher's own seeded ``numpy.random.Generator`` (so a seeded searcher stays
  deterministic), which keeps a global picture of the space.

The same rule, best quarter plus a seeded random rest, is what
:class:`~hpo.surrogates.gp.GPSurrogate` applies inside itself (``max_points``); this cap
sits in front of every surrogate and of the acquisition's baseline, so the forest, the
BNNs and qLogNEI's pruning are bounded too. :func:`subsample` is the shared primitive:
``fidelity_model="input"`` (:mod:`hpo.searchers._bo_fidelity`) uses it with its own
"always kept" rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["MAX_FIT_POINTS", "BEST_FRACTION", "subsample", "fit_subset"]

#: Default cap of ``BOSearcher(max_fit_points=...)`` and :func:`~hpo.searchers.bo.propose`.
#: Chosen by measurement (``benchmarks/results/scale.md``; Hartmann-6, 10,000 observations,
#: CPU seconds per suggestion on a shared 2-core machine): with 2 running trials (qLogNEI,
#: whose baseline is the fitted subset) a cap of 250 took 0.63 s, 500 took 0.68 s and
#: 1,000 took 2.0 s (peak RSS 0.56, 0.66, 0.89 GB); without running trials about 0.3 s for
#: each. 500 keeps a suggestion well under a second either way.
MAX_FIT_POINTS = 500
#: Share of the cap always given to the best observations.
BEST_FRACTION = 0.25


def subsample(keep: np.ndarray, rest: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices: all of ``keep``, then a uniform draw from ``rest`` up to ``cap`` rows in all.

    Args:
        keep: Rows always kept, in the order given.
        rest: Rows to draw from (disjoint from ``keep``).
        cap: Most rows returned (fewer only when ``keep`` and ``rest`` together are fewer;
            more when ``keep`` alone exceeds it: those are never dropped).
        rng: Draws the random rows (without replacement), which are returned sorted.

    Returns:
        `k`-dim integer array: ``keep`` followed by the drawn rows.
    """
    import numpy as np

    keep = np.asarray(keep, dtype=int)
    rest = np.asarray(rest, dtype=int)
    if len(keep) + len(rest) > cap:
        rest = np.sort(rng.choice(rest, size=max(0, cap - len(keep)), replace=False))
    return np.concatenate([keep, rest]).astype(int)


def fit_subset(
    y: np.ndarray,
    cap: int | None,
    rng: np.random.Generator,
    always: np.ndarray | None = None,
    best_fraction: float = BEST_FRACTION,
) -> np.ndarray | None:
    """The rows of `n`-dim targets ``y`` (maximized) a model fits, or None for all of them.

    Args:
        y: `n`-dim targets, larger is better.
        cap: Most rows; None, or ``n <= cap``, means every row (None is returned and
            ``rng`` is not touched, so small studies draw exactly as without a cap).
        rng: The searcher's generator, for the random rest.
        always: Extra rows kept whatever their value (e.g. the incumbent of a target
            fidelity), ahead of the best ones.
        best_fraction: Share of ``cap`` given to the best rows.

    Returns:
        Sorted `k`-dim row indices with ``k == cap`` (when ``n > cap``), holding the
        ``always`` rows and the ``ceil(best_fraction * cap)`` best rows, or None.
    """
    import numpy as np

    y = np.asarray(y, dtype=float).reshape(-1)
    if cap is None or len(y) <= cap:
        return None
    order = np.argsort(-y, kind="stable")
    n_best = min(cap, max(1, int(np.ceil(best_fraction * cap))))
    first = [] if always is None else [int(i) for i in np.asarray(always, dtype=int).reshape(-1)]
    keep = list(dict.fromkeys([*first, *(int(i) for i in order[:n_best])]))[: max(cap, len(first))]
    taken = np.zeros(len(y), dtype=bool)
    taken[keep] = True
    return np.sort(subsample(np.asarray(keep), np.flatnonzero(~taken), cap, rng))
