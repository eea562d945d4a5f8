"""RayExecutor on a real multi-node Ray cluster (``ray.cluster_utils.Cluster``, 3 nodes,
each declaring 1 CPU and 1 GPU): GPU placement, stop and promote, driver kill and
``hpo resume``, node loss. Tests run in this order; node loss comes last.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from hpo.budget import Budget
from hpo.search_spaces import Float
from hpo.storage import open_storage
from hpo.study import Study
from hpo.testing import objectives
from hpo.trial import TrialStatus

ray = pytest.importorskip("ray")


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    """Most intervals open at one instant."""
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    now = best = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best


def _placement_study(tmp_path, resources, n_trials, delay):
    space = {"x": Float(0.0, 1.0), "delay": Float(delay, delay * 1.2)}
    study = Study.create(
        objectives.where_and_when, space, storage=str(tmp_path / "gpu.db"), searcher="random", seed=0,
        executor="ray", executor_options={"resources": resources},
    )  # fmt: skip
    result = study.optimize(n_trials=n_trials)
    study.close()
    done = [t for t in result.trials if t.status is TrialStatus.COMPLETED]
    assert len(done) == n_trials, [t.reason for t in result.trials]
    return done


def _gpus_back(total: float = 3.0, wait: float = 20.0) -> float:
    deadline = time.monotonic() + wait
    while True:
        free = ray.available_resources().get("GPU", 0.0)
        if free >= total - 1e-9 or time.monotonic() > deadline:
            return free
        time.sleep(0.2)


def test_one_gpu_per_trial_never_runs_more_than_three_and_each_sees_its_gpu(ray_cluster, tmp_path):
    done = _placement_study(tmp_path, {"gpu": 1}, n_trials=9, delay=1.0)
    assert _max_overlap([(t.metrics["start"], t.metrics["end"]) for t in done]) == 3
    for t in done:
        assert t.metrics["gpus"] == t.metrics["visible"] != ""  # hpo.trial_context() and CUDA_VISIBLE_DEVICES
    assert len({t.worker.split("node_id=")[1].split(",")[0] for t in done}) == 3  # all three nodes served
    assert _gpus_back() == 3.0


def test_half_a_gpu_per_trial_runs_six_at_once(ray_cluster, tmp_path):
    done = _placement_study(tmp_path, {"gpu": 0.5}, n_trials=18, delay=2.0)
    assert _max_overlap([(t.metrics["start"], t.metrics["end"]) for t in done]) == 6
    assert all(t.metrics["gpus"] for t in done)
    assert _gpus_back() == 3.0


def test_asha_stops_and_promotes_on_the_cluster_and_gpus_come_back(ray_cluster, tmp_path):
    study = Study.create(
        objectives.checkpointed_curve, {"x": Float(0.0, 1.0), "delay": Float(0.02, 0.05)}, budget=Budget(1, 9),
        storage=str(tmp_path / "asha.db"), scheduler="asha", searcher="random", seed=0,
        executor="ray", executor_options={"resources": {"gpu": 1}},
    )  # fmt: skip
    result = study.optimize(n_trials=12)
    study.close()
    statuses = [t.status for t in result.trials]
    assert TrialStatus.PAUSED in statuses or TrialStatus.PRUNED in statuses  # stopped at a rung
    promoted = [t for t in result.trials if t.metrics.get("resumed_from", 0) > 0]
    assert promoted, "no trial was promoted"
    for t in promoted:  # a promoted trial went on from its checkpoint at the rung it reached
        assert t.metrics["resumed_from"] in (1.0, 3.0)
    assert result.incumbent is not None and result.incumbent.status is TrialStatus.COMPLETED
    assert _gpus_back() == 3.0


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"gave up waiting for {what}")


def _trials(path: str):
    """The trials in ``path``, or [] while the driver has not created the study yet."""
    try:
        store = open_storage(path, readonly=True)
    except Exception:  # noqa: BLE001 - not created yet
        return []
    try:
        return store.trials()
    except Exception:  # noqa: BLE001 - file created, tables not yet
        return []
    finally:
        store.close()


def test_driver_killed_mid_study_then_hpo_resume_loses_and_reruns_nothing(ray_cluster, tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"x": {"type": "float", "low": 0.0, "high": 1.0}, "delay": {"type": "float", "low": 0.8, "high": 1.2}}))
    db = str(tmp_path / "kill.db")
    base = [sys.executable, "-m", "hpo"]
    ray_flags = ["--executor", "ray", "--address", ray_cluster.address, "--gpus-per-trial", "1", "--cpus-per-trial", "0"]
    run = base + ["run", "hpo.testing.objectives:where_and_when", "--space", str(space), "--storage", db,
                  "--trials", "12", "--searcher", "random", "--seed", "0", "--no-progress", *ray_flags]  # fmt: skip
    driver = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def done_and_queued():  # killed while jobs wait queued behind busy actors (PENDING, handed out)
            trials = _trials(db)
            done = sum(t.status is TrialStatus.COMPLETED for t in trials)
            return done >= 4 and any(t.status is TrialStatus.PENDING for t in trials)

        _wait_for(done_and_queued, 120, "4 completed trials and a queued one")

        def running_lines():
            status = subprocess.run(base + ["status", db], capture_output=True, text=True, timeout=60).stdout
            return [line for line in status.splitlines() if line.startswith("running: trial")]

        running = _wait_for(running_lines, 60, "hpo status to show a running trial")
        assert all("node=" in line and "gpu=1" in line for line in running), running  # where each runs
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    before = {t.trial_id: t for t in _trials(db) if t.status is TrialStatus.COMPLETED}
    assert 4 <= len(before) < 12
    resume = base + ["resume", db, "--no-progress", "--address", ray_cluster.address]
    out = subprocess.run(resume, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    after = _trials(db)
    completed = [t for t in after if t.status is TrialStatus.COMPLETED]
    assert len(completed) == 12, out.stdout + out.stderr
    for trial_id, t in before.items():  # nothing finished was lost or changed
        again = next(a for a in after if a.trial_id == trial_id)
        assert (again.status, again.value, again.finished_at) == (t.status, t.value, t.finished_at)
    configs = [json.dumps(dict(t.config), sort_keys=True) for t in completed]
    assert len(set(configs)) == 12  # nothing finished was run again
    interrupted = [t for t in after if t.status is TrialStatus.FAILED]
    assert all(t.reason == "interrupted" for t in interrupted)
    assert _gpus_back() == 3.0


def test_node_loss_mid_trial_retries_on_another_node_and_the_study_completes(ray_cluster, tmp_path):
    worker_nodes = [n for n in ray_cluster.worker_nodes]
    victim = worker_nodes[-1]
    db = str(tmp_path / "loss.db")
    study = Study.create(
        objectives.checkpointed_curve, {"x": Float(0.0, 1.0), "delay": Float(0.25, 0.3)}, budget=Budget(1, 12),
        storage=db, searcher="random", seed=0, executor="ray", executor_options={"resources": {"gpu": 1}},
    )  # fmt: skip
    killed: list[int] = []

    def kill_when_a_trial_is_half_way_on_the_victim() -> None:
        def target():
            store = open_storage(db, readonly=True)
            try:
                for t in store.trials():
                    on_victim = t.status is TrialStatus.RUNNING and victim.node_id[:8] in (t.worker or "")
                    if on_victim and len(store.reports(t.trial_id)) >= 4:
                        return t
            finally:
                store.close()
            return None

        trial = _wait_for(target, 120, "a trial half-way on the victim node")
        killed.append(trial.trial_id)
        ray_cluster.remove_node(victim)

    killer = threading.Thread(target=kill_when_a_trial_is_half_way_on_the_victim, daemon=True)
    killer.start()
    result = study.optimize(n_trials=4)
    study.close()
    killer.join(timeout=5)
    assert killed, "no trial ran on the victim node"
    assert len(result.trials) == 4
    assert all(t.status is TrialStatus.COMPLETED for t in result.trials), [t.reason for t in result.trials]
    (lost,) = [t for t in result.trials if t.trial_id == killed[0]]
    assert lost.retries == 1 and "died" in lost.notes["retry_reason"]
    assert lost.metrics["resumed_from"] >= 3  # went on from its checkpoint, not from 0
    assert victim.node_id[:8] not in lost.worker  # re-run elsewhere
    best = min(result.trials, key=lambda t: t.value)
    assert result.incumbent.trial_id == best.trial_id
    assert _gpus_back(total=2.0) == 2.0
    ray_cluster.add_node(num_cpus=1, num_gpus=1)  # leave three nodes for whoever comes next
