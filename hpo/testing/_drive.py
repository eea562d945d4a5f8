"""Drive an executor directly (without a Study), for executor contract tests; kill a driver mid-study."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable

from hpo.execution.base import BaseExecutor, Event, Failed, Finished, Reported, Stopped
from hpo.trial import Decision, Report


def drive(
    executor: BaseExecutor,
    expected: int,
    decide: Callable[[int, Report], Decision] = lambda trial_id, report: Decision.CONTINUE,
    timeout: float = 60.0,
) -> list[Event]:
    """Collect events until ``expected`` jobs ended, answering reports with ``decide``."""
    events: list[Event] = []
    ended = 0
    deadline = time.monotonic() + timeout
    while ended < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {ended} of {expected} jobs ended within {timeout} s")
        for event in executor.events(timeout=0.5):
            events.append(event)
            if isinstance(event, Reported):
                executor.respond(event.trial_id, decide(event.trial_id, event.report))
            elif isinstance(event, (Finished, Stopped, Failed)):
                ended += 1
    return events


def kill_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float = 120.0) -> None:
    """SIGKILL ``process`` (a driver under test) as soon as ``ready()`` holds.

    Raises:
        AssertionError: with the process's output, if it exits first or ``timeout`` passes.
    """
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            out = process.stdout.read().decode() if process.stdout is not None else ""
            raise AssertionError(f"the process exited before it was killed:\n{out}")
        if time.monotonic() > deadline:
            raise AssertionError("the study made no progress")
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
