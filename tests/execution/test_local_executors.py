import os

from hpo.execution.base import Finished
from hpo.execution.local import InProcessExecutor, LocalExecutor
from hpo.testing import ExecutorContract, objectives
from hpo.testing._drive import drive
from hpo.testing.executor import make_job


class TestLocalExecutor(ExecutorContract):
    def make_executor(self, n_workers, trial_timeout=None):
        return LocalExecutor(n_workers=n_workers, trial_timeout=trial_timeout)

    def test_jobs_run_in_other_processes_and_workers_are_reused(self, executor_factory):
        ex = executor_factory(objectives.sleeps, n_workers=1)
        for i in range(3):
            ex.submit(make_job(i + 1, {"delay": 0.0}))
            drive(ex, 1)
        pids = set()
        ex.submit(make_job(10, {"delay": 0.0}))
        (event,) = drive(ex, 1)
        assert isinstance(event, Finished)
        pids.add(event.result["pid"])
        assert os.getpid() not in pids and len(pids) == 1

    def test_closures_from_the_caller_are_shipped(self, executor_factory):
        offset = 41.0
        ex = executor_factory(lambda config: {"loss": config["x"] + offset})
        ex.submit(make_job(1, {"x": 1.0}))
        (event,) = drive(ex, 1)
        assert event.result == {"loss": 42.0}

    def test_timed_out_worker_process_is_killed(self, executor_factory):
        ex = executor_factory(objectives.hangs, n_workers=1, trial_timeout=0.3)
        ex.submit(make_job(1, {}))
        pid = ex.placement(1)["pid"]
        drive(ex, 1, timeout=20)
        try:
            os.kill(pid, 0)
            alive = os.waitpid(pid, os.WNOHANG) == (0, 0)
        except (ProcessLookupError, ChildProcessError):
            alive = False
        assert not alive


class TestInProcessExecutor(ExecutorContract):
    def make_executor(self, n_workers, trial_timeout=None):
        return InProcessExecutor(n_workers=n_workers, trial_timeout=trial_timeout)

    def test_runs_in_the_driver_process(self, executor_factory):
        ex = executor_factory(objectives.sleeps)
        ex.submit(make_job(1, {"delay": 0.0}))
        (event,) = drive(ex, 1)
        assert event.result["pid"] == os.getpid()
