"""The CARBS reference's toy problem: is the cost-performance front found? (issue 18, 5c)

    python -m benchmarks.carbs_toy --seeds 10 --evals 100 --out benchmarks/results

The problem is ``try_carbs.py`` of imbue-ai/carbs (Fetterman et al., "Tune As You Scale",
2023), restated: minimise

    f = (log10(learning_rate) + 3)^2 * 512 / epochs + U(0, 0.1)

with cost = ``epochs``. At every cost the best value is the noise alone (``lr = 1e-3``), so
the true front is flat at about 0 to 0.1 across epochs 2..512, and a front "is found" when
the best value under each cost cap is near 0 and the front's members have ``lr`` near 1e-3.
The reference's spaces are unbounded log / logit spaces with search centres lr 1e-4,
momentum 0.9, epochs 10; ours are bounded (``lr`` in [1e-6, 1e-1], ``momentum`` in
[0.01, 0.999], ``epochs`` in [2, 512], all log or logit as there) with the same centre.
``momentum`` does not enter ``f`` (as in the reference).

Methods: ``hpo-carbs`` (``CARBS(space, center=...)``) and ``random`` (our random searcher),
each ``--evals`` evaluations one at a time, fed the cost as the ``cost`` metric.
Per run: the best ``f`` among evaluations with ``epochs <= cap`` for each cap, and the
median ``|log10(lr) + 3|`` (decades from the best ``lr``) of the run's cost-performance
front (:func:`hpo.pareto.non_dominated` on (cost, f)).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

CAPS = (8, 32, 128, 512)
CENTER = {"learning_rate": 1e-4, "momentum": 0.9, "epochs": 10}
METHODS = ("hpo-carbs", "random")
DESCRIPTION = (
    "Problem: `try_carbs.py` of imbue-ai/carbs, restated: minimise f = (log10(lr) + 3)^2 * 512 / epochs + U(0, 0.1), "
    "cost = epochs; at every cost the best f is the noise alone (lr = 1e-3). Spaces: lr log [1e-6, 1e-1], momentum "
    "logit [0.01, 0.999] (not in f, as in the reference), epochs log-int [2, 512]; CARBS centre lr 1e-4, momentum 0.9, "
    "epochs 10 (the reference's). Methods: `hpo-carbs` = `CARBS(space, center=...)`, `random` = our random searcher; "
    "one evaluation at a time, the cost fed as the `cost` metric."
)


def space() -> Any:
    from hpo.search_spaces import Float, Int, SearchSpace

    return SearchSpace({"learning_rate": Float(1e-6, 1e-1, log=True), "momentum": Float(0.01, 0.999),
                        "epochs": Int(2, 512, log=True)})  # fmt: skip


def toy(config: dict[str, Any], rng: Any) -> float:
    """The reference's test function (minimised at lr = 1e-3, best at the most epochs)."""
    return (math.log10(config["learning_rate"]) + 3) ** 2 * 512 / config["epochs"] + float(rng.uniform()) * 0.1


def run_one(method: str, seed: int, evals: int) -> dict[str, Any]:
    import numpy as np

    from hpo.searchers import RandomSearcher
    from hpo.searchers.carbs import CARBS
    from hpo.trial import Observation, TrialStatus

    s = space()
    searcher = CARBS(s, seed=seed, center=CENTER, transforms={"momentum": "logit"}) if method == "hpo-carbs" else RandomSearcher(s, seed)
    searcher.set_objective("loss", "min")
    noise = np.random.default_rng(10_000 + seed)
    rows = []
    t0 = time.perf_counter()
    for i in range(evals):
        (config,) = searcher.suggest(1)
        value, cost = toy(config, noise), float(config["epochs"])
        rows.append({"lr": float(config["learning_rate"]), "epochs": int(config["epochs"]), "f": value})
        searcher.observe([Observation(i + 1, config, TrialStatus.COMPLETED, 1.0, {"loss": value, "cost": cost}, 0.0, (value,))])
    return {"method": method, "seed": seed, "evals": evals, "rows": rows, "wall": time.perf_counter() - t0}


def summary(run: dict[str, Any]) -> dict[str, float]:
    import numpy as np

    from hpo.pareto import non_dominated

    rows = run["rows"]
    out = {f"best@{cap}": min((r["f"] for r in rows if r["epochs"] <= cap), default=float("nan")) for cap in CAPS}
    points = np.array([[r["epochs"], r["f"]] for r in rows], dtype=float)
    front = non_dominated(-points, [True, True])  # both minimised
    out["front_size"] = float(front.sum())
    out["front_lr_gap"] = float(np.median([abs(math.log10(rows[i]["lr"]) + 3) for i in np.flatnonzero(front)]))
    return out


def report(runs: list[dict[str, Any]], command: str) -> str:
    import numpy as np

    def cell(values: list[float]) -> str:
        q1, med, q3 = np.quantile(values, [0.25, 0.5, 0.75])
        return f"{med:.3g} [{q1:.3g}, {q3:.3g}]"

    by = {m: [summary(r) for r in runs if r["method"] == m] for m in METHODS}
    lines = ["# The CARBS reference's toy problem: the cost-performance front", "",
             f"Command: `{command}`  ", DESCRIPTION, "",
             "Cells: median [Q1, Q3] over seeds. `best@E`: the lowest f among evaluations with epochs <= E "
             "(the true optimum at every E is the noise, U(0, 0.1)). `front lr gap`: median decades between "
             "the front members' lr and the best lr 1e-3 (a log-uniform draw on [1e-6, 1e-1] is 1.3 decades off on average).", "",
             "| method | seeds | " + " | ".join(f"best@{c}" for c in CAPS) + " | front size | front lr gap (decades) | s/run |",
             "|---|---|" + "---|" * (len(CAPS) + 3)]  # fmt: skip
    for m, rows in by.items():
        if not rows:
            continue
        walls = [r["wall"] for r in runs if r["method"] == m]
        lines.append(f"| {m} | {len(rows)} | " + " | ".join(cell([r[f"best@{c}"] for r in rows]) for c in CAPS)
                     + f" | {cell([r['front_size'] for r in rows])} | {cell([r['front_lr_gap'] for r in rows])} | {np.median(walls):.1f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CARBS reference toy problem")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evals", type=int, default=100)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    import warnings

    warnings.simplefilter("ignore")
    runs = []
    for seed in range(args.seeds):
        for m in METHODS:
            runs.append(run_one(m, seed, args.evals))
            print(f"[carbs-toy] {m} seed {seed}: best {min(r['f'] for r in runs[-1]['rows']):.3f}, {runs[-1]['wall']:.0f} s", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cost_aware_toy_raw.json").write_text(json.dumps(runs))
    command = "python -m benchmarks.carbs_toy " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(runs, command)
    (out / "cost_aware_toy.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
