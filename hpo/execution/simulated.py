"""Simulated-time executor: replay benchmarks on an event heap with K simulated workers.

The objective is an ordinary train function (``objective(config, budget)`` calling
``hpo.report``), typically a benchmark lookup such as the LCBench surrogate, whose
reports carry the **cumulative training time** of the trial (``time_metric``, LCBench's
``time`` output). A job that started at simulated time ``t0`` from budget position
``start`` delivers a report with time ``T`` at ``t0 + (T - T_start)``, where ``T_start``
is the trial's time at ``start`` (0 for a fresh trial). Reports of all running jobs are
delivered in simulated-time order, so schedulers see exactly what they would see on K
real workers.

Each job runs in its own greenlet (a coroutine on the driver's thread): the driver
switches into a job until its next report, so only one runs at a time, a replay is
deterministic, and a switch costs about a microsecond (OS threads cost milliseconds
per hand-off here, which made a 10,000-trial replay take minutes).

**Optimizer overhead counts**: the real time the driver spends between two events (the
scheduler's and searcher's decisions, storage writes) is added to the simulated clock;
the real time of the objective itself (the benchmark lookup) is not.

Stopping and continuing are free here (``resumes_for_free``): a promoted trial goes on
from where it stopped, as with a perfect checkpoint, as in Syne Tune's simulator.

Reference: Salinas, Seeger, Klein, Perrone, Wistuba & Archambeau, "Syne Tune: A Library
for Large Scale Hyperparameter Tuning and Reproducible Research", AutoML 2022 (simulated
backend).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hpo.errors import HPOError
from hpo.execution._jobs import JobSpec, run_job
from hpo.execution.base import BaseExecutor, Event, Failed, Finished, Reported, Stopped
from hpo.trial import Decision, Job, Report

__all__ = ["SimulatedExecutor", "SimulatedClock"]


class SimulatedClock:
    """Simulated seconds since the executor started."""

    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    def timestamp(self) -> float:
        return self.now


class _Channel:
    """The job's side: a report switches to the driver and resumes with its decision."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.final: tuple[str, Any] | None = None

    def report(self, report: Report) -> Decision:
        from hpo import _runtime

        context = _runtime.current()  # contexts are thread-local, and greenlets share the thread
        decision = self.driver.switch(("report", report))
        _runtime.bind(context)
        return decision

    def finished(self, result: Any, elapsed: float) -> None:
        self.final = ("finished", result)

    def stopped(self, decision: Decision, elapsed: float) -> None:
        self.final = ("stopped", decision)

    def failed(self, reason: str, tb: str | None, elapsed: float) -> None:
        self.final = ("failed", (reason, tb))


@dataclass
class _SimJob:
    job: Job
    channel: _Channel
    green: Any  # the job's greenlet
    t0: float  # simulated start
    base: float  # the trial's benchmark time at the job's start
    last: float = 0.0  # simulated time of the latest message
    waiting: bool = False  # a report awaits its decision
    extra: dict[str, Any] = field(default_factory=dict)

    def step(self, value: Any = None) -> tuple[str, Any]:
        """Run the job until its next report or its end; returns that message."""
        from hpo import _runtime

        message = self.green.switch(value) if value is not None else self.green.switch()
        _runtime.bind(None)
        if self.green.dead:
            assert self.channel.final is not None
            return self.channel.final
        return message


