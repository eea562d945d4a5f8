"""ASHA: asynchronous successive halving, the promotion variant.

Reference: Li, Jamieson, Rostamizadeh, Gonina, Ben-Tzur, Hardt, Recht & Talwalkar,
"A System for Massively Parallel Hyperparameter Tuning", MLSys 2020, Algorithm 2.

Rung ``k`` has budget ``r * eta^(s + k)`` (``r = budget.min``, ``s`` the minimum
early-stopping rate), and the last rung is ``budget.max``. Whenever a worker is free,
``get_job`` looks at the rungs from the top down: the best config of rung ``k`` that is
in the top ``floor(|rung k| / eta)`` and not yet promoted is continued up to rung
``k + 1``; if nothing can be promoted, a new config starts at the bottom rung. A
promoted trial continues from its checkpoint (see :mod:`hpo.checkpoint`), so it spends
only the budget between the two rungs.

This is not Ray Tune's ``ASHAScheduler``, which only stops trials and never resumes one
(ray-project/ray#44256).

**Brackets** (asynchronous Hyperband, the same paper's Section 3.3): with ``brackets=n``
each new config starts in one of ``n`` ASHA brackets, bracket ``b`` starting at rung ``b``
and promoting within its own rungs; the bracket is drawn by
:mod:`hpo.schedulers._brackets`: by default (``"trust"``) a new config starts at the
lowest rung whose ranks agree with a higher rung's, which is ASHA itself while the bottom
rung's ranks clearly agree (with few shared trials some configs still start higher). ``brackets=1`` is ASHA as above. A trial's bracket is kept in
``trial.notes["bracket"]``, so a resumed study puts it back (the rank evidence of a resumed
study starts from the trials' rung values; the reports of lower rungs passed on the way are
not read back).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hpo.errors import HPOError
from hpo.schedulers._brackets import BRACKET_WEIGHTS, bracket_weights, rung_trust, trust_rule
from hpo.schedulers._fidelity import MultiFidelityScheduler, rung_budgets
from hpo.searchers.base import BaseSearcher
from hpo.trial import Decision, Job, Report, StudyView, Trial

__all__ = ["ASHA", "AsyncHyperband"]


class ASHA(MultiFidelityScheduler):
    """Asynchronous successive halving with promotions.

    Args:
        searcher: Where new configs come from; a model-based searcher makes this
            model-based ASHA (fitted on the largest budget with ``d + 1`` results, 1/3 of
            new configs random, as in BOHB).
        eta: Reduction factor (3 by default).
        min_early_stopping_rate: ``s``: the bottom rung is ``budget.min * eta^s``.
        random_fraction: Share of random new configs with a model-based searcher.
        brackets: ``1`` (ASHA), a number of brackets (asynchronous Hyperband; at most the
            number of rungs, more are capped), or ``"all"``: one per rung.
        bracket_weights: How a new config's bracket is drawn: ``"trust"`` (the lowest rung
            whose ranks likely agree with a higher rung's: P(Kendall's tau > 0)),
            ``"trust-linear"``, ``"hyperband"`` (asynchronous Hyperband's fixed weights) or
            ``"hyperband-trust"``. See :mod:`hpo.schedulers._brackets`.
    """

    def __init__(
        self,
        searcher: BaseSearcher,
        eta: float = 3,
        min_early_stopping_rate: int = 0,
        random_fraction: float = 1 / 3,
        brackets: int | str = 1,
        bracket_weights: str = "trust",
    ) -> None:
        super().__init__(searcher, eta, random_fraction)
        if isinstance(min_early_stopping_rate, bool) or not isinstance(min_early_stopping_rate, int) or min_early_stopping_rate < 0:
            raise HPOError(f"min_early_stopping_rate must be an int >= 0, got {min_early_stopping_rate!r}")
        if brackets != "all" and (isinstance(brackets, bool) or not isinstance(brackets, int) or brackets < 1):
            raise HPOError(f"brackets must be an int >= 1 or 'all', got {brackets!r}")
        if bracket_weights not in BRACKET_WEIGHTS:
            raise HPOError(f"bracket_weights must be one of {BRACKET_WEIGHTS}, got {bracket_weights!r}")
        self.s = self.min_early_stopping_rate = min_early_stopping_rate
        self.brackets = brackets
        self.bracket_weights = bracket_weights
        self.rungs: list[float] | None = None
        self.n_brackets = 1
        # per rung, over all brackets: trial id -> value (user units)
        self._rung_values: list[dict[int, float]] = []
        # per rung: trial id -> value at that budget, also from reports of trials passing it
        # on their way to a higher first rung (the evidence behind the bracket trust)
        self._evidence: list[dict[int, float]] = []
        # per bracket, per rung: trials sorted best first; trials promoted out of it
        self._ranked: list[list[list[tuple[float, int]]]] = []
        self._promoted: list[list[set[int]]] = []
        self._bracket_of: dict[int, int] = {}
        self._trials: dict[int, Trial] = {}
        self._pending_restore: list[Trial] = []

    def _setup(self, view: StudyView) -> list[float]:
        if self.rungs is None:
            budget = view.budget
            self.rungs = rung_budgets(budget.min, budget.max, self.eta)[self.s :] or [float(budget.max)]
            n = len(self.rungs)
            self.n_brackets = n if self.brackets == "all" else min(int(self.brackets), n)
            self._rung_values = [{} for _ in self.rungs]
            self._evidence = [{} for _ in self.rungs]
            self._ranked = [[[] for _ in self.rungs] for _ in range(self.n_brackets)]
            self._promoted = [[set() for _ in self.rungs] for _ in range(self.n_brackets)]
            for trial in self._pending_restore:
                self._restore_one(trial)
            self._pending_restore = []
        return self.rungs

    def rung_of(self, budget: float) -> int | None:
        """Index of the rung with this budget, or None."""
        rungs = self.rungs or []
        for k, r in enumerate(rungs):
            if abs(r - budget) <= 1e-9 * max(1.0, r):
                return k
        return None

    def next_job(self, view: StudyView) -> Job | None:
        rungs = self._setup(view)
        for k in range(len(rungs) - 2, -1, -1):
            for b in range(min(k, self.n_brackets - 1), -1, -1):
                trial_id = self._promotable(b, k)
                if trial_id is not None:
                    self._promoted[b][k].add(trial_id)
                    return self._continue(view, self._trials[trial_id], rungs[k], rungs[k + 1])
        b = self._draw_bracket(rungs)
        job = self._start_new(view, rungs[b], {"bracket": b} if self.n_brackets > 1 else None)
        if job is not None:
            self._bracket_of[job.trial.trial_id] = b
        elif not view.running():
            job = self._finish_up(view, rungs)
        return job

    def _draw_bracket(self, rungs: list[float]) -> int:
        if self.n_brackets == 1:
            return 0  # no draw: ASHA's random stream stays as it was
        weights = bracket_weights(rungs, self.n_brackets, self.bracket_weights, self._evidence)
        return int(self.rng.choice(self.n_brackets, p=weights))

    def on_report(self, trial: Trial, report: Report) -> Decision:
        """Record a report that lands on a rung's budget as evidence for the bracket trust.

        A step ``t`` ends at budget position ``t + 1`` (steps count from 0). Never stops a trial.
        """
        if self.n_brackets > 1 and self.rungs is not None:
            k = self.rung_of(float(report.step) + 1.0)
            value = report.value(self.searcher.metric)
            if k is not None and value is not None:
                self._evidence[k][trial.trial_id] = value
        return Decision.CONTINUE

    def _finish_up(self, view: StudyView, rungs: list[float]) -> Job | None:
        """No new trial may start and nothing runs: promote the best unpromoted trial of the
        highest rung below the top (deviation from Algorithm 2, which never ends: with a
        finite number of trials, the rungs' ``floor(n / eta)`` may leave no trial to reach
        ``budget.max``; this lets the study end with the best one trained to the full budget).
        """
        if self._rung_values[len(rungs) - 1]:
            return None  # a trial already reached the full budget
        for k in range(len(rungs) - 2, -1, -1):
            best = sorted((entry, b) for b in range(self.n_brackets) for entry in self._ranked[b][k]
                          if entry[1] not in self._promoted[b][k])
            if best:
                (_, trial_id), b = best[0]
                self._promoted[b][k].add(trial_id)
                return self._continue(view, self._trials[trial_id], rungs[k], rungs[k + 1])
        return None

    def _promotable(self, b: int, k: int) -> int | None:
        """The best trial of bracket ``b``'s rung ``k`` in its top ``floor(n / eta)`` not promoted yet."""
        ranked = self._ranked[b][k]
        n_top = int(len(ranked) // self.eta)
        promoted = self._promoted[b][k]
        if len(promoted) >= n_top:
            return None
        for _, tid in ranked[:n_top]:
            if tid not in promoted:
                return tid
        return None

    def _add(self, k: int, trial: Trial) -> None:
        import bisect

        value = float(trial.value)  # type: ignore[arg-type]
        ranked = self._ranked[self._bracket(trial)][k]
        old = self._rung_values[k].get(trial.trial_id)
        if old is not None:
            ranked.remove((-self._signed(old), trial.trial_id))
        self._rung_values[k][trial.trial_id] = value
        self._evidence[k][trial.trial_id] = value
        bisect.insort(ranked, (-self._signed(value), trial.trial_id))
        self._trials[trial.trial_id] = trial

    def _bracket(self, trial: Trial) -> int:
        """The trial's bracket: as drawn, else from its notes (a resumed study), else 0."""
        b = self._bracket_of.get(trial.trial_id)
        if b is None:
            b = int(trial.notes.get("bracket", 0))
            b = b if 0 <= b < self.n_brackets else 0
            self._bracket_of[trial.trial_id] = b
        return b

    def on_complete(self, trial: Trial) -> None:
        super().on_complete(trial)
        if self.rungs is None:
            return
        if trial.value is not None and trial.status.value in ("PAUSED", "COMPLETED"):
            k = self.rung_of(self.reached(trial))
            if k is not None:
                self._add(k, trial)

    def restore(self, trials: Sequence[Trial]) -> None:
        """A trial that reached rung ``j`` is put back in its bracket's rungs up to ``j`` (promoted below ``j``).

        Its value at the lower rungs is its latest one (the per-rung values are in the
        stored reports, not in the trial); rung membership and promotions are exact.
        """
        super().restore(trials)
        self._pending_restore = list(trials)

    def _restore_one(self, trial: Trial) -> None:
        if trial.value is None or trial.status.value not in ("PAUSED", "COMPLETED"):
            return
        reached = self.reached(trial)
        top = max((k for k, r in enumerate(self.rungs or []) if r <= reached + 1e-9), default=None)
        if top is None:
            return
        b = self._bracket(trial)
        for k in range(b, top + 1):
            self._add(k, trial)
            if k < top:
                self._promoted[b][k].add(trial.trial_id)

    def describe(self) -> dict[str, Any]:
        """Rung budgets, how many trials reached each, and the brackets (for logs and tests).

        ``"bracket_weights"``: the probability of each bracket for the next new trial;
        ``"trust"``: per rung, ``(trust, tau, higher rung)`` behind the trust-based weights.
        """
        rungs = list(self.rungs or [])
        out: dict[str, Any] = {"rungs": rungs, "sizes": [len(v) for v in self._rung_values], "brackets": self.n_brackets}
        if rungs and self.n_brackets > 1:
            out["bracket_weights"] = bracket_weights(rungs, self.n_brackets, self.bracket_weights, self._evidence)
            out["trust"] = [rung_trust(self._evidence, s, trust_rule(self.bracket_weights)) for s in range(self.n_brackets)]
        return out



class AsyncHyperband(ASHA):
    """Asynchronous Hyperband: :class:`ASHA` with one bracket per rung (``brackets="all"``).

    A new config starts at the lowest rung whose ranks agree with a higher rung's
    (``bracket_weights="trust"``, see :mod:`hpo.schedulers._brackets`); while the bottom rung
    agrees this is close to ASHA (with few trials per rung the trust stays below 1, so some
    configs still start a rung up: on a task whose ranks agree that cost a little against
    plain ASHA, ``benchmarks/results/robustness.md``, twelfth session). ``bracket_weights="hyperband"`` gives Li et al.'s (MLSys
    2020, §3.3) fixed weights. Registered as ``"async_hyperband"`` (``@tune(scheduler=...)``,
    ``hpo run --scheduler``); ``"asha"`` stays the single-bracket default (measured in
    ``benchmarks/results/robustness.md``).

    Args:
        searcher: Where new configs come from (model-based with a learning searcher).
        eta: Reduction factor (3).
        min_early_stopping_rate: ``s``: the bottom rung is ``budget.min * eta^s``.
        random_fraction: Share of random new configs with a model-based searcher.
        brackets: ``"all"`` (one per rung) or a number of brackets.
        bracket_weights: ``"trust"``, ``"trust-linear"``, ``"hyperband"`` or ``"hyperband-trust"``.
    """

    def __init__(
        self,
        searcher: BaseSearcher,
        eta: float = 3,
        min_early_stopping_rate: int = 0,
        random_fraction: float = 1 / 3,
        brackets: int | str = "all",
        bracket_weights: str = "trust",
    ) -> None:
        super().__init__(searcher, eta, min_early_stopping_rate, random_fraction, brackets, bracket_weights)
