"""Which bracket a new ASHA trial starts in: asynchronous Hyperband's bracket weights.

Asynchronous Hyperband (Li et al., "A System for Massively Parallel Hyperparameter Tuning",
MLSys 2020, Section 3.3) runs ASHA brackets side by side: bracket ``s`` starts its configs
at rung ``s`` (budget ``r_s``) and promotes within its own rungs. A new config picks its
bracket at random:

* ``"hyperband"``: with probability proportional to the slots bracket ``s`` has in
  synchronous Hyperband per unit of budget, ``S / ((S - s) * r_s)`` for ``S`` rungs
  (Syne Tune's ``DefaultHyperbandBracketDistribution``); truncated to the first ``n``
  brackets and renormalized.
* ``"rank"``: those weights times the **trust** in the bracket's starting rung, from how
  well that rung orders trials as a higher rung does: Kendall's tau between rung ``s`` and
  the highest rung that has at least :data:`MIN_COMMON` trials in common with it, mapped
  to 0 at tau <= 0 and 1 at tau >= 0.5 (:func:`hpo._rank.trust_from_tau`, the rule
  ``BOSearcher`` uses for its model's share). A rung with no such evidence yet is trusted,
  and so is the top rung (a bracket that starts there runs every config to the full
  budget). So a first epoch whose ranks say nothing about the last (common in deep learning:
  warm-up, learning-rate schedules) stops receiving new configs, and its budget goes to
  brackets that start where ranks agree.

``"rank"`` follows the lesson of Hyper-Tune (Li et al., "Hyper-Tune: Towards Efficient
Hyper-parameter Tuning at Scale", VLDB 2022): trust a low rung only as far as its ranks
agree with higher rungs. Deviation from Hyper-Tune: Hyper-Tune's bracket probabilities are
``theta_s / r_s``, with ``theta`` the share of GP posterior samples in which rung ``s``
has the lowest ranking loss against the top rung (the top rung by cross-validation); that
needs a model per rung, and ``theta`` then piles onto the highest lower rung, which is
nearest the top. Ours needs no model (plain ASHA uses it too) and keeps Hyperband's hedge
over brackets wherever the ranks agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["BRACKET_WEIGHTS", "MIN_COMMON", "bracket_weights", "hyperband_weights", "rung_trust"]

BRACKET_WEIGHTS = ("hyperband", "rank")
#: Fewest trials a rung must share with a higher one for its tau to count (Hyper-Tune: 6).
MIN_COMMON = 6


def hyperband_weights(rungs: Sequence[float], n_brackets: int) -> list[float]:
    """Normalized weights of brackets ``0 .. n_brackets - 1``: ``S / ((S - s) * r_s)``."""
    size = len(rungs)
    raw = [size / ((size - s) * rungs[s]) for s in range(n_brackets)]
    total = sum(raw)
    return [w / total for w in raw]


def rung_trust(level_values: Sequence[Mapping[int, float]], s: int) -> tuple[float, float | None, int | None]:
    """``(trust, tau, higher rung)`` of rung ``s`` from its highest well-supported successor.

    Args:
        level_values: Per rung, trial id -> signed value (larger is better).
        s: The rung.

    Returns:
        Trust 1 with ``tau`` and the rung None when no higher rung shares
        :data:`MIN_COMMON` trials with rung ``s`` (or ``s`` is the top rung).
    """
    from hpo._rank import kendall_agreement, trust_from_tau

    for k in range(len(level_values) - 1, s, -1):
        agreement = kendall_agreement(level_values[s], level_values[k], MIN_COMMON)
        if agreement is not None:
            return trust_from_tau(agreement[0]), agreement[0], k
    return 1.0, None, None


def bracket_weights(rungs: Sequence[float], n_brackets: int, mode: str, level_values: Sequence[Mapping[int, float]]) -> list[float]:
    """The probability of each bracket for the next new trial (see the module docstring).

    When every bracket has trust 0, the last bracket (the one that starts highest) gets it all.
    """
    weights = hyperband_weights(rungs, n_brackets)
    if mode == "hyperband" or n_brackets == 1:
        return weights
    weights = [w * rung_trust(level_values, s)[0] for s, w in enumerate(weights)]
    total = sum(weights)
    if total <= 0:
        return [0.0] * (n_brackets - 1) + [1.0]
    return [w / total for w in weights]
