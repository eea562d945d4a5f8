"""``SchedulerContract``: behaviour every scheduler must have, run in a real (in-process) study."""

from __future__ import annotations

import pytest

from hpo.budget import Budget
from hpo.execution.local import InProcessExecutor
from hpo.schedulers.base import BaseScheduler
from hpo.search_spaces import Float, SearchSpace
from hpo.searchers.base import BaseSearcher
from hpo.searchers.random import RandomSearcher
from hpo.storage import MemoryStorage
from hpo.storage.base import StudySpec
from hpo.testing import objectives
from hpo.trial import Decision, Job, Report, Trial, TrialStatus

SPACE = SearchSpace({"x": Float(0.0, 1.0)})


class _RecordingScheduler(BaseScheduler):
    """Wraps the scheduler under test to record every job and decision it makes."""

    def __init__(self, inner: BaseScheduler) -> None:
        super().__init__(inner.searcher)
        self.inner = inner
        self.jobs: list[Job] = []
        self.decisions: list[Decision] = []

    def next_job(self, view):  # type: ignore[no-untyped-def]
        job = self.inner.next_job(view)
        if job is not None:
            self.jobs.append(job)
        return job

    def on_report(self, trial: Trial, report: Report) -> Decision:
        decision = self.inner.on_report(trial, report)
        self.decisions.append(decision)
        return decision

    def on_complete(self, trial: Trial) -> None:
        self.inner.on_complete(trial)

    def restore(self, trials) -> None:  # type: ignore[no-untyped-def]
        self.inner.restore(trials)


class SchedulerContract:
    """Subclass and implement :meth:`make_scheduler`."""

    budget = Budget(1, 9)

    def make_scheduler(self, searcher: BaseSearcher, budget: Budget) -> BaseScheduler:
        raise NotImplementedError

    def _study(self, n_workers: int = 2, seed: int = 0):  # type: ignore[no-untyped-def]
        from hpo.study import Study

        spec = StudySpec("contract", "loss", "min", SPACE.to_dict(), self.budget.to_dict(), None, {"seed": seed})
        storage = MemoryStorage()
        storage.create_study(spec)
        inner = self.make_scheduler(RandomSearcher(SPACE, seed), self.budget)
        recorder = _RecordingScheduler(inner)
        study = Study(objectives.curve, storage, spec, recorder, InProcessExecutor(n_workers))
        return study, recorder

    def test_jobs_are_valid(self) -> None:
        study, rec = self._study()
        study.optimize(n_trials=12)
        assert rec.jobs, "the scheduler gave no job"
        for job in rec.jobs:
            assert SPACE.contains(job.trial.config)
            assert 0 <= job.budget.start < job.budget.stop <= self.budget.max

    def test_study_reaches_n_trials(self) -> None:
        study, rec = self._study()
        result = study.optimize(n_trials=10)
        finished = [t for t in result.trials if t.status.is_finished]
        assert len(finished) == 10
        assert result.incumbent is not None
        assert all(isinstance(d, Decision) for d in rec.decisions)

    def test_no_new_trial_once_the_study_is_done(self) -> None:
        study, rec = self._study()
        study.optimize(n_trials=2)
        n_jobs = len(rec.jobs)
        assert rec.next_job(study.view) is None
        assert len(rec.jobs) == n_jobs

    def test_enqueued_config_runs_first(self) -> None:
        study, rec = self._study(n_workers=1)
        study.enqueue({"x": 0.123})
        study.optimize(n_trials=3)
        assert rec.jobs[0].trial.config == {"x": 0.123}

    def test_restores_from_history(self) -> None:
        study, rec = self._study()
        study.optimize(n_trials=6)
        history = study.trials
        fresh = self.make_scheduler(RandomSearcher(SPACE, 0), self.budget)
        fresh.restore(history)  # must accept a history with completed, pruned and failed trials
        assert all(t.status in (TrialStatus.COMPLETED, TrialStatus.PRUNED) for t in history)

    @pytest.mark.parametrize("n_workers", [1, 3])
    def test_every_trial_ends_in_a_final_state(self, n_workers: int) -> None:
        study, _ = self._study(n_workers=n_workers)
        result = study.optimize(n_trials=9)
        assert all(t.status.is_finished or t.status is TrialStatus.PAUSED for t in result.trials)
