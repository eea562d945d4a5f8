"""``SchedulerContract``: behaviour every scheduler must have, run in a real (in-process) study."""

from __future__ import annotations

import numpy as np
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
        self.judges_reports = inner.judges_reports  # type: ignore[misc]
        self.jobs: list[Job] = []
        self.decisions: list[Decision] = []
        self.reached: dict[int, float] = {}  # trial id -> budget reached when its last job ended
        self.bad_continuations: list[tuple[int, float, float]] = []

    def next_job(self, view):  # type: ignore[no-untyped-def]
        job = self.inner.next_job(view)
        if job is not None:
            self.jobs.append(job)
            if job.budget.start > 0:
                reached = self.reached.get(job.trial.trial_id, job.trial.reached)
                parent = job.trial.parent
                if reached is None and parent is not None:
                    # a copy (PBT) continues its parent's checkpoint, which may be newer
                    reached = self.reached.get(parent)
                    ok = reached is not None and job.budget.start >= float(reached) - 1e-9
                else:
                    ok = reached is not None and abs(float(reached) - job.budget.start) <= 1e-9
                if not ok:
                    self.bad_continuations.append((job.trial.trial_id, job.budget.start, reached))
        return job

    def on_report(self, trial: Trial, report: Report) -> Decision:
        decision = self.inner.on_report(trial, report)
        self.decisions.append(decision)
        return decision

    def on_complete(self, trial: Trial) -> None:
        if trial.reached is not None:
            self.reached[trial.trial_id] = trial.reached
        self.inner.on_complete(trial)

    def set_objective(self, metric, mode) -> None:  # type: ignore[no-untyped-def]
        self.inner.set_objective(metric, mode)

    def observe(self, observation) -> None:  # type: ignore[no-untyped-def]
        self.inner.observe(observation)

    def restore(self, trials) -> None:  # type: ignore[no-untyped-def]
        self.inner.restore(trials)

    def replay(self, observations) -> None:  # type: ignore[no-untyped-def]
        self.inner.replay(observations)


class SchedulerContract:
    """Subclass and implement :meth:`make_scheduler`.

    Override :attr:`space` for a scheduler that needs a particular space (e.g. a
    ``Choice`` of arms); it must hold a top-level float ``x`` in [0, 1], which the
    objective reads.
    """

    budget = Budget(1, 9)
    space = SPACE

    def make_scheduler(self, searcher: BaseSearcher, budget: Budget) -> BaseScheduler:
        raise NotImplementedError

    def _study(self, n_workers: int = 2, seed: int = 0):  # type: ignore[no-untyped-def]
        from hpo.study import Study

        spec = StudySpec("contract", "loss", "min", self.space.to_dict(), self.budget.to_dict(), None, {"seed": seed})
        storage = MemoryStorage()
        storage.create_study(spec)
        inner = self.make_scheduler(RandomSearcher(self.space, seed), self.budget)
        recorder = _RecordingScheduler(inner)
        study = Study(objectives.curve, storage, spec, recorder, InProcessExecutor(n_workers))
        return study, recorder

    def test_jobs_are_valid(self) -> None:
        study, rec = self._study()
        study.optimize(n_trials=12)
        assert rec.jobs, "the scheduler gave no job"
        for job in rec.jobs:
            assert self.space.contains(job.trial.config)
            assert 0 <= job.budget.start < job.budget.stop <= self.budget.max

    def test_study_reaches_n_trials(self) -> None:
        study, rec = self._study()
        result = study.optimize(n_trials=10)
        # multi-fidelity schedulers leave trials that stopped at a rung PAUSED (promotable later)
        ended = [t for t in result.trials if t.status.is_finished or t.status is TrialStatus.PAUSED]
        assert len(ended) == len(result.trials) >= 10
        assert sum(t.status.is_finished for t in result.trials) <= 10 or not rec.inner.pauses_trials
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
        config = {**self.space.sample(np.random.default_rng(0)), "x": 0.123}
        study.enqueue(config)
        study.optimize(n_trials=3)
        assert rec.jobs[0].trial.config == config

    def test_restores_from_history(self) -> None:
        study, rec = self._study()
        study.optimize(n_trials=6)
        history = study.trials
        fresh = self.make_scheduler(RandomSearcher(self.space, 0), self.budget)
        fresh.restore(history)  # must accept a history with completed, paused, pruned and failed trials
        assert all(t.status in (TrialStatus.COMPLETED, TrialStatus.PRUNED, TrialStatus.PAUSED) for t in history)

    def test_continued_jobs_start_where_the_trial_stopped(self) -> None:
        study, rec = self._study(n_workers=2)
        study.optimize(n_trials=15)
        assert rec.bad_continuations == [], rec.bad_continuations
        for job in rec.jobs:
            assert job.budget.start < job.budget.stop

    @pytest.mark.parametrize("n_workers", [1, 3])
    def test_every_trial_ends_in_a_final_state(self, n_workers: int) -> None:
        study, _ = self._study(n_workers=n_workers)
        result = study.optimize(n_trials=9)
        assert all(t.status.is_finished or t.status is TrialStatus.PAUSED for t in result.trials)
