"""Building a :class:`~hpo.study.Study`: create a new one, or attach to a stored one to continue it.

``create`` stores the study's definition (objectives, space, budget, and the settings
:mod:`hpo.presets` needs to rebuild its scheduler and searcher); ``load`` reads them
back, with overrides; ``attach`` builds the scheduler, searcher and executor.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from hpo import presets
from hpo._objective import load_objective, objective_ref
from hpo.budget import Budget
from hpo.errors import HPOError, StudyMismatchError
from hpo.execution.base import BaseExecutor
from hpo.search_spaces import SearchSpace
from hpo.storage import BaseStorage, StudySpec, open_storage
from hpo.trial import as_objectives

if TYPE_CHECKING:
    from hpo.study import Study

__all__ = ["create", "load", "attach"]

logger = logging.getLogger("hpo.study")


def create(
    cls: type[Study],
    objective: Callable[..., Any],
    space: Mapping[str, Any] | SearchSpace,
    *,
    metric: str | Sequence[str],
    mode: str | Sequence[str],
    budget: Budget | None,
    storage: Any,
    name: str | None,
    scheduler: Any,
    searcher: Any,
    surrogate: Any,
    executor: Any,
    workers: int | None,
    trial_timeout: float | None,
    seed: int | None,
    load_if_exists: bool,
    executor_options: Mapping[str, Any] | None,
) -> Study:
    """:meth:`Study.create` (see there)."""
    metrics, modes = as_objectives(metric, mode)
    stored_metric: Any = metrics[0] if len(metrics) == 1 else list(metrics)
    stored_mode: Any = modes[0] if len(modes) == 1 else list(modes)
    space = SearchSpace(space)
    budget = budget or Budget(1, 1)
    with _opened(storage) as store:
        existing = store.load_study()
        study_name = name or getattr(objective, "__name__", "study")
        if existing is not None and load_if_exists:
            _check_same_study(existing, study_name, stored_metric, stored_mode, space, budget, store.location)
            return attach(
                cls, objective, store, existing, scheduler, searcher, surrogate, executor, workers, trial_timeout,
                executor_options,
            )
        settings = {
            "scheduler": presets.describe(scheduler),
            "searcher": presets.describe(getattr(scheduler, "searcher", searcher)),
            "surrogate": presets.describe(surrogate),
            "executor": executor if isinstance(executor, str) else _qualname(executor),
            "workers": workers,
            "trial_timeout": trial_timeout,
            "seed": seed,
            "executor_options": _storable(executor_options),
        }
        spec = StudySpec(
            name=study_name,
            metric=stored_metric,
            mode=stored_mode,
            space=space.to_dict(),
            budget=budget.to_dict(),
            objective=objective_ref(objective),
            settings=settings,
            created_at=_clock_of(executor).timestamp(),
        )
        store.create_study(spec)
        return attach(
            cls, objective, store, spec, scheduler, searcher, surrogate, executor, workers, trial_timeout,
            executor_options,
        )


def load(
    cls: type[Study],
    storage: Any,
    objective: Callable[..., Any] | None,
    *,
    scheduler: Any,
    searcher: Any,
    surrogate: Any,
    executor: Any,
    workers: int | None,
    trial_timeout: float | None,
    executor_options: Mapping[str, Any] | None,
) -> Study:
    """:meth:`Study.load` (see there)."""
    with _opened(storage) as store:
        spec = store.load_study()
        if spec is None:
            raise HPOError(f"no study in {storage!r} to load")
        if objective is None:
            if spec.objective is None:
                raise HPOError(
                    f"study {spec.name!r} has no importable objective recorded; pass objective=..."
                )
            objective = load_objective(spec.objective)
        s = spec.settings
        options = {**(s.get("executor_options") or {}), **(executor_options or {})}
        tuned_resources = getattr(getattr(objective, "settings", None), "resources", None)
        if "resources" not in options and tuned_resources is not None:
            options["resources"] = tuned_resources  # @hpo.tune(resources=f): a function is not stored
        return attach(
            cls,
            objective,
            store,
            spec,
            scheduler if scheduler is not None else s.get("scheduler", "fifo"),
            searcher if searcher is not None else s.get("searcher", presets.DEFAULT_SEARCHER),
            surrogate if surrogate is not None else s.get("surrogate"),
            executor if executor is not None else s.get("executor", "local"),
            workers if workers is not None else s.get("workers"),
            trial_timeout if trial_timeout is not None else s.get("trial_timeout"),
            options,
        )


@contextmanager
def _opened(storage: Any) -> Iterator[BaseStorage]:
    """The storage for ``storage``; closed again if building the study fails (its lock freed)."""
    store = open_storage(storage)
    try:
        yield store
    except BaseException:
        if store is not storage:
            store.close()
        raise


def attach(
    cls: type[Study],
    objective: Callable[..., Any],
    store: BaseStorage,
    spec: StudySpec,
    scheduler: Any,
    searcher: Any,
    surrogate: Any,
    executor: Any,
    workers: int | None,
    trial_timeout: float | None,
    executor_options: Mapping[str, Any] | None = None,
) -> Study:
    from hpo.execution import make_executor

    space = SearchSpace(spec.space)
    seed = spec.settings.get("seed")
    scheduler = presets.build(scheduler, searcher, space, seed, surrogate)
    if not isinstance(executor, BaseExecutor):
        options = dict(executor_options or {})
        if workers is not None:
            options["n_workers"] = workers
        executor = make_executor(executor, trial_timeout=trial_timeout, **options)
    if trial_timeout is not None and not executor.enforces_timeout:
        logger.warning(
            "%s cannot kill a job: a job past trial_timeout is recorded FAILED and abandoned",
            type(executor).__name__,
        )
    return cls(objective, store, spec, scheduler, executor)


def _check_same_study(
    existing: StudySpec, name: str, metric: Any, mode: Any, space: SearchSpace, budget: Budget, where: str | None
) -> None:
    """Refuse to continue a stored study that is not the one asked for."""
    wanted = {"name": name, "metric": metric, "mode": mode, "space": space.to_dict(), "budget": budget.to_dict()}
    stored = {
        "name": existing.name,
        "metric": existing.metric,
        "mode": existing.mode,
        "space": SearchSpace(existing.space).to_dict(),
        "budget": Budget(**existing.budget).to_dict(),
    }
    diff = [k for k in wanted if wanted[k] != stored[k]]
    if diff:
        raise StudyMismatchError(
            f"{where or 'the storage'} holds study {existing.name!r} with a different {', '.join(diff)} "
            f"(stored {', '.join(f'{k}={stored[k]!r}' for k in diff)}); use another file or name"
        )


#: Option names that hold secrets (``init_kwargs={"_redis_password": ...}``, a token in
#: ``runtime_env``'s ``env_vars``): never written to the study file, which others may read.
_SECRET = re.compile(r"(^|[_-])pass(wd)?($|[_-])|password|token|secret|credential|api_?key|private_?key", re.I)


def _storable(options: Mapping[str, Any] | None, where: str = "") -> dict[str, Any]:
    """The executor options JSON can hold (a ``resources`` function cannot be stored), secrets left out."""
    out: dict[str, Any] = {}
    for key, value in (options or {}).items():
        if isinstance(key, str) and _SECRET.search(key):
            logger.info("executor option %s looks like a secret and is not stored (pass it again when you "
                        "resume)", f"{where}{key}")  # its name only, never its value
            continue
        if not presets.storable(value):
            logger.info("executor option %r is not stored (pass it again when you resume)", f"{where}{key}")
            continue
        out[key] = _storable(value, f"{where}{key}.") if isinstance(value, Mapping) else value
    return out


def _clock_of(executor: Any) -> Any:
    from hpo.execution.base import WallClock

    return executor.clock if isinstance(executor, BaseExecutor) else WallClock()


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"
