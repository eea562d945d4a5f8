"""The worker side of :class:`hpo.execution.ray.RayExecutor`: the Ray task and the report hub.

Imported inside Ray worker processes (and by the driver to define the remote functions),
so it imports Ray lazily and nothing else heavy.

* :class:`Worker` is the Ray actor that runs jobs, one at a time, with the resources it
  was created with (:func:`run_remote` is the body of one job). Actors are reused from
  job to job, so a job costs one actor call rather than a task's worker lease. The
  objective is shipped once per study run through the object store and cached per
  worker process.
* :class:`Hub` is an async actor on the driver's node. A running job's ``hpo.report()``
  calls ``hub.report``, which queues the report for the driver and waits until the
  driver answers with the scheduler's decision; the driver long-polls ``hub.poll``.
  When the study's scheduler never judges reports (FIFO, and the schedulers that act
  only between jobs), reports are streamed without waiting: batched, at most every
  ``FLUSH_SECONDS`` (``hub.post``), and what is left travels with the job's return
  value, which also says how many went through the hub, so the driver ends the job only
  once all of them arrived. (One hub call per report made the hub the bottleneck with
  many short trials: about 2 ms of its CPU per call.)
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from hpo.execution._jobs import JobSpec, run_job
from hpo.trial import Decision, Report

__all__ = ["Hub", "Worker", "run_remote", "Outcome"]

Outcome = tuple[Any, ...]  # ("finished", result, elapsed) | ("stopped", decision, elapsed) | ("failed", reason, tb, elapsed)
Returned = tuple[int, list[Report], Outcome]  # (reports sent through the hub, reports not sent yet, outcome)
FLUSH_SECONDS = 0.1  # streamed reports are sent in batches at most this often

_OBJECTIVES: dict[str, Any] = {}  # per worker process: study-run key -> objective


class Hub:
    """Report queue and decision mailbox (a Ray async actor; see the module docstring).

    Keys are ``(trial_id, ticket)``, the ticket naming one dispatch of the job, so that a
    report from a dispatch the driver gave up on (its worker died and the job was retried
    or sent again) cannot be answered or counted by mistake.
    """

    def __init__(self) -> None:
        self._events: list[tuple[int, int, Report, bool]] = []
        self._answers: dict[tuple[int, int], asyncio.Future[str]] = {}
        self._ready: asyncio.Event | None = None

    def _flag(self) -> asyncio.Event:
        if self._ready is None:  # created inside the actor's event loop
            self._ready = asyncio.Event()
        return self._ready

    async def report(self, trial_id: int, ticket: int, report: Report) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._answers[(trial_id, ticket)] = future
        self._events.append((trial_id, ticket, report, True))
        self._flag().set()
        return await future

    async def post(self, trial_id: int, ticket: int, reports: list[Report]) -> None:
        """Reports that do not wait for a decision."""
        self._events.extend((trial_id, ticket, report, False) for report in reports)
        self._flag().set()

    async def poll(self, timeout: float) -> list[tuple[int, int, Report, bool]]:
        flag = self._flag()
        if not self._events:
            try:
                await asyncio.wait_for(flag.wait(), timeout)
            except TimeoutError:
                pass
        out, self._events = self._events, []
        flag.clear()
        return out

    async def decide(self, trial_id: int, ticket: int, decision: str) -> None:
        future = self._answers.pop((trial_id, ticket), None)
        if future is not None and not future.done():
            future.set_result(decision)

    async def forget(self, trial_id: int, ticket: int) -> None:
        """Drop what an abandoned dispatch left behind."""
        self._answers.pop((trial_id, ticket), None)
        self._events = [e for e in self._events if (e[0], e[1]) != (trial_id, ticket)]


class _HubChannel:
    """A job's channel inside a Ray task: reports go through the hub; the outcome is returned."""

    def __init__(self, hub: Any, trial_id: int, ticket: int, wait: bool) -> None:
        self.hub = hub
        self.trial_id = trial_id
        self.ticket = ticket
        self.wait = wait
        self.sent = 0
        self.unsent: list[Report] = []
        self.flushed = time.monotonic()
        self.outcome: Outcome | None = None

    def report(self, report: Report) -> Decision:
        import ray

        if not self.wait:
            self.unsent.append(report)
            if time.monotonic() - self.flushed >= FLUSH_SECONDS:
                self.hub.post.remote(self.trial_id, self.ticket, self.unsent)
                self.sent += len(self.unsent)
                self.unsent, self.flushed = [], time.monotonic()
            return Decision.CONTINUE
        self.sent += 1
        return Decision(ray.get(self.hub.report.remote(self.trial_id, self.ticket, report)))

    def finished(self, result: Any, elapsed: float) -> None:
        import cloudpickle

        try:
            cloudpickle.dumps(result)
        except Exception as exc:  # noqa: BLE001 - an unpicklable result fails the trial, not the worker
            self.failed(f"ObjectiveError: result could not be sent to the driver: {exc}", None, elapsed)
            return
        self.outcome = ("finished", result, elapsed)

    def stopped(self, decision: Decision, elapsed: float) -> None:
        self.outcome = ("stopped", decision.value, elapsed)

    def failed(self, reason: str, tb: str | None, elapsed: float) -> None:
        self.outcome = ("failed", reason, tb, elapsed)


def _objective(key: str, box: list[Any]) -> Any:
    objective = _OBJECTIVES.get(key)
    if objective is None:
        import cloudpickle
        import ray

        objective = cloudpickle.loads(ray.get(box[0]))
        if len(_OBJECTIVES) >= 4:  # a long-lived worker may serve several study runs
            _OBJECTIVES.pop(next(iter(_OBJECTIVES)))
        _OBJECTIVES[key] = objective
    return objective


def run_remote(key: str, box: list[Any], spec: JobSpec, hub: Any, ticket: int, wait: bool) -> Returned:
    """Body of the Ray task for one job: run it; return the reports it sent and how it ended.

    Never raises. ``ticket``: names this dispatch to the hub. ``wait``: reports wait for
    the driver's decision.

    ``box`` is ``[ObjectRef]`` of the objective, wrapped in a list so that Ray does not
    fetch it for every task; it is fetched once per worker process and study run.
    """
    import ray

    try:
        objective = _objective(key, box)
    except BaseException as exc:  # noqa: BLE001 - e.g. the objective's module is missing on this node
        import traceback

        reason = f"objective could not be loaded on the worker: {type(exc).__name__}: {exc}"
        return 0, [], ("failed", reason, traceback.format_exc(), 0.0)
    gpu_ids = tuple(str(g) for g in ray.get_gpu_ids())
    if gpu_ids:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_ids)
    channel = _HubChannel(hub, spec.trial_id, ticket, wait)
    run_job(objective, spec, channel, gpu_ids=gpu_ids)
    return channel.sent, channel.unsent, channel.outcome or ("failed", "the job ended without telling how", None, 0.0)


class Worker:
    """The Ray actor that runs jobs (see the module docstring).

    The hub and the objective come once, with the first call (``load``), not with every
    job: passing object references and actor handles costs Ray's reference-counting
    protocol on each call. Jobs sent while one runs wait on the actor, in order.
    """

    def __init__(self) -> None:
        self.hub: Any = None
        self.key = ""
        self.box: list[Any] = []

    def load(self, key: str, box: list[Any], hub: Any) -> None:
        """Keep the study run's objective and hub."""
        self.key, self.box, self.hub = key, box, hub

    def run(self, spec: JobSpec, ticket: int, wait: bool) -> Returned:
        return run_remote(self.key, self.box, spec, self.hub, ticket, wait)
