"""Tables and plots of the multi-fidelity benchmark (``python -m benchmarks.run mf``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.multifidelity import LIBRARY_PEERS, OURS, PEERS

MF_OURS = ("hpo-asha", "hpo-hyperband", "hpo-asha-bo", "hpo-hyperband-bo", "hpo-asha-bo-ts", "hpo-hyperband-bo-ts")  # multi-fidelity ones


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 360 else f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def regret_curves(runs: list[dict[str, Any]], best: float, epochs: int) -> Any:
    """`runs x epochs` regret (accuracy points) of the best value so far, padded with the last."""
    import numpy as np

    out = np.full((len(runs), epochs), np.nan)
    for i, r in enumerate(runs):
        v = np.maximum.accumulate(np.asarray(r["values"], dtype=float))
        out[i, : len(v)] = best - v
        out[i, len(v) :] = best - v[-1] if len(v) else np.nan
    return out


def first_reach(curve: Any, target: float) -> int | None:
    import numpy as np

    hit = np.nonzero(curve <= target + 1e-12)[0]
    return int(hit[0]) + 1 if len(hit) else None


#: Live single-task families: (title, what an epoch is), by task name.
_LIVE_TEXTS = {
    "digits": (
        "# Multi-fidelity benchmark, live task: MLP on scikit-learn digits, trained epoch by epoch",
        "Every epoch is real `MLPClassifier.partial_fit` training (`benchmarks/digits.py`); "
        "simulated times are the measured seconds per epoch. ",
    ),
    **{
        f"digits-{schedule}": (
            f"# Multi-fidelity benchmark, live task: torch MLP on scikit-learn digits, SGD with a {schedule} learning-rate "
            "schedule over the full 27 epochs (`benchmarks/schedule_task.py`)",
            f"Every epoch is real torch training (SGD, {schedule} schedule tied to 27 epochs; `benchmarks/schedule_task.py`); "
            "simulated times are the measured seconds per epoch. ",
        )
        for schedule in ("cosine", "step")
    },
    "trees": (
        "# Multi-fidelity benchmark, live conditional task: which scikit-learn tree ensemble and its settings "
        "(`benchmarks/trees_task.py`), fidelity = ensemble size (10 boosting rounds or 4 trees per step, 27 steps); "
        "an 'epoch' below is one step",
        "Every step grows the ensemble for real (`warm_start`: boosting rounds for HistGradientBoosting and "
        "GradientBoosting, trees for the random and extra-trees forests) on a synthetic classification set "
        "(`benchmarks/trees_task.py`); simulated times are the measured seconds per step. ",
    ),
}
_CASH_TEXTS = (
    "# Multi-fidelity benchmark, live conditional task: which scikit-learn learner and its settings "
    "(`benchmarks/cash_mf.py`), fidelity = training-set fraction in 9 steps; an 'epoch' below is one step",
    "Every step is a real fit of the learner on (step+1)/9 of the training split "
    "(`benchmarks/cash_mf.py`); simulated times are the measured fit seconds. Ray Tune does not run here "
    "(the conditional space has no Ray space yet). ",
)


def _texts(tasks: list[str], live: bool, cash: bool) -> tuple[str, str]:
    """The report's title and what one epoch of its task is."""
    if cash:
        return _CASH_TEXTS
    if live:
        return next((_LIVE_TEXTS[t] for t in tasks if t in _LIVE_TEXTS), _LIVE_TEXTS["digits"])
    return "# Multi-fidelity benchmark: LCBench (YAHPO surrogate), regret against cumulative epochs", ""


