"""``RayExecutor``: a study's jobs as Ray tasks on a cluster of (GPU) workers.

The driver keeps the study: storage, scheduler and searcher. Each job runs in a Ray
actor (:class:`hpo.execution._ray_worker.Worker`) that holds the trial's resources
(``num_gpus`` may be fractional) on a node the executor picks, so it knows at every
moment how much of each node it holds; concurrency follows the cluster's free resources
and ``max_concurrent`` caps it. Nodes that join or leave the cluster are picked up as
they come. Actors are reused from job to job (as Ray Tune's ``reuse_actors``): a job
costs one actor call. An idle actor whose resources do not suit the next job (resources
given per config) is ended to make room. All actors end with the study run, so the
cluster gets every GPU back.

``hpo.report()`` inside a task calls a small async actor on the driver's node (the hub,
:class:`hpo.execution._ray_worker.Hub`), which queues the report for the driver and
blocks the trial until the scheduler's decision comes back. So a STOP or PAUSE takes
effect at the very report it answers: the task ends and Ray frees its GPU at once (a
task that ignores it is killed after ``stop_grace`` seconds). PAUSE and promotions are
new jobs that continue from the trial's checkpoint on whichever node is free. When the
study's scheduler never judges reports (``wait_for_decisions`` is False: FIFO, and
schedulers that act only between jobs, like our ASHA and Hyperband), reports stream
without the round trip, and a job ends only once all its reports have arrived.

Queueing ahead (``queue_ahead``, set by the study like ``wait_for_decisions``). A job
costs a round trip between two jobs on one actor: the result travels to the driver, the
study records it and picks the next job, and the call travels back (about 6 ms, against
50 ms trials in ``benchmarks/results/ray.md``). With ``queue_ahead`` the executor sends
one more job to each busy actor, so Ray starts it there the moment the current call
returns, and the study's storage writes happen while it runs. :meth:`capacity` then
counts one queued job per busy actor, so the study asks its scheduler for the next job
when an actor becomes busy rather than when it frees: each choice is made one job earlier,
without the result of the job that actor is running. That is harmless when the choice does
not depend on results (FIFO with random or Sobol search) and changes decisions otherwise
(ASHA's promotions, model-based searchers), so the study turns it on only in the first
case. A queued job is not running: the executor sends :class:`Started` when it starts (the
driver sees the end of the job before it, or the queued job's first report, whichever
comes first; for an actor's first job, the actor coming up), and the study records the
trial RUNNING then, not at submission. A queued job's timeout counts from that start.

Start-up. With static ``resources`` and a ``max_concurrent``, :meth:`start` creates the
actors the first jobs need at once (Ray starts their processes in the background), so
they start while the study makes its first suggestions, and before the hub's (Ray starts a
few worker processes at a time: two on a 2-core machine). Starting worker processes is
most of a study's start-up on a small machine (``benchmarks/results/ray.md``).

Faults. A task whose worker process or node dies is retried up to ``max_retries``
times, from the trial's last checkpoint (:mod:`hpo.checkpoint`) and on another node
where one fits, then recorded FAILED with the reason; the study goes on. A job queued
behind it on the same actor had not started (as far as the driver knows): it is sent
again, to another actor, as the same job, with no retry counted and no event. Streamed
reports that a dead attempt had not sent yet (at most ``FLUSH_SECONDS`` worth) are lost
with it; the study then books the lost attempt's budget up to its last checkpoint. A driver
crash takes its tasks with it (Ray ends a dead driver's tasks); ``hpo resume`` re-queues
the trials that were running, exactly as with the local executor.

Checkpoints live in the study's artifact folder, next to the SQLite file. On a cluster of
several machines that folder must be on a file system every node mounts (NFS or
similar), as with Ray Tune's ``storage_path``.
"""

from __future__ import annotations

import itertools
import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from hpo.errors import HPOError
from hpo.execution._jobs import JobSpec
from hpo.execution._ray_cluster import Cluster, Resources, fmt, normalize_resources
from hpo.execution._ray_outcomes import (
    RUNNING,
    RayOutcomes,
    Started,
    _Run,
    _Slot,
)
from hpo.execution._ray_slots import RaySlots
from hpo.execution.base import BaseExecutor, Event, Failed, Stopped
from hpo.trial import Decision, Job

