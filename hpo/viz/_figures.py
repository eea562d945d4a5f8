"""The report's history, Pareto-front and timeline sections, as plotly figure dicts.

Figures are plain ``{"data": [...], "layout": {...}}`` dicts (plotly.js's JSON schema),
so building them needs neither plotly's Python package nor pandas.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hpo.trial import Trial, TrialStatus, finite
from hpo.viz._data import STATUS_COLOURS, Section, StudyData, best_so_far, sample_trials

__all__ = ["history_section", "pareto_section", "timeline_section", "layout"]

_INCUMBENT_RULE = (
    "The best-so-far line follows the study's incumbent rule (hpo.result.rank_key): a COMPLETED "
    "trial (full budget) beats any other, then the larger budget reached, then the better value; "
    "so in a multi-fidelity study it may step to a worse value when the first trial completes."
)


def layout(title: str, x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    """A figure layout with the report's common settings."""
    return {
        "title": {"text": title, "x": 0.01, "xanchor": "left"},
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": y_title}},
        "height": 420,
        "margin": {"l": 70, "r": 30, "t": 50, "b": 50},
        "legend": {"orientation": "h", "x": 1.0, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
        "hovermode": "closest",
        **extra,
    }


def _by_status(trials: Sequence[Trial], x: Callable[[Trial], float]) -> list[dict[str, Any]]:
    """One marker trace per status: the trials' values against ``x``."""
    traces = []
    for status in STATUS_COLOURS:
        group = [t for t in trials if t.status.value == status]
        if not group:
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": status.lower(),
                "x": [x(t) for t in group],
                "y": [t.value for t in group],
                "text": [f"trial {t.trial_id}, budget {t.fidelity:g}" for t in group],
                "hovertemplate": "%{text}<br>value %{y:.4g}<extra></extra>",
                "marker": {"color": STATUS_COLOURS[status], "size": 7},
            }
        )
    return traces


def _best_line(xs: Sequence[float], best: Sequence[float | None]) -> dict[str, Any]:
    """The best-so-far step line; only its steps (and its end) are kept: the same drawing."""
    pairs = [(x, b) for x, b in zip(xs, best, strict=True) if b is not None]
    pairs = [p for i, p in enumerate(pairs) if i in (0, len(pairs) - 1) or p[1] != pairs[i - 1][1]]
    return {
        "type": "scatter",
        "mode": "lines",
        "name": "best so far",
        "x": [p[0] for p in pairs],
        "y": [p[1] for p in pairs],
        "line": {"shape": "hv", "color": "#111111", "width": 2},
        "hovertemplate": "best so far %{y:.4g}<extra></extra>",
    }


def history_section(data: StudyData) -> Section:
    """Each trial's value and the best so far, against the trial number and against time or cost."""
    metric, mode = data.metric, data.mode
    title = f"{metric} ({mode})"
    valued = [t for t in data.trials if finite(t.value) is not None]
    notes = [f"Value: {title}; each marker is a trial's value at the budget it reached, coloured by status."]
    if len(data.result.metrics) > 1:
        notes.append(f"The study has {len(data.result.metrics)} objectives; this section shows the first.")
    if not valued:
        return Section("history", "History", notes=(*notes, "No trial has a value yet."))
    trials = data.trials
    drawn, sampled = sample_trials(data, valued)
    if sampled:
        notes.append(f"{sampled} The best-so-far lines use every trial.")
    shown = {t.trial_id for t in drawn}
    by_number = {
        "data": [*_by_status(drawn, lambda t: t.trial_id), _best_line([t.trial_id for t in trials], best_so_far(trials, mode))],
        "layout": layout("Value by trial number", "trial number", title),
    }
    ended = sorted(
        ((end, t) for t in trials if t.status is not TrialStatus.RUNNING and (end := data.ended_at(t)) is not None),
        key=lambda pair: pair[0],
    )
    priced = any(finite(t.metrics.get("cost")) is not None for t in trials)
    if priced:  # the user's cost unit: cumulative cost at each trial's end
        position, total = {}, 0.0
        for _, t in ended:
            total += t.cost_used
            position[t.trial_id] = total
        x_title = "cumulative cost (reported 'cost', else worker seconds)"
        notes.append("The second figure is against the cumulative cost of the trials ended so far, as the trials report a cost.")
    else:
        t0 = data.t0 or 0.0
        position = {t.trial_id: end - t0 for end, t in ended}
        x_title = "wall-clock seconds since the study's first trial"
        notes.append("The second figure is against wall-clock time: when each trial's last job ended, since the first trial was created.")
    notes.append(_INCUMBENT_RULE)
    in_order = [t for _, t in ended]
    by_time = {
        "data": [
            *_by_status([t for t in in_order if t.trial_id in shown], lambda t: position[t.trial_id]),
            _best_line([position[t.trial_id] for t in in_order], best_so_far(in_order, mode)),
        ],
        "layout": layout("Value by cost" if priced else "Value by time", x_title, title),
    }
    return Section("history", "History", figures=(by_number, by_time), notes=tuple(notes))


