"""The report page: one self-contained HTML file, plotly.js inlined, no network.

The figures travel as one JSON block that a few lines of script hand to ``Plotly.newPlot``;
the trials table is plain HTML, sorted (click a header) and filtered (the text box) by a
few lines of vanilla JavaScript. Everything from the study is HTML-escaped, and the JSON
has ``</`` escaped, so no config value can close a ``<script>``.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Sequence
from typing import Any

from hpo.errors import HPOError
from hpo.trial import finite
from hpo.viz._data import Section, StudyData, fmt, sample_trials

__all__ = ["plotly_js", "render_page", "table_section", "heldout_section"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 0 1.5em 3em; color: #1b1f24; }
header { border-bottom: 1px solid #d0d7de; margin-bottom: 1em; }
nav a { margin-right: 1em; }
section { margin: 2em 0; }
.note { color: #57606a; margin: 0.3em 0; font-size: 0.92em; }
.fig { width: 100%; min-height: 260px; }
table { border-collapse: collapse; font-size: 0.85em; width: 100%; }
th, td { border-bottom: 1px solid #e1e4e8; padding: 3px 8px; text-align: left; white-space: nowrap; }
th { cursor: pointer; background: #f6f8fa; position: sticky; top: 0; user-select: none; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
td.reason { white-space: normal; max-width: 28em; }
.table-wrap { max-height: 36em; overflow: auto; }
#hpo-filter { padding: 4px 8px; width: 20em; margin: 0.5em 1em 0.5em 0; }
"""

_SCRIPT = """
(function () {
  var figures = JSON.parse(document.getElementById("hpo-figures").textContent);
  figures.forEach(function (fig, i) {
    var div = document.getElementById("fig-" + i);
    if (!window.Plotly) { div.textContent = "plotly.js did not load"; return; }
    Plotly.newPlot(div, fig.data, fig.layout, {responsive: true, displaylogo: false});
  });
  var table = document.getElementById("hpo-trials");
  if (table) {
    var body = table.tBodies[0], filter = document.getElementById("hpo-filter");
    var shown = document.getElementById("hpo-shown");
    var count = function () {
      var n = 0;
      for (var r = 0; r < body.rows.length; r++) { if (!body.rows[r].hidden) { n++; } }
      shown.textContent = n + " of " + body.rows.length + " trials";
    };
    filter.addEventListener("input", function () {
      var q = filter.value.trim().toLowerCase();
      for (var r = 0; r < body.rows.length; r++) {
        var row = body.rows[r];
        row.hidden = q !== "" && row.textContent.toLowerCase().indexOf(q) < 0;
      }
      count();
    });
    var key = function (row, col) {
      var cell = row.cells[col], v = cell.getAttribute("data-v");
      return v === null ? cell.textContent : parseFloat(v);
    };
    var cmp = function (a, b) {
      var na = typeof a === "number" && !isNaN(a), nb = typeof b === "number" && !isNaN(b);
      if (na && nb) { return a - b; }
      if (na !== nb) { return na ? -1 : 1; }
      return String(a).localeCompare(String(b));
    };
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.addEventListener("click", function () {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var ka = key(a, col), kb = key(b, col);
          if ((ka === "") !== (kb === "")) { return ka === "" ? 1 : -1; }  // empty cells last
          return (asc ? 1 : -1) * cmp(ka, kb);
        });
        rows.forEach(function (r) { body.appendChild(r); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      });
    });
    count();
  }
  var live = document.getElementById("hpo-live");
  if (live) {
    var stamp = live.getAttribute("data-stamp"), every = parseFloat(live.getAttribute("data-every"));
    setInterval(function () {
      fetch("stamp", {cache: "no-store"}).then(function (r) { return r.ok ? r.text() : stamp; })
        .then(function (s) { if (s !== stamp) { location.reload(); } }, function () {});
    }, every * 1000);
  }
})();
"""


def plotly_js() -> str:
    """plotly.js as bundled in the installed ``plotly`` package (inlined: the page works offline).

    The file is found with :func:`importlib.util.find_spec`, which locates the package
    without importing it (plotly's Python package is never loaded).

    Raises:
        HPOError: if the ``plotly`` package is not installed.
    """
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec("plotly")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        bundled = Path(folder) / "package_data" / "plotly.min.js"
        if bundled.is_file():
            return bundled.read_text(encoding="utf-8")
    try:  # an unusual install (e.g. zipped): ask plotly itself
        from plotly.offline import get_plotlyjs
    except ImportError as exc:
        raise HPOError("the HTML report needs plotly (its bundled plotly.js): pip install plotly") from exc
    return str(get_plotlyjs())


