"""How :class:`hpo.execution.ray.RayExecutor` reads what comes back from its Ray tasks.

Split out of :mod:`hpo.execution.ray` by responsibility (placing jobs there, the actor pool in
:mod:`hpo.execution._ray_slots`;
turning streamed reports, task outcomes and dead workers into study events, and retries,
here). The rules are documented on :mod:`hpo.execution.ray` ("Faults").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from hpo.budget import JobBudget
from hpo.execution._jobs import JobSpec
from hpo.execution._ray_cluster import Node
from hpo.execution.base import Event, Failed, Finished, Reported, Retrying, Started, Stopped
from hpo.trial import Decision

__all__ = ["RayOutcomes", "Started"]


@dataclass
class _Slot:
    """A worker actor holding ``demand`` on ``node``.

    ``trial_id`` is the job the actor runs now (None when idle); ``queued`` is the job
    sent to it to run next (``queue_ahead``), which Ray starts on the actor as soon as
    the current call returns. ``loading``: its first call (``load``) was sent; ``up``: it
    returned, so the actor's process is up (until then its first job waits for it).
    """

    actor: Any
    node: Node
    demand: dict[str, float]
    trial_id: int | None = None
    queued: int | None = None
    loading: bool = False
    up: bool = False


WAITING, QUEUED, RUNNING, DONE = "waiting", "queued", "running", "done"


@dataclass
class _Run:
    """A submitted job, in one of four states.

    ``waiting`` (no actor has room yet), ``queued`` (sent to a busy actor, behind its
    current job), ``running`` (the job the actor runs now, as far as the driver knows)
    and ``done`` (its actor is free of it: its result or reports are still being read).
    """

    spec: JobSpec
    demand: dict[str, float]
    attempt: int = 0
    state: str = WAITING
    ref: Any = None  # the actor call's ObjectRef; None while waiting
    ticket: int = 0  # names this dispatch to the hub: reports of an abandoned one are told apart
    slot: _Slot | None = None  # the actor it was sent to
    started: float = 0.0  # driver's monotonic time when it started running
    announced: bool = False  # a Started event was sent for it
    awaiting: bool = False
    stop_sent: float | None = None  # when a STOP/PAUSE was answered
    stop_decision: Decision | None = None
    received: int = 0  # reports of this dispatch that reached the driver
    returned: tuple[int, list[Any], Any] | None = None  # what the job returned, while reports are on their way


class RayOutcomes:
    """Reports, outcomes and crashes of the executor's runs (a mixin of ``RayExecutor``)."""

    _runs: dict[int, _Run]
    _by_ref: dict[Any, int]
    _waiting: list[int]
    _hub: Any
    _cluster: Any
    max_retries: int
    _end: Any
    _drop_slot: Any
    _launch: Any
    _release: Any
    _slot_up: Any

    def _reports(self, batch: list[Any]) -> list[Event]:
        out: list[Event] = []
        for trial_id, ticket, report, waits in batch:
            run = self._runs.get(trial_id)
            if run is None or run.ticket != ticket:
                if waits:
                    self._hub.decide.remote(trial_id, ticket, Decision.STOP.value)  # an abandoned dispatch
                continue
            self._has_started(run)
            run.awaiting = waits
            run.received += 1
            out.append(Reported(trial_id, report))
            if run.returned is not None and run.received >= run.returned[0]:
                out += self._ended(run, *run.returned[1:])  # its last reports came after the outcome
        return out

    def _has_started(self, run: _Run) -> None:
        """The job showed it runs: its actor is up, and the job before it there has ended."""
        if run.state == QUEUED and run.slot is not None and run.slot.trial_id is not None:
            self._release(self._runs[run.slot.trial_id])
        if run.slot is not None and not run.slot.up:
            self._slot_up(run.slot)

    def _outcome(self, ref: Any) -> list[Event]:
        import ray

        trial_id = self._by_ref.get(ref)
        if trial_id is None:
            return []
        run = self._runs[trial_id]
        elapsed = time.monotonic() - run.started
        try:
            sent, unsent, outcome = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - the worker process or its node died
            return self._crashed(run, exc, elapsed)
        self._by_ref.pop(ref, None)
        self._has_started(run)
        if run.state == RUNNING:
            self._release(run)  # the actor goes on to the job queued behind it, if any
        if run.received < sent:  # streamed reports still on their way: end the job after them
            run.returned = (sent, unsent, outcome)
            return []
        return self._ended(run, unsent, outcome)

    def _ended(self, run: _Run, unsent: list[Any], outcome: Any) -> list[Event]:
        """The job's last reports (those it had not streamed yet), then how it ended."""
        trial_id = run.spec.trial_id
        out: list[Event] = [Reported(trial_id, report) for report in unsent]
        self._end(trial_id)
        kind = outcome[0]
        if kind == "finished":
            out.append(Finished(trial_id, outcome[1], outcome[2]))
        elif kind == "stopped":
            out.append(Stopped(trial_id, Decision(outcome[1]), outcome[2]))
        else:
            out.append(Failed(trial_id, outcome[1], outcome[2], outcome[3]))
        return out

    def _crashed(self, run: _Run, exc: BaseException, elapsed: float) -> list[Event]:
        """The job's actor died. A queued job that had not started is sent again as it was
        (by :meth:`_drop_slot`); one that had is retried from its checkpoint, or FAILED."""
        import ray

        trial_id = run.spec.trial_id
        slot = run.slot
        if run.state == QUEUED:  # seen before the end of the job it was queued behind
            if slot is not None:
                self._drop_slot(slot)
            return []
        node = slot.node if slot else None
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}".strip(": ")
        where = f" on node {node.ip}" if node else ""
        self._hub.forget.remote(trial_id, run.ticket)
        if node is not None and isinstance(exc, ray.exceptions.NodeDiedError):
            self._cluster.dead.add(node.node_id)
        self._by_ref.pop(run.ref, None)
        run.ref, run.slot, run.ticket, run.state = None, None, 0, WAITING
        run.awaiting, run.stop_sent, run.received, run.returned = False, None, 0, None
        if slot is not None:
            if slot.trial_id == trial_id:
                slot.trial_id = None
            self._drop_slot(slot)
        self._cluster.refresh(force=True)
        if run.attempt >= self.max_retries:
            self._end(trial_id)
            tries = f" (after {run.attempt} retr{'y' if run.attempt == 1 else 'ies'})" if run.attempt else ""
            return [Failed(trial_id, f"worker died{where}{tries}: {reason}", None, elapsed, retryable=True)]
        run.attempt += 1
        run.spec = replace(run.spec, budget=self._retry_budget(run.spec))
        if not self._launch(run):
            self._waiting.insert(0, trial_id)
        return [Retrying(trial_id, f"worker died{where}: {reason}", run.attempt, run.spec.budget)]

    @staticmethod
    def _retry_budget(spec: JobSpec) -> JobBudget:
        """Where a retried job starts: the trial's newest checkpoint inside the slice, else the slice's start."""
        from hpo import checkpoint

        budget = spec.budget
        saved = checkpoint.saved_step(spec.artifact_dir) if spec.artifact_dir else None
        if saved is not None and budget.start < saved < budget.stop:
            return JobBudget(saved, budget.stop, budget.max)
        return budget
