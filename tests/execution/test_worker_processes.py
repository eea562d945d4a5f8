"""LocalExecutor workers are their own interpreters: scripts need no main guard.

Worker processes never import the user's ``__main__`` (multiprocessing "spawn" re-ran it
in every worker, which started a second driver), so a plain script that calls
``.run(workers=2)`` at top level runs each trial once, in a worker, and its top-level code
runs once, in the driver.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import hpo
from hpo.errors import ObjectivePicklingError
from hpo.execution.base import Failed, Finished
from hpo.execution.local import LocalExecutor
from hpo.search_spaces import Float
from hpo.storage import open_storage
from hpo.testing import objectives
from hpo.testing._drive import drive
from hpo.testing.executor import make_job

REPO = Path(__file__).resolve().parents[2]

SCRIPT = '''
import os

import hpo
from hpo.search_spaces import Float
from helpers import shifted  # a function of an importable module: pickled by reference

with open("driver_runs.log", "a") as f:  # top-level code: must run once, in the driver only
    f.write(f"{os.getpid()}\\n")

@hpo.tune(space={"x": Float(0.0, 1.0)}, metric="loss", mode="min", searcher="random")
def train(config, budget):
    for step in range(budget.start, budget.stop):
        hpo.report(loss=(config["x"] - 0.5) ** 2 + 1 / (step + 1), step=step)
    return {"loss": (config["x"] - 0.5) ** 2}

train.run(n_trials=6, workers=2, storage="sqlite:///study.db", seed=0)

offset = 0.25
closure = hpo.tune(space={"x": Float(0.0, 1.0)}, searcher="random", name="closure")(
    lambda config: {"loss": config["x"] + offset}
)
closure.run(n_trials=4, workers=2, storage="sqlite:///closure.db", seed=0)

hpo.tune(space={"x": Float(0.0, 1.0)}, searcher="random", name="imported")(shifted).run(
    n_trials=4, workers=2, storage="sqlite:///imported.db", seed=0
)
'''

HELPERS = '''
def shifted(config):
    return {"loss": config["x"] - 1.0}
'''


def _trials(db: Path):
    store = open_storage(str(db), readonly=True)
    try:
        return store.trials()
    finally:
        store.close()


def test_script_without_main_guard_runs_every_trial(tmp_path):
    (tmp_path / "quick.py").write_text(SCRIPT)
    (tmp_path / "helpers.py").write_text(HELPERS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "quick.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    driver_pids = (tmp_path / "driver_runs.log").read_text().split()
    assert len(driver_pids) == 1  # workers never re-ran the script
    trials = _trials(tmp_path / "study.db")
    assert len(trials) == 6
    assert {t.status for t in trials} == {hpo.TrialStatus.COMPLETED}, [t.reason for t in trials]
    assert all(t.value == pytest.approx((t.config["x"] - 0.5) ** 2) for t in trials)
    assert all(t.worker.startswith("pid=") and t.worker != f"pid={driver_pids[0]}" for t in trials)
    closure = _trials(tmp_path / "closure.db")
    assert len(closure) == 4 and {t.status for t in closure} == {hpo.TrialStatus.COMPLETED}
    assert all(t.value == pytest.approx(t.config["x"] + 0.25) for t in closure)
    imported = _trials(tmp_path / "imported.db")
    assert len(imported) == 4 and {t.status for t in imported} == {hpo.TrialStatus.COMPLETED}


def test_unpicklable_objective_fails_before_any_trial_is_recorded(tmp_path):
    lock = threading.Lock()

    @hpo.tune(space={"x": Float(0.0, 1.0)}, searcher="random")
    def guarded(config):
        with lock:
            return config["x"]

    db = tmp_path / "study.db"
    with pytest.raises(ObjectivePicklingError) as info:
        guarded.run(n_trials=3, workers=2, storage=str(db))
    message = str(info.value)
    assert "guarded" in message  # names the objective
    assert "closure variable 'lock'" in message and "_thread.lock" in message  # and the culprit
    assert "module level" in message and "executor='inprocess'" in message  # and the fixes
    assert _trials(db) == []
    # the storage lock was released: the same study runs in threads (nothing is pickled)
    result = guarded.run(n_trials=2, executor="inprocess", storage=str(db))
    assert len(result.trials) == 2


def test_unpicklable_global_of_a_script_is_named():
    script = {"__name__": "__main__", "LOCK": threading.Lock()}  # pickled by value, like a script's
    exec("def uses_lock(config):\n    with LOCK:\n        return 0.0\n", script)
    ex = LocalExecutor(n_workers=1)
    with pytest.raises(ObjectivePicklingError, match="it captures global 'LOCK' \\(_thread.lock\\)"):
        ex.start(script["uses_lock"])
    assert ex.running() == [] and ex.shutdown() == []


@pytest.fixture
def local():
    made = []

    def factory(objective, n_workers=1, trial_timeout=None):
        ex = LocalExecutor(n_workers=n_workers, trial_timeout=trial_timeout)
        ex.start(objective)
        made.append(ex)
        return ex

    yield factory
    for ex in made:
        ex.shutdown()


def _inheritable_sockets(config):
    fds = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:") and os.get_inheritable(fd):
                fds.append(fd)
        except OSError:
            pass
    return {"loss": 0.0, "fds": fds}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_worker_socket_is_not_inherited_by_grandchildren(local):
    ex = local(_inheritable_sockets)
    ex.submit(make_job(1, {}))
    (event,) = drive(ex, 1)
    assert isinstance(event, Finished) and event.result["fds"] == []


def _forks_then_dies(config):
    if os.fork() == 0:  # a forked grandchild keeps the worker's socket open
        time.sleep(3)
        os._exit(0)
    os._exit(3)


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfds (Linux)")
def test_pidfd_sees_a_dead_worker_whose_socket_a_grandchild_holds(local):
    ex = local(_forks_then_dies)
    ex.submit(make_job(1, {}))
    (event,) = drive(ex, 1, timeout=2.5)  # before the grandchild exits and closes the socket
    assert isinstance(event, Failed) and event.retryable
    assert "exit code 3" in event.reason


def test_without_pidfd_a_dead_worker_is_seen_by_its_socket(local, monkeypatch):
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    ex = local(objectives.crashes)
    ex.submit(make_job(1, {}))
    (event,) = drive(ex, 1, timeout=20)
    assert isinstance(event, Failed) and event.retryable and "died (exit code" in event.reason
    ex.submit(make_job(2, {}))
    (event,) = drive(ex, 1, timeout=20)
    assert isinstance(event, Failed) and event.trial_id == 2


def test_driver_sys_path_reaches_the_worker(local, tmp_path, monkeypatch):
    (tmp_path / "shipped_by_ref.py").write_text("def f(config):\n    return {'loss': config['x'] * 2}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import shipped_by_ref

    ex = local(shipped_by_ref.f)
    ex.submit(make_job(1, {"x": 1.5}))
    (event,) = drive(ex, 1)
    assert isinstance(event, Finished) and event.result == {"loss": 3.0}


def test_workers_ignore_ctrl_c_and_exit_on_shutdown(local):
    ex = local(objectives.sleeps, n_workers=1)
    ex.submit(make_job(1, {"delay": 0.0}))
    drive(ex, 1)  # the worker is up (its SIGINT handler set) and idle
    ex.submit(make_job(2, {"delay": 0.5}))
    pid = ex.placement(2)["pid"]
    time.sleep(0.2)
    os.kill(pid, signal.SIGINT)  # what Ctrl-C in the terminal sends the whole process group
    (event,) = drive(ex, 1)
    assert isinstance(event, Finished) and event.result["pid"] == pid
    assert ex.shutdown() == []
    with pytest.raises(ChildProcessError):  # it exited and was reaped
        os.waitpid(pid, os.WNOHANG)
