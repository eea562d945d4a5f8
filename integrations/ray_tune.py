"""Ray Tune integration: ``HPOSearch`` (our Bayesian optimization as a Ray Tune ``Searcher``)
and ``LCPFNStopper`` (LC-PFN predictive early stopping as a Ray Tune ``TrialScheduler``).

Keep your Ray Tune code and swap two arguments::

    from ray import tune
    from hpo.integrations.ray_tune import HPOSearch, LCPFNStopper

    tuner = tune.Tuner(
        train,
        param_space={"lr": tune.loguniform(1e-4, 1e-1), "layers": tune.randint(1, 5)},
        tune_config=tune.TuneConfig(
            metric="val_acc", mode="max", num_samples=50, max_concurrent_trials=4,
            search_alg=HPOSearch(surrogate="gp", seed=0),
            scheduler=LCPFNStopper(max_t=20),
        ),
    )

How it maps onto Ray Tune's ``Searcher`` protocol:

* ``set_search_properties``: the ``param_space`` given to the ``Tuner`` becomes our
  :class:`~hpo.search_spaces.SearchSpace` (see :mod:`hpo.integrations._ray_space` for the
  exact conversion of each ``tune.*`` domain; nested dicts are flattened with ``"/"``,
  constants pass through, and a domain we cannot search raises
  :class:`~hpo.errors.SearchSpaceError` naming the parameter). Or pass ``space=`` yourself:
  our ``SearchSpace``, a dict of our parameters, or a dict of Ray domains.
* ``suggest(trial_id)``: the first ``points_to_evaluate``, then our searcher's suggestion
  (``searcher="bo"``: a scrambled-Sobol design of ``n_initial`` points, then the surrogate
  and LogEI), with the configs of the trials still running passed as **pending points**
  (qLogNEI), so parallel workers get different, informative configs. Limit parallelism with
  ``TuneConfig(max_concurrent_trials=...)`` (Ray's ``ConcurrencyLimiter``).
* ``on_trial_complete(trial_id, result, error)``: the trial's last result becomes one
  :class:`~hpo.trial.Observation`: a trial that raised, or whose last result lacks a finite
  ``metric``, is FAILED (BO imputes the worst value there, as SMAC does with crashed runs,
  so it learns to avoid failing regions); a trial a scheduler stopped early counts with its
  last value (Ray reports it done), as in Ray's own searchers and our ``HPOSampler``.
  Intermediate results (``on_trial_result``) are not modelled.
* ``save``/``restore`` (Ray calls them for experiment checkpoints, ``Tuner.restore``): the
  observations, the running trials and the space as JSON; the model is rebuilt by
  replaying the observations.
* ``mode="min"``/``"max"`` and several metrics (``metric=["a", "b"]``) are respected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher

from hpo.errors import SettingError, UnknownPluginError
from hpo.integrations._ray_space import RaySpace, convert_param_space
from hpo.integrations._ray_stopper import LCPFNStopper
from hpo.search_spaces import SearchSpace
from hpo.trial import Observation, TrialStatus, as_objectives, finite

__all__ = ["HPOSearch", "LCPFNStopper", "convert_param_space"]

_FORMAT = "hpo.integrations.ray_tune.HPOSearch/1"
_BO = ("bo", "bo-ts")


class HPOSearch(Searcher):
    """hyperbandit's Bayesian optimization, with any surrogate, as a Ray Tune ``Searcher``.

    Args:
        space: Our :class:`~hpo.search_spaces.SearchSpace`, or a dict of our parameters
            and/or Ray Tune domains (nested dicts allowed); None (default) to take the
            ``Tuner``'s ``param_space``.
        metric: The result key to optimize (or a list of keys); None to take
            ``TuneConfig(metric=...)``.
        mode: ``"min"`` or ``"max"`` (one per metric); None to take ``TuneConfig(mode=...)``.
        searcher: A registered searcher name (``"bo"``, ``"bo-ts"``, ``"random"``,
            ``"sobol"``, ``"cfo"``, ``"carbs"``).
        surrogate: For ``"bo"``/``"bo-ts"``: a surrogate name (``"gp"``, ``"forest"``,
            ``"dkl"``, ``"ensemble"``, ``"ibnn"``, ``"hmc"``, ``"auto"``:
            :func:`hpo.presets.surrogate_names`) or a :class:`~hpo.surrogates.BaseSurrogate`.
        n_initial: For ``"bo"``/``"bo-ts"``: size of the Sobol design before the model
            takes over (``max(5, d + 1)`` by default).
        seed: Seed of the searcher (design, acquisition optimizer).
        points_to_evaluate: Complete configs (in the ``param_space``'s nesting) to run
            first, as in Ray's own searchers.
        **searcher_kwargs: Passed to the searcher (e.g. ``acquisition="ucb"``, ``warp``).

    Raises:
        UnknownPluginError: for an unknown searcher name.
        SettingError: for ``surrogate``/``n_initial`` with a searcher other than BO, or a
            bad ``metric``/``mode``.
        SearchSpaceError: naming the parameter, for a domain that cannot be searched.
        ConfigError: naming the parameter, for a point of ``points_to_evaluate`` outside the space.
    """

    def __init__(
        self,
        space: Mapping[str, Any] | SearchSpace | None = None,
        metric: str | Sequence[str] | None = None,
        mode: str | Sequence[str] | None = None,
        *,
        searcher: str = "bo",
        surrogate: Any = "gp",
        n_initial: int | None = None,
        seed: int | None = None,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        **searcher_kwargs: Any,
    ) -> None:
        from hpo._registry import SEARCHERS

        metric, mode = _as_list(metric), _as_list(mode)
        if metric is not None and mode is not None:
            _check_objective(metric, mode)
        super().__init__(metric=metric, mode=mode)
        if not isinstance(searcher, str) or searcher.lower() not in SEARCHERS.names():
            raise UnknownPluginError(f"unknown searcher {searcher!r}; available: {', '.join(SEARCHERS.names())}")
        name = searcher.lower()
        if name not in _BO and (n_initial is not None or not (isinstance(surrogate, str) and surrogate == "gp")):
            raise SettingError(f"surrogate= and n_initial= need searcher='bo' or 'bo-ts', got searcher={searcher!r}")
        if n_initial is not None and (isinstance(n_initial, bool) or not isinstance(n_initial, int) or n_initial < 1):
            raise SettingError(f"n_initial must be a positive integer, got {n_initial!r}")
        # never an attribute named ``searcher``: Ray unwraps anything that has one (ConcurrencyLimiter)
        self._searcher_name = name
        self._surrogate = surrogate
        self._n_initial = n_initial
        self._seed = seed
        self._searcher_kwargs = dict(searcher_kwargs)
        self._points = [dict(p) for p in points_to_evaluate or ()]
        self._n_points_used = 0
        self._ray_space: RaySpace | None = None
        self._model: Any = None  # our BaseSearcher, built on the first suggestion
        self._live: dict[str, dict[str, Any]] = {}  # Ray trial id -> config of the space, while it runs
        self._numbers: dict[str, int] = {}  # Ray trial id -> our integer trial id
        self._observations: list[Observation] = []
        if space is not None:
            self._set_space(convert_param_space(space))

    # ------------------------------------------------------------------ Ray's protocol
    def set_search_properties(self, metric: Any, mode: Any, config: dict, **spec: Any) -> bool:
        """Take the ``Tuner``'s metric, mode and ``param_space`` (Ray calls it before the run).

        Returns False (Ray then raises) when the searcher has its own space and
        ``config`` defines domains too.
        """
        for label, given, own in (("metric", _as_list(metric), self._metric), ("mode", _as_list(mode), self._mode)):
            if given is not None and own is not None and given != own:
                raise SettingError(f"HPOSearch has {label}={own!r}, the Tuner passes {label}={given!r}; give it once")
        self._metric = self._metric if self._metric is not None else _as_list(metric)
        self._mode = self._mode if self._mode is not None else _as_list(mode)
        if self._metric is not None and self._mode is not None:
            _check_objective(self._metric, self._mode)
        if self._ray_space is not None:
            from ray.tune.search.variant_generator import parse_spec_vars

            _, domains, grids = parse_spec_vars(config or {})
            return not (domains or grids)
        if config:
            self._set_space(convert_param_space(config))
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        model = self._ensure_model()
        assert self._ray_space is not None
        if trial_id not in self._live:
            if self._n_points_used < len(self._points):
                config = self._ray_space.from_ray(self._points[self._n_points_used])
                self._n_points_used += 1
            else:
                config = model.suggest(1, list(self._live.values()))[0]
            self._live[trial_id] = config
            self._numbers.setdefault(trial_id, len(self._numbers))
        return self._ray_space.to_ray(self._live[trial_id])

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Intermediate results are not modelled (the searcher learns from final results)."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        config = self._live.pop(trial_id, None)
        if config is None:
            return  # not suggested here (or already recorded)
        self._record(self._observation(self._numbers[trial_id], config, result, error))

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float | Sequence[float],
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Warm-start with a config evaluated elsewhere (Ray's ``add_evaluated_trials`` uses it)."""
        if self._ray_space is None:
            raise SettingError("HPOSearch has no search space yet: pass space= or call it after Tuner set-up")
        config = self._ray_space.from_ray(parameters)
        number = len(self._numbers)
        self._numbers[f"evaluated-{number}"] = number
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        result = dict(zip(self._metrics(), values, strict=False)) | {"done": not pruned}
        self._record(self._observation(number, config, result, error))

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return False  # Ray's ConcurrencyLimiter holds suggestions back; running trials are pending points

    def save(self, checkpoint_path: str) -> None:
        """Write the observations, running trials and space to ``checkpoint_path`` as JSON."""
        space = self._ray_space
        state = {
            "format": _FORMAT,
            "metric": self._metric,
            "mode": self._mode,
            "space": None if space is None else space.space.to_dict(),
            "nested": None if space is None else space.nested,
            "indexed": [] if space is None else sorted(space.indexed),
            "observations": [o.to_dict() for o in self._observations],
            "live": self._live,
            "numbers": self._numbers,
            "points_used": self._n_points_used,
        }
        Path(checkpoint_path).write_text(json.dumps(state))

    def restore(self, checkpoint_path: str) -> None:
        """Read what :meth:`save` wrote; the model is rebuilt from the observations.

        Raises:
            SettingError: for a file :meth:`save` did not write, or a space that JSON
                cannot hold (choices that are objects) when this searcher has none.
        """
        try:
            state = json.loads(Path(checkpoint_path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SettingError(f"{checkpoint_path}: not an HPOSearch checkpoint ({exc})") from exc
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise SettingError(f"{checkpoint_path}: not an HPOSearch checkpoint")
        if self._ray_space is None and state["space"] is not None:
            if state["indexed"]:
                raise SettingError(f"the saved space has choices JSON cannot hold ({', '.join(state['indexed'])}); "
                                   "pass space= (or the param_space) again before restoring")  # fmt: skip
            self._ray_space = RaySpace(SearchSpace.from_dict(state["space"]), nested=state["nested"])
        self._metric = self._metric if self._metric is not None else state["metric"]
        self._mode = self._mode if self._mode is not None else state["mode"]
        self._observations = [Observation.from_dict(o) for o in state["observations"]]
        self._live = {k: dict(v) for k, v in state["live"].items()}
        self._numbers = {k: int(v) for k, v in state["numbers"].items()}
        self._n_points_used = int(state["points_used"])
        self._model = None

    # ------------------------------------------------------------------ ours
    @property
    def observations(self) -> tuple[Observation, ...]:
        """Every observation recorded so far (configs in the flat space, values in user units)."""
        return tuple(self._observations)

    @property
    def space(self) -> SearchSpace | None:
        """The searched space (flat names), once known."""
        return None if self._ray_space is None else self._ray_space.space

    def _set_space(self, ray_space: RaySpace) -> None:
        for point in self._points:
            ray_space.from_ray(point)  # a ConfigError names a bad point now, not mid-run
        self._ray_space = ray_space

    def _metrics(self) -> tuple[str, ...]:
        return as_objectives(self._metric, self._mode)[0] if self._metric is not None else ()

    def _ensure_model(self) -> Any:
        if self._model is not None:
            return self._model
        if self._ray_space is None:
            raise SettingError("HPOSearch has no search space: pass space=... or a param_space to the Tuner")
        if self._metric is None or self._mode is None:
            raise SettingError("HPOSearch needs a metric and a mode: pass them to HPOSearch(...) or TuneConfig(...)")
        from hpo._registry import SEARCHERS

        kwargs = dict(self._searcher_kwargs)
        if self._searcher_name in _BO:
            kwargs["surrogate"] = self._surrogate
            if self._n_initial is not None:
                kwargs["n_init"] = self._n_initial
        model = SEARCHERS.build(self._searcher_name, space=self._ray_space.space, seed=self._seed, **kwargs)
        model.set_objective(self._metric, self._mode)
        if self._observations:
            model.replay(self._observations)
        self._model = model
        return model

    def _observation(self, number: int, config: dict[str, Any], result: dict | None, error: bool) -> Observation:
        result = result or {}
        metrics = self._metrics()
        found = [finite(result.get(m)) for m in metrics]
        cost = finite(result.get("time_total_s")) or 0.0
        if error or any(v is None for v in found):
            missing = [m for m, v in zip(metrics, found, strict=True) if v is None]
            reason = "the trial raised an error" if error else f"no finite {missing[0]!r} in its last result"
            return Observation(number, config, TrialStatus.FAILED, 1.0, cost=cost, reason=reason)
        values = tuple(float(v) for v in found if v is not None)
        status = TrialStatus.COMPLETED if result.get("done", True) else TrialStatus.PRUNED
        # one fidelity for every trial: a stopped trial's last value counts as its result
        return Observation(number, config, status, 1.0, dict(zip(metrics, values, strict=True)), cost, values)

    def _record(self, observation: Observation) -> None:
        self._observations.append(observation)
        if self._model is not None:
            self._model.observe([observation])


def _as_list(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _check_objective(metric: Any, mode: Any) -> None:
    from hpo.errors import HPOError

    try:
        as_objectives(metric, mode)
    except HPOError as exc:
        raise SettingError(str(exc)) from None
    if isinstance(metric, str) != isinstance(mode, str):
        raise SettingError(f"metric {metric!r} and mode {mode!r} must both be one name or both lists")
