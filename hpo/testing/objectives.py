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
