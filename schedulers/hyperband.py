"""Synchronous successive halving and Hyperband.

References:
    * Jamieson & Talwalkar, "Non-stochastic Best Arm Identification and Hyperparameter
      Optimization", AISTATS 2016 (successive halving);
    * Li, Jamieson, DeSalvo, Rostamizadeh & Talwalkar, "Hyperband: A Novel Bandit-Based
      Approach to Hyperparameter Optimization", JMLR 18(185), 2018, Algorithm 1.

With ``R = budget.max / budget.min``: ``s_max = floor(log_eta(R))``, ``B = (s_max + 1) R``.
Bracket ``s`` starts ``n = ceil(B / R * eta^s / (s + 1))`` configs at ``r = R eta^-s``
(in units of ``budget.min``); its rung ``i`` runs ``n_i = floor(n eta^-i)`` configs at
``r_i = r eta^i`` and the top ``n_{i+1}`` of them go on. For ``R = 81, eta = 3`` this gives
81@1 27@3 9@9 3@27 1@81 | 34@3 11@9 3@27 1@81 | 15@9 5@27 1@81 | 8@27 2@81 | 5@81 (the
paper's table; HpBandSter's counts differ). Integer budgets (epochs) are rounded.

Synchronous: a rung is promoted only when all its trials have results. Promoted trials
continue from their checkpoint (:mod:`hpo.checkpoint`). Brackets run in the order
``s_max, ..., 0`` and then again; when every open bracket waits for results and a worker
is free, the next bracket opens, so parallel workers are not left idle (as in Ray
Tune's and Syne Tune's synchronous Hyperband). When no new trial may start (the study's
``n_trials`` is reached), a rung that cannot fill up any more is promoted as it is, with
``max(1, floor(size / eta))`` going on.

Failed trials count as finished in their rung and are never promoted.

Limitation (resume): a resumed study opens new brackets; trials paused in a bracket of
the previous run keep their results (and feed a model-based searcher) but are not
promoted any further. ASHA rebuilds its rungs from the stored trials instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hpo.errors import HPOError
from hpo.schedulers._fidelity import MultiFidelityScheduler, snap_budget
from hpo.searchers.base import BaseSearcher
from hpo.trial import Job, StudyView, Trial, TrialStatus

__all__ = ["Hyperband", "SuccessiveHalving", "hyperband_brackets"]


def hyperband_brackets(min_budget: float, max_budget: float, eta: float = 3) -> list[list[tuple[int, float]]]:
    """Hyperband's brackets, largest ``s`` first: each a list of ``(n_i, r_i)`` rungs.

    ``r_i`` are budgets (``budget.min`` times the paper's resource units), rounded for
    integer budgets, the last rung of each bracket being ``max_budget``.
    """
    ratio = max_budget / min_budget
    s_max = int(math.floor(math.log(ratio) / math.log(eta) + 1e-9))
    big_b = (s_max + 1) * ratio
    integral = float(min_budget).is_integer() and float(max_budget).is_integer()
    out = []
    for s in range(s_max, -1, -1):
        n = int(math.ceil(big_b / ratio * eta**s / (s + 1) - 1e-9))
        r = ratio * eta ** (-s)
        rungs = []
        for i in range(s + 1):
            n_i = int(math.floor(n * eta ** (-i) + 1e-9))
            b = max_budget if i == s else snap_budget(min_budget * r * eta**i, min_budget, max_budget, integral)
            rungs.append((n_i, float(b)))
        out.append(rungs)
    return out


@dataclass
class _Bracket:
    """One running bracket: planned rungs, members and results per rung."""

    s: int
    plan: list[tuple[int, float]]
    members: list[list[int]] = field(default_factory=list)  # trial ids per rung (launch order)
    results: list[dict[int, float | None]] = field(default_factory=list)  # None = failed

    def __post_init__(self) -> None:
        self.members = [[] for _ in self.plan]
        self.results = [{} for _ in self.plan]

    def rung_done(self, i: int, closed: bool) -> bool:
        """All members of rung ``i`` have results, and the rung is full (or can't fill)."""
        members = self.members[i]
        if len(self.results[i]) < len(members):
            return False
        return len(members) >= self.plan[i][0] or (closed and len(members) > 0)

    @property
    def finished(self) -> bool:
        last = len(self.plan) - 1
        return len(self.members[last]) > 0 and len(self.results[last]) == len(self.members[last])


class SuccessiveHalving(MultiFidelityScheduler):
    """Synchronous successive halving: Hyperband's most aggressive bracket, repeated.

    Args:
        searcher: Where new configs come from (model-based when it learns, BOHB-style).
        eta: Reduction factor.
        n_configs: Configs per bracket; by default Hyperband's ``n`` for ``s = s_max``
            (81 for ``R = 81, eta = 3``).
        random_fraction: Share of random new configs with a model-based searcher.
    """

    def __init__(
        self,
        searcher: BaseSearcher,
        eta: float = 3,
        n_configs: int | None = None,
        random_fraction: float = 1 / 3,
    ) -> None:
        super().__init__(searcher, eta, random_fraction)
        if n_configs is not None and (isinstance(n_configs, bool) or not isinstance(n_configs, int) or n_configs < 1):
            raise HPOError(f"n_configs must be a positive int, got {n_configs!r}")
        self.n_configs = n_configs
        self._brackets: list[_Bracket] = []
        self._plans: list[list[tuple[int, float]]] | None = None
        self._next_plan = 0
        self._where: dict[int, tuple[_Bracket, int]] = {}  # trial id -> (bracket, rung) of its job
        self._trials: dict[int, Trial] = {}

    # ------------------------------------------------------------------ plans
    def bracket_plans(self, min_budget: float, max_budget: float) -> list[list[tuple[int, float]]]:
        """The brackets this scheduler cycles through (successive halving: one)."""
        plan = hyperband_brackets(min_budget, max_budget, self.eta)[0]
        if self.n_configs is not None:
            n = self.n_configs
            plan = [(max(1, int(math.floor(n * self.eta ** (-i) + 1e-9))), b) for i, (_, b) in enumerate(plan)]
        return [plan]

    def _open_bracket(self, view: StudyView) -> _Bracket:
        if self._plans is None:
            self._plans = self.bracket_plans(view.budget.min, view.budget.max)
        plan = self._plans[self._next_plan % len(self._plans)]
        self._next_plan += 1
        bracket = _Bracket(s=len(plan) - 1, plan=plan)
        self._brackets.append(bracket)
        return bracket

    # ------------------------------------------------------------------ jobs
    def next_job(self, view: StudyView) -> Job | None:
        closed = not view.can_start_trial()
        self._brackets = [b for b in self._brackets if not b.finished]
        for bracket in self._brackets:
            job = self._job_in(bracket, view, closed)
            if job is not None:
                return job
        if closed:
            return None
        # every open bracket waits (or none is open): start the next one
        return self._job_in(self._open_bracket(view), view, closed)

    def _job_in(self, bracket: _Bracket, view: StudyView, closed: bool) -> Job | None:
        plan = bracket.plan
        # promotions, from the top rung down
        for i in range(len(plan) - 2, -1, -1):
            if not bracket.rung_done(i, closed):
                continue
            n_next = plan[i + 1][0] if len(bracket.members[i]) >= plan[i][0] else max(
                1, int(len(bracket.members[i]) // self.eta)
            )
            if len(bracket.members[i + 1]) >= n_next:
                continue
            ranked = sorted(
                (tid for tid, v in bracket.results[i].items() if v is not None),
                key=lambda tid: (-self._signed(bracket.results[i][tid]), tid),  # type: ignore[arg-type]
            )
            chosen = [tid for tid in ranked[:n_next] if tid not in bracket.members[i + 1]]
            if chosen:
                tid = chosen[0]
                bracket.members[i + 1].append(tid)
                self._where[tid] = (bracket, i + 1)
                return self._continue(view, self._trials[tid], plan[i][1], plan[i + 1][1])
        # new configs for the bottom rung
        if len(bracket.members[0]) < plan[0][0] and not closed:
            job = self._start_new(view, plan[0][1])
            if job is not None:
                bracket.members[0].append(job.trial.trial_id)
                self._where[job.trial.trial_id] = (bracket, 0)
            return job
        return None

    def on_complete(self, trial: Trial) -> None:
        super().on_complete(trial)
        where = self._where.pop(trial.trial_id, None)
        if where is None:
            return
        bracket, i = where
        ok = trial.status in (TrialStatus.PAUSED, TrialStatus.COMPLETED) and trial.value is not None
        bracket.results[i][trial.trial_id] = float(trial.value) if ok else None  # type: ignore[arg-type]
        if ok:
            self._trials[trial.trial_id] = trial

    def describe(self) -> list[dict[str, Any]]:
        """Open brackets: plan, members and results per rung (for logs and tests)."""
        return [{"s": b.s, "plan": b.plan, "members": [list(m) for m in b.members]} for b in self._brackets]


class Hyperband(SuccessiveHalving):
    """Hyperband: successive halving brackets ``s = s_max, ..., 0`` in turn.

    Args:
        searcher: Where new configs come from; a model-based searcher (e.g.
            ``BOSearcher``) makes it model-based Hyperband (BOHB-style: fitted on the
            largest budget with ``d + 1`` results, 1/3 of new configs random).
        eta: Reduction factor (3).
        random_fraction: Share of random new configs with a model-based searcher.
    """

    def __init__(self, searcher: BaseSearcher, eta: float = 3, random_fraction: float = 1 / 3) -> None:
        super().__init__(searcher, eta, None, random_fraction)

    def bracket_plans(self, min_budget: float, max_budget: float) -> list[list[tuple[int, float]]]:
        return hyperband_brackets(min_budget, max_budget, self.eta)
