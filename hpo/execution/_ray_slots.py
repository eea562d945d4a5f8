"""How :class:`hpo.execution.ray.RayExecutor` keeps its actors: which job runs on which.

Split out of :mod:`hpo.execution.ray` by responsibility (the executor's interface and
placement there; the actor pool here: sending a job to an idle, new or busy actor
(queueing ahead), starting the queued job when the one ahead ends, and ending actors; what
comes back from them in :mod:`hpo.execution._ray_outcomes`). The rules are documented on
:mod:`hpo.execution.ray`.
"""

from __future__ import annotations

import time
from typing import Any

from hpo.execution._ray_cluster import Node
from hpo.execution._ray_outcomes import DONE, QUEUED, RUNNING, WAITING, Started, _Run, _Slot


class RaySlots:
    """The actor pool of ``RayExecutor`` (a mixin; the executor holds the state)."""

    _runs: dict[int, _Run]
    _by_ref: dict[Any, int]
    _waiting: list[int]
    _slots: list[_Slot]
    _loading: dict[Any, _Slot]
    _ready: list[Any]
    _hub: Any
    _cluster: Any
    _tickets: Any
    _worker_class: Any
    _key: Any
    _box: Any
    queue_ahead: bool
    wait_for_decisions: bool
    clock: Any

    def _can_queue_behind(self, slot: _Slot) -> bool:
        """With ``queue_ahead``: the actor is busy, has nothing queued, and its job is not being stopped."""
        if not self.queue_ahead or slot.trial_id is None or slot.queued is not None:
            return False
        head = self._runs.get(slot.trial_id)
        return head is not None and head.stop_sent is None

    def _launch(self, run: _Run) -> bool:
        """Send ``run`` to an idle actor of its shape, a new one, or (``queue_ahead``) behind
        the busy one whose job began first; False if nothing has room."""
        slot = next((x for x in self._slots if x.trial_id is None and x.demand == run.demand), None)
        if slot is None:
            node = self._cluster.place(run.demand)
            if node is None and self._end_idle_slots():
                node = self._cluster.place(run.demand)
            if node is not None:
                slot = self._new_slot(node, run.demand)
        if slot is not None:
            slot.trial_id = run.spec.trial_id
            self._dispatch(run, slot)
            self._go_live(run)
            return True
        behind = [x for x in self._slots if x.demand == run.demand and self._can_queue_behind(x)]
        if not behind:
            return False
        slot = min(behind, key=lambda x: self._runs[x.trial_id].started)  # type: ignore[index]
        slot.queued = run.spec.trial_id
        self._dispatch(run, slot)
        run.state = QUEUED
        return True

    def _dispatch(self, run: _Run, slot: _Slot) -> None:
        """Send the job to the actor (calls from this driver run there in the order sent)."""
        run.slot = slot
        run.ticket = next(self._tickets)
        run.ref = slot.actor.run.remote(run.spec, run.ticket, self.wait_for_decisions)
        self._by_ref[run.ref] = run.spec.trial_id

    def _go_live(self, run: _Run) -> None:
        """The job is its actor's now (it runs there once the actor is up)."""
        run.state, run.started = RUNNING, time.monotonic()
        if run.slot is not None and run.slot.up:
            self._announce(run)

    def _announce(self, run: _Run) -> None:
        """With ``queue_ahead``, tell the study the job started (once per job, retries not)."""
        if self.queue_ahead and not run.announced:
            run.announced = True
            self._ready.append(Started(run.spec.trial_id, self.clock.timestamp()))

    def _slot_up(self, slot: _Slot) -> None:
        """The actor's process is up (its ``load`` call returned): its first job starts now.

        The job's clock (``trial_timeout``, its duration) starts again here: the seconds Ray
        took to start the process are not the trial's (more than 10 s on a loaded 2-core machine).
        """
        slot.up = True
        self._loading = {ref: x for ref, x in self._loading.items() if x is not slot}
        run = self._runs.get(slot.trial_id) if slot.trial_id is not None else None
        if run is not None and run.state == RUNNING:
            run.started = time.monotonic()
            self._announce(run)

    def _release(self, run: _Run) -> None:
        """``run``'s actor is done with it: the job queued behind it starts, or the actor is idle."""
        run.state = DONE
        slot = run.slot
        if slot is None or slot.trial_id != run.spec.trial_id:
            return
        slot.trial_id, slot.queued = slot.queued, None
        if slot.trial_id is not None:
            self._go_live(self._runs[slot.trial_id])

    def _requeue(self, run: _Run) -> None:
        """A queued job whose actor was lost before it started: send it again (not a retry)."""
        self._by_ref.pop(run.ref, None)
        self._hub.forget.remote(run.spec.trial_id, run.ticket)
        run.ref, run.slot, run.ticket, run.state = None, None, 0, WAITING
        run.received, run.returned = 0, None
        if not self._launch(run):
            self._waiting.insert(0, run.spec.trial_id)

    def _new_slot(self, node: Node, demand: dict[str, float]) -> _Slot:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        options: dict[str, Any] = {
            "num_cpus": demand.get("CPU", 0.0),
            "num_gpus": demand.get("GPU", 0.0),
            "max_restarts": 0,  # retries are ours: from the checkpoint, on another node
            "max_task_retries": 0,
            "scheduling_strategy": NodeAffinitySchedulingStrategy(node.node_id, soft=False),
        }
        if "memory" in demand:
            options["memory"] = demand["memory"]
        custom = {k: v for k, v in demand.items() if k not in ("CPU", "GPU", "memory")}
        if custom:
            options["resources"] = custom
        slot = _Slot(self._worker_class.options(**options).remote(), node, demand)
        node.take(demand)
        self._slots.append(slot)
        if self._hub is not None:  # else start() loads it once the hub exists
            self._load(slot)
        return slot

    def _load(self, slot: _Slot) -> None:
        """The actor's first call (calls from one caller run in the order sent): the hub and
        the objective; it returns once the actor's process is up."""
        slot.loading = True
        self._loading[slot.actor.load.remote(self._key, self._box, self._hub)] = slot

    def _drop_slot(self, slot: _Slot) -> None:
        """End a worker actor (if it still lives) and give its resources back.

        A job queued on it that had not started goes to another actor (:meth:`_requeue`).
        """
        import ray

        if slot in self._slots:
            self._slots.remove(slot)
            slot.node.take(slot.demand, -1.0)
        self._loading = {ref: x for ref, x in self._loading.items() if x is not slot}
        try:
            ray.kill(slot.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already dead, or the cluster is gone
            pass
        orphan = self._runs.get(slot.queued) if slot.queued is not None else None
        slot.trial_id = slot.queued = None
        if orphan is not None and orphan.state == QUEUED:
            self._requeue(orphan)

    def _end_idle_slots(self) -> bool:
        """End idle actors to make room for a job of another shape; True if any ended."""
        idle = [slot for slot in self._slots if slot.trial_id is None]
        for slot in idle:
            self._drop_slot(slot)
        return bool(idle)

    def _launch_waiting(self) -> None:
        while self._waiting:
            run = self._runs.get(self._waiting[0])
            if run is not None and run.state == WAITING and not self._launch(run):
                return
            self._waiting.pop(0)

    def _end(self, trial_id: int, slot_ok: bool = True) -> _Run:
        """Forget a job. Its actor, if it still runs the job, goes on to the queued one or
        becomes idle (``slot_ok``), or is ended. (A queued job is never ended: it has no
        reports to stop, and no timeout before it starts.)"""
        run = self._runs.pop(trial_id)
        if run.ref is not None:
            self._by_ref.pop(run.ref, None)
        slot = run.slot
        if slot is not None and slot.trial_id == trial_id:
            if slot_ok:
                self._release(run)
            else:
                self._drop_slot(slot)
        if trial_id in self._waiting:
            self._waiting.remove(trial_id)
        return run