class SimulatedExecutor(BaseExecutor):
    """K simulated workers on an event heap (see the module docstring).

    Args:
        n_workers: Number of simulated workers (jobs at once).
        time_metric: Report metric holding the trial's cumulative simulated time.
        count_overhead: Add the driver's real compute time to the simulated clock.
    """

    resumes_for_free: ClassVar[bool] = True

    def __init__(
        self,
        n_workers: int = 4,
        time_metric: str = "time",
        count_overhead: bool = True,
        trial_timeout: float | None = None,
    ) -> None:
        super().__init__()
        if trial_timeout is not None:
            raise HPOError("the simulated executor does not enforce trial_timeout (simulated jobs cannot hang)")
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise HPOError(f"n_workers must be a positive int, got {n_workers!r}")
        self.n_workers = n_workers
        self.time_metric = time_metric
        self.count_overhead = count_overhead
        self.clock: SimulatedClock = SimulatedClock()
        self._objective: Callable[..., Any] | None = None
        self._root: str | None = None
        self._jobs: dict[int, _SimJob] = {}
        self._heap: list[tuple[float, int, int, str, Any]] = []
        self._seq = itertools.count()
        self._trial_time: dict[int, float] = {}  # trial id -> benchmark time reached
        self._mark: float | None = None  # real time when the driver last got control back
        self.overhead = 0.0  # total real driver seconds added to the clock

    # ------------------------------------------------------------------ lifecycle
    def start(self, objective: Callable[..., Any], artifact_root: str | None = None) -> None:
        self._objective = objective
        self._root = artifact_root

    def capacity(self) -> int:
        return self.n_workers - len(self._jobs)

    def running(self) -> list[int]:
        return list(self._jobs)

    def submit(self, job: Job) -> None:
        if self._objective is None:
            raise HPOError("SimulatedExecutor.submit called before start")
        trial_id = job.trial.trial_id
        base = self._trial_time.get(trial_id, 0.0) if job.budget.start > 0 else 0.0
        import greenlet

        channel = _Channel(greenlet.getcurrent())
        # no trial folders: stopping and continuing are free here, checkpoints are not needed
        spec = JobSpec.from_job(job, None)
        objective = self._objective
        green = greenlet.greenlet(lambda: run_job(objective, spec, channel))
        self._tick()  # the job starts once the driver's decision is made
        sim = _SimJob(job, channel, green, t0=self.clock.now, base=base, last=self.clock.now)
        self._jobs[trial_id] = sim
        self._receive(sim, sim.step())
        self._mark = time.perf_counter()  # the objective's own real time is not overhead

    def _receive(self, sim: _SimJob, message: tuple[str, Any]) -> None:
        """Put the job's latest message on the heap at its simulated time."""
        kind, payload = message
        trial_id = sim.job.trial.trial_id
        at = sim.last
        if kind == "report":
            t = payload.metrics.get(self.time_metric)
            if t is None:
                sim.step(Decision.STOP)  # ends the job (its "stopped" message is dropped)
                kind, payload = "failed", (
                    f"the simulated executor needs the cumulative time metric {self.time_metric!r} in "
                    f"every report; trial {trial_id} reported only {sorted(payload.metrics)}",
                    None,
                )
            else:
                at = max(sim.t0 + float(t) - sim.base, sim.last)
                self._trial_time[trial_id] = float(t)
                sim.waiting = True
        elif kind == "finished" and isinstance(payload, dict) and payload.get(self.time_metric) is not None:
            t = float(payload[self.time_metric])
            at = max(sim.t0 + t - sim.base, sim.last)
            self._trial_time[trial_id] = t
        sim.last = at
        heapq.heappush(self._heap, (at, next(self._seq), trial_id, kind, payload))

    def _tick(self) -> None:
        """Add the driver's real time since the last mark to the simulated clock."""
        now = time.perf_counter()
        if self.count_overhead and self._mark is not None:
            spent = max(now - self._mark, 0.0)
            self.clock.now += spent
            self.overhead += spent
        self._mark = now

    def events(self, timeout: float | None) -> list[Event]:
        self._tick()
        try:
            if not self._heap:
                return []
            at, _, trial_id, kind, payload = heapq.heappop(self._heap)
            self.clock.now = max(self.clock.now, at)
            sim = self._jobs[trial_id]
            elapsed = self.clock.now - sim.t0
            if kind == "report":
                return [Reported(trial_id, Report(payload.step, payload.metrics, elapsed))]
            del self._jobs[trial_id]
            if kind == "finished":
                return [Finished(trial_id, payload, elapsed)]
            if kind == "stopped":
                return [Stopped(trial_id, payload, elapsed)]
            reason, tb = payload
            return [Failed(trial_id, reason, tb, elapsed)]
        finally:
            self._mark = time.perf_counter()

    def respond(self, trial_id: int, decision: Decision) -> None:
        sim = self._jobs.get(trial_id)
        if sim is None or not sim.waiting:
            return
        sim.waiting = False
        self._tick()
        # the decision is taken "now": a job told to stop ends at the current time
        sim.last = max(sim.last, self.clock.now)
        self._receive(sim, sim.step(decision))
        self._mark = time.perf_counter()

    def shutdown(self) -> list[int]:
        cut = list(self._jobs)
        for sim in self._jobs.values():
            for _ in range(10_000):  # a job that ignores STOP keeps reporting; give up eventually
                if sim.green.dead or not sim.waiting:
                    break
                kind, _ = sim.step(Decision.STOP)
                sim.waiting = kind == "report"
        self._jobs.clear()
        self._heap.clear()
        return cut
