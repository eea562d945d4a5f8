"""Markdown tables of regret for side-by-side ablations of our multi-fidelity variants.

Reads raw ``benchmarks.run mf`` files (``*_raw.json.gz``) and prints, per task, the regret
after 1/3 of each run's epochs and at the end, median [Q1, Q3] (seeds), for the methods
named (``hpo-asha-bo-ts:bt`` etc.; see :func:`benchmarks.multifidelity._ours` for the
variants). A method label ``:br`` in a file is read as ``:bht`` (its name at commit b10833e).

    python -m benchmarks.variant_table RAW [RAW ...] --methods=hpo-asha-bo-ts:br1,hpo-asha-bo-ts:bt

The best-known value per task is the larger of the committed one (``multifidelity.md``,
``multifidelity_digits.md`` and ``robustness.md`` as of commit 6da3ed9) and every value in the
files read.
"""

from __future__ import annotations

import gzip
import json
import sys
from typing import Any

BEST_KNOWN = {"3945": 99.66, "7593": 90.66, "34539": 99.14, "126025": 99.28, "126026": 99.71, "146212": 99.14,
              "167104": 96.20, "189906": 94.91, "cash-breast_cancer": 97.08, "cash-digits": 99.26, "digits": 99.11}
RENAMED = {"br": "bht"}


def _runs(paths: list[str]) -> list[dict[str, Any]]:
    runs = []
    for path in paths:
        with gzip.open(path, "rt") as fh:
            for r in json.load(fh):
                base, _, variant = r["method"].partition(":")
                r["method"] = f"{base}:{RENAMED.get(variant, variant)}" if variant else base
                runs.append(r)
    return runs


def tables(runs: list[dict[str, Any]], methods: list[str]) -> str:
    import numpy as np

    def cell(values: list[float]) -> str:
        a = np.asarray(values)
        return f"{np.median(a):.3g} [{np.quantile(a, 0.25):.3g}, {np.quantile(a, 0.75):.3g}] ({len(a)})"

    tasks = sorted({r["task"] for r in runs}, key=lambda t: (not t.isdigit(), len(t), t))
    lines = []
    for frac, title in ((1 / 3, "Regret after 1/3 of the budget"), (1.0, "Final regret")):
        lines += ["", f"{title}:", "", "| task | " + " | ".join(f"`{m}`" for m in methods) + " |",
                  "|---" * (len(methods) + 1) + "|"]
        for task in tasks:
            best = max([BEST_KNOWN.get(task, -np.inf)] + [max(r["values"]) for r in runs if r["task"] == task])
            cells = []
            for m in methods:
                values = [np.asarray(r["values"]) for r in runs if r["task"] == task and r["method"] == m]
                cells.append(cell([best - v[: max(1, round(len(v) * frac))].max() for v in values]) if values else "-")
            lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    methods = [a.split("=", 1)[1].split(",") for a in argv if a.startswith("--methods=")]
    paths = [a for a in argv if not a.startswith("--")]
    runs = _runs(paths)
    print(tables(runs, methods[0] if methods else sorted({r["method"] for r in runs})))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
