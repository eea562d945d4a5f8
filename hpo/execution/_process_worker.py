"""Entry point of a local worker process: ``python -m hpo.execution._process_worker FD``.

The worker is its own interpreter (not a ``multiprocessing`` child), so it never imports
the user's ``__main__``: a script without an ``if __name__ == "__main__":`` guard works.
It talks to the driver over the socket ``FD`` (a ``multiprocessing.connection.Connection``).

The first message carries the driver's ``sys.path`` (so objectives pickled by reference,
functions of importable modules, import here) and the cloudpickled objective. Then it
loops: receive a :class:`~hpo.execution._jobs.JobSpec`, run it, send the outcome. Reports
are sent over the same socket and the worker blocks for the driver's decision. It exits
on ``("exit",)`` or when the socket closes (driver gone, even before the next line) and,
on Linux, is killed with its parent (``PR_SET_PDEATHSIG``). Ctrl-C is the driver's to
handle: SIGINT is ignored.
"""

from __future__ import annotations

import os
import signal
import sys
from multiprocessing.connection import Connection
from typing import Any

from hpo.execution._jobs import JobSpec, run_job
from hpo.trial import Decision, Report


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the EOF on the socket ends us instead
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


def _load(objective_bytes: bytes) -> tuple[Any, tuple[str, str] | None]:
    """The objective, or the error to report on every job instead of dying."""
    import cloudpickle

    try:
        return cloudpickle.loads(objective_bytes), None
    except BaseException as exc:  # noqa: BLE001
        import traceback

        reason = f"objective could not be loaded in the worker: {type(exc).__name__}: {exc}"
        return None, (reason, traceback.format_exc())


def main(argv: list[str]) -> None:
    """Worker loop; ``argv`` is ``[FD]``, the worker's end of the socket to the driver."""
    fd = int(argv[0])
    os.set_inheritable(fd, False)  # grandchildren (e.g. loky workers) must not hold the socket
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    _die_with_parent()  # a driver that died before this closed the socket: recv() ends us
    conn = Connection(fd)
    try:
        _, sys_path, objective_bytes = conn.recv()
    except (EOFError, OSError):
        return
    sys.path[:] = sys_path
    objective, load_error = _load(objective_bytes)
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


if __name__ == "__main__":
    main(sys.argv[1:])
