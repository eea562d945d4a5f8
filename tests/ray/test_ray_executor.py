"""RayExecutor on a local Ray instance: the executor contract, resources, retries, errors."""

from __future__ import annotations

import pytest

from hpo.budget import Budget
from hpo.errors import HPOError
from hpo.execution.base import Failed, Finished, Retrying
from hpo.search_spaces import Float
from hpo.study import Study
from hpo.testing import ExecutorContract, objectives
from hpo.testing._drive import drive
from hpo.testing.executor import make_job
from hpo.trial import TrialStatus

pytest.importorskip("ray")

from hpo.execution.ray import RayExecutor, normalize_resources  # noqa: E402


@pytest.fixture(autouse=True)
def _ray(ray_local):
    yield


class TestRayExecutorContract(ExecutorContract):
    def make_executor(self, n_workers, trial_timeout=None):
        return RayExecutor(max_concurrent=n_workers, trial_timeout=trial_timeout, max_retries=1)


def test_resources_are_checked_and_named():
    assert normalize_resources(None) == {"CPU": 1.0}
    assert normalize_resources({"gpu": 0.5, "cpus": 2, "accelerator_type:A100": 1}) == {
        "GPU": 0.5, "CPU": 2.0, "accelerator_type:A100": 1.0,
    }  # fmt: skip
    with pytest.raises(HPOError, match=r"resources\['gpu'\]"):
        RayExecutor(resources={"gpu": -1})
    with pytest.raises(HPOError, match="whole"):
        RayExecutor(resources={"gpu": 1.5})
    with pytest.raises(HPOError, match="max_retries"):
        RayExecutor(max_retries=-1)
    with pytest.raises(HPOError, match="max_concurrent"):
        RayExecutor(max_concurrent=0)


def test_capacity_follows_free_resources_and_the_cap(tmp_path):
    ex = RayExecutor(resources={"cpu": 1})
    ex.start(objectives.sleeps, str(tmp_path))
    assert ex.capacity() == 2  # the instance has 2 CPUs
    ex.shutdown()
    capped = RayExecutor(resources={"cpu": 0.5}, max_concurrent=3)
    capped.start(objectives.sleeps, str(tmp_path))
    assert capped.capacity() == 3  # 4 would fit; the cap says 3
    capped.shutdown()


def test_a_trial_larger_than_any_node_fails_with_the_reason_and_the_study_goes_on(tmp_path):
    def resources(config):
        return {"cpu": 1, "gpu": 1} if config["x"] > 0.5 else {"cpu": 1}

    study = Study.create(
        objectives.quadratic, {"x": Float(0.0, 1.0)}, storage=str(tmp_path / "s.db"), searcher="random",
        executor="ray", executor_options={"resources": resources}, seed=1,
    )  # fmt: skip
    result = study.optimize(n_trials=8)
    study.close()
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    assert all(t.config["x"] > 0.5 for t in failed) and failed
    assert all("GPU=1" in t.reason and "more than any node has" in t.reason for t in failed)
    assert any(t.status is TrialStatus.COMPLETED for t in result.trials)


def test_dead_worker_is_retried_from_its_checkpoint(tmp_path):
    ex = RayExecutor(max_retries=2)
    ex.start(objectives.checkpointed_curve, str(tmp_path))
    ex.submit(make_job(1, {"x": 0.5, "crash_at": 3}, start=0, stop=6, max_=6))
    events = drive(ex, 1)
    (retry,) = [e for e in events if isinstance(e, Retrying)]
    assert retry.attempt == 1 and "died" in retry.reason and retry.budget.start == 3
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.result["resumed_from"] == 3.0 and finished.result["attempts"] == 2.0
    ex.shutdown()


def test_retries_run_out_and_the_trial_fails_with_the_reason(tmp_path):
    ex = RayExecutor(max_retries=1)
    ex.start(objectives.crashes, str(tmp_path))
    ex.submit(make_job(1, {}))
    events = drive(ex, 1)
    assert sum(isinstance(e, Retrying) for e in events) == 1
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.retryable
    assert "worker died" in failed.reason and "after 1 retry" in failed.reason


def test_study_records_the_retry_and_counts_the_lost_budget(tmp_path):
    study = Study.create(
        objectives.crashes_once_at_step_3, {"x": Float(0.0, 1.0)}, budget=Budget(1, 6),
        storage=str(tmp_path / "r.db"), searcher="random", executor="ray", seed=0,
    )  # fmt: skip
    result = study.optimize(n_trials=2)
    n_reports = len(study.storage.reports(result.trials[0].trial_id))
    study.close()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    for trial in result.trials:
        assert trial.retries == 1 and "worker died" in trial.notes["retry_reason"]
        assert trial.metrics["resumed_from"] == 3.0
        # steps 0-2 of the lost attempt, then 3-5 of the retry (its checkpoint was at step 3)
        assert trial.budget == 6 and trial.reached == 6
        assert trial.worker and "node=" in trial.worker
    # the retry's 3 reports, and those of the lost attempt that were streamed before it died
    assert 3 <= n_reports <= 6


def test_tune_runs_on_ray_with_resources(tmp_path):
    import hpo

    @hpo.tune(space={"x": Float(0.0, 1.0)}, searcher="random", resources={"cpu": 0.5})
    def f(config):
        return objectives.quadratic(config)

    result = f.run(n_trials=4, executor="ray", storage=str(tmp_path / "t.db"), seed=0)
    assert sum(t.status is TrialStatus.COMPLETED for t in result.trials) == 4
    with pytest.raises(HPOError, match="executor='ray'"):
        f.run(n_trials=1, executor="inprocess", address="auto")


def test_streamed_reports_all_arrive_in_order_before_the_end(tmp_path):
    # the scheduler never judges reports: they stream in batches, the rest with the result
    ex = RayExecutor()
    ex.wait_for_decisions = False
    ex.start(objectives.curve, str(tmp_path))
    ex.submit(make_job(1, {"x": 0.5, "delay": 0.04}, start=0, stop=12, max_=12))
    ex.submit(make_job(2, {"x": 0.5}, start=0, stop=3, max_=3))  # too short to flush: all come at the end
    events = drive(ex, 2)
    for trial_id, n in ((1, 12), (2, 3)):
        mine = [e for e in events if e.trial_id == trial_id]
        assert [e.report.step for e in mine[:-1]] == list(range(n))
        assert isinstance(mine[-1], Finished)
    ex.shutdown()


def test_a_stop_for_a_streamed_report_ends_the_job_at_once(tmp_path):
    from hpo.execution.base import Stopped
    from hpo.trial import Decision

    ex = RayExecutor()
    ex.wait_for_decisions = False
    ex.start(objectives.curve, str(tmp_path))
    ex.submit(make_job(1, {"x": 0.5, "delay": 0.05}, start=0, stop=200, max_=200))
    events = drive(ex, 1, decide=lambda tid, r: Decision.STOP if r.step >= 3 else Decision.CONTINUE, timeout=30)
    assert isinstance(events[-1], Stopped) and events[-1].decision is Decision.STOP
    assert ex.capacity() == 2 and ex.running() == []
    ex.shutdown()
