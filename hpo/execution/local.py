"""Local executors: worker processes (default) and threads in the driver (debugging).

:class:`LocalExecutor` keeps ``n_workers`` long-lived worker processes (spawned, so
they never inherit the driver's threads or CUDA state). An objective that crashes the
interpreter, calls ``os._exit`` or hangs past ``trial_timeout`` costs only its worker,
which is killed and replaced; the trial is recorded FAILED and the study goes on.

:class:`InProcessExecutor` runs jobs in threads of the driver process, so breakpoints
and debuggers work. It cannot kill a hung objective: a timed-out job is recorded FAILED
and its thread is abandoned (a daemon thread; its later messages are ignored).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from hpo.errors import HPOError
from hpo.execution._jobs import JobSpec, run_job
from hpo.execution.base import BaseExecutor, Event, Failed, Finished, Reported, Stopped
from hpo.trial import Decision, Job, Report

__all__ = ["LocalExecutor", "InProcessExecutor"]


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


class LocalExecutor(_SlotExecutor):
    """Runs jobs in ``n_workers`` subprocesses on this machine.

    Args:
        n_workers: Number of worker processes (trials running at once).
        trial_timeout: Seconds a job may run before its worker is killed; None for no limit.
        start_method: ``multiprocessing`` start method; ``"spawn"`` (default) is safe with
            torch and threads, ``"fork"`` starts faster.

    The objective is shipped with ``cloudpickle``, so functions from ``__main__``,
    closures and lambdas work.
    """

    isolates_failures: ClassVar[bool] = True
    enforces_timeout: ClassVar[bool] = True

    def __init__(self, n_workers: int = 1, trial_timeout: float | None = None, start_method: str = "spawn") -> None:
        super().__init__(n_workers, trial_timeout)
        import multiprocessing

        self._ctx = multiprocessing.get_context(start_method)
        self._idle: list[Any] = []
        self._payload: bytes | None = None

    def start(self, objective: Callable[..., Any], artifact_root: str | None = None) -> None:
        import cloudpickle

        super().start(objective, artifact_root)
        try:
            self._payload = cloudpickle.dumps(objective)
        except Exception as exc:  # noqa: BLE001
            raise HPOError(f"the objective {objective!r} cannot be sent to worker processes: {exc}") from exc

    def _spawn(self) -> Any:
        from hpo.execution import _process_worker

        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=_process_worker.main, args=(child, self._payload), daemon=True, name="hpo-worker"
        )
        process.start()
        child.close()
        return (process, parent)

    def _launch(self, spec: JobSpec) -> Any:
        while self._idle:
            worker = self._idle.pop()
            if worker[0].is_alive():
                break
            worker[1].close()
        else:
            worker = self._spawn()
        worker[1].send(("job", spec))
        return worker

    def _reply(self, run: _Running, decision: Decision) -> None:
        try:
            run.slot[1].send(("decision", decision.value))
        except (BrokenPipeError, OSError):
            pass  # the worker died; its sentinel reports it

    def _kill(self, run: _Running) -> None:
        process, conn = run.slot
        process.kill()
        process.join(timeout=5)
        conn.close()

    def _release(self, run: _Running) -> None:
        self._idle.append(run.slot)

    def placement(self, trial_id: int) -> dict[str, Any]:
        run = self._running.get(trial_id)
        return {"pid": run.slot[0].pid} if run else {}

    def events(self, timeout: float | None) -> list[Event]:
        from multiprocessing.connection import wait

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            out = self._timeouts()
            by_handle: dict[Any, _Running] = {}
            for run in self._running.values():
                by_handle[run.slot[1]] = run
                by_handle[run.slot[0].sentinel] = run
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            ready = wait(list(by_handle), timeout=self._wait_budget(remaining)) if by_handle else []
            if not by_handle and remaining:
                time.sleep(min(remaining, 0.05))
            for handle in ready:
                run = by_handle[handle]
                if run.spec.trial_id not in self._running:
                    continue
                process, conn = run.slot
                if handle is conn or conn.poll():
                    try:
                        while conn.poll():
                            event = self._event(conn.recv())
                            if event is not None:
                                out.append(event)
                            if run.spec.trial_id not in self._running:
                                break
                        continue
                    except (EOFError, OSError):
                        pass
                if not process.is_alive() or handle is process.sentinel:
                    process.join(timeout=1)
                    if run.spec.trial_id in self._running:
                        del self._running[run.spec.trial_id]
                        conn.close()
                        code = process.exitcode
                        out.append(
                            Failed(
                                run.spec.trial_id,
                                f"worker process died (exit code {code}) while running the trial",
                                None,
                                time.monotonic() - run.started,
                                retryable=True,
                            )
                        )
            if out or (deadline is not None and time.monotonic() >= deadline):
                return out

    def shutdown(self) -> list[int]:
        cut = self._cut_running()
        for _, conn in self._idle:
            try:
                conn.send(("exit",))
            except (BrokenPipeError, OSError):
                pass
        for process, conn in self._idle:
            process.join(timeout=2)
            if process.is_alive():
                process.kill()
            conn.close()
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
