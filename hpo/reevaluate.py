"""Re-evaluate a study's best configs on held-out seeds, and recommend by the held-out mean.

A search that evaluates each config once, on one seed, picks the config that was best *on
that seed*: with noisy training (reinforcement learning, small data, unstable optimisers)
that winner is partly luck. Eimer, Lindauer & Raileanu, "Hyperparameters in
Reinforcement Learning and How To Tune Them" (ICML 2023) recommend separating *tuning*
seeds from *test* seeds and reporting performance on the test seeds only. This module
does that after a search:

* the incumbent and the ``top_k`` best COMPLETED trials are re-run at the full budget on
  each held-out seed, in this process, one after the other, each from a fresh temporary
  artifact folder (so no search checkpoint is resumed);
* a run sees its seed as ``hpo.trial_context().seed`` and, if the objective has a
  parameter named ``seed``, as ``seed=``; during the search the seed is None and the
  objective uses its own default, the **tuning seed**;
* held-out seeds are ``DEFAULT_SEED_START`` (10,000) onwards by default, skipping the
  tuning seed (the int default of the objective's ``seed`` parameter, if it has one);
  an explicit seed equal to the tuning seed is refused;
* an objective that raises, or returns NaN/inf, on a seed is recorded as failed (value
  None, with the reason), and the others go on;
* every run is stored with the study (the ``reevaluations`` table of the SQLite file, or
  the in-memory storage), so ``hpo.load_study(path).reevaluation()`` reads it back. A
  re-run of the same trial and seed **replaces** the earlier value; other seeds and trials
  are **kept**, so later calls add seeds or trials to the same table;
* the summary (:class:`Reevaluation`) covers every stored seed. Its ``recommended`` row is
  the best held-out mean (among configs with a value on every seed); the search
  incumbent stays ``StudyResult.best_config``, and the summary line names both.

Example:
    >>> import hpo
    >>> from hpo.search_spaces import Float
    >>> @hpo.tune(space={"x": Float(0.0, 1.0)}, metric="loss", mode="min", searcher="random")
    ... def noisy(config, seed=0):
    ...     return (config["x"] - 0.5) ** 2 + 0.01 * (seed % 7)
    >>> result = noisy.run(n_trials=6, executor="inprocess", seed=0)
    >>> report = result.reevaluate(noisy, seeds=3, top_k=2)
    >>> report.seeds
    (10000, 10001, 10002)
    >>> report.recommended.trial_id in {r.trial_id for r in report.rows}
    True
"""

from __future__ import annotations

import inspect
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from hpo._reevaluation import ReevalRecord, ReevalRow, Reevaluation, summarize
from hpo.errors import HPOError, SettingError, StorageError

if TYPE_CHECKING:
    from hpo.budget import JobBudget
    from hpo.result import StudyResult
    from hpo.storage import BaseStorage
    from hpo.trial import Report, Trial

__all__ = [
    "DEFAULT_SEED_START",
    "ReevalRecord",
    "ReevalRow",
    "Reevaluation",
    "candidates",
    "held_out_seeds",
    "reevaluate",
    "run_once",
    "stored_reevaluation",
    "tuning_seed",
]

#: The first held-out seed, far from the small seeds training code uses by default.
DEFAULT_SEED_START = 10_000


def tuning_seed(objective: Callable[..., Any]) -> int | None:
    """The seed the search trained with: the int default of the objective's ``seed`` parameter."""
    try:
        param = inspect.signature(objective).parameters.get("seed")
    except (TypeError, ValueError):
        return None
    default = None if param is None else param.default
    return default if isinstance(default, int) and not isinstance(default, bool) else None


def held_out_seeds(n: int, start: int = DEFAULT_SEED_START, exclude: Sequence[int | None] = ()) -> list[int]:
    """``n`` consecutive seeds from ``start``, skipping those in ``exclude``.

    Raises:
        SettingError: if ``n`` is not a positive int or ``start`` not an int.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SettingError(f"the number of held-out seeds must be a positive int, got {n!r}")
    if isinstance(start, bool) or not isinstance(start, int):
        raise SettingError(f"the first held-out seed must be an int, got {start!r}")
    out: list[int] = []
    seed = start
    while len(out) < n:
        if seed not in exclude:
            out.append(seed)
        seed += 1
    return out


def _seeds(seeds: int | Sequence[int], objective: Callable[..., Any]) -> list[int]:
    tuned = tuning_seed(objective)
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        return held_out_seeds(seeds, exclude=(tuned,))
    seeds = list(seeds)
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int)]
    if not seeds or bad:
        raise SettingError(f"seeds must be a positive int or a non-empty list of ints, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise SettingError(f"seeds {seeds!r} repeat a seed")
    if tuned is not None and tuned in seeds:
        raise SettingError(
            f"seed {tuned} is the tuning seed (the default of the objective's seed parameter); "
            "held-out seeds must differ from it"
        )
    return seeds


def candidates(result: StudyResult, top_k: int) -> list[Trial]:
    """The incumbent and the ``top_k`` best COMPLETED trials, best first.

    Raises:
        SettingError: if ``top_k`` is not a positive int.
        HPOError: if the study has no trial with a value.
    """
    from hpo.result import rank_key
    from hpo.trial import TrialStatus

    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise SettingError(f"top_k must be a positive int, got {top_k!r}")
    mode = result.modes[0]
    done = [t for t in result.trials if t.status is TrialStatus.COMPLETED and t.value is not None]
    done.sort(key=lambda t: rank_key(t, mode), reverse=True)  # type: ignore[arg-type,return-value]
    chosen = done[:top_k]
    if result.incumbent is not None and all(t.trial_id != result.incumbent.trial_id for t in chosen):
        chosen.insert(0, result.incumbent)
    if not chosen:
        raise HPOError("the study has no completed trial to re-evaluate")
    return chosen


class _Reports:
    """A channel that keeps a run's reports (for results given by ``hpo.report`` only)."""

    def __init__(self) -> None:
        self.reports: list[Report] = []

    def report(self, report: Report) -> Any:
        from hpo.trial import Decision

        self.reports.append(report)
        return Decision.CONTINUE


