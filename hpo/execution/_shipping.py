"""Shipping an objective to worker processes: cloudpickle it, or say why it cannot go.

Functions defined in ``__main__`` (a script without a main guard, a notebook), closures
and lambdas are pickled by value; functions of importable modules by reference (the
worker imports the module). When pickling fails, :func:`ship_objective` names the
objective, the captured values that cannot be pickled, and the fixes, before any trial
runs.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Iterator
from typing import Any

from hpo.errors import ObjectivePicklingError

__all__ = ["ship_objective"]


def ship_objective(objective: Callable[..., Any], where: str = "worker processes") -> bytes:
    """``cloudpickle.dumps(objective)``.

    Raises:
        ObjectivePicklingError: naming the objective, the values it captures that cannot
            be pickled, and what to do instead.
    """
    import cloudpickle

    try:
        return cloudpickle.dumps(objective)
    except Exception as exc:  # noqa: BLE001 - pickling raises TypeError, PicklingError, ...
        raise ObjectivePicklingError(_message(objective, where, exc)) from exc


def _message(objective: Any, where: str, exc: BaseException) -> str:
    name = getattr(objective, "__qualname__", None) or type(objective).__qualname__
    module = getattr(objective, "__module__", None)
    label = f"{module}.{name}" if module else name
    culprits = _unpicklable_parts(objective)
    captured = f"; it captures {', '.join(culprits)}" if culprits else ""
    return (
        f"the objective {label!r} cannot be sent to {where}: {type(exc).__name__}: {exc}{captured}. "
        "Locks, open files, sockets, database connections and clients cannot be pickled: create "
        "them inside the objective (once per worker, e.g. in a functools.cache helper) instead of "
        "capturing them, and define the objective at module level rather than as a closure over "
        "them; or run the study with executor='inprocess' (trials in threads of the driver, "
        "nothing is pickled)."
    )


def _unpicklable_parts(objective: Any) -> list[str]:
    """The captured values of ``objective`` that cloudpickle refuses, as readable labels."""
    import cloudpickle

    out = []
    for label, value in _parts(objective):
        try:
            cloudpickle.dumps(value)
        except Exception:  # noqa: BLE001
            out.append(f"{label} ({type(value).__module__}.{type(value).__qualname__})")
    return out


def _parts(objective: Any) -> Iterator[tuple[str, Any]]:
    """(label, value) of what pickling ``objective`` pickles: closure cells, globals, attributes."""
    fn = inspect.unwrap(objective) if callable(objective) else objective
    if isinstance(fn, functools.partial):
        yield from ((f"argument {i}", a) for i, a in enumerate(fn.args))
        yield from ((f"keyword argument {k!r}", v) for k, v in fn.keywords.items())
        fn = fn.func
    if inspect.ismethod(fn):
        yield from ((f"attribute {k!r} of {type(fn.__self__).__name__}", v) for k, v in vars(fn.__self__).items())
        fn = fn.__func__
    if isinstance(fn, types.FunctionType):
        cells = zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False)
        for name, cell in cells:
            try:
                yield f"closure variable {name!r}", cell.cell_contents
            except ValueError:  # an empty cell
                continue
        for name in sorted(_global_names(fn.__code__)):
            if name in fn.__globals__ and not isinstance(fn.__globals__[name], types.ModuleType):
                yield f"global {name!r}", fn.__globals__[name]
    elif not isinstance(fn, type) and hasattr(fn, "__dict__"):
        yield from ((f"attribute {k!r}", v) for k, v in vars(fn).items())


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names
