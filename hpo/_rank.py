"""Rank agreement between two rungs (fidelities): one rule for the searcher and the schedulers.

``BOSearcher``'s rung trust (:mod:`hpo.searchers._bo_policies`) and ASHA's bracket weights
(:mod:`hpo.schedulers._brackets`) both ask how far the values at a lower fidelity order
trials as the values at a higher one do: Kendall's tau over the trials measured at both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["MIN_COMMON", "kendall_agreement", "positive_rank_probability", "trust_from_tau"]

#: Kendall's tau at which a rung is fully trusted (0 at tau <= 0, linear in between).
FULL_TRUST_TAU = 0.5
#: Fewest trials two fidelities must share for their tau to count (Hyper-Tune: 6).
MIN_COMMON = 6


def kendall_agreement(low: Mapping[int, float], high: Mapping[int, float], min_common: int = 5) -> tuple[float, int] | None:
    """``(tau, n)``: Kendall's tau-b between ``low`` and ``high`` over their ``n`` common trials.

    Args:
        low: Trial id -> value at the lower fidelity (any consistent sign).
        high: Trial id -> value at the higher fidelity (same sign).
        min_common: Fewest common trials for an answer.

    Returns:
        None with fewer than ``min_common`` common trials; tau is 0 when it is undefined
        (all values tied on one side).
    """
    import numpy as np
    from scipy.stats import kendalltau

    common = sorted(set(low) & set(high))
    if len(common) < min_common:
        return None
    a = np.array([low[t] for t in common], dtype=float)
    b = np.array([high[t] for t in common], dtype=float)
    tau = kendalltau(a, b).statistic
    return (float(tau) if np.isfinite(tau) else 0.0), len(common)


def trust_from_tau(tau: float) -> float:
    """Trust in a rung from its tau with a higher one: 0 at tau <= 0, 1 at tau >= 0.5, linear between."""
    return min(1.0, max(0.0, tau / FULL_TRUST_TAU))


def positive_rank_probability(tau: float, n: int) -> float:
    """P(the rungs' ranks correlate positively): ``Phi(tau / sd0(n))``.

    ``sd0(n) = sqrt(2 (2n + 5) / (9 n (n - 1)))`` is Kendall's tau's standard deviation
    for ``n`` independent pairs (Kendall, 1938); the normal approximation of the
    evidence that tau > 0, with no constant to tune.
    """
    sd = math.sqrt(2.0 * (2 * n + 5) / (9.0 * n * (n - 1)))
    return 0.5 * (1.0 + math.erf(tau / sd / math.sqrt(2.0)))
