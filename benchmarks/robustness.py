"""Tables of ``benchmarks/results/robustness.md``: every default against its random counterpart and Optuna.

Reads raw files the other suites wrote (``benchmarks.run mf`` and ``benchmarks.run bo``) and
prints markdown tables: median [Q1, Q3] regret at several fractions of the budget and the
mean regret over the whole run (the area under the curve, which rewards getting there
early), per task and method.

    python -m benchmarks.robustness mf RAW.json.gz [RAW2.json.gz ...]
    python -m benchmarks.robustness mf --workers 1,4 RAW.json.gz ...   # rows of 1 and 4 simulated workers
    python -m benchmarks.robustness bo RAW.json [RAW2.json ...]
    python -m benchmarks.robustness inside METHOD NEW.json.gz COMMITTED.json.gz   # final medians vs committed quartiles

Later files replace earlier ones' runs of the same (task, method, seed).
"""

from __future__ import annotations

import gzip
import json
import sys
from typing import Any

__all__ = ["mf_table", "bo_table", "inside_table"]


def _load(path: str) -> list[dict[str, Any]]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as fh:
        return json.load(fh)


def _cell(values: Any) -> str:
    import numpy as np

    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return f"{med:.3g} [{q1:.3g}, {q3:.3g}]"


def _merge(paths: list[str], key: tuple[str, ...]) -> list[dict[str, Any]]:
    runs: dict[tuple[Any, ...], dict[str, Any]] = {}
    for path in paths:
        for r in _load(path):
            runs[tuple(r.get(k) for k in key)] = r
    return list(runs.values())


def mf_table(paths: list[str], fractions: tuple[float, ...] = (1 / 9, 1 / 3, 1.0), workers: tuple[int, ...] = (4,)) -> str:
    """Regret (best-known - best so far, accuracy points) of multi-fidelity runs.

    Best-known: the best value any of these runs reported, and for LCBench tasks also the
    best of 20,000 random configs at the full budget (``multifidelity.reference_best``).
    Runs of ``workers`` simulated workers only (4); with several counts, a method's rows
    are labelled "(K workers)". ``optuna-tpe-hyperband`` runs one trial at a time whatever
    its record says, and is labelled so.
    """
    import numpy as np

    from benchmarks.multifidelity import reference_best

    runs = []
    for r in _merge(paths, ("task", "method", "seed", "workers")):
        if r["workers"] not in workers:
            continue
        if r["method"] == "optuna-tpe-hyperband":
            r = {**r, "method": "optuna-tpe-hyperband (one trial at a time)"}
        elif len(workers) > 1:
            r = {**r, "method": f"{r['method']} ({r['workers']} worker{'s' * (r['workers'] > 1)})"}
        runs.append(r)
    lines = []
    for task in sorted({r["task"] for r in runs}):
        tr = [r for r in runs if r["task"] == task]
        best = max([max(r["values"]) for r in tr] + ([reference_best(task)] if task.isdigit() else []))
        epochs = max(len(r["values"]) for r in tr)
        marks = [max(1, round(f * epochs)) for f in fractions]
        lines += [f"### {task} (best-known {best:.2f}, {epochs} steps per run)", "",
                  "| method | seeds | " + " | ".join(f"regret @{m}" for m in marks) + " | mean regret over the run |",
                  "|---|---|" + "---|" * (len(marks) + 1)]
        for method in sorted({r["method"] for r in tr}):
            mr = [r for r in tr if r["method"] == method]
            curves = []
            for r in mr:
                v = np.maximum.accumulate(np.asarray(r["values"], dtype=float))
                v = np.concatenate([v, np.full(epochs - len(v), v[-1])])
                curves.append(best - v)
            c = np.asarray(curves)
            cells = [_cell(c[:, m - 1]) for m in marks] + [_cell(c.mean(axis=1))]
            lines.append(f"| {method} | {len(mr)} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def bo_table(paths: list[str], marks: tuple[int, ...] = (25, 60, 100)) -> str:
    """Simple regret of sequential BO runs at several evaluation counts."""

    runs = _merge(paths, ("problem", "method", "seed"))
    lines = []
    for problem in sorted({r["problem"] for r in runs}):
        pr = [r for r in runs if r["problem"] == problem]
        lines += [f"### {pr[0]['name']}", "", "| method | seeds | " + " | ".join(f"regret @{m}" for m in marks) + " |",
                  "|---|---|" + "---|" * len(marks)]
        for method in sorted({r["method"] for r in pr}):
            mr = [r for r in pr if r["method"] == method]
            cells = [_cell([r["regret"][min(m, len(r["regret"])) - 1] for r in mr]) for m in marks]
            lines.append(f"| {method} | {len(mr)} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def inside_table(method: str, new: str, committed: str) -> str:
    """Each task's final best value of ``method`` (4 workers) in ``new`` against its quartiles in ``committed``.

    Values, not regrets, so the two files need not share a best-known value. A task is
    "inside" when the new median lies within the committed [Q1, Q3], "better" above Q3,
    "below" under Q1.
    """
    import numpy as np

    def finals(path: str) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for r in _load(path):
            if r["method"] == method and r["workers"] == 4:
                out.setdefault(r["task"], []).append(max(r["values"]))
        return out

    now, before = finals(new), finals(committed)
    lines = [f"| task | {method} now: final best | seeds | committed | seeds | median |", "|---|---|---|---|---|---|"]
    for task in sorted(set(now) & set(before)):
        q1, med, q3 = np.percentile(now[task], [25, 50, 75])
        b1, bmed, b3 = np.percentile(before[task], [25, 50, 75])
        verdict = "inside" if b1 <= med <= b3 else ("better" if med > b3 else "below")
        lines.append(f"| {task} | {med:.3f} [{q1:.3f}, {q3:.3f}] | {len(now[task])} | {bmed:.3f} [{b1:.3f}, {b3:.3f}] | "
                     f"{len(before[task])} | {verdict} |")
    return "\n".join(lines)


if __name__ == "__main__":
    kind, *files = sys.argv[1:]
    if kind == "inside":
        print(inside_table(*files))
    elif kind == "mf":
        counts = (4,)
        if files[0] == "--workers":
            counts, files = tuple(int(k) for k in files[1].split(",")), files[2:]
        print(mf_table(files, workers=counts))
    else:
        print(bo_table(files))
