"""``ExecutorContract``: behaviour every executor must have."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hpo.budget import JobBudget
from hpo.execution.base import BaseExecutor, Failed, Finished, Reported, Retrying, Stopped
from hpo.testing import objectives
from hpo.testing._drive import drive
from hpo.trial import Decision, Job, Trial


def make_job(trial_id: int, config: dict[str, Any], start: int = 0, stop: int = 1, max_: int | None = None) -> Job:
    return Job(Trial(trial_id, config), JobBudget(start, stop, max_ or stop))


class ExecutorContract:
    """Subclass and implement :meth:`make_executor`."""

    def make_executor(self, n_workers: int, trial_timeout: float | None = None) -> BaseExecutor:
        raise NotImplementedError

    @pytest.fixture
    def executor_factory(self, tmp_path):  # type: ignore[no-untyped-def]
        made: list[BaseExecutor] = []

        def factory(objective: Any, n_workers: int = 1, trial_timeout: float | None = None) -> BaseExecutor:
            ex = self.make_executor(n_workers, trial_timeout)
            ex.start(objective, str(tmp_path / "artifacts"))
            made.append(ex)
            return ex

        yield factory
        for ex in made:
            ex.shutdown()

    def test_runs_jobs_and_returns_results(self, executor_factory) -> None:  # type: ignore[no-untyped-def]
        ex = executor_factory(objectives.quadratic, n_workers=2)
        for i, x in enumerate([0.5, 1.5], start=1):
            ex.submit(make_job(i, {"x": x}))
        events = drive(ex, 2)
        results = {e.trial_id: e.result for e in events if isinstance(e, Finished)}
        assert results == {1: {"loss": 0.0}, 2: {"loss": 1.0}}
        assert ex.capacity() == 2 and ex.running() == []

    def test_capacity_counts_running_jobs(self, executor_factory) -> None:  # type: ignore[no-untyped-def]
        ex = executor_factory(objectives.sleeps, n_workers=2)
        assert ex.capacity() == 2
        ex.submit(make_job(1, {"delay": 0.2, "x": 1.0}))
        assert ex.capacity() == 1 and ex.running() == [1]
        ex.submit(make_job(2, {"delay": 0.2, "x": 2.0}))
        assert ex.capacity() == 0
        drive(ex, 2)
        assert ex.capacity() == 2

    def test_reports_stream_before_the_end(self, executor_factory) -> None:  # type: ignore[no-untyped-def]
        ex = executor_factory(objectives.curve)
        ex.submit(make_job(7, {"x": 0.5}, start=2, stop=6, max_=10))
        events = drive(ex, 1)
        steps = [e.report.step for e in events if isinstance(e, Reported)]
        assert steps == [2, 3, 4, 5]
        assert isinstance(events[-1], Finished)
        assert events[-1].result["loss"] == pytest.approx(1 / 6)

    def test_stop_decision_ends_the_job_early(self, executor_factory) -> None:  # type: ignore[no-untyped-def]
        ex = executor_factory(objectives.curve)
        ex.submit(make_job(1, {"x": 0.5}, stop=50))
        events = drive(ex, 1, decide=lambda tid, r: Decision.STOP if r.step >= 2 else Decision.CONTINUE)
        assert [e.report.step for e in events if isinstance(e, Reported)] == [0, 1, 2]
        assert isinstance(events[-1], Stopped) and events[-1].decision is Decision.STOP

    def test_pause_decision_is_reported(self, executor_factory) -> None:  # type: ignore[no-untyped-def]
        ex = executor_factory(objectives.curve)
        ex.submit(make_job(1, {"x": 0.5}, stop=50))
        events = drive(ex, 1, decide=lambda tid, r: Decision.PAUSE)
        assert isinstance(events[-1], Stopped) and events[-1].decision is Decision.PAUSE

    def test_exception_gives_failed_with_traceback(self, executor_factory) -> None:  # type: ignore[no-untyped-def]
        ex = executor_factory(objectives.raises)
        ex.submit(make_job(3, {"x": 0.25}))
        (event,) = drive(ex, 1)
        assert isinstance(event, Failed)
        assert event.reason == "ValueError: bad config x=0.25"
        assert event.traceback is not None
        assert "in raises" in event.traceback and "ValueError" in event.traceback
        assert not event.retryable

    def test_runs_jobs_in_parallel(self, executor_factory) -> None:  # type: ignore[no-untyped-def]
        ex = executor_factory(objectives.sleeps, n_workers=2)
        ex.submit(make_job(1, {"delay": 0.0}))  # warm the workers up
        ex.submit(make_job(2, {"delay": 0.0}))
        drive(ex, 2)
        drive_start = time.monotonic()
        ex.submit(make_job(3, {"delay": 1.0}))
        ex.submit(make_job(4, {"delay": 1.0}))
        drive(ex, 2)
        # two 1-second jobs on two workers overlap: well under the 2 s a serial run needs
        assert time.monotonic() - drive_start < 1.9

    def test_timeout_fails_the_trial_and_executor_goes_on(self, executor_factory) -> None:  # type: ignore[no-untyped-def]
        ex = executor_factory(objectives.hangs, n_workers=1, trial_timeout=0.5)
        ex.submit(make_job(1, {}))
        (event,) = drive(ex, 1, timeout=20)
        assert isinstance(event, Failed) and "timed out after 0.5 s" in event.reason
        assert ex.capacity() == 1

    def test_shutdown_returns_running_trials(self, executor_factory) -> None:  # type: ignore[no-untyped-def]
        ex = executor_factory(objectives.sleeps, n_workers=2)
        ex.submit(make_job(5, {"delay": 30}))
        assert ex.shutdown() == [5]
        assert ex.running() == []

    def test_crashing_worker_fails_only_its_trial(self, executor_factory) -> None:  # type: ignore[no-untyped-def]
        ex = executor_factory(objectives.crashes, n_workers=1)
        if not ex.isolates_failures:
            pytest.skip("executor does not isolate crashes (declared by isolates_failures)")
        ex.submit(make_job(1, {}))
        (event,) = [e for e in drive(ex, 1) if not isinstance(e, Retrying)]  # executors may retry first
        assert isinstance(event, Failed) and "died" in event.reason and event.retryable
        ex.submit(make_job(2, {}))  # a fresh worker takes the next job
        (event,) = [e for e in drive(ex, 1) if not isinstance(e, Retrying)]
        assert isinstance(event, Failed) and event.trial_id == 2
