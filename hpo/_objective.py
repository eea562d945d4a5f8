"""Objective plumbing: reading results, and naming/loading objectives for resume and the CLI."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import numbers
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hpo.errors import HPOError, ObjectiveError
from hpo.trial import Report

__all__ = ["extract_value", "objective_ref", "load_objective"]


def _show(value: Any) -> str:
    """A short repr for messages that never raises (huge ints, a broken ``__repr__``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an int of {value.bit_length()} bits"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - whatever the user's __repr__ raises
        return f"<{type(value).__name__} object>"
    return text if len(text) <= 80 else f"{text[:77]}..."


def extract_value(
    result: Any, metric: str | Sequence[str], reports: Sequence[Report]
) -> tuple[float, dict[str, Any]]:
    """The (first) metric's value and all metrics of a finished job.

    Accepted results: a number (the metric itself, single objective only), a dict holding
    every objective, or None when the last ``hpo.report()`` carried them (as in Ray Tune).

    Args:
        result: What the objective returned.
        metric: The objective's metric, or every objective's metric in order.
        reports: The job's reports.

    Raises:
        ObjectiveError: naming the metric, for a missing, non-numeric, NaN or infinite value.
    """
    names = (metric,) if isinstance(metric, str) else tuple(metric)
    wanted = names[0] if len(names) == 1 else names
    if result is None:
        if reports and all(n in reports[-1].metrics for n in names):
            metrics: dict[str, Any] = dict(reports[-1].metrics)
        else:
            raise ObjectiveError(
                f"objective returned None and never reported {wanted!r}; return a number or a dict "
                f"with {wanted!r}, or call hpo.report({', '.join(f'{n}=...' for n in names)})"
            )
    elif isinstance(result, Mapping):
        metrics = dict(result)
        missing = [n for n in names if n not in metrics]
        if missing:
            raise ObjectiveError(f"objective's result has no {', '.join(map(repr, missing))} (keys: {sorted(map(str, metrics))})")
    elif isinstance(result, numbers.Real) and not isinstance(result, bool):
        if len(names) > 1:
            raise ObjectiveError(f"objective returned one number {_show(result)}; with several objectives return a dict with {names!r}")
        metrics = {names[0]: result}
    else:
        raise ObjectiveError(
            f"objective returned {type(result).__name__} {_show(result)}; expected a number or a dict with {wanted!r}"
        )
    values = []
    for name in names:
        raw = metrics[name]
        if isinstance(raw, bool) or not isinstance(raw, numbers.Real):
            raise ObjectiveError(f"{name!r} is {type(raw).__name__} {_show(raw)}, expected a real number")
        try:
            value = float(raw)
        except OverflowError:
            raise ObjectiveError(f"{name!r} is {_show(raw)}, too large for a float") from None
        if not math.isfinite(value):
            raise ObjectiveError(f"{name!r} is {value} (not finite)")
        values.append(value)
    return values[0], metrics


def objective_ref(fn: Callable[..., Any]) -> str | None:
    """``"/abs/file.py:qualname"`` (or ``"module:qualname"``) so ``hpo resume`` can reload ``fn``."""
    target = getattr(fn, "__wrapped__", fn)
    qualname = getattr(target, "__qualname__", None)
    if qualname is None or "<" in qualname:  # lambdas and closures cannot be re-imported
        return None
    try:
        path = inspect.getsourcefile(target)
    except TypeError:
        path = None
    if path and os.path.exists(path):
        return f"{os.path.abspath(path)}:{qualname}"
    module = getattr(target, "__module__", None)
    return f"{module}:{qualname}" if module and module != "__main__" else None


def load_objective(ref: str) -> Callable[..., Any]:
    """Import ``"path/to/file.py:func"`` or ``"package.module:func"``.

    A file is imported as a module named after it, with its folder put on ``sys.path``
    (so it can import its neighbours), and registered with cloudpickle to be shipped to
    workers by value.

    Raises:
        HPOError: naming the reference, if it cannot be imported or has no such function.
    """
    if ":" not in ref:
        raise HPOError(f"objective {ref!r} must look like 'file.py:function' or 'module:function'")
    location, _, attr = ref.rpartition(":")
    try:
        if location.endswith(".py") or os.path.sep in location:
            path = os.path.abspath(location)
            if not os.path.exists(path):
                raise HPOError(f"objective file {location!r} does not exist")
            folder = os.path.dirname(path)
            if folder not in sys.path:
                sys.path.insert(0, folder)
            name = f"hpo_user_{os.path.splitext(os.path.basename(path))[0]}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise HPOError(f"cannot import objective file {location!r}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            import cloudpickle

            cloudpickle.register_pickle_by_value(module)
            module.__hpo_pickle_by_value__ = True  # type: ignore[attr-defined]
        else:
            module = importlib.import_module(location)
    except HPOError:
        raise
    except Exception as exc:
        raise HPOError(f"importing objective {ref!r} failed: {type(exc).__name__}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise HPOError(f"{location!r} has no attribute {attr!r}")
    if not callable(obj):
        raise HPOError(f"objective {ref!r} is not callable")
    return obj
