"""Local executors: worker processes (default) and threads in the driver (debugging).

:class:`LocalExecutor` keeps ``n_workers`` long-lived worker processes, each a fresh
interpreter that never imports the user's ``__main__`` (scripts need no main guard) and
inherits no threads or CUDA state from the driver. An objective that crashes the
interpreter, calls ``os._exit`` or hangs past ``trial_timeout`` costs only its worker,
which is killed and replaced; the trial is recorded FAILED and the study goes on.

:class:`InProcessExecutor` runs jobs in threads of the driver process, so breakpoints
and debuggers work. It cannot kill a hung objective: a timed-out job is recorded FAILED
and its thread is abandoned (a daemon thread; its later messages are ignored).
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, ClassVar

from hpo.errors import HPOError
from hpo.execution._jobs import JobSpec, run_job
from hpo.execution.base import BaseExecutor, Event, Failed, Finished, Reported, Stopped
from hpo.trial import Decision, Job, Report

__all__ = ["LocalExecutor", "InProcessExecutor"]

_ENTRY = "hpo.execution._process_worker"  # run as ``python -m``: see that module


@dataclass
class _Running:
    spec: JobSpec
    started: float
    slot: Any
    awaiting: bool = False


class _SlotExecutor(BaseExecutor):
    """Shared book-keeping: slots, running jobs, and per-trial timeouts."""

    def __init__(self, n_workers: int = 1, trial_timeout: float | None = None) -> None:
        super().__init__()
        if not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1:
            raise HPOError(f"n_workers must be a positive integer, got {n_workers!r}")
        if trial_timeout is not None and not trial_timeout > 0:
            raise HPOError(f"trial_timeout must be positive seconds or None, got {trial_timeout!r}")
        self.n_workers = n_workers
        self.trial_timeout = trial_timeout
        self._running: dict[int, _Running] = {}
        self._objective: Callable[..., Any] | None = None
        self._artifact_root: str | None = None

    def start(self, objective: Callable[..., Any], artifact_root: str | None = None) -> None:
        self._objective = objective
        self._artifact_root = artifact_root

    def capacity(self) -> int:
        return self.n_workers - len(self._running)

    def running(self) -> list[int]:
        return list(self._running)

    def submit(self, job: Job) -> None:
        if self._objective is None:
            raise HPOError("executor.start(objective) must be called before submit()")
        if self.capacity() <= 0:
            raise HPOError("no free worker: check capacity() before submit()")
        spec = JobSpec.from_job(job, self._artifact_root)
        self._running[spec.trial_id] = _Running(spec, time.monotonic(), self._launch(spec))

    def _timeouts(self) -> list[Event]:
        if self.trial_timeout is None:
            return []
        now = time.monotonic()
        out: list[Event] = []
        for trial_id, run in list(self._running.items()):
            if now - run.started > self.trial_timeout:
                self._kill(run)
                del self._running[trial_id]
                out.append(
                    Failed(trial_id, f"timed out after {self.trial_timeout:g} s (trial_timeout)", None, now - run.started)
                )
        return out

    def _wait_budget(self, timeout: float | None) -> float | None:
        """How long one wait may last so that timeouts are noticed in time."""
        if self.trial_timeout is None or not self._running:
            return timeout
        now = time.monotonic()
        nearest = min(run.started + self.trial_timeout for run in self._running.values()) - now
        nearest = max(nearest, 0.0) + 0.01
        return nearest if timeout is None else min(timeout, nearest)

    def respond(self, trial_id: int, decision: Decision) -> None:
        run = self._running.get(trial_id)
        if run is None or not run.awaiting:
            return  # the job ended meanwhile (e.g. timed out): nothing waits for an answer
        run.awaiting = False
        self._reply(run, decision)

    def _event(self, message: tuple[Any, ...]) -> Event | None:
        """Translate a worker message; ends the job's book-keeping on terminal messages."""
        kind, trial_id = message[0], message[1]
        run = self._running.get(trial_id)
        if run is None:
            return None  # a job we gave up on (timed out) still talking
        if kind == "report":
            run.awaiting = True
            return Reported(trial_id, message[2])
        del self._running[trial_id]
        self._release(run)
        if kind == "finished":
            return Finished(trial_id, message[2], message[3])
        if kind == "stopped":
            return Stopped(trial_id, Decision(message[2]), message[3])
        return Failed(trial_id, message[2], message[3], message[4])

    @abstractmethod
    def _launch(self, spec: JobSpec) -> Any: ...

    @abstractmethod
    def _reply(self, run: _Running, decision: Decision) -> None: ...

    @abstractmethod
    def _kill(self, run: _Running) -> None: ...

    def _release(self, run: _Running) -> None:
        """A job ended normally; its slot is free again."""

    def _cut_running(self) -> list[int]:
        """Kill every running job; returns their trial ids."""
        cut = list(self._running)
        for run in self._running.values():
            self._kill(run)
        self._running.clear()
        return cut


