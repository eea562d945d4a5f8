"""Budget accounting of a study: its trials, running totals and the incumbent.

:class:`Ledger` keeps the in-memory copy of every trial and updates the totals that the
stopping rules read (trials counted toward ``n_trials``, budget consumed) and the
incumbent in O(1) per change, so a 10,000-trial simulated replay stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hpo._objective import extract_value
from hpo.errors import ObjectiveError
from hpo.execution.base import Event, Failed, Finished, Stopped
from hpo.result import best_trial, rank_key
from hpo.trial import Decision, Job, Report, Trial, TrialStatus

__all__ = ["Ledger", "consumed", "job_ended"]


class Ledger:
    """Trials by id, with running totals and the incumbent (ranked on the first objective).

    Args:
        mode: ``"min"`` or ``"max"`` of the first objective.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.trials: dict[int, Trial] = {}
        self.n_counted = 0  # trials that count toward n_trials (not interrupted-and-requeued)
        self.n_counted_finished = 0
        self.budget_used = 0.0
        self.cost_used = 0.0  # sum of trial.cost_used (a reported cost, else seconds)
        self._best_id: int | None = None
        self._best_key: tuple[int, float, float, int] | None = None

    def __getitem__(self, trial_id: int) -> Trial:
        return self.trials[trial_id]

    def ordered(self) -> list[Trial]:
        return [self.trials[k] for k in sorted(self.trials)]

    @property
    def incumbent(self) -> Trial | None:
        return None if self._best_id is None else self.trials[self._best_id]

    def track(self, trial: Trial) -> Trial:
        """Replace the in-memory copy of a trial and update the totals; returns ``trial``."""
        old = self.trials.get(trial.trial_id)
        for t, k in ((old, -1), (trial, 1)):
            if t is None:
                continue
            if t.counts_toward_limit:
                self.n_counted += k
                if t.status.is_finished:
                    self.n_counted_finished += k
            self.budget_used += k * t.budget
            self.cost_used += k * t.cost_used
        self.trials[trial.trial_id] = trial
        if trial.status is TrialStatus.RUNNING:
            return trial  # ranked as of its last job's end until this job ends
        key = rank_key(trial, self.mode)
        if key is not None and (self._best_key is None or key > self._best_key):
            self._best_id, self._best_key = trial.trial_id, key
        elif key is None and trial.trial_id == self._best_id:  # the incumbent failed: re-rank
            best = best_trial(self.trials.values(), self.mode)
            self._best_id = None if best is None else best.trial_id
            self._best_key = None if best is None else rank_key(best, self.mode)
        return trial


def consumed(job: Job, reports: Sequence[Report], completed: bool) -> float:
    """Budget a job used: its whole slice if it completed, else up to its last reported step."""
    if completed:
        return job.budget.size
    if not reports:
        return 0.0
    return max(min(job.budget.stop, reports[-1].step + 1) - job.budget.start, 0)


def job_ended(
    trial: Trial, job: Job, reports: Sequence[Report], event: Event, metrics: Sequence[str], budget_max: float, now: float
) -> Trial:
    """The trial's new state when its job ends with ``event``: status, value, what it used.

    A job that ended below the full budget leaves the trial PAUSED at that budget (a
    rung), so the scheduler may promote it later; an objective whose result lacks a
    metric, or gives a non-finite one, is FAILED with an ``ObjectiveError`` reason.

    Args:
        trial: The trial as it was while the job ran.
        job: The job that ended.
        reports: The job's reports.
        event: ``Finished``, ``Stopped`` or ``Failed``.
        metrics: The study's objectives, in order.
        budget_max: The full budget.
        now: The executor clock's timestamp.
    """
    used = consumed(job, reports, completed=isinstance(event, Finished))
    paused = isinstance(event, Stopped) and event.decision is Decision.PAUSE
    common: dict[str, Any] = {
        "finished_at": None if paused else now,
        "budget": trial.budget + used,
        "last_step": reports[-1].step if reports else trial.last_step,
        "cost": trial.cost + event.elapsed,  # type: ignore[attr-defined]
        "reached": job.budget.start + used,  # below `budget` when a restart ran steps twice
    }
    if isinstance(event, Finished):
        try:
            value, values = extract_value(event.result, metrics, reports)
        except ObjectiveError as exc:
            return trial.evolve(status=TrialStatus.FAILED, value=None, reason=f"ObjectiveError: {exc}", **common)
        status = TrialStatus.COMPLETED if job.budget.stop >= budget_max else TrialStatus.PAUSED
        return trial.evolve(status=status, value=value, metrics=values, **common)
    if isinstance(event, Stopped):
        status = TrialStatus.PAUSED if paused else TrialStatus.PRUNED
        reason = "paused by the scheduler" if paused else "stopped by the scheduler"
        return trial.evolve(status=status, reason=reason, metrics=dict(reports[-1].metrics) if reports else {}, **common)
    if not isinstance(event, Failed):
        raise TypeError(f"not a terminal event: {event!r}")
    return trial.evolve(status=TrialStatus.FAILED, value=None, reason=event.reason, traceback=event.traceback, **common)