def _front_traces(
    everyone: Sequence[Trial],
    front: Sequence[Trial],
    x: Callable[[Trial], Any],
    y: Callable[[Trial], Any],
    shape: str | None,
) -> list[dict[str, Any]]:
    """All trials, and the front joined by the edge of what it dominates (``shape``: ``"hv"``
    when x is minimized, ``"vh"`` when maximized; None: markers only)."""
    ordered = sorted(front, key=x)
    hover = "%{text}<br>(%{x:.4g}, %{y:.4g})<extra></extra>"
    return [
        {
            "type": "scatter",
            "mode": "markers",
            "name": "completed",
            "x": [x(t) for t in everyone],
            "y": [y(t) for t in everyone],
            "text": [f"trial {t.trial_id}" for t in everyone],
            "hovertemplate": hover,
            "marker": {"color": "#9aa5b1", "size": 7},
        },
        {
            "type": "scatter",
            "mode": "markers" if shape is None else "lines+markers",
            "name": "Pareto front",
            "x": [x(t) for t in ordered],
            "y": [y(t) for t in ordered],
            "text": [f"trial {t.trial_id}" for t in ordered],
            "hovertemplate": hover,
            "line": {"shape": shape or "linear", "color": "#d62728"},
            "marker": {"color": "#d62728", "size": 9},
        },
    ]


def pareto_section(data: StudyData) -> Section:
    """The Pareto front over the objectives, or the first objective against cost."""
    result = data.result
    metrics, modes = result.metrics, result.modes
    completed = [t for t in data.trials if t.status is TrialStatus.COMPLETED]
    if len(metrics) > 1:
        a, b = metrics[0], metrics[1]
        shown = [t for t in completed if finite(t.metrics.get(a)) is not None and finite(t.metrics.get(b)) is not None]
        front = result.pareto_front()
        notes = [f"Non-dominated COMPLETED trials over {', '.join(f'{m} ({d})' for m, d in zip(metrics, modes, strict=True))}: {len(front)} of {len(shown)}."]
        if len(metrics) > 2:
            notes.append(f"The plot shows {a} against {b}; the front is over all {len(metrics)} objectives.")
        if not shown:
            return Section("pareto", "Pareto front", notes=(*notes, "No COMPLETED trial has every objective yet."))
        ids = {t.trial_id for t in shown}
        shape = None if len(metrics) > 2 else ("hv" if modes[0] == "min" else "vh")
        drawn, sampled = sample_trials(data, shown, keep=[t.trial_id for t in front])
        notes += [sampled] if sampled else []
        traces = _front_traces(drawn, [t for t in front if t.trial_id in ids], lambda t: finite(t.metrics[a]),
                               lambda t: finite(t.metrics[b]), shape)
        fig = {"data": traces, "layout": layout("Pareto front", f"{a} ({modes[0]})", f"{b} ({modes[1]})")}
        return Section("pareto", "Pareto front", figures=(fig,), notes=tuple(notes))
    priced = [t for t in completed if finite(t.value) is not None and t.cost_used > 0]
    if not priced:
        return Section(
            "pareto",
            "Pareto front",
            notes=("Does not apply: the study has one objective and no COMPLETED trial carries a cost.",),
        )
    front = result.pareto_front(cost="cost")
    drawn, sampled = sample_trials(data, priced, keep=[t.trial_id for t in front])
    notes = (
        f"Cost-performance front (StudyResult.pareto_front(cost='cost')): {metrics[0]} ({modes[0]}) against "
        f"what each COMPLETED trial cost (a reported 'cost' metric, else seconds of worker time), cost "
        f"minimized: {len(front)} of {len(priced)} trials.",
        *([sampled] if sampled else []),
    )
    traces = _front_traces(drawn, front, lambda t: t.cost_used, lambda t: t.value, "hv")
    fig = {"data": traces, "layout": layout("Cost-performance front", "cost", f"{metrics[0]} ({modes[0]})")}
    return Section("pareto", "Pareto front", figures=(fig,), notes=notes)


