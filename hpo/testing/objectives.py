"""Small, importable objectives for tests and contract suites (workers can import them).

Each one exercises a behaviour of the loop: reporting, failing, hanging, crashing, or
returning the wrong thing.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

from hpo import _runtime
from hpo.budget import JobBudget


def quadratic(config: dict[str, Any]) -> dict[str, float]:
    """``loss = sum((v - 0.5)^2)`` over numeric params; minimum 0."""
    return {"loss": sum((float(v) - 0.5) ** 2 for v in config.values() if isinstance(v, (int, float)))}


def curve(config: dict[str, Any], budget: JobBudget) -> dict[str, float]:
    """Reports ``loss`` every step; the loss decays towards ``(x - 0.5)^2``."""
    loss = math.inf
    for step in range(int(budget.start), int(budget.stop)):
        loss = (config["x"] - 0.5) ** 2 + 1.0 / (step + 1)
        _runtime.report(loss=loss, step=step)
        delay = config.get("delay", 0.0)
        if delay:
            time.sleep(delay)
    return {"loss": loss}


def raises(config: dict[str, Any]) -> float:
    raise ValueError(f"bad config x={config.get('x')}")


def returns_nan(config: dict[str, Any]) -> float:
    return float("nan")


def returns_inf(config: dict[str, Any]) -> dict[str, float]:
    return {"loss": float("inf")}


def returns_string(config: dict[str, Any]) -> str:
    return "not a number"


def returns_wrong_metric(config: dict[str, Any]) -> dict[str, float]:
    return {"accuracy": 0.9}


def returns_nothing(config: dict[str, Any]) -> None:
    return None


def hangs(config: dict[str, Any]) -> float:
    time.sleep(3600)
    return 0.0


def crashes(config: dict[str, Any]) -> float:
    os._exit(13)


def sleeps(config: dict[str, Any]) -> dict[str, float]:
    """Sleeps ``config['delay']`` seconds, then returns ``loss = x``; records its pid."""
    time.sleep(config.get("delay", 0.05))
    return {"loss": float(config.get("x", 0.0)), "pid": float(os.getpid())}


def where_and_when(config: dict[str, Any], budget: JobBudget) -> dict[str, Any]:
    """Sleeps ``config['delay']`` seconds; returns ``loss = x`` with the GPU ids, node and times it ran.

    For placement tests: the driver reads who ran concurrently from ``start``/``end``.
    """
    context = _runtime.trial_context()
    start = time.time()
    time.sleep(config.get("delay", 0.5))
    gpus = ",".join(context.gpu_ids) if context is not None else ""
    return {
        "loss": float(config.get("x", 0.0)),
        "start": start,
        "end": time.time(),
        "gpus": gpus,
        "visible": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        "pid": float(os.getpid()),
    }


def checkpointed_curve(config: dict[str, Any], budget: JobBudget) -> dict[str, float]:
    """Like :func:`curve`, but resumes from and saves a checkpoint every step.

    With ``config['crash_at']`` set, the worker process dies (``os._exit``) at that step
    the first time it gets there (a marker file in the trial's folder remembers it).
    """
    from hpo import checkpoint

    state = checkpoint.load({"step": int(budget.start), "starts": []})
    state["starts"].append(int(budget.start))
    loss = math.inf
    for step in range(int(budget.start), int(budget.stop)):
        crash_at = config.get("crash_at")
        context = _runtime.trial_context()
        if crash_at is not None and step == crash_at and context is not None and context.artifact_dir:
            marker = os.path.join(context.artifact_dir, "crashed")
            if not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(17)
        loss = (config["x"] - 0.5) ** 2 + 1.0 / (step + 1)
        _runtime.report(loss=loss, step=step)
        time.sleep(config.get("delay", 0.0))
        checkpoint.save({"step": step + 1, "starts": state["starts"]}, step=step + 1)
    return {"loss": loss, "resumed_from": float(state["starts"][-1]), "attempts": float(len(state["starts"]))}


def crashes_once_at_step_3(config: dict[str, Any], budget: JobBudget) -> dict[str, float]:
    """:func:`checkpointed_curve` whose worker dies the first time it reaches step 3."""
    return checkpointed_curve({**config, "crash_at": 3}, budget)