def _clean(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _cell(value: Any, css: str = "") -> str:
    number = finite(value)
    attrs = f' data-v="{number!r}"' if number is not None and not isinstance(value, str) else ""
    if css:
        attrs += f' class="{css}"'
    return f"<td{attrs}>{html.escape(fmt(value))}</td>"


def table_section(data: StudyData) -> Section:
    """Every trial as a row: id, status, value(s), budget, cost, parameters, reason."""
    metrics = data.result.metrics
    names = data.param_names()
    several = len(metrics) > 1
    heads = ["id", "status", *(metrics if several else ["value"]), "budget", "cost", *names, "reason"]
    rows = []
    drawn, sampled = sample_trials(data, data.trials)
    for t in drawn:
        values = [t.metrics.get(m) for m in metrics] if several else [t.value]
        cells = [_cell(t.trial_id), _cell(t.status.value), *(_cell(v) for v in values), _cell(t.fidelity),
                 _cell(t.cost_used)]
        cells += [_cell(t.config[n]) if n in t.config else '<td title="inactive"></td>' for n in names]
        cells.append(_cell(t.reason or "", "reason"))
        rows.append(f"<tr data-trial=\"{t.trial_id}\">{''.join(cells)}</tr>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    markup = (
        '<input id="hpo-filter" type="search" placeholder="filter rows (any text)" aria-label="filter trials">'
        '<span id="hpo-shown" class="note"></span>'
        f'<div class="table-wrap"><table id="hpo-trials"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    notes = ("Click a header to sort, type to filter. Budget: the budget reached; cost: a reported 'cost', "
             "else seconds of worker time; an empty parameter cell is an inactive conditional parameter.",
             *([f"{sampled} Every trial: hpo.load_study(path).to_dataframe()."] if sampled else []))
    return Section("trials", f"Trials ({len(data.trials)})", notes=notes, html=markup)


def heldout_section(result: Any) -> Section | None:
    """Mean and sd over held-out seeds per re-evaluated config, if the study has them (else None)."""
    read = getattr(result, "reevaluation", None)
    if not callable(read):
        return None
    try:
        found = read()
    except Exception as exc:  # noqa: BLE001 - an optional section never breaks the page
        return Section("heldout", "Held-out seeds", notes=(f"Could not read the re-evaluation: {type(exc).__name__}: {exc}",))
    if found is None:
        return None
    seeds = list(getattr(found, "seeds", None) or [])
    rows = []
    for row in getattr(found, "rows", None) or []:
        mean, sd = finite(getattr(row, "mean", None)), finite(getattr(row, "sd", None))
        values = [fmt(v) if (v := finite(raw)) is not None else "failed" for raw in getattr(row, "values", None) or []]
        config = json.dumps(dict(getattr(row, "config", {}) or {}), sort_keys=True, default=str)
        rows.append(
            f"<tr>{_cell(getattr(row, 'trial_id', None))}<td>{html.escape(config)}</td>"
            f"{_cell(finite(getattr(row, 'search_value', None)))}"
            f"<td>{html.escape(fmt(mean))} &plusmn; {html.escape(fmt(sd))}</td>"
            f"<td>{html.escape(', '.join(values))}</td></tr>"
        )
    markup = (
        "<table><thead><tr><th>trial</th><th>config</th><th>search value</th><th>held-out mean &plusmn; sd</th>"
        f"<th>per seed</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    note = (
        f"The best configs re-run on {len(seeds)} held-out seed(s) ({', '.join(str(s) for s in seeds)}): "
        "the search value is one run on the tuning seed, the held-out mean and sd are over the seeds "
        "(`hpo reevaluate`)."
    )
    return Section("heldout", "Held-out seeds", notes=(note,), html=markup)


def _summary(data: StudyData) -> str:
    result = data.result
    objectives = ", ".join(f"{m} ({d})" for m, d in zip(result.metrics, result.modes, strict=True))
    counts = ", ".join(f"{k.lower()} {v}" for k, v in sorted(result.counts().items())) or "no trials yet"
    parts = [f"Objective: {objectives}.", f"Trials: {len(data.trials)} ({counts})."]
    inc = result.incumbent
    if len(result.metrics) == 1 and inc is not None:
        config = json.dumps(dict(inc.config), sort_keys=True, default=str)
        parts.append(f"Incumbent: trial {inc.trial_id}, {result.metrics[0]} = {fmt(inc.value)}, {config}.")
    if result.stop_reason == "running":
        parts.append("The study was running at this snapshot.")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(data.now))
    parts.append(f"Source: {data.source or 'in-memory study'}; generated {stamp}.")
    return " ".join(html.escape(p, quote=False) for p in parts)


def render_page(
    data: StudyData, sections: Sequence[Section], title: str, live: tuple[str, float] | None = None
) -> str:
    """The whole page.

    Args:
        data: The study snapshot (for the summary line).
        sections: In page order.
        title: The page's title and heading.
        live: ``(stamp, seconds)`` when served: the page polls ``stamp`` every that many
            seconds and reloads when the study changed.
    """
    figures: list[dict[str, Any]] = []
    body = []
    for s in sections:
        parts = [f'<section id="{html.escape(s.key)}"><h2>{html.escape(s.title)}</h2>']
        parts += [f'<p class="note">{html.escape(n, quote=False)}</p>' for n in s.notes]
        for fig in s.figures:
            parts.append(f'<div class="fig" id="fig-{len(figures)}"></div>')
            figures.append(fig)
        parts.append(s.html)
        parts.append("</section>")
        body.append("".join(parts))
    nav = " ".join(f'<a href="#{html.escape(s.key)}">{html.escape(s.title)}</a>' for s in sections)
    payload = json.dumps(_clean(figures), allow_nan=False, separators=(",", ":"), default=str).replace("</", "<\\/")
    head_extra = ""
    marker = ""
    if live is not None:
        head_extra = '<noscript><meta http-equiv="refresh" content="10"></noscript>'
        marker = f'<div id="hpo-live" data-stamp="{html.escape(live[0])}" data-every="{live[1]:g}" hidden></div>'
    js = plotly_js().replace("</script", "<\\/script")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
        f"<title>{html.escape(title)}</title>{head_extra}<style>{_CSS}</style>"
        f"<script>{js}</script></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{_summary(data)}</p><nav>{nav}</nav></header>"
        f"{marker}{''.join(body)}"
        f'<script type="application/json" id="hpo-figures">{payload}</script>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
