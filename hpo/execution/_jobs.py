"""Running one job inside a worker (thread or process): shared by every executor.

A job is described by a plain :class:`JobSpec`, so it pickles cheaply to a subprocess or
a Ray worker. :func:`run_job` binds the trial context, calls the objective, and tells the
channel how it ended: ``finished``, ``stopped`` or ``failed`` with a full traceback.
"""

from __future__ import annotations

import functools
import inspect
import os
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hpo import _runtime
from hpo.budget import JobBudget
from hpo.trial import Decision, Job, Report

__all__ = ["JobSpec", "JobChannel", "run_job", "call_objective"]


@dataclass(frozen=True)
class JobSpec:
    """What a worker needs to run a job (picklable, no study objects)."""

    trial_id: int
    config: Mapping[str, Any]
    budget: JobBudget
    artifact_dir: str | None

    @classmethod
    def from_job(cls, job: Job, artifact_root: str | None) -> JobSpec:
        artifact_dir = os.path.join(artifact_root, f"trial_{job.trial.trial_id}") if artifact_root else None
        return cls(job.trial.trial_id, dict(job.trial.config), job.budget, artifact_dir)


class JobChannel(Protocol):
    """The worker's side of the conversation with the driver."""

    def report(self, report: Report) -> Decision: ...

    def finished(self, result: Any, elapsed: float) -> None: ...

    def stopped(self, decision: Decision, elapsed: float) -> None: ...

    def failed(self, reason: str, tb: str | None, elapsed: float) -> None: ...


def call_objective(
    objective: Callable[..., Any], config: Mapping[str, Any], budget: JobBudget, seed: int | None = None
) -> Any:
    """Call ``objective(config, budget)``, or ``objective(config)`` if it takes one argument.

    A ``seed`` (a re-evaluation's held-out seed) is passed as ``seed=`` when the objective
    has a parameter named ``seed``; it is never counted as the budget argument.
    """
    try:
        takes_budget, takes_seed = _signature(objective)
    except TypeError:  # unhashable callable
        takes_budget, takes_seed = _inspect_signature(objective)
    kwargs = {"seed": seed} if seed is not None and takes_seed else {}
    return objective(dict(config), budget, **kwargs) if takes_budget else objective(dict(config), **kwargs)


@functools.lru_cache(maxsize=128)
def _signature(objective: Callable[..., Any]) -> tuple[bool, bool]:
    return _inspect_signature(objective)


def _inspect_signature(objective: Callable[..., Any]) -> tuple[bool, bool]:
    """(takes a budget argument, has a ``seed`` parameter)."""
    try:
        params = inspect.signature(objective).parameters.values()
    except (TypeError, ValueError):  # builtins and some C callables
        return True, False
    takes_seed = any(p.name == "seed" and p.kind is not p.POSITIONAL_ONLY for p in params)
    positional = [
        p for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) and p.name != "seed"
    ]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in positional), takes_seed


def run_job(
    objective: Callable[..., Any], spec: JobSpec, channel: JobChannel, gpu_ids: tuple[str, ...] = ()
) -> None:
    """Run one job to its end and tell ``channel`` how it ended. Never raises.

    ``gpu_ids`` are the GPUs assigned to the job (by default read from
    ``CUDA_VISIBLE_DEVICES``); the trial sees them in ``hpo.trial_context().gpu_ids``.
    """
    context = _runtime.TrialContext(
        trial_id=spec.trial_id,
        config=spec.config,
        budget=spec.budget,
        artifact_dir=spec.artifact_dir,
        gpu_ids=gpu_ids,
        channel=channel,
    )
    if spec.artifact_dir:
        os.makedirs(spec.artifact_dir, exist_ok=True)
    start = time.monotonic()
    _runtime.bind(context)
    try:
        result = _runtime.to_plain(call_objective(objective, spec.config, spec.budget))
    except _runtime.TrialStopped as stop:
        channel.stopped(stop.decision, time.monotonic() - start)
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded, with traceback
        reason = f"{type(exc).__name__}: {exc}".strip()
        channel.failed(reason, traceback.format_exc(), time.monotonic() - start)
    else:
        channel.finished(result, time.monotonic() - start)
    finally:
        _runtime.bind(None)
