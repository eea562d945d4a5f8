"""Chaos on a real 3-node Ray cluster (``ray.cluster_utils.Cluster``, the ``ray_cluster``
fixture): worker nodes are removed and new ones added while a 200-trial ASHA study with
checkpoints runs on the Ray executor. Slow: ``make test-slow`` runs it.

Invariants: the study ends with 200 trials and none FAILED (a job on a removed node is
retried, from its checkpoint, on a node that is alive: see :mod:`hpo.execution.ray`), and
at least one job was retried; no COMPLETED trial seen during the run (snapshots read-only
every 0.1-0.2 s) is lost or changed; the cluster is left with three nodes.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hpo.budget import Budget
from hpo.search_spaces import Float
from hpo.storage import open_storage
from hpo.study import Study
from hpo.testing import objectives
from hpo.trial import TrialStatus

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

N_TRIALS = 200
REMOVE_AT = (20, 60, 100, 140)  # trials created when a node goes


def _trials(path: str) -> list:
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


class Chaos:
    """Removes a busy worker node at each of :data:`REMOVE_AT`, then adds a fresh one."""

    def __init__(self, cluster, db: str, seed: int = 0) -> None:
        self.cluster, self.db = cluster, db
        self.rng = np.random.default_rng(seed)
        self.completed: dict[int, tuple] = {}  # trial id -> (config, value, budget), as first seen
        self.hit: list[tuple[int, float]] = []  # (trial id running on a removed node, removal time)
        self.removed: list[str] = []
        self.snapshots = 0
        self.error: BaseException | None = None
        self.done = threading.Event()

    def _snapshot(self) -> list:
        trials = _trials(self.db)
        for t in trials:
            if t.status is TrialStatus.COMPLETED:
                seen = self.completed.setdefault(t.trial_id, (dict(t.config), t.value, t.budget))
                assert seen == (dict(t.config), t.value, t.budget), f"completed trial {t.trial_id} changed"
        self.snapshots += 1
        return trials

    def run(self) -> None:
        try:
            for threshold in REMOVE_AT:
                while len(trials := self._snapshot()) < threshold:
                    if self.done.is_set():
                        return
                    time.sleep(0.1)
                self._remove_one(trials)
            while not self.done.is_set():
                self._snapshot()
                time.sleep(0.2)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test
            self.error = exc

    def _remove_one(self, trials: list) -> None:
        nodes = list(self.cluster.worker_nodes)  # never the head: it holds the GCS and the driver
        busy = [n for n in nodes if any(t.status is TrialStatus.RUNNING and n.node_id[:8] in (t.worker or "") for t in trials)]
        victim = busy[int(self.rng.integers(len(busy)))] if busy else nodes[int(self.rng.integers(len(nodes)))]
        running = [t.trial_id for t in trials if t.status is TrialStatus.RUNNING and victim.node_id[:8] in (t.worker or "")]
        removed_at = time.time()
        self.cluster.remove_node(victim)
        self.removed.append(victim.node_id[:8])
        self.hit += [(trial_id, removed_at) for trial_id in running]
        time.sleep(float(self.rng.uniform(0.5, 2.0)))  # the study runs on two nodes meanwhile
        self.cluster.add_node(num_cpus=1, num_gpus=1)


def test_asha_study_of_200_trials_survives_nodes_leaving_and_joining(ray_cluster, tmp_path, capsys):
    db = str(tmp_path / "ray_chaos.db")
    chaos = Chaos(ray_cluster, db)
    outcome: dict = {}

    def optimize() -> None:  # the study's SQLite connection lives in this thread
        try:
            study = Study.create(
                objectives.checkpointed_curve, {"x": Float(0.0, 1.0), "delay": Float(0.02, 0.04)},
                budget=Budget(1, 9), storage=db, scheduler="asha", searcher="random", seed=0, executor="ray",
                executor_options={"resources": {"gpu": 1}, "max_retries": 3},
            )  # fmt: skip
            try:
                outcome["result"] = study.optimize(n_trials=N_TRIALS)
            finally:
                study.close()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            outcome["error"] = exc
        finally:
            chaos.done.set()

    # The study runs in a thread: Ray starts a node only from the main thread (it sets signal handlers).
    runner = threading.Thread(target=optimize, daemon=True)
    started = time.monotonic()
    runner.start()
    try:
        chaos.run()
    finally:
        runner.join(timeout=600)
    for error in (outcome.get("error"), chaos.error):
        if error is not None:
            raise error
    result = outcome["result"]
    chaos._snapshot()  # the last check, on the finished file
    by_id = {t.trial_id: t for t in result.trials}
    assert len(result.trials) == N_TRIALS
    assert len(chaos.removed) == len(REMOVE_AT), "the study ended before every node removal"
    assert not [t for t in result.trials if t.status in (TrialStatus.FAILED, TrialStatus.RUNNING, TrialStatus.PENDING)], [
        (t.trial_id, t.status, t.reason) for t in result.trials if t.status is not TrialStatus.COMPLETED
    ]
    for trial_id, (config, value, budget) in chaos.completed.items():  # no COMPLETED trial lost
        t = by_id[trial_id]
        assert (t.status, dict(t.config), t.value, t.budget) == (TrialStatus.COMPLETED, config, value, budget)
    retried = [t for t in result.trials if t.retries >= 1]
    assert retried, "no job was running on a removed node"
    for t in retried:  # re-run elsewhere, and said why
        assert "died" in t.notes.get("retry_reason", "") or "Died" in t.notes.get("retry_reason", "")
    # Trials seen running on a node just before it went either ended their job first (jobs
    # are short) or were retried; either way none was lost (no FAILED trial, above).
    hit_retried = sum(by_id[trial_id].retries >= 1 for trial_id, _ in chaos.hit)
    assert len(ray.nodes()) - sum(not n["Alive"] for n in ray.nodes()) == 3  # three nodes left for the next test
    with capsys.disabled():
        counts: dict[str, int] = {}
        for t in result.trials:
            counts[t.status.value] = counts.get(t.status.value, 0) + 1
        print(f"\nray chaos: {len(chaos.removed)} nodes removed and {len(chaos.removed)} added, "
              f"{len(chaos.hit)} trials seen running on them ({hit_retried} of them retried), {len(retried)} retried "
              f"({sum(t.retries for t in retried)} retries), {chaos.snapshots} snapshots checked, "
              f"trials {counts}, {time.monotonic() - started:.0f} s")
