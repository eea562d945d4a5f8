"""``python -m benchmarks.run cash``: run the live CASH benchmark and write ``cash.md``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "cmd_cash", "report"]

_RUN_KEY = ("dataset", "method", "seed", "evals")
_REF = "hpo-rb"


def add_parser(sub: Any, results: Path) -> None:
    from benchmarks.run import add_batch_args

    p = sub.add_parser("cash", help="live scikit-learn CASH by 5-fold CV: Rising Bandits and BO vs TPE, random, SMAC")
    add_batch_args(p, results)
    p.add_argument("--datasets", nargs="*", help="default: all of benchmarks.cash.DATASETS")
    p.add_argument("--methods", nargs="*", help="default: every method of benchmarks.cash.METHODS that can run here")


def cmd_cash(args: argparse.Namespace) -> int:
    from benchmarks.cash import DATASETS, METHODS, SMAC_STATUS, available, run_one
    from benchmarks.run import _machine, run_batch

    datasets = args.datasets or list(DATASETS)
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        print(f"unknown datasets {unknown}; choose from {DATASETS}")
        return 2
    wanted = args.methods or list(METHODS)
    unavailable = {m: why for m in wanted if (why := available(m))}
    for m, why in unavailable.items():
        print(f"skipping {m}: {why}" + (f"\n  SMAC_STATUS: {SMAC_STATUS}" if m == "smac" else ""))
    methods = [m for m in wanted if m not in unavailable]
    tasks = [
        (d, m, s, args.evals)
        for s in range(args.first_seed, args.seeds)  # seed-major: a cut-short batch leaves equal seeds
        for d in datasets
        for m in methods
    ]
    runs, commands, _ = run_batch(
        args, "cash", tasks, run_one, _RUN_KEY,
        lambda r: f"{r['dataset']} {r['method']} seed {r['seed']}: best {max(r['scores'], default=float('nan')):.4f}, {r['wall']:.0f} s",
    )
    runs = [r for r in runs if r["evals"] == args.evals]
    shown = [m for m in METHODS if m in wanted or any(r["method"] == m for r in runs)]  # resumed runs too
    text = report(runs, commands, _machine(), args.evals, shown, unavailable)
    (Path(args.out) / "cash.md").write_text(text)
    print(text)
    return 0


def _best_so_far(scores: list[float]) -> list[float]:
    import numpy as np

    return np.maximum.accumulate(np.asarray(scores, dtype=float)).tolist() if scores else []


def _arms(eliminations: Any) -> list[tuple[str, Any]]:
    """(arm, trial) of every elimination in hpo-rb's raw notes, in order, each once.

    Reads both ``{"arm": ..., "eliminated": [{"arm", "trial", ...}]}`` (the scheduler's
    notes) and a bare list of ``{"arm", "trial"}`` records.
    """
    found: list[tuple[str, Any]] = []
    for entry in eliminations or []:
        note = entry.get("note") if isinstance(entry, dict) and "note" in entry else entry
        records = note.get("eliminated", []) if isinstance(note, dict) else note if isinstance(note, list) else []
        found += [(str(e["arm"]), e.get("trial")) for e in records if isinstance(e, dict) and "arm" in e]
    return list(dict.fromkeys(found))


def _cell(values: list[float]) -> str:
    import numpy as np

    if not values:
        return "-"
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return f"{med:.4f} [{q1:.4f}, {q3:.4f}]"


def report(runs: list[dict[str, Any]], commands: list[str], machine: str, evals: int, methods: list[str],
           unavailable: dict[str, str]) -> str:
    """The markdown report: per dataset, best CV score at three checkpoints, time per evaluation,
    evaluations ``hpo-rb`` needs to reach each peer's final median, and its eliminations."""
    from collections import Counter

    import numpy as np

    from benchmarks.cash import DATASETS, SMAC_STATUS

    checkpoints = sorted({max(1, evals // 4), max(1, evals // 2), evals})
    lines = [
        "# Live CASH benchmark: scikit-learn learners by 5-fold CV",
        "",
        *[f"Command: `{c}`  " for c in commands],
        f"Machine: {machine}; every fit single-threaded (`threadpool_limits(1)`, `n_jobs=1`).  ",
        f"{evals} evaluations per run. Score (maximised): mean stratified 5-fold CV accuracy (digits, breast_cancer, "
        "wine) or mean 5-fold CV R² (diabetes), fixed folds (`random_state=0`); learners SVM (rbf/poly/linear), "
        "random forest, HistGradientBoosting, kNN, logistic regression (ridge for diabetes), MLP; see "
        "`benchmarks/cash.py` for spaces and cost caps.  ",
        "Methods: `hpo-rb` = our Rising Bandits scheduler (default searcher); `hpo-rb-c1` = the same with arms judged "
        "after C + 1 = 6 pulls, design or not (DESIGN's earliest; its default before 2026-12-02); `hpo-bo` = our BO (decomposed conditional "
        "model); `hpo-bo-joint` = our BO with one GP over the joint space; `hpo-sampler` = our `HPOSampler` inside "
        "Optuna, define-by-run (the trials' conditional tree mapped onto our `Choice` encoding); `optuna-tpe` = "
        "TPESampler(multivariate=True, group=True), define-by-run; `random` = our random searcher; `smac` = SMAC3 HPO facade.  ",
        f"SMAC: {SMAC_STATUS}",
        "",
    ]
    from benchmarks.run import skipped_lines

    lines += skipped_lines(unavailable, commands)
    lines += [
        "Cells: median [Q1, Q3] over seeds of the best CV score after n evaluations. s/eval: median over runs of "
        "the median seconds of one evaluation (five fits); overhead/eval: median over runs of (wall - evaluation "
        "seconds) / evaluations, the optimizer's own time.",
        "",
    ]
    for dataset in [d for d in DATASETS if any(r["dataset"] == d for r in runs)]:
        druns = [r for r in runs if r["dataset"] == dataset]
        lines += [f"## {dataset} ({druns[0]['metric']})", ""]
        lines += ["| method | seeds | " + " | ".join(f"best @{c}" for c in checkpoints) + " | s/eval | overhead/eval | learner of final best |",
                  "|---|---|" + "---|" * (len(checkpoints) + 3)]
        finals: dict[str, float] = {}
        for m in methods:
            mruns = [r for r in druns if r["method"] == m and r["scores"]]
            if not mruns:
                continue
            curves = [_best_so_far(r["scores"]) for r in mruns]
            finals[m] = float(np.median([c[-1] for c in curves]))
            cells = [_cell([c[min(k, len(c)) - 1] for c in curves]) for k in checkpoints]
            s_eval = np.median([np.median(r["seconds"]) for r in mruns])
            overhead = np.median([(r["wall"] - sum(r["seconds"])) / len(r["scores"]) for r in mruns])
            learners = Counter(r["configs"][int(np.argmax(r["scores"]))]["learner"] for r in mruns)
            cells += [f"{s_eval:.2f}", f"{overhead:.2f}", ", ".join(f"{k} x{n}" for k, n in learners.most_common())]
            lines.append(f"| {m} | {len(mruns)} | " + " | ".join(cells) + " |")
        lines.append("")
        lines += _equal_time(druns, methods)
        lines += _reach(druns, finals, evals)
        lines += _robustness(druns, _one_sample(dataset))
    return "\n".join(lines)


def _one_sample(dataset: str) -> float:
    """One validation sample's share of a CV accuracy (each sample is validated once): ``1 / n``; 0 for R²."""
    if dataset == "diabetes":
        return 0.0
    from sklearn import datasets

    return 1.0 / len(getattr(datasets, f"load_{dataset}")(return_X_y=True)[1])


def end_times(run: dict[str, Any]) -> list[float]:
    """Seconds from the start of ``run`` to the end of each of its evaluations.

    Recorded as ``ends`` since 2026-12-03. Older runs have only the seconds of each
    evaluation and the total wall, so their optimizer time is spread evenly over the
    evaluations: this overstates the early time of a method whose overhead grows with n
    (BO) and understates its late time.
    """
    import numpy as np

    if run.get("ends"):
        return [float(e) for e in run["ends"]]
    n = len(run["seconds"])
    overhead = max(0.0, run["wall"] - sum(run["seconds"])) / max(n, 1)
    return (np.cumsum(run["seconds"]) + overhead * np.arange(1, n + 1)).tolist()


def _equal_time(druns: list[dict[str, Any]], methods: list[str]) -> list[str]:
    """Best score reached by equal wall times: fractions of random search's median wall for its run."""
    import numpy as np

    ref = [r["wall"] for r in druns if r["method"] == "random" and r["scores"]]
    if not ref:
        return []
    budget = float(np.median(ref))
    fractions = (0.25, 0.5, 1.0)
    lines = [f"Equal wall time: the best score reached within a quarter, half and all of **{budget:.0f} s**, random "
             "search's median wall for its evaluations (optimizer time included). A run that ended earlier keeps "
             "its final best; one with no evaluation by then counts as missing. Runs without recorded end times "
             "spread their optimizer time evenly (`end_times`).", "",
             "| method | " + " | ".join(f"best @{f * budget:.0f} s" for f in fractions) + " | evaluations by "
             f"{budget:.0f} s |", "|---|" + "---|" * (len(fractions) + 1)]
    for m in methods:
        mruns = [r for r in druns if r["method"] == m and r["scores"]]
        if not mruns:
            continue
        ends = [end_times(r) for r in mruns]
        cells = []
        for f in fractions:
            done = [int(np.searchsorted(e, f * budget, side="right")) for e in ends]
            vals = [max(r["scores"][:k]) for r, k in zip(mruns, done, strict=True) if k]
            cells.append(_cell(vals) + ("" if len(vals) == len(mruns) else f" ({len(vals)}/{len(mruns)})"))
        counts = [int(np.searchsorted(e, budget, side="right")) for e in ends]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {np.median(counts):.0f} |")
    return [*lines, ""]


def _reach(druns: list[dict[str, Any]], finals: dict[str, float], evals: int) -> list[str]:
    """Evaluations the reference method's best-so-far needs to reach each peer's final median."""
    import numpy as np

    ref = _REF if _REF in finals else next(iter(finals), None)
    if ref is None or len(finals) < 2:
        return []
    note = "" if ref == _REF else f" ({_REF} has no runs here, so {ref} stands in)"
    lines = [f"Evaluations for `{ref}` to reach each peer's final median{note}: median over its seeds of the first "
             "evaluation whose best-so-far reaches it (a seed that never does counts as never).", "",
             f"| peer | peer's final median | {ref}: evaluations to reach | seeds that reach it |", "|---|---|---|---|"]
    curves = [_best_so_far(r["scores"]) for r in druns if r["method"] == ref and r["scores"]]
    for peer, target in finals.items():
        if peer == ref:
            continue
        hits = [next((i + 1 for i, v in enumerate(c) if v >= target), np.inf) for c in curves]
        med = float(np.median(hits))
        reach = f"{med:.0f}" if np.isfinite(med) else f"not reached within {evals}"
        lines.append(f"| {peer} | {target:.4f} | {reach} | {sum(np.isfinite(hits))}/{len(hits)} |")
    return [*lines, ""]


def _robustness(druns: list[dict[str, Any]], tie: float = 0.0) -> list[str]:
    """On how many hpo-rb seeds the eliminated arms include the eventual best learner.

    Also, since CV accuracies are quantized: on how many seeds every learner whose best config
    (over all runs) is within ``tie`` (one validation sample) of the eventual best was eliminated.
    """
    rb = [r for r in druns if r["method"] == _REF]
    scored = [r for r in druns if r["scores"]]
    if not rb or not scored:
        return []
    best_run = max(scored, key=lambda r: max(r["scores"]))
    i = max(range(len(best_run["scores"])), key=best_run["scores"].__getitem__)
    learner = best_run["configs"][i]["learner"]
    top = best_run["scores"][i]
    best_of: dict[str, float] = {}
    for r in scored:
        for c, v in zip(r["configs"], r["scores"], strict=False):
            best_of[c["learner"]] = max(best_of.get(c["learner"], float("-inf")), v)
    near = sorted(k for k, v in best_of.items() if v >= top - tie - 1e-12)
    per_seed = {r["seed"]: _arms(r.get("eliminations")) for r in rb}
    hit = [s for s, arms in per_seed.items() if learner in {a for a, _ in arms}]
    all_near = [s for s, arms in per_seed.items() if set(near) <= {a for a, _ in arms}]
    detail = "; ".join(
        f"seed {s}: " + (", ".join(f"{a}@{t}" for a, t in arms) or "none") for s, arms in sorted(per_seed.items())
    )
    return [
        f"Robustness of `{_REF}`: the eventual best learner is **{learner}** (score {best_run['scores'][i]:.4f}, "
        f"{best_run['method']} seed {best_run['seed']}, evaluation {i + 1}); {_REF} eliminated it on "
        f"**{len(hit)}/{len(per_seed)}** seeds{' (' + ', '.join(map(str, sorted(hit))) + ')' if hit else ''}.  ",
        f"Learners whose best config is within {tie:.4f} of it ({'one validation sample' if tie else 'exact ties'}): "
        f"{', '.join(near)}; {_REF} eliminated all of them on **{len(all_near)}/{len(per_seed)}** seeds.  ",
        f"Eliminations (arm@trial): {detail}.",
        "",
    ]
