"""The executor interface: "where and when a job runs", and the clock it runs on.

An executor runs :class:`~hpo.trial.Job` objects and turns what happens into events:
:class:`Reported` (an ``hpo.report()`` call, which waits for :meth:`BaseExecutor.respond`),
:class:`Finished`, :class:`Stopped` (the trial obeyed a STOP/PAUSE) and :class:`Failed`.
The study passes each :class:`Reported` to its scheduler and answers with the decision.

The clock is part of the executor, so the same study and scheduler run in real time
(local, Ray) or on a simulated clock (simulated executor) without change.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from hpo.trial import Decision, Job, Report

__all__ = [
    "Clock",
    "WallClock",
    "Event",
    "Reported",
    "Finished",
    "Stopped",
    "Failed",
    "Retrying",
    "Started",
    "BaseExecutor",
]


class Clock(Protocol):
    """A source of time in seconds.

    ``time()`` measures durations (monotonic); ``timestamp()`` is what trials record as
    their created/started/finished times: Unix time on a wall clock, simulated seconds on
    a simulated one, so a replayed study records simulated times.
    """

    def time(self) -> float: ...

    def timestamp(self) -> float: ...


class WallClock:
    """Real time (``time.monotonic``)."""

    def time(self) -> float:
        return time.monotonic()

    def timestamp(self) -> float:
        return time.time()


@dataclass(frozen=True)
class Event:
    """Something that happened to a running job."""

    trial_id: int


@dataclass(frozen=True)
class Started(Event):
    """The job started on its worker (not terminal).

    Sent only while :attr:`BaseExecutor.queue_ahead` is on: a submitted job may then wait
    behind another on a busy worker, so the study records the trial RUNNING on this event,
    not at submission. Sent once per job, before any other event of it.

    Attributes:
        at: The executor clock's timestamp of the start, as the driver learned it (for
            the Ray executor: the actor coming up, or the end of the job before it on the
            same actor, or the job's first report; milliseconds after the true start).
    """

    at: float


@dataclass(frozen=True)
class Reported(Event):
    """The job called ``hpo.report()``; it waits until the executor is told the decision."""

    report: Report


@dataclass(frozen=True)
class Finished(Event):
    """The objective returned ``result`` after ``elapsed`` seconds."""

    result: Any
    elapsed: float


@dataclass(frozen=True)
class Stopped(Event):
    """The job ended because the scheduler's ``decision`` (STOP or PAUSE) reached it."""

    decision: Decision
    elapsed: float


@dataclass(frozen=True)
class Failed(Event):
    """The job failed: the objective raised, its worker died, or it ran out of time.

    Attributes:
        reason: One line, e.g. ``"ValueError: bad lr"`` or ``"timed out after 5.0 s"``.
        traceback: The full traceback from the worker, when there is one.
        retryable: True when the failure was the infrastructure's (a dead worker), not the
            objective's; executors with retries use it.
    """

    reason: str
    traceback: str | None
    elapsed: float
    retryable: bool = False


@dataclass(frozen=True)
class Retrying(Event):
    """The job's worker died; the executor runs the job again (not a terminal event).

    Attributes:
        reason: Why the previous attempt ended, e.g. ``"NodeDiedError: ..."``.
        attempt: The attempt now starting (1 for the first retry).
        budget: The slice the new attempt runs (it starts at the trial's last checkpoint).
    """

    reason: str
    attempt: int
    budget: Any


class BaseExecutor(ABC):
    """Runs jobs and reports what happens to them.

    Lifecycle: :meth:`start` once with the objective, then any number of :meth:`submit`
    and :meth:`events` calls, then :meth:`shutdown`.

    Attributes:
        clock: The executor's notion of time; the study measures elapsed time with it.
        isolates_failures: A crashing or hanging objective cannot take the driver down.
        enforces_timeout: ``trial_timeout`` kills the job (else a timed-out job is only
            recorded FAILED and abandoned; the study warns).
        resumes_for_free: Any trial continues where it stopped, checkpoint or not (a
            benchmark replay); the study then skips its checkpoint check.
        wait_for_decisions: Whether a report must wait for the scheduler's answer (see
            ``BaseScheduler.judges_reports``); executors may ignore it and always wait.
        queues_jobs: With :attr:`queue_ahead` on, :meth:`capacity` counts a job that may
            wait behind each busy worker's, and the executor sends :class:`Started` for
            every job when it starts.
        queue_ahead: Set by the study: True when it may hand out the next job before a
            worker is free (which job runs next does not depend on results) and records
            trials RUNNING on :class:`Started`. Only executors that ``queues_jobs`` act on it.
    """

    isolates_failures: ClassVar[bool] = False
    enforces_timeout: ClassVar[bool] = False
    resumes_for_free: ClassVar[bool] = False
    queues_jobs: ClassVar[bool] = False

    def __init__(self) -> None:
        self.clock: Clock = WallClock()
        #: Set by the study: False when its scheduler never judges reports, so an executor
        #: may stream them without waiting for the (always CONTINUE) answer.
        self.wait_for_decisions: bool = True
        #: Set by the study: see ``queue_ahead`` above.
        self.queue_ahead: bool = False

    @abstractmethod
    def start(self, objective: Callable[..., Any], artifact_root: str | None = None) -> None:
        """Prepare to run ``objective(config[, budget])``; ``artifact_root`` holds trial folders."""

    @abstractmethod
    def capacity(self) -> int:
        """Number of jobs that could be submitted right now."""

    @abstractmethod
    def submit(self, job: Job) -> None:
        """Start ``job``; the caller made sure :meth:`capacity` was positive."""

    @abstractmethod
    def events(self, timeout: float | None) -> list[Event]:
        """Wait up to ``timeout`` seconds for events; return all that are ready (maybe none)."""

    @abstractmethod
    def respond(self, trial_id: int, decision: Decision) -> None:
        """Answer the pending :class:`Reported` event of ``trial_id``."""

    @abstractmethod
    def running(self) -> list[int]:
        """Ids of trials whose jobs run now."""

    @abstractmethod
    def shutdown(self) -> list[int]:
        """Stop everything at once; returns the ids of trials whose jobs were cut short."""

    def placement(self, trial_id: int) -> Mapping[str, Any]:
        """Where a running trial runs (e.g. pid, node); shown by ``hpo status``."""
        return {}