def run_once(objective: Callable[..., Any], trial: Trial, seed: int, budget: JobBudget, metric: str) -> ReevalRecord:
    """Run ``trial``'s config on ``seed`` at ``budget`` in this process; never raises an ``Exception``."""
    from hpo import _runtime
    from hpo._objective import extract_value
    from hpo.execution._jobs import call_objective

    channel = _Reports()
    with tempfile.TemporaryDirectory(prefix=f"hpo-reeval-{trial.trial_id}-{seed}-") as folder:
        context = _runtime.TrialContext(
            trial_id=trial.trial_id, config=trial.config, budget=budget, artifact_dir=folder, seed=seed, channel=channel
        )
        _runtime.bind(context)
        try:
            result = _runtime.to_plain(call_objective(objective, trial.config, budget, seed=seed))
            value, _ = extract_value(result, metric, channel.reports)
        except Exception as exc:  # noqa: BLE001 - a failed seed is recorded, and the others go on
            return ReevalRecord(trial.trial_id, seed, None, "FAILED", f"{type(exc).__name__}: {exc}".strip(), time.time())
        finally:
            _runtime.bind(None)
    return ReevalRecord(trial.trial_id, seed, value if math.isfinite(value) else None, "COMPLETED", None, time.time())


@contextmanager
def _open(result: StudyResult, write: bool) -> Iterator[BaseStorage]:
    if result._live_storage is not None:
        yield result._live_storage
        return
    if result.storage is None:
        raise HPOError("this in-memory study's storage is gone; use a file storage to re-evaluate it later")
    from hpo.storage import SQLiteStorage
    from hpo.storage.sqlite import parse_sqlite_url

    if not os.path.exists(parse_sqlite_url(result.storage)):  # never create an empty file
        raise StorageError(f"no study database at {result.storage!r}")
    # a writer takes no driver lock: re-evaluations go to their own table, also beside a running driver
    store = SQLiteStorage(result.storage, readonly=not write, lock=False)
    try:
        yield store
    finally:
        store.close()


def _single_objective(result: StudyResult) -> tuple[str, str]:
    if len(result.metrics) != 1:
        raise HPOError(
            f"re-evaluation ranks configs by one metric; this study has several objectives {result.metrics!r}"
        )
    return result.metrics[0], result.modes[0]


def reevaluate(
    result: StudyResult,
    objective: Callable[..., Any] | None = None,
    seeds: int | Sequence[int] = 10,
    top_k: int = 5,
    *,
    callback: Callable[[ReevalRecord], None] | None = None,
) -> Reevaluation:
    """Re-run the incumbent and the ``top_k`` best COMPLETED configs of ``result`` on held-out seeds.

    See the module docstring (Eimer et al., ICML 2023) for what is run and stored.

    Args:
        result: A study's result (``Study.optimize``, ``@tune(...).run`` or ``hpo.load_study``).
        objective: The function to run; None: the objective stored with the study (which
            imports the code the study file names: only for study files you trust).
        seeds: How many held-out seeds (``DEFAULT_SEED_START`` onwards), or the seeds.
        top_k: How many of the best COMPLETED trials (the incumbent is always included).
        callback: Called with each :class:`ReevalRecord` once it is stored.

    Returns:
        The summary over every seed stored for the study.

    Raises:
        SettingError: for bad ``seeds`` or ``top_k``, or a seed equal to the tuning seed.
        HPOError: for a study with several objectives or no completed trial, or no objective.
        StorageError: if the study's storage cannot be written.
    """
    from hpo._objective import load_objective
    from hpo.budget import Budget

    metric, mode = _single_objective(result)
    with _open(result, write=True) as store:
        spec = store.load_study()
        if spec is None:
            raise HPOError(f"no study in {result.storage!r}")
        if objective is None:
            if spec.objective is None:
                raise HPOError(f"study {spec.name!r} has no importable objective recorded; pass objective=...")
            objective = load_objective(spec.objective)
        chosen_seeds = _seeds(seeds, objective)
        budget = Budget(**spec.budget).full()
        for trial in candidates(result, top_k):
            for seed in chosen_seeds:
                record = run_once(objective, trial, seed, budget, metric)
                store.add_reevaluation(record)
                if callback is not None:
                    callback(record)
        records = store.reevaluations()
    summary = summarize(records, result.trials, metric, mode, _incumbent_id(result))
    if summary is None:  # cannot happen: at least one record was just stored
        raise HPOError("no re-evaluation was stored")
    return summary


def stored_reevaluation(result: StudyResult) -> Reevaluation | None:
    """The re-evaluation stored with ``result``'s study, or None (also for several objectives)."""
    if len(result.metrics) != 1 or (result._live_storage is None and result.storage is None):
        return None
    with _open(result, write=False) as store:
        records = store.reevaluations()
    return summarize(records, result.trials, result.metrics[0], result.modes[0], _incumbent_id(result))


def _incumbent_id(result: StudyResult) -> int | None:
    return None if result.incumbent is None else result.incumbent.trial_id