__all__ = ["RayExecutor", "Started", "normalize_resources", "redact"]


def redact(text: str) -> str:
    """``text`` with the ``user:password@`` of any URL in it replaced by ``***@``.

    Error messages name the cluster address; credentials in it are never shown.
    """
    return re.sub(r"(//)[^/@\s'\"]+@", r"\1***@", text)


class RayExecutor(RaySlots, RayOutcomes, BaseExecutor):
    """Runs jobs as Ray tasks, with per-trial resources, streaming reports and retries.

    Args:
        address: Ray cluster to join: None starts a local Ray instance when none is
            running (the embedded default on one machine), ``"auto"`` joins the cluster
            this machine belongs to, ``"ray://host:10001"`` uses Ray Client. If this
            process is already connected to Ray, that connection is used.
        resources: Per-trial resources, e.g. ``{"gpu": 1, "cpu": 4}`` (fractional GPUs
            allowed), or a function ``config -> dict`` for configs whose model sizes
            differ. Keys not given are 0; None means one CPU per trial.
        max_concurrent: Most jobs running at once; None follows the cluster's resources.
        max_retries: Retries of a job whose worker or node died, from its last checkpoint.
        trial_timeout: Seconds a job may run before it is killed and recorded FAILED, counted
            from its start on a worker that is up (not the seconds Ray takes to start one).
        n_workers: Alias of ``max_concurrent`` (the name other executors use).
        stop_grace: Seconds a job may go on after a STOP/PAUSE answer before it is killed.
        init_kwargs: Extra arguments for ``ray.init`` when this executor connects.

    Raises:
        HPOError: for invalid arguments.
    """

    isolates_failures: ClassVar[bool] = True
    enforces_timeout: ClassVar[bool] = True
    queues_jobs: ClassVar[bool] = True

    def __init__(
        self,
        address: str | None = None,
        resources: Resources | Callable[[Mapping[str, Any]], Resources] | None = None,
        max_concurrent: int | None = None,
        max_retries: int = 2,
        trial_timeout: float | None = None,
        n_workers: int | None = None,
        stop_grace: float = 10.0,
        init_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        cap = max_concurrent if max_concurrent is not None else n_workers
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise HPOError(f"max_concurrent must be a positive integer or None, got {cap!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise HPOError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        if trial_timeout is not None and not trial_timeout > 0:
            raise HPOError(f"trial_timeout must be positive seconds or None, got {trial_timeout!r}")
        if address is not None and not isinstance(address, str):
            raise HPOError(f"address must be None, 'auto' or 'host:port' / 'ray://host:port', got {address!r}")
        self._static_demand = None if callable(resources) else normalize_resources(resources)
        self.resources = resources
        self.address = address
        self.max_concurrent = cap
        self.max_retries = max_retries
        self.trial_timeout = trial_timeout
        self.stop_grace = stop_grace
        self.init_kwargs = dict(init_kwargs or {})
        self._runs: dict[int, _Run] = {}
        self._by_ref: dict[Any, int] = {}
        self._waiting: list[int] = []  # submitted, no node has room yet (FIFO)
        self._cluster = Cluster()
        self._ready: list[Event] = []
        self._hub: Any = None
        self._poll: Any = None
        self._worker_class: Any = None
        self._slots: list[_Slot] = []
        self._loading: dict[Any, _Slot] = {}  # ObjectRef of an actor's ``load`` call -> its slot, until it is up
        self._box: list[Any] | None = None
        self._key = ""
        self._artifact_root: str | None = None
        self._last_demand: dict[str, float] | None = self._static_demand
        self._tickets = itertools.count(1)

    # ------------------------------------------------------------------ set-up
    def start(self, objective: Callable[..., Any], artifact_root: str | None = None) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from hpo.execution._ray_worker import Hub, Worker

        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "configure_logging": False, **self.init_kwargs}
            if self.address is not None:
                kwargs["address"] = self.address
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise HPOError(redact(f"could not connect to the Ray cluster at {self.address!r}: {exc}")) from exc
        self._artifact_root = artifact_root
        self._key = uuid.uuid4().hex
        from hpo.execution._shipping import ship_objective

        # cloudpickle itself (not Ray's copy) so that objectives that ``hpo run`` loaded
        # from a file travel by value, as with the local executor; an unpicklable one
        # raises ObjectivePicklingError naming what it captures
        self._box = [ray.put(ship_objective(objective, "Ray workers"))]
        self._worker_class = ray.remote(Worker)
        self._cluster.refresh(force=True)
        self._prestart()  # before the hub: a small machine starts a few worker processes at a time
        if self._hub is None:
            here = ray.get_runtime_context().get_node_id()
            self._hub = (
                ray.remote(Hub)
                .options(
                    num_cpus=0,
                    max_concurrency=100_000,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False),
                )
                .remote()
            )
        for slot in self._slots:
            if not slot.loading:
                self._load(slot)

    def _prestart(self) -> None:
        """Create the actors the first jobs will run on now (static resources and a cap only).

        Creation returns at once; Ray starts the processes while the study makes its first
        suggestions, and the first jobs queue on the actors until they are up.
        """
        demand = self._static_demand
        if demand is None or self.max_concurrent is None:
            return  # how many, or of which shape, is not known before the first configs
        have = sum(1 for slot in self._slots if slot.demand == demand)
        for _ in range(self._cluster.fits(demand, self.max_concurrent - have)):
            node = self._cluster.place(demand)
            if node is None:
                return
            self._new_slot(node, demand)

    # ------------------------------------------------------------------ capacity and placement
    def _demand(self, config: Mapping[str, Any]) -> dict[str, float]:
        if self._static_demand is not None:
            return self._static_demand
        try:
            requested = self.resources(config)  # type: ignore[operator,misc]
        except Exception as exc:  # noqa: BLE001
            raise HPOError(f"resources({dict(config)!r}) raised {type(exc).__name__}: {exc}") from exc
        return normalize_resources(requested, "resources(config)")

    def capacity(self) -> int:
        if self._waiting:
            return 0
        running = sum(1 for slot in self._slots if slot.trial_id is not None)
        free = math.inf if self.max_concurrent is None else self.max_concurrent - running
        demand = self._last_demand
        room = 0
        if free > 0:
            if demand is None:  # resources depend on the config and none was seen yet: try one
                return 1
            idle = sum(1 for slot in self._slots if slot.trial_id is None and slot.demand == demand)
            room = int(min(free, idle + self._cluster.fits(demand, free - idle)))
        if demand is not None:
            room += sum(1 for slot in self._slots if slot.demand == demand and self._can_queue_behind(slot))
        # when nothing runs, a job that fits nowhere fails with the reason rather than stalling the study
        return room if self._runs else max(room, 1)

    def running(self) -> list[int]:
        return list(self._runs)

    def placement(self, trial_id: int) -> dict[str, Any]:
        run = self._runs.get(trial_id)
        if run is None:
            return {}
        node = run.slot.node if run.slot else None
        where: dict[str, Any] = {"node": node.ip if node else "pending"}
        if node is not None:
            where["node_id"] = node.node_id[:8]
        where.update({k.lower(): f"{v:g}" for k, v in run.demand.items()})
        return where

    # ------------------------------------------------------------------ submitting
    def submit(self, job: Job) -> None:
        if self._worker_class is None:
            raise HPOError("executor.start(objective) must be called before submit()")
        spec = JobSpec.from_job(job, self._artifact_root)
        try:
            demand = self._demand(spec.config)
        except HPOError as exc:
            self._runs[spec.trial_id] = _Run(spec, {})
            self._ready.append(Failed(spec.trial_id, str(exc), None, 0.0))
            return
        run = _Run(spec, demand)
        self._runs[spec.trial_id] = run
        if not self._cluster.could_hold(demand):
            self._cluster.refresh(force=True)
        if not self._cluster.could_hold(demand):
            why = f"trial {spec.trial_id} asks for {fmt(demand)}, more than any node has ({self._cluster.describe()})"
            self._ready.append(Failed(spec.trial_id, why, None, 0.0))
            return
        self._last_demand = demand
        if not self._launch(run):
            self._waiting.append(spec.trial_id)

    # ------------------------------------------------------------------ decisions
    def respond(self, trial_id: int, decision: Decision) -> None:
        run = self._runs.get(trial_id)
        if run is None:
            return
        if not run.awaiting:
            if decision is not Decision.CONTINUE and run.ref is not None and run.stop_sent is None:
                # a streamed report (nobody waits for the answer): end the job now
                self._kill(run)
                self._ready.append(Stopped(trial_id, decision, time.monotonic() - run.started))
            return
        run.awaiting = False
        if decision is not Decision.CONTINUE:
            run.stop_sent, run.stop_decision = time.monotonic(), decision
        self._hub.decide.remote(trial_id, run.ticket, decision.value)

    def _kill(self, run: _Run) -> None:
        """End a job at once: if its actor still runs it, the actor is ended (which frees its GPU)."""
        self._hub.forget.remote(run.spec.trial_id, run.ticket)
        self._end(run.spec.trial_id, slot_ok=run.state != RUNNING)

    def _overdue(self) -> list[Event]:
        """Jobs past ``trial_timeout``, and stopped jobs that did not end within ``stop_grace``."""
        now = time.monotonic()
        out: list[Event] = []
        for trial_id, run in list(self._runs.items()):
            if run.state != RUNNING:
                continue
            if self.trial_timeout is not None and now - run.started > self.trial_timeout:
                self._kill(run)
                out.append(Failed(trial_id, f"timed out after {self.trial_timeout:g} s (trial_timeout)", None, now - run.started))
            elif run.stop_sent is not None and now - run.stop_sent > self.stop_grace:
                self._kill(run)
                out.append(Stopped(trial_id, run.stop_decision or Decision.STOP, now - run.started))
        return out

    # ------------------------------------------------------------------ events
    def events(self, timeout: float | None) -> list[Event]:
        import ray

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # every event goes through self._ready, in the order it happened: a job's
            # Started comes before its reports, and its reports before its end
            self._ready += self._overdue()
            self._cluster.refresh()
            self._launch_waiting()
            if self._poll is None:
                self._poll = self._hub.poll.remote(0.25)
            refs = [*self._loading, self._poll, *self._by_ref]
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            wait = 0.5 if remaining is None else min(remaining, 0.5)
            if self._ready:
                wait = 0.0
            ready, _ = ray.wait(refs, num_returns=1, timeout=wait)
            if ready:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in sorted(ready, key=self._order):
                if ref in self._loading:
                    try:
                        ray.get(ref)
                    except Exception:  # noqa: BLE001 - the actor died starting: its jobs' results say so
                        self._loading.pop(ref)
                        continue
                    self._slot_up(self._loading[ref])
                elif ref == self._poll:
                    self._poll = None
                    self._ready += self._reports(ray.get(ref))
                else:
                    self._ready += self._outcome(ref)
            out, self._ready = self._ready, []
            for event in out:  # jobs that failed at submission end only when they are told
                if isinstance(event, Failed) and event.trial_id in self._runs:
                    self._end(event.trial_id)
            if out or (deadline is not None and time.monotonic() >= deadline):
                return out

    def _order(self, ref: Any) -> int:
        """Actors up first, then reports, then results in the order the jobs were sent (an
        actor's in its own order)."""
        if ref in self._loading:
            return -2
        if ref == self._poll:
            return -1
        run = self._runs.get(self._by_ref.get(ref, -1))
        return run.ticket if run is not None else 0

    # ------------------------------------------------------------------ the end
    def shutdown(self) -> list[int]:
        import ray

        cut = list(self._runs)
        self._runs.clear()
        self._by_ref.clear()
        self._waiting.clear()
        for slot in list(self._slots):
            self._drop_slot(slot)
        self._loading.clear()
        self._ready.clear()
        if self._hub is not None and ray.is_initialized():
            try:
                ray.kill(self._hub)
            except Exception:  # noqa: BLE001 - the cluster may be gone
                pass
        self._hub, self._poll = None, None
        return cut
