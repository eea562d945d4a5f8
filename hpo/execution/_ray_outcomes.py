"""How :class:`hpo.execution.ray.RayExecutor` reads what comes back from its Ray tasks.

Split out of :mod:`hpo.execution.ray` by responsibility (launching and placing jobs there;
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
from hpo.execution.base import Event, Failed, Finished, Reported, Retrying, Stopped
from hpo.trial import Decision

__all__ = ["RayOutcomes"]


@dataclass
class _Slot:
    """A worker actor holding ``demand`` on ``node``; ``trial_id`` is its job's, or None when idle."""

    actor: Any
    node: Node
    demand: dict[str, float]
    trial_id: int | None = None


@dataclass
class _Run:
    spec: JobSpec
    demand: dict[str, float]
    attempt: int = 0
    ref: Any = None  # the job's ObjectRef; None while waiting for free resources
    slot: _Slot | None = None
    started: float = 0.0
    awaiting: bool = False
    stop_sent: float | None = None  # when a STOP/PAUSE was answered
    stop_decision: Decision | None = None
    received: int = 0  # reports of this attempt that reached the driver
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

    def _reports(self, batch: list[Any]) -> list[Event]:
        out: list[Event] = []
        for trial_id, attempt, report, waits in batch:
            run = self._runs.get(trial_id)
            if run is None or run.attempt != attempt:
                if waits:
                    self._hub.decide.remote(trial_id, attempt, Decision.STOP.value)  # a stale attempt
                continue
            run.awaiting = waits
            run.received += 1
            out.append(Reported(trial_id, report))
            if run.returned is not None and run.received >= run.returned[0]:
                out += self._ended(run, *run.returned[1:])  # its last reports came after the outcome
        return out

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
            return [self._crashed(run, exc, elapsed)]
        if run.received < sent:  # streamed reports still on their way: end the job after them
            self._by_ref.pop(ref, None)
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

    def _crashed(self, run: _Run, exc: BaseException, elapsed: float) -> Event:
        import ray

        trial_id = run.spec.trial_id
        node = run.slot.node if run.slot else None
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}".strip(": ")
        where = f" on node {node.ip}" if node else ""
        self._hub.forget.remote(trial_id, run.attempt)
        if node is not None and isinstance(exc, ray.exceptions.NodeDiedError):
            self._cluster.dead.add(node.node_id)
        self._by_ref.pop(run.ref, None)
        if run.slot is not None:
            self._drop_slot(run.slot)
        run.ref, run.slot, run.awaiting, run.stop_sent = None, None, False, None
        run.received, run.returned = 0, None
        self._cluster.refresh(force=True)
        if run.attempt >= self.max_retries:
            self._end(trial_id)
            tries = f" (after {run.attempt} retr{'y' if run.attempt == 1 else 'ies'})" if run.attempt else ""
            return Failed(trial_id, f"worker died{where}{tries}: {reason}", None, elapsed, retryable=True)
        run.attempt += 1
        run.spec = replace(run.spec, budget=self._retry_budget(run.spec))
        if not self._launch(run):
            self._waiting.insert(0, trial_id)
        return Retrying(trial_id, f"worker died{where}: {reason}", run.attempt, run.spec.budget)

    @staticmethod
    def _retry_budget(spec: JobSpec) -> JobBudget:
        """Where a retried job starts: the trial's newest checkpoint inside the slice, else the slice's start."""
        from hpo import checkpoint

        budget = spec.budget
        saved = checkpoint.saved_step(spec.artifact_dir) if spec.artifact_dir else None
        if saved is not None and budget.start < saved < budget.stop:
            return JobBudget(saved, budget.stop, budget.max)
        return budget