def _worker_env() -> dict[str, str]:
    """The driver's environment, with the folder ``hpo`` was imported from first on
    ``PYTHONPATH``, so a worker imports the same ``hpo`` even when the driver found it only
    through a ``sys.path`` change at run time (the rest of ``sys.path`` follows in the
    worker's first message)."""
    import hpo

    root = os.path.dirname(os.path.dirname(os.path.abspath(hpo.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


class _Worker:
    """The driver's handle on one worker process: the process, its socket and its sentinel.

    The sentinel is a pidfd (Linux >= 5.3), readable once the process is gone, even when a
    grandchild it forked still holds the socket; elsewhere the socket's EOF tells.
    """

    def __init__(self, payload: bytes) -> None:
        if not sys.executable:
            raise HPOError("executor='local' needs sys.executable to start worker processes; use executor='inprocess'")
        ours, theirs = socket.socketpair()
        try:
            with theirs:
                fd = theirs.fileno()
                self.process = subprocess.Popen(
                    [sys.executable, *_interpreter_flags(), "-m", _ENTRY, str(fd)],
                    pass_fds=[fd],
                    stdin=subprocess.DEVNULL,
                    env=_worker_env(),
                )
        except BaseException:
            ours.close()
            raise
        self.conn = Connection(ours.detach())
        self.pidfd: int | None = None
        if hasattr(os, "pidfd_open"):
            try:
                self.pidfd = os.pidfd_open(self.process.pid)
            except OSError:  # kernel without pidfds
                pass
        self.send(("init", list(sys.path), payload))

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            self.conn.send(message)
        except OSError:  # BrokenPipeError: the worker died; its sentinel reports it
            pass

    @property
    def pid(self) -> int:
        return self.process.pid

    def handles(self) -> list[Any]:
        """What ``multiprocessing.connection.wait`` should watch."""
        return [self.conn] if self.pidfd is None else [self.conn, self.pidfd]

    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_code(self) -> int | None:
        """Wait (briefly) for the process to end and return its exit code; kill it if it lingers."""
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # it closed its socket but lives on: make sure
            self.kill()
            return self.process.returncode

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # unkillable (D state): leave it, close our side
            pass
        self.close()

    def close(self) -> None:
        self.conn.close()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def _interpreter_flags() -> list[str]:
    """The driver's ``-O``, ``-W`` and ``-X`` flags, as multiprocessing passes them on."""
    flags = getattr(subprocess, "_args_from_interpreter_flags", None)
    return list(flags()) if flags is not None else []


class LocalExecutor(_SlotExecutor):
    """Runs jobs in ``n_workers`` worker processes on this machine.

    Args:
        n_workers: Number of worker processes (trials running at once).
        trial_timeout: Seconds a job may run before its worker is killed; None for no limit.

    Each worker is a fresh interpreter (``python -m hpo.execution._process_worker``), not
    a ``multiprocessing`` child: it never imports the user's ``__main__``, so a script
    without an ``if __name__ == "__main__":`` guard works, as with Optuna and Ray Tune, and
    it inherits no threads or CUDA state from the driver. The objective is shipped with
    ``cloudpickle``: functions from ``__main__``, closures and lambdas by value, functions
    of importable modules by reference (the worker gets the driver's ``sys.path``). Workers
    are POSIX processes (Linux, macOS).
    """

    isolates_failures: ClassVar[bool] = True
    enforces_timeout: ClassVar[bool] = True

    def __init__(self, n_workers: int = 1, trial_timeout: float | None = None) -> None:
        super().__init__(n_workers, trial_timeout)
        if os.name != "posix":
            raise HPOError("executor='local' runs worker processes on POSIX systems only; use executor='inprocess'")
        self._idle: list[_Worker] = []
        self._payload: bytes | None = None

    def start(self, objective: Callable[..., Any], artifact_root: str | None = None) -> None:
        """Pickle the objective for the workers.

        Raises:
            ObjectivePicklingError: before any trial runs, if the objective cannot be pickled.
        """
        from hpo.execution._shipping import ship_objective

        self._payload = ship_objective(objective, "worker processes")
        super().start(objective, artifact_root)

    def _launch(self, spec: JobSpec) -> Any:
        while self._idle:
            worker = self._idle.pop()
            if worker.alive():
                break
            worker.kill()
        else:
            worker = _Worker(self._payload or b"")  # start() set the payload; submit() checked
        worker.send(("job", spec))
        return worker

    def _reply(self, run: _Running, decision: Decision) -> None:
        run.slot.send(("decision", decision.value))

    def _kill(self, run: _Running) -> None:
        run.slot.kill()

    def _release(self, run: _Running) -> None:
        self._idle.append(run.slot)

    def placement(self, trial_id: int) -> dict[str, Any]:
        run = self._running.get(trial_id)
        return {"pid": run.slot.pid} if run else {}

    def events(self, timeout: float | None) -> list[Event]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            out = self._timeouts()
            by_handle: dict[Any, _Running] = {}
            for run in self._running.values():
                by_handle.update(dict.fromkeys(run.slot.handles(), run))
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            ready = wait(list(by_handle), timeout=self._wait_budget(remaining)) if by_handle else []
            if not by_handle and remaining:
                time.sleep(min(remaining, 0.05))
            for handle in ready:
                run = by_handle[handle]
                if run.spec.trial_id in self._running:
                    out.extend(self._drain(run, died=handle is not run.slot.conn))
            if out or (deadline is not None and time.monotonic() >= deadline):
                return out

    def _drain(self, run: _Running, died: bool) -> list[Event]:
        """Messages a worker sent; a retryable ``Failed`` if it died (``died``: its pidfd fired)."""
        out: list[Event] = []
        worker, trial_id = run.slot, run.spec.trial_id
        try:
            while worker.conn.poll():
                event = self._event(worker.conn.recv())
                if event is not None:
                    out.append(event)
                if trial_id not in self._running:
                    return out  # the job ended; the worker is idle again
        except (EOFError, OSError):
            died = True  # the worker closed its socket: it is gone
        if died:
            del self._running[trial_id]
            code = worker.exit_code()
            worker.close()
            reason = f"worker process died (exit code {code}) while running the trial"
            out.append(Failed(trial_id, reason, None, time.monotonic() - run.started, retryable=True))
        return out

    def shutdown(self) -> list[int]:
        cut = self._cut_running()
        for worker in self._idle:
            worker.send(("exit",))
        for worker in self._idle:
            try:
                worker.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            worker.kill()
        self._idle.clear()
        return cut


class _QueueChannel:
    """A job's channel when it runs in a driver thread."""

    def __init__(self, out: queue.Queue[tuple[Any, ...]], trial_id: int) -> None:
        self.out = out
        self.trial_id = trial_id
        self.answers: queue.Queue[str] = queue.Queue()

    def report(self, report: Report) -> Decision:
        self.out.put(("report", self.trial_id, report))
        return Decision(self.answers.get())

    def finished(self, result: Any, elapsed: float) -> None:
        self.out.put(("finished", self.trial_id, result, elapsed))

    def stopped(self, decision: Decision, elapsed: float) -> None:
        self.out.put(("stopped", self.trial_id, decision.value, elapsed))

    def failed(self, reason: str, tb: str | None, elapsed: float) -> None:
        self.out.put(("failed", self.trial_id, reason, tb, elapsed))


class InProcessExecutor(_SlotExecutor):
    """Runs jobs in threads of the driver process: for debugging with breakpoints.

    Args:
        n_workers: Number of jobs running at once (threads).
        trial_timeout: Seconds after which a job is recorded FAILED. The thread cannot be
            killed; it is abandoned and whatever it sends later is ignored.
    """

    def __init__(self, n_workers: int = 1, trial_timeout: float | None = None) -> None:
        super().__init__(n_workers, trial_timeout)
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue()

    def _launch(self, spec: JobSpec) -> Any:
        channel = _QueueChannel(self._queue, spec.trial_id)
        objective = self._objective
        thread = threading.Thread(
            target=run_job, args=(objective, spec, channel), daemon=True, name=f"hpo-trial-{spec.trial_id}"
        )
        thread.start()
        return channel

    def _reply(self, run: _Running, decision: Decision) -> None:
        run.slot.answers.put(decision.value)

    def _kill(self, run: _Running) -> None:
        run.slot.answers.put(Decision.STOP.value)  # if it reports again, it stops

    def placement(self, trial_id: int) -> dict[str, Any]:
        return {"pid": os.getpid(), "thread": f"hpo-trial-{trial_id}"} if trial_id in self._running else {}

    def events(self, timeout: float | None) -> list[Event]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            out = self._timeouts()
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            wait = self._wait_budget(remaining)
            try:
                message = self._queue.get(timeout=wait) if (wait is None or wait > 0) else self._queue.get_nowait()
                while True:
                    event = self._event(message)
                    if event is not None:
                        out.append(event)
                    message = self._queue.get_nowait()
            except queue.Empty:
                pass
            if out or (deadline is not None and time.monotonic() >= deadline):
                return out

    def shutdown(self) -> list[int]:
        return self._cut_running()
