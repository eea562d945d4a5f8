"""Executors: where and when jobs run (local processes, threads, Ray, simulated time)."""

from hpo.execution.base import (
    BaseExecutor,
    Clock,
    Event,
    Failed,
    Finished,
    Reported,
    Retrying,
    Started,
    Stopped,
    WallClock,
)

__all__ = ["BaseExecutor", "Clock", "WallClock", "Event", "Reported", "Finished", "Stopped", "Failed", "Retrying", "Started", "make_executor"]


def make_executor(name: str | BaseExecutor, **kwargs) -> BaseExecutor:  # type: ignore[no-untyped-def]
    """Build an executor from its registered name (``"local"``, ``"inprocess"``, ``"ray"``, ``"simulated"``) or pass one through."""
    from hpo._registry import EXECUTORS

    if isinstance(name, BaseExecutor):
        return name
    return EXECUTORS.build(name, **kwargs)
