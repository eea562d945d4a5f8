"""The report's parallel-coordinates section: every config, coloured by its value.

Each parameter is one axis. Log-scaled parameters are drawn as ``log10`` with their values
as tick labels; categorical ones (and :class:`~hpo.search_spaces.Choice` selectors) as
integer ticks ``0..k-1`` labelled with the choices. A conditional parameter that is
inactive in a config (missing from it) sits at a separate ``inactive`` tick below the axis's
range, never at a made-up value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hpo.trial import Trial, finite
from hpo.viz._data import Section, StudyData, fmt, sample_trials

__all__ = ["parallel_section"]

INACTIVE = "inactive"


def _choices(param: Any) -> list[Any] | None:
    from hpo.search_spaces import Categorical, Choice

    if isinstance(param, Categorical):
        return list(param.choices)
    if isinstance(param, Choice):
        return list(param.option_names)
    return None


def _ticks(lo: float, hi: float, log: bool, integer: bool) -> tuple[list[float], list[str]]:
    """Tick positions on an axis drawn from ``lo`` to ``hi`` (``log10`` units when ``log``) and their labels."""
    if log:
        ticks = [float(k) for k in range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1)]  # the decades
        if len(ticks) < 3:
            ticks = [lo + (hi - lo) * i / 4 for i in range(5)]
        ticks = ticks[:: max(1, math.ceil(len(ticks) / 8))]
        values = [10**t for t in ticks]
    elif integer:
        step = max(1, math.ceil((hi - lo) / 6))
        ticks = [float(v) for v in range(int(lo), int(hi) + 1, step)]
        if hi - ticks[-1] >= step / 2:
            ticks.append(float(hi))
        values = ticks
    else:
        ticks = [lo + (hi - lo) * i / 4 for i in range(5)]
        values = ticks
    labels = [str(round(v)) if integer else f"{v:.4g}" for v in values]
    return ticks, labels


def _axis(name: str, param: Any, values: Sequence[Any]) -> dict[str, Any]:
    """One parcoords dimension; ``values`` holds None where the parameter is inactive."""
    choices = _choices(param) if param is not None else None
    if choices is None and param is None:  # no space: numbers stay numbers, the rest is categorical
        present = [v for v in values if v is not None]
        if any(finite(v) is None for v in present):
            choices = sorted({str(v) for v in present})
            values = [None if v is None else str(v) for v in values]
    if choices is not None:
        index = {repr(c): i for i, c in enumerate(choices)}
        coded = [None if v is None else index.get(repr(v)) for v in values]
        ticks, labels = list(range(len(choices))), [fmt(c) for c in choices]
        lo, hi = 0.0, float(max(len(choices) - 1, 1))
        log = False
    else:
        log = bool(getattr(param, "log", False))
        numbers = [finite(v) for v in values]
        coded = [None if v is None or (log and v <= 0) else (math.log10(v) if log else v) for v in numbers]
        present = [v for v in coded if v is not None]
        if param is not None:
            lo, hi = (math.log10(param.low), math.log10(param.high)) if log else (float(param.low), float(param.high))
        else:
            lo, hi = (min(present), max(present)) if present else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1.0
        ticks, labels = _ticks(lo, hi, log, integer=type(param).__name__ == "Int")
    missing = any(v is None for v in coded)
    if missing:  # the inactive tick, a step below the range
        below = lo - 0.15 * (hi - lo) if choices is None else -1.0
        coded = [below if v is None else v for v in coded]
        ticks, labels, lo = [below, *ticks], [INACTIVE, *labels], below
    return {
        "label": f"{name} (log)" if log else name,
        "values": coded,
        "range": [lo, hi],
        "tickvals": ticks,
        "ticktext": labels,
    }


def parallel_section(data: StudyData) -> Section:
    """Parallel coordinates of the configs of every trial with a value, coloured by it."""
    metric, mode = data.metric, data.mode
    trials: list[Trial] = [t for t in data.trials if finite(t.value) is not None]
    notes = [
        f"Trials with a value: {len(trials)} of {len(data.trials)}; colour: {metric}, brighter is better "
        f"({mode}). Drag along an axis to filter. Categorical parameters are integer ticks labelled with "
        "their choices, log-scaled ones are drawn as log10."
    ]
    if not trials:
        return Section("parallel", "Parallel coordinates", notes=(*notes, "No trial has a value yet."))
    trials, sampled = sample_trials(data, trials)
    notes += [sampled] if sampled else []
    params = {d.name: d.param for d in data.space.dims} if data.space is not None else {}
    dims = [_axis(name, params.get(name), [t.config.get(name) for t in trials]) for name in data.param_names()]
    if any(d["ticktext"][0] == INACTIVE for d in dims):
        notes.append(
            "Conditional parameters that are inactive in a config (missing from it) are drawn at a separate "
            "'inactive' tick below the axis's range."
        )
    budgets = [t.fidelity for t in trials]
    if len(set(budgets)) > 1:
        dims.append({"label": "budget reached", "values": budgets})
        notes.append("Values at different budgets are not comparable: the 'budget reached' axis tells them apart.")
    values = [float(t.value) for t in trials]  # type: ignore[arg-type]
    dims.append({"label": metric, "values": values})
    trace = {
        "type": "parcoords",
        "dimensions": dims,
        "line": {
            "color": values,
            "colorscale": "Viridis",
            "reversescale": mode == "min",
            "showscale": True,
            "colorbar": {"title": {"text": metric}},
        },
    }
    fig = {
        "data": [trace],
        "layout": {"title": {"text": "Configs by value"}, "height": 480, "margin": {"l": 80, "r": 80, "t": 90, "b": 40}},
    }
    return Section("parallel", "Parallel coordinates", figures=(fig,), notes=tuple(notes))
