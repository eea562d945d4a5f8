"""The report's learning-curves section, with LC-PFN predictive bands.

Every trial's reported metric is drawn against its step; the trials that reached the
largest budget are highlighted. For trials that did not reach the full budget (running,
paused at a rung, or stopped), LC-PFN (Adriaensen et al., NeurIPS 2023;
:class:`hpo.surrogates.lcpfn.LCPFN`, the weights shipped in the package, on the CPU)
extrapolates the curve to the full budget: a 5-95% band and the median. The band is
optional: it is left out, and the page says why, when the study has no fidelity, a curve
is too short, or the metric has no known range to map onto LC-PFN's [0, 1] scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hpo.errors import HPOError
from hpo.trial import Trial, TrialStatus
from hpo.viz._data import Section, StudyData, sample_trials
from hpo.viz._figures import layout

__all__ = ["curves_section", "MAX_BANDS", "MIN_POINTS"]

#: Most LC-PFN bands drawn (the most promising trials first).
MAX_BANDS = 20
#: Reports a curve needs before LC-PFN extrapolates it (as ``LCStopping``'s ``min_steps``).
MIN_POINTS = 3
_QUERY_POINTS = 25
_EXTRAPOLATED = (TrialStatus.RUNNING, TrialStatus.PAUSED, TrialStatus.PRUNED)


def _curve(data: StudyData, trial: Trial) -> list[tuple[float, float]]:
    """``(step, value)`` of the first objective, one per step (a restarted job's retrace wins)."""
    points: dict[float, float] = {}
    for r in data.reports.get(trial.trial_id, ()):
        value = r.value(data.metric)
        if value is not None:
            points[float(r.step)] = value
    return sorted(points.items())


def _segments(curves: Mapping[int, list[tuple[float, float]]], name: str, style: dict[str, Any]) -> dict[str, Any]:
    """All ``curves`` as one line trace, separated by gaps (fast for thousands of trials)."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    text: list[str] = []
    for tid, pts in curves.items():
        xs += [p[0] for p in pts] + [None]
        ys += [p[1] for p in pts] + [None]
        text += [f"trial {tid}"] * (len(pts) + 1)
    return {
        "type": "scatter",
        "mode": "lines+markers",  # markers: a curve of one report is a point
        "name": name,
        "x": xs,
        "y": ys,
        "text": text,
        "hovertemplate": "%{text}, step %{x}: %{y:.4g}<extra></extra>",
        "line": style,
        "marker": {"color": style["color"], "size": 3},
        "connectgaps": False,
    }


def _y_range(data: StudyData, curves: Mapping[int, list[tuple[float, float]]]) -> tuple[tuple[float, float] | None, str]:
    """The metric's range for LC-PFN, and where it comes from (None: unknown)."""
    scheduler = data.settings.get("scheduler")
    params = scheduler.get("params") if isinstance(scheduler, Mapping) else None
    stored = params.get("y_range") if isinstance(params, Mapping) else None
    if isinstance(stored, Sequence) and len(stored) == 2 and float(stored[1]) > float(stored[0]):
        return (float(stored[0]), float(stored[1])), "the y_range the study's LCStopping scheduler was given"
    import statistics

    from hpo.surrogates.lcpfn.stopping import infer_y_range

    values = [v for pts in curves.values() for _, v in pts]
    starts = [pts[0][1] for pts in curves.values() if pts]
    if not values:
        return None, ""
    maximize = data.mode != "min"
    inferred = infer_y_range(min(values), max(values), statistics.median(starts), maximize)
    return inferred if inferred is not None else (None, "")


def _load(model: Any) -> Any:
    if model is True:
        from hpo.surrogates.lcpfn import LCPFN

        return LCPFN.load()
    return model


def _bands(
    data: StudyData, curves: Mapping[int, list[tuple[float, float]]], model: Any
) -> tuple[list[dict[str, Any]], list[str]]:
    """The LC-PFN band traces, and notes on what was drawn or skipped."""
    if model is False or model is None:
        return [], ["LC-PFN bands are off for this report."]
    final = data.budget_max
    if final is None or final <= 1:
        return [], ["No LC-PFN band: the study has no fidelity budget to extrapolate to."]
    trials = {t.trial_id: t for t in data.trials}
    open_ = [tid for tid, pts in curves.items() if trials[tid].status in _EXTRAPOLATED and pts[-1][0] + 1 < final]
    if not open_:
        return [], ["No LC-PFN band: no running, paused or stopped trial short of the full budget."]
    y_range, source = _y_range(data, curves)
    if y_range is None:
        return [], [f"No LC-PFN band: {data.metric} has no known range to map onto LC-PFN's [0, 1] scale."]
    short = [tid for tid in open_ if len(curves[tid]) < MIN_POINTS or curves[tid][0][0] < 0]
    ready = [tid for tid in open_ if tid not in short]
    sign = 1.0 if data.mode == "max" else -1.0
    ready.sort(key=lambda tid: -sign * curves[tid][-1][1])  # the most promising first
    notes = []
    if short:
        notes.append(f"No band for {len(short)} trial(s) with fewer than {MIN_POINTS} reports (too short to extrapolate).")
    if len(ready) > MAX_BANDS:
        notes.append(f"Bands for the {MAX_BANDS} most promising of {len(ready)} trials short of the full budget.")
        ready = ready[:MAX_BANDS]
    if not ready:
        return [], notes
    try:
        pfn = _load(model)
        queries = []
        for tid in ready:
            last = curves[tid][-1][0] + 1.0  # steps are 0-based epochs; LC-PFN's are 1-based
            n = max(1, min(_QUERY_POINTS, int(final - last)))
            queries.append([last + (final - last) * (i + 1) / n for i in range(n)])
        quantiles = pfn.predict_quantiles(
            [[s + 1.0 for s, _ in curves[tid]] for tid in ready],
            [[min(max(v, y_range[0]), y_range[1]) for _, v in curves[tid]] for tid in ready],  # LC-PFN's support
            queries,
            qs=(0.05, 0.5, 0.95),
            maximize=data.mode == "max",
            y_range=y_range,
        )
    except (HPOError, ImportError, RuntimeError, ValueError, OSError) as exc:
        return [], [*notes, f"No LC-PFN band: the model failed ({type(exc).__name__}: {exc})."]
    traces = []
    for k, (tid, xq, q) in enumerate(zip(ready, queries, quantiles, strict=True)):
        x0, y0 = curves[tid][-1]
        steps = [x - 1.0 for x in xq]
        low, mid, high = ([float(v) for v in q[:, j]] for j in range(3))
        low, high = [min(a, b) for a, b in zip(low, high, strict=True)], [max(a, b) for a, b in zip(low, high, strict=True)]
        first = k == 0
        traces.append({
            "type": "scatter", "mode": "lines", "name": "LC-PFN 5-95%", "legendgroup": "band", "showlegend": first,
            "x": [x0, *steps, *steps[::-1], x0], "y": [y0, *high, *low[::-1], y0],
            "fill": "toself", "fillcolor": "rgba(255,127,14,0.15)", "line": {"width": 0},
            "hoverinfo": "skip",
        })
        traces.append({
            "type": "scatter", "mode": "lines", "name": "LC-PFN median", "legendgroup": "median", "showlegend": first,
            "x": [x0, *steps], "y": [y0, *mid], "line": {"dash": "dot", "color": "#ff7f0e", "width": 1.5},
            "text": [f"trial {tid}"] * (len(steps) + 1),
            "hovertemplate": "%{text} (LC-PFN median), step %{x:.3g}: %{y:.4g}<extra></extra>",
        })
    version = getattr(pfn, "version", "?")
    notes.insert(0, (
        f"Orange: LC-PFN (Adriaensen et al., NeurIPS 2023; weights {version}) 5-95% predictive band and median "
        f"from each trial's last report to the full budget ({final:g}), for {len(ready)} trial(s) that did not "
        f"reach it; y range {y_range[0]:.4g}..{y_range[1]:.4g} ({source})."
    ))
    return traces, notes


def curves_section(data: StudyData, model: Any = True) -> Section:
    """Learning curves of every trial, the top-budget ones highlighted, with LC-PFN bands.

    Args:
        data: The study snapshot.
        model: True: load the shipped LC-PFN; False/None: no bands; or any object with
            LC-PFN's ``predict_quantiles`` (e.g. a model already loaded).
    """
    drawn, sampled = sample_trials(data, [t for t in data.trials if data.reports.get(t.trial_id)])
    curves = {t.trial_id: pts for t in drawn if (pts := _curve(data, t))}
    head = f"Each trial's reported {data.metric} against its step." + (f" {sampled}" if sampled else "")
    if not curves:
        return Section("curves", "Learning curves", notes=(head, "No trial has reported intermediate values."))
    trials = {t.trial_id: t for t in data.trials}
    top = max(trials[tid].fidelity for tid in curves)
    best = {tid: pts for tid, pts in curves.items() if trials[tid].fidelity >= top}
    rest = {tid: pts for tid, pts in curves.items() if tid not in best}
    traces = []
    notes = [head]
    if rest:
        traces.append(_segments(rest, "lower budgets", {"color": "rgba(127,127,127,0.45)", "width": 1}))
        notes.append(f"Highlighted: the {len(best)} trial(s) that reached the largest budget ({top:g}).")
    traces.append(_segments(best, f"reached budget {top:g}", {"color": "#1f77b4", "width": 2}))
    bands, band_notes = _bands(data, curves, model)
    fig = {"data": [*traces, *bands], "layout": layout("Learning curves", "step", data.metric)}
    return Section("curves", "Learning curves", figures=(fig,), notes=(*notes, *band_notes))
