"""Real learning curves with learning-rate schedules, recorded once and replayed (issue 20's unseen-curve check).

The three committed real curve sets (AlexNet, ConvNeXt, a scikit-learn MLP) were the ones the
LC-PFN prior was discussed against. This module records two more, from a model family and
schedules the prior was not fitted to: the torch MLP of :mod:`benchmarks.schedule_task`
(SGD, warm-up, then a **cosine** decay to zero or a **step** decay, x0.1 at 50% and 75% of
the 27 epochs), one curve per random config. Then:

* ``evaluate``: LC-PFN (both shipped variants) against the last observed value, final-value
  MSE at cutoffs of 10/20/40/80% of each curve, and the 90% interval's coverage of the final
  value at 40% (raw and recalibrated on 20 other curves of the set), with the functions of
  :mod:`benchmarks.lcpfn.evaluate` (no MCMC);
* :class:`CurvePool`: the recorded curves as a tabular task (the space is the index of a
  recorded config), so ``benchmarks.run early --tasks digits-cosine digits-step trees`` replays
  LC-PFN early stopping against FIFO and Optuna's pruners on them, in simulated time, as it
  does on LCBench.

A third set (nineteenth session) is not a neural network at all: the tree ensembles of
:mod:`benchmarks.trees_task` (boosting or bagging, grown with ``warm_start``), whose "epoch" is
10 more boosting rounds or 4 more trees. Their curves saturate within a few steps, level
off with noise of a validation sample or two, and can fall late as boosting overfits.

Usage::

    python -m benchmarks.schedule_curves record --schedule cosine --n 400 --seed 0
    python -m benchmarks.schedule_curves record --schedule step --n 400 --seed 1
    python -m benchmarks.schedule_curves record --task trees --n 400 --seed 2
    python -m benchmarks.schedule_curves evaluate > DIR/lcpfn_schedules.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CurvePool", "DATA", "LOSS_POOLS", "POOLS", "evaluate", "record"]

#: Where the recorded curve sets live (committed, so a fresh clone replays them).
DATA = Path(__file__).resolve().parent / "data" / "schedule_curves"
#: Task name -> recorded file.
POOLS = {"digits-cosine": "digits_cosine_val_acc.npz", "digits-step": "digits_step_val_acc.npz", "trees": "trees_val_acc.npz"}
#: Task name -> recorded file of validation *losses* (cross-entropy, minimised; the same
#: configs as the accuracy pool of the same schedule: same seed, same training).
LOSS_POOLS = {"digits-cosine-loss": "digits_cosine_val_loss.npz", "digits-step-loss": "digits_step_val_loss.npz"}
CUTOFFS = (10, 20, 40, 80)


def record(schedule: str, n: int, seed: int, path: Path, metric: str = "accuracy") -> Path:
    """Train ``n`` random configs of a live task to the end; save their curves.

    ``schedule`` is the digits MLP's (:class:`~benchmarks.schedule_task.DigitsCosine`,
    ``"cosine"`` or ``"step"``), or ``"trees"`` for :class:`~benchmarks.trees_task.TreeEnsembles`
    (validation accuracy only). The file has the layout of ``benchmarks/data/curves`` (``x``
    epochs, ``y`` validation accuracy in [0, 1], ``meta`` one JSON config per curve, ``note``)
    plus ``seconds``, the measured training seconds up to each epoch. ``metric="loss"``: ``y``
    is the validation cross-entropy instead (NaN once a run diverged).

    Raises:
        ValueError: for ``metric="loss"`` with ``"trees"``.
    """
    import torch

    from hpo.search_spaces import SearchSpace

    torch.set_num_threads(1)
    if schedule == "trees":
        from benchmarks.trees_task import TreeEnsembles

        if metric != "accuracy":
            raise ValueError("the trees task records validation accuracy only")
        task: Any = TreeEnsembles()
        label, flag = "benchmarks.trees_task.TreeEnsembles()", "--task trees"
        kwargs: dict[str, Any] = {}
    else:
        from benchmarks.schedule_task import DigitsCosine

        task = DigitsCosine(schedule)
        label, flag = f"benchmarks.schedule_task.DigitsCosine(schedule={schedule!r})", f"--schedule {schedule}"
        kwargs = {"metric": metric}
    space = SearchSpace(task.space())
    rng = np.random.default_rng(seed)
    configs = [space.sample(rng) for _ in range(n)]
    ys, secs = [], []
    t0 = time.perf_counter()
    for config in configs:
        values, seconds = task.segment(config, 0, task.epochs, **kwargs)
        ys.append(np.asarray(values) / (100.0 if metric == "accuracy" else 1.0))
        secs.append(seconds)
    path.parent.mkdir(parents=True, exist_ok=True)
    flag += "" if metric == "accuracy" else f" --metric {metric}"
    note = (f"{n} random configs of {label}, seed {seed}, "
            f"{task.epochs} epochs each, validation {metric}; recorded by `python -m benchmarks.schedule_curves record "
            f"{flag} --n {n} --seed {seed}` in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    epochs = np.tile(np.arange(1, task.epochs + 1, dtype=float), (n, 1))
    np.savez_compressed(path, x=epochs, y=np.asarray(ys), seconds=np.asarray(secs),
                        meta=np.asarray([json.dumps(c, default=str) for c in configs]), note=np.asarray(note))  # fmt: skip
    return path


class CurvePool:
    """Recorded curves as a multi-fidelity task: a config is the index of a recorded run.

    Same interface as :class:`benchmarks.lcbench.LCBench` (``epochs``, ``space``,
    ``segment``, ``optuna_config``); values in percent (a loss pool, :data:`LOSS_POOLS`:
    the cross-entropy as recorded, ``maximize`` False), times the recorded seconds.
    """

    def __init__(self, task: str) -> None:
        self.maximize = task not in LOSS_POOLS
        data = np.load(DATA / (POOLS[task] if self.maximize else LOSS_POOLS[task]), allow_pickle=False)
        self.task = task
        self.y = (100.0 if self.maximize else 1.0) * np.asarray(data["y"], dtype=float)
        self.seconds = np.asarray(data["seconds"], dtype=float)
        self.epochs = int(self.y.shape[1])
        self.n = int(self.y.shape[0])

    def space(self) -> dict[str, Any]:
        from hpo.search_spaces import Int

        return {"config": Int(0, self.n - 1)}

    def optuna_config(self, trial: Any) -> dict[str, Any]:
        return {"config": trial.suggest_int("config", 0, self.n - 1)}

    def segment(self, config: dict[str, Any], start: int, stop: int) -> tuple[list[float], list[float]]:
        """0-based epochs ``start..stop-1`` of the recorded run: accuracy (percent) and cumulative seconds."""
        i = int(config["config"])
        return self.y[i, start:stop].tolist(), self.seconds[i, start:stop].tolist()

    def best(self) -> float:
        """The best final value of any recorded run (the best-known value: every config is in the pool)."""
        finals = self.y[:, -1]
        return float(np.nanmax(finals) if self.maximize else np.nanmin(finals))


def evaluate(variants: tuple[str, ...] = ("mixture", "paper"), extra: tuple[str, ...] = (), pools: tuple[str, ...] = ()) -> str:
    """Markdown: LC-PFN against last value on each recorded set, per shipped variant (module docstring).

    Args:
        variants: Shipped weight variants (``LCPFN.load(variant=...)``).
        extra: Other weight folders (``lcpfn.pt`` + ``lcpfn.json``), e.g. earlier shipped weights.
        pools: The recorded accuracy sets to evaluate (names of :data:`POOLS`; default: all).
    """
    import torch

    from benchmarks.lcpfn.evaluate import (
        CALIBRATION_CUTOFF,
        calibration,
        cut_points,
        evaluate_set,
        last_value_sigmas,
    )
    from hpo.surrogates.lcpfn import LCPFN

    torch.set_num_threads(1)
    sig = last_value_sigmas(np.random.default_rng(777))
    loaded = {**{v: LCPFN.load(variant=v) for v in variants}, **{f: LCPFN.load(f) for f in extra}}
    versions = ", ".join(f"`{label}` = {pfn.meta.get('version', '?')}" for label, pfn in loaded.items())
    lines = [f"Weights: {versions}. Cells: mean squared error of the predicted mean final value (normalised accuracy, "
             "[0, 1]) against the last observed value's, **bold** where LC-PFN's is lower; the cutoff is a share of "
             "each curve's 27 epochs. Coverage: share of final values inside the predicted 90% interval at the 40% "
             "cutoff, raw and after recalibration on 20 other curves of the set (30 draws).", "",
             "| set | weights | curves | " + " | ".join(f"MSE @{c}% LC-PFN / last" for c in CUTOFFS)
             + f" | 90% coverage @{CALIBRATION_CUTOFF}% (recalibrated: median [Q1, Q3]) |",
             "|---|---|---|" + "---|" * (len(CUTOFFS) + 1)]  # fmt: skip
    for task, name in POOLS.items():
        if pools and task not in pools:
            continue
        data = np.load(DATA / name, allow_pickle=False)
        curves = [np.asarray(row, dtype=float) for row in data["y"]]
        for variant, pfn in loaded.items():
            cells = []
            for c in CUTOFFS:
                res = evaluate_set(curves, cut_points(curves, c), pfn, [sig[c]] * len(curves), set(), {})
                lc, last = float(np.mean(res["lcpfn"]["se"])), float(np.mean(res["last"]["se"]))
                cells.append(f"{'**' if lc < last else ''}{lc:.2e}{'**' if lc < last else ''} / {last:.2e}")
            cal = calibration(pfn, curves, CALIBRATION_CUTOFF)
            rec = cal["recalibrated"]
            cells.append(f"{cal['coverage_90']:.2f} ({rec['median']:.2f} [{rec['q1']:.2f}, {rec['q3']:.2f}])")
            lines.append(f"| {task} | {variant} | {len(curves)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.schedule_curves", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record", help="train random configs and save their curves")
    which = rec.add_mutually_exclusive_group(required=True)
    which.add_argument("--schedule", choices=("cosine", "step"), help="the digits MLP with this learning-rate schedule")
    which.add_argument("--task", choices=("trees",), help="another live task (the tree ensembles)")
    rec.add_argument("--n", type=int, default=400)
    rec.add_argument("--seed", type=int, default=0)
    rec.add_argument("--metric", choices=("accuracy", "loss"), default="accuracy")
    rec.add_argument("--out", default=None, help="file (default: the committed one under benchmarks/data/schedule_curves)")
    ev = sub.add_parser("evaluate", help="LC-PFN against last value on the recorded sets (markdown on stdout)")
    ev.add_argument("--extra", nargs="*", default=[], help="other weight folders to evaluate beside the shipped variants")
    ev.add_argument("--pools", nargs="*", default=[], choices=sorted(POOLS), help="the recorded sets to evaluate (default: all)")
    args = parser.parse_args(argv)
    if args.cmd == "record":
        name = args.task or f"digits-{args.schedule}"
        pools, task = (POOLS, name) if args.metric == "accuracy" else (LOSS_POOLS, f"{name}-loss")
        if task not in pools:
            parser.error(f"no recorded {args.metric} pool for {name}")
        path = Path(args.out) if args.out else DATA / pools[task]
        print(record(args.task or args.schedule, args.n, args.seed, path, args.metric))
    else:
        sys.stdout.write(evaluate(extra=tuple(args.extra), pools=tuple(args.pools)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
