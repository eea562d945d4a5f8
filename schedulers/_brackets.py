"""Which bracket a new ASHA trial starts in: asynchronous Hyperband's bracket weights.

Asynchronous Hyperband (Li et al., "A System for Massively Parallel Hyperparameter Tuning",
MLSys 2020, Section 3.3) runs ASHA brackets side by side: bracket ``s`` starts its configs
at rung ``s`` (budget ``r_s``) and promotes within its own rungs. A new config picks its
bracket at random:

* ``"hyperband"``: with probability proportional to the slots bracket ``s`` has in
  synchronous Hyperband per unit of budget, ``S / ((S - s) * r_s)`` for ``S`` rungs
  (Syne Tune's ``DefaultHyperbandBracketDistribution``); truncated to the first ``n``
  brackets and renormalized.
* ``"trust"``: the **lowest trusted rung**. Each rung has a trust in ``[0, 1]`` from how
  well it orders trials as a higher rung does: Kendall's tau between rung ``s`` and the
  highest rung with at least :data:`MIN_COMMON` trials in common with it, mapped to 0 at
  tau <= 0 and 1 at tau >= 0.5 (:func:`hpo._rank.trust_from_tau`, the rule ``BOSearcher``
  uses for its model's share). A rung with no such evidence yet is trusted, and so is the
  top rung. A new config starts at rung ``s`` with probability
  ``trust_s * prod_{j<s} (1 - trust_j)`` (the last bracket takes what is left): while the
  bottom rung's ranks agree with later ones this is plain ASHA; a first epoch whose ranks
  say nothing about the last (common in deep learning: warm-up, learning-rate schedules,
  a learner that shines on a small data fraction) stops receiving new configs, which start
  one rung up instead. The evidence keeps coming: a trial started higher still reports the
  lower rungs' epochs on its way (:meth:`hpo.schedulers.ASHA.on_report` records them).
  Measured (``benchmarks/results/robustness.md``, 8 LCBench tasks, 10 seeds): model-based
  ASHA's final regret on 146212 (epoch 1 ranks reversed) falls from 1.87 to 0.17, level on
  4 tasks, worse on 189906 (bimodal) and 126026 and slower early on 5; so ASHA keeps
  ``brackets=1`` by default.
* ``"hyperband-trust"``: Hyperband's weights times each starting rung's trust (tried first;
  it spreads new configs over expensive high brackets and lost to ASHA on 6 of 8 LCBench
  tasks, ``benchmarks/results/robustness.md``).

``"trust"`` follows the lesson of Hyper-Tune (Li et al., "Hyper-Tune: Towards Efficient
Hyper-parameter Tuning at Scale", VLDB 2022): trust a low rung only as far as its ranks
agree with higher rungs. Deviation from Hyper-Tune: Hyper-Tune's bracket probabilities are
``theta_s / r_s``, with ``theta`` the share of GP posterior samples in which rung ``s``
has the lowest ranking loss against the top rung (the top rung by cross-validation); that
needs a model per rung, and ``theta`` then piles onto the highest lower rung, which is
nearest the top. Ours needs no model (plain ASHA uses it too) and, where the ranks agree,
is ASHA itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["BRACKET_WEIGHTS", "MIN_COMMON", "bracket_weights", "hyperband_weights", "rung_trust"]

BRACKET_WEIGHTS = ("trust", "hyperband", "hyperband-trust")
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

    Args:
        rungs: The rung budgets, lowest first.
        n_brackets: Brackets in use (bracket ``s`` starts at ``rungs[s]``).
        mode: One of :data:`BRACKET_WEIGHTS`.
        level_values: Per rung, trial id -> value (any sign consistent across rungs).
    """
    if n_brackets == 1:
        return [1.0]
    if mode == "hyperband":
        return hyperband_weights(rungs, n_brackets)
    trusts = [rung_trust(level_values, s)[0] for s in range(n_brackets)]
    if mode == "trust":
        out, rest = [], 1.0
        for trust in trusts[:-1]:
            out.append(rest * trust)
            rest *= 1.0 - trust
        return [*out, rest]
    weights = [w * t for w, t in zip(hyperband_weights(rungs, n_brackets), trusts, strict=True)]
    total = sum(weights)
    if total <= 0:  # no bracket trusted: the one that starts highest
        return [0.0] * (n_brackets - 1) + [1.0]
    return [w / total for w in weights]
