"""The ``@hpo.tune`` decorator.

Example:
    >>> import hpo
    >>> from hpo.search_spaces import Float
    >>> @hpo.tune(space={"x": Float(-5.0, 5.0)}, metric="loss", mode="min")
    ... def objective(config):
    ...     return {"loss": (config["x"] - 1.0) ** 2}
    >>> objective({"x": 1.0})            # still a plain function
    {'loss': 0.0}
    >>> result = objective.run(n_trials=8, executor="inprocess", seed=0)
    >>> round(result.incumbent.value, 3) < 4.0
    True
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hpo.budget import Budget
from hpo.errors import HPOError
from hpo.search_spaces import SearchSpace

__all__ = ["tune", "TunedFunction", "TuneSettings"]


@dataclass(frozen=True)
class TuneSettings:
    """Everything ``@tune`` was given, validated at decoration time."""

    space: SearchSpace
    metric: Any = "loss"
    mode: Any = "min"
    scheduler: Any = "fifo"
    searcher: Any = "bo"
    surrogate: Any = None
    budget: Budget = field(default_factory=lambda: Budget(1, 1))
    resources: Mapping[str, float] | Callable[..., Mapping[str, float]] | None = None
    name: str | None = None


def _resolve(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


class TunedFunction:
    """A training function with its tuning settings attached.

    Calling it runs the function normally; :meth:`run` tunes it.
    """

    def __init__(self, fn: Callable[..., Any], settings: TuneSettings) -> None:
        self.fn = fn
        self.settings = settings
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __reduce__(self) -> Any:
        # Pickle by reference when the decorated function is importable (workers import it);
        # otherwise by value (cloudpickle ships ``fn`` itself, e.g. from ``__main__``).
        module, qualname = getattr(self.fn, "__module__", None), getattr(self.fn, "__qualname__", "")
        by_value = getattr(sys.modules.get(module or ""), "__hpo_pickle_by_value__", False)
        if module and module != "__main__" and "<" not in qualname and not by_value:
            try:
                if _resolve(module, qualname) is self:
                    return (_resolve, (module, qualname))
            except (ImportError, AttributeError):
                pass
        return (TunedFunction, (self.fn, self.settings))

    def study(
        self,
        *,
        storage: Any = None,
        executor: Any = "local",
        workers: int | None = None,
        trial_timeout: float | None = None,
        seed: int | None = None,
        name: str | None = None,
        address: str | None = None,
        max_retries: int | None = None,
    ) -> Any:
        """The :class:`~hpo.study.Study` that :meth:`run` would use (created or continued)."""
        from hpo.study import Study

        s = self.settings
        options: dict[str, Any] = {}
        if executor == "ray":
            options = {"address": address, "resources": s.resources, "max_retries": max_retries}
            options = {k: v for k, v in options.items() if v is not None}
        elif address is not None or max_retries is not None:
            raise HPOError(f"address= and max_retries= are options of executor='ray', not of {executor!r}")
        return Study.create(
            self,
            s.space,
            metric=s.metric,
            mode=s.mode,
            budget=s.budget,
            storage=storage,
            name=name or s.name or self.fn.__name__,
            scheduler=s.scheduler,
            searcher=s.searcher,
            surrogate=s.surrogate,
            executor=executor,
            workers=workers,
            trial_timeout=trial_timeout,
            seed=seed,
            load_if_exists=True,
            executor_options=options,
        )

    def run(
        self,
        n_trials: int | None = None,
        *,
        executor: Any = "local",
        workers: int | None = None,
        storage: Any = None,
        timeout: float | None = None,
        max_budget: float | None = None,
        max_cost: float | None = None,
        trial_timeout: float | None = None,
        seed: int | None = None,
        name: str | None = None,
        show_progress: bool = False,
        callbacks: tuple[Any, ...] = (),
        address: str | None = None,
        max_retries: int | None = None,
    ) -> Any:
        """Tune the function and return a :class:`~hpo.study.StudyResult`.

        Args:
            n_trials: Total number of trials of the study (see ``Study.optimize``).
            executor: ``"local"`` (worker processes, default), ``"inprocess"`` (threads, for
                debugging), ``"ray"`` (a Ray cluster, with the ``resources`` given to
                ``@tune``) or an executor object.
            workers: Trials running at once (1 for the local executors by default; for
                Ray a cap, by default the cluster's free resources decide).
            storage: ``"sqlite:///study.db"``, a path, or None for in-memory. If the file
                already holds this study (same name, metric and space) it is continued.
            timeout: Wall-time budget in seconds.
            max_budget: Total budget (e.g. epochs) over all trials.
            max_cost: Total cost over all trials: reported ``cost`` metrics, else seconds.
            trial_timeout: Seconds a single job may run.
            seed: Seed for reproducible suggestions.
            name: Study name (default: the function's name).
            show_progress: Show a rich progress bar.
            callbacks: Extra callbacks with ``on_trial_end(study, trial)``.
            address: For ``executor="ray"``: None starts a local Ray instance, ``"auto"``
                joins this machine's cluster, ``"ray://host:10001"`` uses Ray Client.
            max_retries: For ``executor="ray"``: retries of a job whose worker died (2).
        """
        if n_trials is None and timeout is None and max_budget is None and max_cost is None:
            raise HPOError("give at least one stopping rule: n_trials, timeout, max_budget or max_cost")
        study = self.study(
            storage=storage,
            executor=executor,
            workers=workers,
            trial_timeout=trial_timeout,
            seed=seed,
            name=name,
            address=address,
            max_retries=max_retries,
        )
        extra = list(callbacks)
        progress = None
        if show_progress:
            from hpo._progress import ProgressBar

            progress = ProgressBar(total=n_trials)
            extra.append(progress)
        try:
            if progress is not None:
                with progress.attach(study):
                    return study.optimize(n_trials, timeout=timeout, max_budget=max_budget, max_cost=max_cost, callbacks=extra)
            return study.optimize(n_trials, timeout=timeout, max_budget=max_budget, max_cost=max_cost, callbacks=extra)
        finally:
            study.close()


def tune(
    space: Mapping[str, Any] | SearchSpace,
    *,
    metric: str | tuple[str, ...] = "loss",
    mode: str | tuple[str, ...] = "min",
    scheduler: Any = "fifo",
    searcher: Any = "bo",
    surrogate: Any = None,
    budget: Budget | None = None,
    resources: Mapping[str, float] | Callable[..., Mapping[str, float]] | None = None,
    name: str | None = None,
) -> Callable[[Callable[..., Any]], TunedFunction]:
    """Decorate ``train(config[, budget])`` so that ``train.run(...)`` tunes it.

    Args:
        space: Parameter name to parameter (see :mod:`hpo.search_spaces`).
        metric: The metric to optimize, as returned or passed to ``hpo.report``, or a
            tuple of metrics for several objectives (``("val_loss", "latency_ms")``): the
            result then has a :meth:`~hpo.result.StudyResult.pareto_front`. Cost reported
            as a metric (e.g. ``"train_seconds"``) can be one of them.
        mode: ``"min"`` or ``"max"``, or a tuple with one per metric.
        scheduler: Registered name or object: ``"fifo"`` (default: every trial gets the full
            budget), ``"asha"``, ``"async_hyperband"`` (ASHA brackets started where the
            rungs' ranks agree), ``"hyperband"``, ``"sh"`` (successive halving), ``"pbt"``.
            With the default ``"bo"`` searcher, ASHA/Hyperband/SH are model-based
            (BOHB-style).
        searcher: Registered name or object: ``"bo"`` (default; GP BO after a Sobol
            initial design of ``max(5, d + 1)`` points; LogEI, or Thompson sampling under
            ``scheduler="asha"``), ``"bo-ts"``, ``"random"``, ``"sobol"``.
        surrogate: Surrogate of the BO searcher: a registered name (``"gp"``) or a
            :class:`~hpo.surrogates.BaseSurrogate`; it needs ``searcher="bo"``.
        budget: Fidelity range, e.g. ``hpo.Budget(min=1, max=81)`` epochs.
        resources: Per-trial resources (``{"cpu": 4, "gpu": 1}``), used by cluster executors.
        name: Study name.

    Raises:
        SearchSpaceError: at decoration time, for an invalid space.
        HPOError: for an invalid metric or mode.
    """
    from hpo.trial import as_objectives

    metrics, modes = as_objectives(metric, mode)
    if len(metrics) > 1:
        metric, mode = metrics, modes
    if surrogate is not None:
        from hpo._registry import SURROGATES

        if isinstance(surrogate, str):
            SURROGATES.resolve(surrogate)
        if searcher != "bo":
            raise HPOError(f"surrogate={surrogate!r} needs searcher='bo', got searcher={searcher!r}")
    settings = TuneSettings(
        space=SearchSpace(space),
        metric=metric,
        mode=mode,
        scheduler=scheduler,
        searcher=searcher,
        surrogate=surrogate,
        budget=budget or Budget(1, 1),
        resources=resources,
        name=name,
    )
    if isinstance(scheduler, str) or isinstance(searcher, str):
        from hpo._registry import SCHEDULERS, SEARCHERS

        if isinstance(scheduler, str):
            SCHEDULERS.resolve(scheduler)
        if isinstance(searcher, str):
            SEARCHERS.resolve(searcher)

    def decorate(fn: Callable[..., Any]) -> TunedFunction:
        if not callable(fn):
            raise HPOError(f"@tune decorates a function, got {fn!r}")
        return TunedFunction(fn, settings)

    return decorate