def _lanes(rows: Sequence[tuple[str, float, float, Trial]]) -> list[str]:
    """Each bar's lane: its worker, split into sub-lanes #1, #2, ... where bars overlap."""
    ends: dict[str, list[float]] = {}
    picks: list[tuple[str, int]] = []
    for worker, start, duration, _ in rows:
        lanes = ends.setdefault(worker, [])
        k = next((i for i, end in enumerate(lanes) if end <= start + 1e-9), len(lanes))
        if k == len(lanes):
            lanes.append(0.0)
        lanes[k] = start + duration
        picks.append((worker, k))
    return [w if len(ends[w]) == 1 else f"{w} #{k + 1}" for w, k in picks]


def timeline_section(data: StudyData) -> Section:
    """A Gantt chart of trials per worker, coloured by status, failures and retries marked."""
    t0 = data.t0
    rows = []
    marked = [t.trial_id for t in data.trials if t.status is TrialStatus.FAILED or t.retries or t.restarts or t.requeued_from is not None]
    drawn, sampled = sample_trials(data, data.trials, keep=marked)
    for t in sorted(drawn, key=lambda t: t.started_at or 0.0):
        if t.started_at is None or t0 is None:
            continue
        end = data.ended_at(t) or t.started_at
        rows.append((data.lane(t), t.started_at - t0, max(end - t.started_at, 0.0), t))
    notes = (
        "One bar per trial: its last job, from its start to its end (a promoted trial's earlier jobs are not "
        "drawn); a running trial's bar ends now. Lanes are the recorded workers (trial.worker; 'local' when "
        "none was recorded), split into #1, #2, ... where trials overlapped on one worker. A cross marks a "
        "failure, a diamond a trial that was retried, restarted without a checkpoint, or re-queued.",
        *([f"{sampled} Failed, retried and re-queued trials are always drawn."] if sampled else []),
    )
    if not rows:
        return Section("timeline", "Timeline", notes=(*notes, "No trial has started yet."))
    lanes = _lanes(rows)
    traces: list[dict[str, Any]] = []
    for status, colour in STATUS_COLOURS.items():
        picked = [i for i, r in enumerate(rows) if r[3].status.value == status]
        if picked:
            traces.append(
                {
                    "type": "bar",
                    "orientation": "h",
                    "name": status.lower(),
                    "y": [lanes[i] for i in picked],
                    "x": [rows[i][2] for i in picked],
                    "base": [rows[i][1] for i in picked],
                    "text": [f"trial {rows[i][3].trial_id}: {rows[i][2]:.3g} s" for i in picked],
                    "textposition": "none",
                    "hovertemplate": "%{text}<extra></extra>",
                    "marker": {"color": colour},
                    "width": 0.6,
                }
            )
    failed = [i for i, r in enumerate(rows) if r[3].status is TrialStatus.FAILED]
    if failed:
        traces.append(_marks(rows, lanes, failed, end=True, name="failure", symbol="x", colour="#7f0000",
                             text=lambda t: f"trial {t.trial_id} failed: {t.reason or ''}"[:200]))
    again = [i for i, r in enumerate(rows) if r[3].retries or r[3].restarts or r[3].requeued_from is not None]
    if again:
        traces.append(_marks(rows, lanes, again, end=False, name="retried / requeued", symbol="diamond-open",
                             colour="#000000", text=_again_text))
    n_lanes = len(set(lanes))
    fig = {
        "data": traces,
        "layout": layout(
            "Trials per worker", "seconds since the study's first trial", "worker",
            barmode="overlay", height=min(1200, max(260, 28 * n_lanes + 150)),
            yaxis={"type": "category", "autorange": "reversed", "title": {"text": "worker"}, "automargin": True},
        ),
    }
    return Section("timeline", "Timeline", figures=(fig,), notes=notes)


def _again_text(t: Trial) -> str:
    parts = [f"trial {t.trial_id}"]
    if t.retries:
        parts.append(f"retried {t.retries}x")
    if t.restarts:
        parts.append(f"restarted {t.restarts}x")
    if t.requeued_from is not None:
        parts.append(f"re-queued from trial {t.requeued_from}")
    return ", ".join(parts)


def _marks(
    rows: Sequence[tuple[str, float, float, Trial]],
    lanes: Sequence[str],
    picked: Sequence[int],
    *,
    end: bool,
    name: str,
    symbol: str,
    colour: str,
    text: Callable[[Trial], str],
) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "markers",
        "name": name,
        "x": [rows[i][1] + (rows[i][2] if end else 0.0) for i in picked],
        "y": [lanes[i] for i in picked],
        "text": [text(rows[i][3]) for i in picked],
        "hovertemplate": "%{text}<extra></extra>",
        "marker": {"symbol": symbol, "size": 10, "color": colour, "line": {"width": 2, "color": colour}},
    }
