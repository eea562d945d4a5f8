"""Entry point of a local worker process.

The worker receives the objective once (cloudpickled), then loops: receive a
:class:`~hpo.execution._jobs.JobSpec`, run it, send the outcome. Reports are sent over
the same pipe and the worker blocks for the driver's decision. It exits when the pipe
closes (driver gone) and, on Linux, is killed with its parent (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import signal
from typing import Any

from hpo.execution._jobs import JobSpec, run_job
from hpo.trial import Decision, Report


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the EOF on the pipe ends us instead
        pass


class _PipeChannel:
    def __init__(self, conn: Any, trial_id: int) -> None:
        self.conn = conn
        self.trial_id = trial_id

    def report(self, report: Report) -> Decision:
        self.conn.send(("report", self.trial_id, report))
        kind, decision = self.conn.recv()
        return Decision(decision)

    def finished(self, result: Any, elapsed: float) -> None:
        try:
            self.conn.send(("finished", self.trial_id, result, elapsed))
        except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable result
            self.failed(f"ObjectiveError: result could not be sent to the driver: {exc}", None, elapsed)

    def stopped(self, decision: Decision, elapsed: float) -> None:
        self.conn.send(("stopped", self.trial_id, decision.value, elapsed))

    def failed(self, reason: str, tb: str | None, elapsed: float) -> None:
        self.conn.send(("failed", self.trial_id, reason, tb, elapsed))


def main(conn: Any, objective_bytes: bytes) -> None:
    """Worker loop (the target of ``multiprocessing.Process``)."""
    import cloudpickle

    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    load_error: tuple[str, str] | None = None
    try:
        objective = cloudpickle.loads(objective_bytes)
    except BaseException as exc:  # noqa: BLE001 - reported on every job instead of dying
        import traceback

        load_error = (f"objective could not be loaded in the worker: {type(exc).__name__}: {exc}", traceback.format_exc())
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "exit":
            return
        spec: JobSpec = message[1]
        if load_error is not None:
            _PipeChannel(conn, spec.trial_id).failed(*load_error, 0.0)
            continue
        try:
            run_job(objective, spec, _PipeChannel(conn, spec.trial_id))
        except (BrokenPipeError, EOFError, OSError):
            return
