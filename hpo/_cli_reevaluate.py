"""``hpo reevaluate STUDY.db``: re-run the best configs on held-out seeds (see :mod:`hpo.reevaluate`).

    hpo reevaluate study.db                      # 10 seeds from 10000, the incumbent and top 5
    hpo reevaluate study.db --seeds 20 --top-k 3 --seed-start 50000
    hpo reevaluate study.db --seed-list 100,101,102 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hpo.errors import HPOError

__all__ = ["add_parser", "cmd"]


def add_parser(sub: Any) -> None:
    """Add the ``reevaluate`` subcommand to the ``hpo`` parser's subparsers."""
    p = sub.add_parser(
        "reevaluate",
        help="re-run the incumbent and the top-k configs on held-out seeds; recommend by held-out mean",
        description="Re-run the search incumbent and the top-k completed configs at the full budget on "
        "held-out seeds (tune on tuning seeds, report on test seeds: Eimer et al., ICML 2023). Results are "
        "stored in the study file; a re-run of the same trial and seed replaces the earlier one. Without "
        "--objective it imports the code the study file names: run it only on study files you trust.",
    )
    p.add_argument("storage", help="the study's SQLite file")
    p.add_argument("--seeds", type=int, default=None,
                   help="how many held-out seeds (default 10), from --seed-start, skipping the objective's "
                        "default seed (the tuning seed)")
    p.add_argument("--top-k", type=int, default=5, help="how many of the best completed trials (default 5)")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seed-start", type=int, default=None, help="the first held-out seed (default 10000)")
    seeds.add_argument("--seed-list", default=None, help="the held-out seeds themselves, e.g. 100,101,102")
    p.add_argument("--objective", default=None,
                   help="FILE.py:FUNCTION or module:function to run (default: the one stored with the study)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _seeds(args: argparse.Namespace, objective: Any) -> list[int]:
    from hpo.reevaluate import DEFAULT_SEED_START, held_out_seeds, tuning_seed

    if args.seed_list is not None:
        if args.seeds is not None:
            raise HPOError("give either --seeds (with --seed-start) or --seed-list, not both")
        try:
            return [int(s) for s in args.seed_list.split(",") if s.strip()]
        except ValueError:
            raise HPOError(f"--seed-list {args.seed_list!r} must be integers separated by commas") from None
    start = DEFAULT_SEED_START if args.seed_start is None else args.seed_start
    return held_out_seeds(10 if args.seeds is None else args.seeds, start, exclude=(tuning_seed(objective),))


def cmd(args: argparse.Namespace) -> int:
    """Run ``hpo reevaluate``; prints each run, then the table and the recommendation."""
    from hpo._objective import load_objective
    from hpo.result import load_study
    from hpo.storage import open_storage

    result = load_study(args.storage)
    if args.objective is not None:
        objective = load_objective(args.objective)
    else:
        store = open_storage(args.storage, readonly=True)
        try:
            spec = store.load_study()
        finally:
            store.close()
        if spec is None or spec.objective is None:
            raise HPOError(f"{args.storage!r} records no importable objective; pass --objective FILE.py:FUNCTION")
        print(f"hpo reevaluate: importing objective {spec.objective!r} named in the study file {args.storage!r} "
              "(re-evaluate only study files you trust)", file=sys.stderr)
        objective = load_objective(spec.objective)

    def show(record: Any) -> None:
        if not args.json:
            value = f"{record.value:.6g}" if record.value is not None else f"failed ({record.reason})"
            print(f"trial {record.trial_id} seed {record.seed}: {value}", flush=True)

    report = result.reevaluate(objective, _seeds(args, objective), args.top_k, callback=show)
    if args.json:
        rec = report.recommended
        print(json.dumps({
            "metric": report.metric,
            "mode": report.mode,
            "seeds": list(report.seeds),
            "incumbent": report.incumbent_id,
            "recommended": None if rec is None else rec.trial_id,
            "rows": [
                {"trial_id": r.trial_id, "config": dict(r.config), "search_value": r.search_value,
                 "values": list(r.values), "reasons": list(r.reasons), "mean": r.mean, "sd": r.sd}
                for r in report.rows
            ],
        }, sort_keys=True, default=repr))
    else:
        print(report)
    return 0 if report.recommended is not None else 1