def report(
    runs: list[dict[str, Any]],
    refs: dict[str, float],
    epochs: int,
    commands: list[str],
    machine: str,
    out: Path,
    *,
    stem: str = "multifidelity",
    live: bool = False,
    cash: bool = False,
    unavailable: dict[str, str] | None = None,
) -> str:
    """The markdown report; ``live`` for the digits task (best-known = best value any run reported).

    ``unavailable`` names the requested methods that could not run here, with the reason.
    """
    import numpy as np

    full = 9 if cash else 27 if live else 52
    tasks = sorted({r["task"] for r in runs}, key=lambda t: (not t.isdigit(), int(t) if t.isdigit() else t))
    main = [r for r in runs if r["workers"] == 4]
    best = {t: max([refs.get(t, -np.inf)] + [max(r["values"]) for r in runs if r["task"] == t]) for t in tasks}
    methods = [m for m in OURS + PEERS + LIBRARY_PEERS if any(r["method"] == m for r in main)]
    title, about = _texts(tasks, live, cash)
    lines = [
        title,
        "",
        "Commands (run in this order; each `--resume` run adds its runs to the same raw file):",
        "",
        *[f"    {c}" for c in commands],
        "",
        f"Machine: {machine}.  ",
        f"Budget: {epochs} cumulative epochs per run (= {epochs // full} full {full}-epoch trainings). Metric: val_accuracy (%), maximized.  ",
        "Regret = best-known value - best val_accuracy reported so far (any epoch), in accuracy points. "
        + (
            "**Best-known value** = the best value any run of any method reported (live training: no surrogate to "
            "search exhaustively). "
            if live
            else "**Best-known value** = the maximum of (a) the best epoch-52 val_accuracy of 20,000 uniformly random configs "
            "(seed 12345) and (b) every value any run of any method reported. "
        )
        + about
        + "Cells: median [Q1, Q3] over seeds.  ",
        "Ours run on the simulated executor with 4 workers (optimizer compute time added to the clock); "
        + (
            "Ray Tune runs for real (`Tuner`, function trainable, `tune.report` per epoch, no concurrency cap, reuse_actors; "
            "under HyperBandScheduler the trainable checkpoints every epoch, so a paused trial resumes where it stopped); "
            if any(m.startswith("ray-") for m in methods)
            else ""
        )
        + (
            f"Optuna = TPESampler(multivariate) + HyperbandPruner(1..{full}, reduction 3): `optuna-tpe-hyperband` runs "
            "one trial at a time (`study.optimize`), `optuna-tpe-hyperband-async` 4 at once on a simulated clock "
            "(ask/tell; the same parallelism as ours). "
            if any(m.startswith("optuna-") for m in methods)
            else ""
        )
        + "`hpo-*-bo` are model-based (GP BO fitted on the largest budget with >= d+1 results, 1/3 random configs, BOHB-style, and a further random share of 1 - trust, the trust growing with Kendall's tau between the fitted rung and the next: `BOSearcher`), "
        "with LogEI (qLogNEI over the running configs); `hpo-*-bo-ts` pick by Thompson sampling (one joint GP posterior draw "
        "over 512 random and 67 incumbent-local candidates), which needs no pending-point integration and is 5x cheaper per suggestion; "
        f"`hpo-random` = random search, every trial {full} epochs."
        + (
            " Library peers (LCBench only, `benchmarks/peers/`): `synetune-mobster`, `synetune-hypertune`, `synetune-bohb` = "
            "Syne Tune 0.13's MOBSTER, HyperTune (4 brackets) and BOHB (asynchronous, stopping type, grace period 1, "
            "reduction 3) on its simulator backend with 4 workers (`UserBlackboxBackend` over the same LCBench surrogate; "
            "its clock counts simulated training time only, not the scheduler's real compute time as Syne Tune's own would, "
            "so a run does not depend on the machine's load), "
            "the trace being every result the backend handed the tuner; "
            f"`dehb` = DEHB 0.1.2 and `smac-mf` = SMAC3's MultiFidelityFacade (Hyperband, eta 3, budgets 1..{full}), ask/tell, "
            "one evaluation at a time; both train every evaluation from scratch, so each pays its whole fidelity "
            "(2, 6, 17 or 52 epochs) and a promoted config pays again."
            if any(m in LIBRARY_PEERS for m in methods)
            else ""
        ),
        "",
    ]
    # which of ours is best overall (mean rank of final median regret over tasks)
    finals: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], int] = {}
    curves: dict[tuple[str, str], Any] = {}
    for t in tasks:
        for m in methods:
            mr = [r for r in main if r["task"] == t and r["method"] == m]
            if mr:
                c = regret_curves(mr, best[t], epochs)
                curves[(t, m)] = np.median(c, axis=0)
                finals[(t, m)] = float(np.median(c[:, -1]))
                counts[(t, m)] = len(mr)
    ours_mf = [m for m in MF_OURS if all((t, m) in finals for t in tasks)]
    acceptance = [p for p in PEERS + ("hpo-random",) if any((t, p) in finals for t in tasks)]
    peers = acceptance + [p for p in LIBRARY_PEERS if any((t, p) in finals for t in tasks)]
    fraction = {p: 5 if p == "hpo-random" else 2 if p in LIBRARY_PEERS else 3 for p in peers}

    def reach(m: str, t: str, p: str) -> tuple[int | None, bool]:
        """Epochs ``m``'s median curve needs to reach peer ``p``'s final median regret on ``t``, and whether that is in time."""
        hit = first_reach(curves[(t, m)], finals[(t, p)])
        limit = epochs // fraction[p]
        return hit, hit is not None and hit <= limit

    wins = {m: {p: sum(reach(m, t, p)[1] for t in tasks if (t, p) in finals) for p in peers} for m in ours_mf}
    ranks = {m: np.mean([sorted(finals[(t, o)] for o in ours_mf).index(finals[(t, m)]) for t in tasks]) for m in ours_mf}
    # the best: most (task, peer) targets of the acceptance (Ray Tune, Optuna, random) reached in time; ties by mean rank
    champion = min(ours_mf, key=lambda m: (-sum(wins[m][p] for p in acceptance), ranks[m])) if ours_mf else None
    lines += [
        f"Best of ours: **{champion}** (most task/peer targets of the acceptance reached in time; ties by mean rank of final median regret).",
        "",
    ]
    lines += [f"- Not run: `{m}`: {why}" for m, why in (unavailable or {}).items()] + ([""] if unavailable else [])
    if refs and any(m in LIBRARY_PEERS for m in methods):
        lines += _best_known_section(runs, refs, best, tasks)  # every run, as `best` is
    lines += ["## Final regret after the budget", "", "| task | best-known | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for t in tasks:
        cells = []
        for m in methods:
            mr = [r for r in main if r["task"] == t and r["method"] == m]
            if not mr:
                cells.append("-")
                continue
            c = regret_curves(mr, best[t], epochs)[:, -1]
            q1, med, q3 = np.percentile(c, [25, 50, 75])
            cells.append(f"{_fmt(med)} [{_fmt(q1)}, {_fmt(q3)}] (n={len(mr)})")
        lines.append(f"| {t} | {best[t]:.2f} | " + " | ".join(cells) + " |")
    lines.append("")
    if champion:
        lines += [
            f"## Epochs {champion} needs to reach each peer's final median regret",
            "",
            f"Target: at most 1/3 of the peer's {epochs} epochs against Ray Tune / Optuna ({epochs // 3}), "
            f"at most 1/5 against full-budget random search ({epochs // 5})"
            + (f", at most 1/2 against the library peers ({epochs // 2})" if len(peers) > len(acceptance) else "")
            + ". Median curve over seeds.",
            "",
            "| task | " + " | ".join(peers) + " |",
        ]
        lines.append("|---|" + "---|" * len(peers))
        seen = {p: sum((t, p) in finals for t in tasks) for p in peers}
        for t in tasks:
            cells = []
            for p in peers:
                if (t, p) not in finals:
                    cells.append("-")
                    continue
                hit, ok = reach(champion, t, p)
                cells.append(f"{hit if hit is not None else 'not reached'} ({'x' + format(epochs / hit, '.1f') + ' fewer' if hit else '-'}){' ✓' if ok else ''}")
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
        lines += ["", "Tasks where each of our multi-fidelity methods reaches the peer's final median regret in time "
                  "(1/3 of the epochs against Ray Tune / Optuna, 1/5 against random search"
                  + (", 1/2 against the library peers" if len(peers) > len(acceptance) else "") + "):", "",
                  "| method | seeds | " + " | ".join(peers) + " |", "|---|---|" + "---|" * len(peers)]
        for m in ours_mf:
            n = sorted({counts[(t, m)] for t in tasks})
            lines.append(f"| {m} | {'-'.join(map(str, n[:: max(1, len(n) - 1)]))} | "
                         + " | ".join(f"{wins[m][p]}/{seen[p]}" for p in peers) + " |")
        library = [p for p in peers if p in LIBRARY_PEERS]
        if library:
            lines += ["", f"Library peers: tasks where {champion} (our best, above) reaches the peer's final median regret "
                      f"within 1/2 of the peer's {epochs} epochs ({epochs // 2}):", ""]
            for p in library:
                hits = [t for t in tasks if (t, p) in finals and reach(champion, t, p)[1]]
                lines.append(f"- `{p}`: {len(hits)}/{seen[p]} tasks ({', '.join(hits) or 'none'}).")
            lines += ["", f"Where a peer's final median regret is below {champion}'s (peer against ours):", ""]
            for p in peers:
                lost = [t for t in tasks if (t, p) in finals and finals[(t, p)] < finals[(t, champion)]]
                cells = ", ".join(f"{t} {_fmt(finals[(t, p)])} against {_fmt(finals[(t, champion)])}" for t in lost)
                lines.append(f"- `{p}` (seeds: {'-'.join(map(str, sorted({counts[(t, p)] for t in tasks if (t, p) in counts})))}): "
                             f"{len(lost)}/{seen[p]} tasks{': ' + cells if cells else ''}.")
        peer_n = {p: sorted({counts[(t, p)] for t in tasks if (t, p) in counts}) for p in peers}
        lines += ["", "Seeds per peer: " + ", ".join(f"{p} {'-'.join(map(str, v[:: max(1, len(v) - 1)]))}" for p, v in peer_n.items()) + "."]
        for library in ("Ray Tune", "Syne Tune"):
            recorded = [r for r in main if "restarts" in r and r["method"].startswith(library.split()[0].lower())]
            if recorded:  # a trial re-reporting an epoch it had reported: a resume that retrained
                lines.append(f"{library} epochs re-trained after a pause: {sum(r['restarts'] for r in recorded)} "
                             f"in the {len(recorded)} runs that count them.")
        lines.append("")
    # simulated time with 4 and 16 workers
    sim = [r for r in runs if r["method"] in OURS and "times" in r]
    sim_methods = [m for m in OURS if any(r["method"] == m for r in sim)]
    if sim:
        lines += [
            "## Our methods against simulated wall-clock time",
            "",
            "Median simulated time until regret <= full-budget random search's final median regret "
            "(same worker count), 4 and 16 simulated workers; '-' = the median run does not reach it within the epoch "
            "budget (random search's own column is often '-': with an even number of seeds, only half of its runs end at or below "
            "their median). Optimizer compute time is part of the clock.",
            "",
            "| task | workers | " + " | ".join(sim_methods) + " |",
            "|---|---|" + "---|" * len(sim_methods),
        ]
        for t in tasks:
            for k in sorted({r["workers"] for r in sim}):
                rand = [r for r in sim if r["task"] == t and r["method"] == "hpo-random" and r["workers"] == k]
                if not rand:
                    continue
                target = float(np.median(regret_curves(rand, best[t], epochs)[:, -1]))
                cells = []
                for m in sim_methods:
                    hours = []
                    for r in (r for r in sim if r["task"] == t and r["method"] == m and r["workers"] == k):
                        reg = best[t] - np.maximum.accumulate(np.asarray(r["values"]))
                        hit = np.nonzero(reg <= target + 1e-12)[0]
                        hours.append(r["times"][hit[0]] / 3600 if len(hit) else np.inf)
                    med = float(np.median(hours)) if hours else np.nan
                    cells.append("-" if not np.isfinite(med) else _duration(med * 3600))
                lines.append(f"| {t} | {k} | " + " | ".join(cells) + " |")
        lines.append("")
    _plot(main, tasks, methods, best, epochs, out / f"{stem}_regret.png")
    lines += [f"Plot: `{stem}_regret.png` (median and quartiles vs cumulative epochs). Raw traces: `{stem}_raw.json.gz`.", ""]
    live_report = out / "multifidelity_digits.md"
    if not live and live_report.exists():  # the live task's tables, from its own run
        body = live_report.read_text().split("\n## ", 1)
        lines += ["# Live task: MLP on scikit-learn digits", "", f"From `{live_report.name}` (its commands are there).", ""]
        lines += ["## " + body[1]] if len(body) > 1 else []
    return "\n".join(lines)


def _best_known_section(runs: list[dict[str, Any]], refs: dict[str, float], best: dict[str, float], tasks: list[str]) -> list[str]:
    """Which run (any worker count) set each task's best-known value, against the best of the 20,000 random configs."""
    from benchmarks.lcbench_corners import task_row

    tasks = [t for t in tasks if t.isdigit() and t in refs]  # LCBench tasks (a test's toy task has no surrogate)
    if not tasks:
        return []
    above = sum(task_row(t, refs[t])[2] > 0 for t in tasks)
    lines = [
        "## Where the best-known values come from",
        "",
        f"The LCBench surrogate was fitted on configs drawn inside the box; at its bounds it extrapolates, and on {above} of "
        f"{len(tasks)} tasks some corner of the box (every parameter at a bound) beats all 20,000 random configs "
        "(`lcbench_corners.md`). Optimizers that maximize their acquisition by gradient under box constraints "
        "(Syne Tune's MOBSTER and Hyper-Tune; our `hpo-*-bo`, LogEI refined by L-BFGS-B) propose configs on the "
        "bounds; uniform draws never do, and our Thompson-sampling candidates (`hpo-*-bo-ts`) only where a local "
        "perturbation is clipped. Where the "
        "best-known value lies well above the random reference, the regrets below measure reaching those "
        "extrapolated values as much as search efficiency.",
        "",
        "| task | best of 20,000 random configs | best-known | set by (method, seed) |",
        "|---|---|---|---|",
    ]
    for t in tasks:
        top = max((r for r in runs if r["task"] == t), key=lambda r: max(r["values"]), default=None)
        source = "the random reference" if top is None or max(top["values"]) < refs[t] else f"`{top['method']}`, seed {top['seed']}"
        lines.append(f"| {t} | {refs[t]:.2f} | {best[t]:.2f} | {source} |")
    return [*lines, ""]


def _plot(runs: list[dict[str, Any]], tasks: list[str], methods: list[str], best: dict[str, float], epochs: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols = max(1, min(4, len(tasks)))  # one task: one panel, not a row of empty ones
    rows = (len(tasks) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    xs = np.arange(1, epochs + 1)
    for ax, t in zip(axes.flat, tasks, strict=False):
        for m in methods:
            mr = [r for r in runs if r["task"] == t and r["method"] == m]
            if not mr:
                continue
            c = np.maximum(regret_curves(mr, best[t], epochs), 1e-3)
            q1, med, q3 = np.percentile(c, [25, 50, 75], axis=0)
            ax.plot(xs, med, label=m)
            ax.fill_between(xs, q1, q3, alpha=0.15)
        ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_title(f"LCBench {t}" if t.isdigit() else t, fontsize=9)
        ax.set_xlabel("cumulative epochs")
        ax.set_ylabel("regret (acc. points)")
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
