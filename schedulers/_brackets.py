"""Which bracket a new ASHA trial starts in: asynchronous Hyperband's bracket weights.

Asynchronous Hyperband (Li et al., "A System for Massively Parallel Hyperparameter Tuning",
MLSys 2020, Section 3.3) runs ASHA brackets side by side: bracket ``s`` starts its configs
at rung ``s`` (budget ``r_s``) and promotes within its own rungs. A new config picks its
bracket at random:

* ``"hyperband"``: with probability proportional to the slots bracket ``s`` has in
  synchronous Hyperband per unit of budget, ``S / ((S - s) * r_s)`` for ``S`` rungs
  (Syne Tune's ``DefaultHyperbandBracketDistribution``); truncated to the first ``n``
  brackets and renormalized.
* ``"trust"``: the **lowest trusted rung**. Each rung has a trust in ``[0, 1]``: the
  probability that its ranks correlate *positively* with a higher rung's,
  ``Phi(tau / sd0(n))`` (:func:`positive_rank_probability`), from Kendall's tau over the
  ``n`` trials it shares with the highest rung that shares at least :data:`MIN_COMMON`.
  Why the sign and not the size of tau: successive halving from rung ``s`` buys ``eta``
  configs at rung ``s`` for about the price of one at rung ``s + 1`` and keeps the best
  looking; under any non-negative rank correlation that pick is no worse than a random one
  of them, so starting lower pays unless the ranks are reversed. A rung with no such
  evidence yet is trusted, and so is the top rung. A new config starts at rung ``s`` with
  probability ``trust_s * prod_{j<s} (1 - trust_j)`` (the last bracket takes what is
  left): while the bottom rung's ranks clearly agree with later ones this is plain ASHA
  (with few shared trials P(tau > 0) stays below 1 and some configs start higher); a first
  epoch that ranks configs backwards (warm-up, learning-rate schedules, a learner that
  shines on a small data fraction) stops receiving new configs, which start one rung up
  instead. The evidence keeps coming: a trial started higher still reports the lower
  rungs' epochs on its way (:meth:`hpo.schedulers.ASHA.on_report` records them).
  Measured (``benchmarks/results/robustness.md``, 10 seeds): with model-based ASHA, final
  median regret lower than plain ASHA's on 6 of 8 LCBench tasks (146212: 0.21 against
  1.87), within the quartiles on the other 2; on the live digits and CASH tasks level or
  one validation sample behind; on the live cosine-schedule task (20 seeds, first-epoch
  ranks agreeing, tau 0.6) behind plain ASHA (0.477 against 0.358 with random configs):
  with few trials per rung P(tau > 0) stays below 1, so some configs start a rung up.
* ``"trust-linear"``: the same cascade with the trust of ``BOSearcher``'s model share, 0 at
  tau <= 0 and 1 at tau >= 0.5 (:func:`hpo._rank.trust_from_tau`); tried first (named
  ``"trust"`` at commit 7f61768). On 8 LCBench tasks, 10 seeds
  (``benchmarks/results/robustness.md``) it cut model-based ASHA's final regret on 146212
  (epoch 1 ranks reversed) from 1.87 to 0.17, was level on 4 tasks, worse on 189906 and
  126026 and slower early on 5: a weakly but positively informative first rung
  (tau 0.1-0.3) got half trust, so too many configs started higher, at 3-9 times the price.
* ``"hyperband-trust"``: Hyperband's weights times each starting rung's trust (tried first;
  it spreads new configs over expensive high brackets and lost to ASHA on 6 of 8 LCBench
  tasks, ``benchmarks/results/robustness.md``).

``"trust"`` follows the lesson of Hyper-Tune (Li et al., "Hyper-Tune: Towards Efficient
Hyper-parameter Tuning at Scale", VLDB 2022): trust a low rung only as far as its ranks
agree with higher rungs. Deviation from Hyper-Tune: Hyper-Tune's bracket probabilities are
``theta_s / r_s``, with ``theta`` the share of GP posterior samples in which rung ``s``
has the lowest ranking loss against the top rung (the top rung by cross-validation); that
needs a model per rung, and ``theta`` then piles onto the highest lower rung, which is
nearest the top. Ours needs no model (plain ASHA uses it too) and, where the ranks clearly
agree, is ASHA itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hpo._rank import MIN_COMMON, positive_rank_probability

__all__ = [
    "BRACKET_WEIGHTS", "MIN_COMMON", "bracket_weights", "hyperband_weights", "positive_rank_probability", "rung_trust",
    "trust_rule",
]

BRACKET_WEIGHTS = ("trust", "trust-linear", "hyperband", "hyperband-trust")


def hyperband_weights(rungs: Sequence[float], n_brackets: int) -> list[float]:
    """Normalized weights of brackets ``0 .. n_brackets - 1``: ``S / ((S - s) * r_s)``."""
    size = len(rungs)
    raw = [size / ((size - s) * rungs[s]) for s in range(n_brackets)]
    total = sum(raw)
    return [w / total for w in raw]


def trust_rule(mode: str) -> str:
    """The :func:`rung_trust` rule behind a ``bracket_weights`` mode (``"trust"``: ``"positive"``)."""
    return "positive" if mode == "trust" else "linear"


def rung_trust(level_values: Sequence[Mapping[int, float]], s: int, rule: str = "positive") -> tuple[float, float | None, int | None]:
    """``(trust, tau, higher rung)`` of rung ``s`` from its highest well-supported successor.

    Args:
        level_values: Per rung, trial id -> signed value (larger is better).
        s: The rung.
        rule: ``"positive"``: :func:`positive_rank_probability`; ``"linear"``: 0 at
            tau <= 0, 1 at tau >= 0.5 (:func:`hpo._rank.trust_from_tau`).

    Returns:
        Trust 1 with ``tau`` and the rung None when no higher rung shares
        :data:`MIN_COMMON` trials with rung ``s`` (or ``s`` is the top rung).
    """
    from hpo._rank import kendall_agreement, trust_from_tau

    for k in range(len(level_values) - 1, s, -1):
        agreement = kendall_agreement(level_values[s], level_values[k], MIN_COMMON)
        if agreement is not None:
            tau, n = agreement
            trust = positive_rank_probability(tau, n) if rule == "positive" else trust_from_tau(tau)
            return trust, tau, k
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
    rule = trust_rule(mode)
    if mode in ("trust", "trust-linear"):  # the last bracket takes the rest: its own trust is not needed
        out, rest = [], 1.0
        for s in range(n_brackets - 1):
            trust = rung_trust(level_values, s, rule)[0]
            out.append(rest * trust)
            rest *= 1.0 - trust
        return [*out, rest]
    trusts = [rung_trust(level_values, s, rule)[0] for s in range(n_brackets)]
    weights = [w * t for w, t in zip(hyperband_weights(rungs, n_brackets), trusts, strict=True)]
    total = sum(weights)
    if total <= 0:  # no bracket trusted: the one that starts highest
        return [0.0] * (n_brackets - 1) + [1.0]
    return [w / total for w in weights]
