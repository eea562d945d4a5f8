"""Optuna integration: ``HPOSampler`` (our GP Bayesian optimization) and ``LCPFNPruner``
(LC-PFN predictive early stopping) for Optuna studies.

Keep your Optuna code and swap the sampler::

    import optuna
    from hpo.integrations.optuna import HPOSampler

    study = optuna.create_study(sampler=HPOSampler(seed=0))
    study.optimize(objective, n_trials=100, n_jobs=4)

How it maps onto Optuna's sampler protocol:

* ``infer_relative_search_space``: with ``group=True`` (default) the past trials' parameters
  (complete and pruned ones) are decomposed into **groups of parameters that always occur
  together**, as Optuna's TPE does with ``group=True``: a define-by-run conditional space
  (``if classifier == "svm": C = trial.suggest_float(...)``) gives one group for the
  parameters every trial has and one per branch. Each group is modelled on its own, on the
  trials that hold it, so a branch's parameters get BO too instead of random sampling.
  ``group=False`` keeps Optuna's intersection search space (one group; parameters outside
  it are sampled by ``independent_sampler``). Single-valued distributions are left out,
  and so is a parameter whose distribution changed between trials.
* **Conditional trees** (``conditional="decompose"``, default, one objective): when one
  categorical of the common group decides which groups a trial has (recursively, for nested
  conditionals), the trials are mapped onto our ``Choice`` encoding
  (:func:`hpo.integrations._optuna_structure.infer_choice_space`) and a ``BOSearcher``
  suggests on it with its decomposed conditional BO: each option has its own model, the
  option whose model promises most against the incumbent is searched, and each option keeps
  an exploration floor (:mod:`hpo.searchers._bo_branches`). A model of the common group
  alone would pick the selector's value by an option's *mean* (a flat option with a good
  mean then takes most trials). Spaces that form no such tree keep the per-group models below.
* ``sample_relative`` asks a ``BOSearcher`` per group (the one ``Study`` uses;
  :mod:`hpo.integrations._optuna_feed`), told the trials that hold the group: a
  scrambled-Sobol design for the first ``n_startup_trials`` suggestions, then a BoTorch GP
  with LogEI, never a config already tried (its duplicate guard). Trials that are RUNNING
  (``n_jobs > 1`` or distributed workers) are pending points, so qLogNEI steers parallel
  workers to different, informative configs. (Until the sixteenth session the groups
  called the acquisition directly after uniform random starts: :mod:`hpo.integrations._optuna_feed`.)
* ``sample_independent`` (conditional or dynamic parameters outside the intersection)
  delegates to ``independent_sampler`` (``RandomSampler`` by default).
* Distributions are honoured exactly: ``log``, ``step``, ints and categoricals map to
  :mod:`hpo.search_spaces` types, and values come back as Python ``float``/``int``/choice.
* **Pruned trials** (e.g. with ``optuna.pruners.HyperbandPruner``): with
  ``use_pruned=True`` (default) a pruned trial contributes its last intermediate value as
  an observation. Pruned configs are the bad ones, and their partial curves are usually
  worse than a finished run, so the model learns to avoid that region instead of ignoring
  it; complete trials always take precedence in defining the incumbent for the
  acquisition. Set ``use_pruned=False`` to model complete trials only.
* **Failed trials** (the objective raised, or returned NaN or inf: Optuna's FAIL state):
  with ``failed="impute"`` (default) each joins the model with the worst value seen so far,
  per objective, as ``BOSearcher`` and SMAC impute crashed runs. Left out, a failing
  region looks unexplored to a deterministic acquisition, which then suggests the same
  failing config again: on a toy that returns NaN for ``a < -1.5`` that took 30 of 40 trials.
* **Several objectives** (``optuna.create_study(directions=[...])``): the same
  ``BOSearcher`` per group, whose design is followed by :func:`hpo.searchers._mobo.propose_pareto`: one GP per objective and
  qLogNEHVI (Daulton et al., NeurIPS 2021; Ament et al., NeurIPS 2023) with a reference
  point inferred from the observed Pareto front, RUNNING trials as pending points.
  ``surrogate``, ``acquisition`` and ``use_pruned`` apply to single-objective studies
  only; pruned trials are left out (Optuna cannot report intermediate values of a
  multi-objective trial, so a pruned one has no value to learn from).

Several objectives::

    study = optuna.create_study(directions=["minimize", "maximize"], sampler=HPOSampler(seed=0))
    study.optimize(objective, n_trials=50)
    study.best_trials  # the Pareto front
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
)
from optuna.pruners import BasePruner
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo.integrations._optuna_convert import (
    _to_optuna_value,
    _to_param,
    to_distribution,
    to_distributions,
)
from hpo.integrations._optuna_feed import Feed, feed_and_suggest, group_config, space_key, sub_seed
from hpo.integrations._optuna_structure import group_parameters
from hpo.search_spaces import SearchSpace

__all__ = ["HPOSampler", "LCPFNPruner", "group_parameters", "to_distribution", "to_distributions"]


#: Trial states the sampler reads: observations, pending points and failures.
_MODELLED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.FAIL)


class HPOSampler(BaseSampler):
    """hyperbandit's Bayesian optimization (BoTorch GP + LogEI/qLogNEI) for Optuna studies.

    Studies with several objectives get one GP per objective and qLogNEHVI (see the
    module docstring).

    Args:
        seed: Seed for the design, the acquisition optimizer and the independent sampler.
        n_startup_trials: Design points (scrambled Sobol) before the GP takes over;
            ``max(5, d + 1)`` by default.
        acquisition: ``"logei"`` (default; qLogNEI while trials run), ``"qlognei"``,
            ``"ucb"`` or ``"ts"``.
        surrogate: A registered surrogate name (``"gp"``, ``"dkl"``, ``"ensemble"``,
            ``"hmc"``, ``"ibnn"``, ``"forest"``, ``"auto"``: :func:`hpo.presets.surrogate_names`)
            or any :class:`hpo.surrogates.BaseSurrogate` (one objective).
        independent_sampler: Sampler for parameters outside the relative search space.
        use_pruned: Use pruned trials' last intermediate values as observations (one
            objective).
        group: Model each group of co-occurring parameters separately (see the module
            docstring); False: Optuna's intersection search space only.
        conditional: With ``group=True`` and one objective: ``"decompose"`` (default) reads
            the define-by-run tree off the trials (which categorical decides which
            parameters exist, :mod:`hpo.integrations._optuna_structure`) and, when there is
            one, suggests with ``BOSearcher``'s decomposed conditional BO on it: one model
            per option, the option chosen by ``branch_choice``, an exploration floor per
            option (``branch_floor``). ``"groups"``:
            every group modelled on its own, the selector by the model of the group that
            holds it (which predicts an option's *average* config).
        branch_floor: Each option of the tree's top-level selector gets at least this share
            of its even share of the trials (``BOSearcher(branch_floor=...)``).
        branch_choice: How the option to search next is picked (``BOSearcher(branch_choice=...)``):
            ``"top-ts"`` (default), by ranks as TPE does, or ``"ei"``.
        failed: Trials that FAILED (the objective raised, or returned NaN or inf):
            ``"impute"`` (default) gives them the worst value observed so far, as
            ``BOSearcher`` and SMAC do, so the model learns to avoid the region; ``"ignore"``
            leaves them out, and a deterministic acquisition may then suggest the same
            failing config again and again.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        n_startup_trials: int | None = None,
        acquisition: str = "logei",
        surrogate: Any = "gp",
        independent_sampler: BaseSampler | None = None,
        use_pruned: bool = True,
        group: bool = True,
        conditional: str = "decompose",
        branch_floor: float = 0.5,
        failed: str = "impute",
        branch_choice: str = "top-ts",
    ) -> None:
        from hpo.searchers._bo_branches import check_branch_choice
        from hpo.searchers.bo import ACQUISITIONS
        from hpo.surrogates import make_surrogate

        if acquisition not in ACQUISITIONS:
            raise ValueError(f"unknown acquisition {acquisition!r}; choose from {ACQUISITIONS}")
        self._seed = seed
        self._n_startup_trials = n_startup_trials
        self._acquisition = acquisition
        if isinstance(surrogate, str):
            make_surrogate(surrogate, seed=seed or 0)  # an unknown name fails here, not at the first BO suggestion
        self._independent = independent_sampler or RandomSampler(seed=seed)
        self._use_pruned = use_pruned
        self._search_space = IntersectionSearchSpace(include_pruned=True)
        self._group = group
        if conditional not in ("decompose", "groups"):
            raise ValueError(f"conditional must be 'decompose' or 'groups', got {conditional!r}")
        self._conditional = conditional
        self._branch_floor = branch_floor
        self._branch_choice = check_branch_choice(branch_choice)
        if failed not in ("impute", "ignore"):
            raise ValueError(f"failed must be 'impute' or 'ignore', got {failed!r}")
        self._failed = failed
        self._surrogate_spec = surrogate
        self._feeds: dict[str, Feed] = {}  # "tree" or "group ...": a BOSearcher and the trials it has seen
        self._handed_out: dict[str, int] = {}  # group slot -> suggestions made (kept when pickled)
        self._lock = threading.Lock()  # the tree's searcher is stateful; n_jobs > 1 calls from threads

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        state["_feeds"] = {}  # rebuilt from the study's trials on the next suggestion
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ protocol
    def reseed_rng(self) -> None:
        self._independent.reseed_rng()  # the BOSearchers keep their own seeded streams

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if not self._group:
            return {n: d for n, d in self._search_space.calculate(study).items() if not d.single()}
        return {n: d for group in self._groups(study) for n, d in group.items()}

    def _groups(self, study: Study) -> list[dict[str, BaseDistribution]]:
        """Groups of parameters that always co-occur in complete and pruned trials (TPE's ``group``)."""
        trials = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED), use_cache=True)
        return group_parameters([t.distributions for t in trials])

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        if self._group and self._conditional == "decompose" and len(study.directions) == 1:
            tree = self._sample_tree(study, trial, search_space)
            if tree is not None:
                return tree
        groups = [sorted(g) for g in self._groups(study)] if self._group else [sorted(search_space)]
        out: dict[str, Any] = {}
        for names in groups:
            names = [n for n in names if n in search_space]
            if not names:
                continue
            space = SearchSpace({n: _to_param(search_space[n]) for n in names})
            config = self._sample_group(study, trial, space, names)
            out.update({n: _to_optuna_value(search_space[n], config[n]) for n in names})
        return out

    def _n_startup(self, space: SearchSpace) -> int:
        return self._n_startup_trials if self._n_startup_trials is not None else max(5, space.d + 1)

    def _signs(self, study: Study) -> list[float]:
        return [1.0 if d == StudyDirection.MAXIMIZE else -1.0 for d in study.directions]

    def _sample_group(self, study: Study, trial: FrozenTrial, space: SearchSpace, names: list[str]) -> dict[str, Any]:
        """One group's config, from the group's own ``BOSearcher`` (:mod:`hpo.integrations._optuna_feed`)."""
        trials = study._get_trials(deepcopy=False, states=_MODELLED, use_cache=True)
        slot = "group " + ",".join(names)
        signs = self._signs(study)
        with self._lock:  # the searchers are stateful; n_jobs > 1 calls from threads
            return feed_and_suggest(self._feeds, slot, (space_key(space), len(signs)),
                                    lambda: self._searcher(space, sub_seed(self._seed, slot), len(signs)),
                                    trials, trial, group_config(names), self._observed_values, signs,
                                    self._handed_out)  # fmt: skip

    def _searcher(self, space: SearchSpace, seed: int | None, n_objectives: int = 1) -> Any:
        """A ``BOSearcher`` on ``space`` with this sampler's settings, maximizing every objective."""
        from hpo.searchers.bo import BOSearcher

        searcher = BOSearcher(space, seed=seed, surrogate=self._surrogate_spec,
                              acquisition=self._acquisition, n_init=self._n_startup(space), branch_floor=self._branch_floor,
                              failed=self._failed, branch_choice=self._branch_choice)  # fmt: skip
        if n_objectives == 1:
            searcher.set_objective("value", "max")
        else:
            searcher.set_objective([f"value{i}" for i in range(n_objectives)], ["max"] * n_objectives)
        return searcher

    def _observed_value(self, t: FrozenTrial) -> float | None:
        """What the model learns from trial ``t``: a COMPLETE trial's value, or with ``use_pruned``
        a PRUNED one's last intermediate value; None when there is none or it is not finite
        (a FAIL trial's is None)."""
        value = t.value if t.state == TrialState.COMPLETE else None
        if t.state == TrialState.PRUNED and self._use_pruned and t.intermediate_values:
            value = t.intermediate_values[max(t.intermediate_values)]
        return None if value is None or not np.isfinite(value) else float(value)

    def _observed_values(self, t: FrozenTrial) -> tuple[float, ...] | None:
        """What the model learns from trial ``t``, one value per objective (see :meth:`_observed_value`).

        With several objectives only COMPLETE trials with every value finite count (Optuna
        cannot report intermediate values of a multi-objective trial, so a pruned one has none).
        """
        if t.values is not None and len(t.values) > 1:
            finite = t.state == TrialState.COMPLETE and bool(np.isfinite(t.values).all())
            return tuple(float(v) for v in t.values) if finite else None
        value = self._observed_value(t)
        return None if value is None else (value,)

    def _sample_tree(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any] | None:
        """A config from ``BOSearcher`` on the define-by-run tree; None when the trials form none.

        One searcher per tree (rebuilt when the tree changes), told only the trials it has not
        seen. Its own scrambled-Sobol design (``n_init = n_startup``) spreads the first trials
        over the options; a rebuilt searcher skips the design points the trials so far stand
        for (:meth:`~hpo.searchers.bo.BOSearcher.replay`).
        """
        from hpo.integrations._optuna_structure import infer_choice_space

        trials = study._get_trials(deepcopy=False, states=_MODELLED, use_cache=True)
        done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        # a FAIL trial may have stopped before suggesting all its parameters: it does not shape the tree
        mapping = infer_choice_space([t.params for t in done], search_space, _to_param)
        if mapping is None:
            return None
        with self._lock:  # the searcher is stateful; n_jobs > 1 calls from threads
            config = feed_and_suggest(self._feeds, "tree", mapping, lambda: self._searcher(mapping.space, self._seed),
                                      trials, trial, mapping.to_config, self._observed_values, self._signs(study))  # fmt: skip
        params = mapping.to_params(config)
        return {n: _to_optuna_value(search_space[n], v) for n, v in params.items() if n in search_space}

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent.before_trial(study, trial)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self._independent.after_trial(study, trial, state, values)




class LCPFNPruner(BasePruner):
    """Prune a trial once LC-PFN gives its final value less than ``threshold`` chance to beat the best.

    The rule of :class:`hpo.schedulers.LCStopping` (Adriaensen et al., NeurIPS 2023), one
    implementation for both (:class:`hpo.surrogates.lcpfn.stopping.StoppingRule`), read
    from ``trial.intermediate_values``: with at least ``min_steps`` reports and at least
    one COMPLETE trial, prune when P(value at ``max_step`` beats ``study.best_value``) <
    ``threshold``.

    Args:
        max_step: The step of the final value (e.g. the number of epochs).
        threshold: Prune below this probability (0.05).
        min_steps: Reports needed before a trial may be pruned (3; see ``rank_check``).
        y_range: ``(low, high)`` the values span, mapped onto LC-PFN's [0, 1]. None
            (default): inferred from the reports (:func:`hpo.surrogates.lcpfn.stopping.infer_y_range`:
            (0, 1), (0, 100) for a percentage to maximise, (0, median first value) for a loss to
            minimise); values it cannot place raise :class:`~hpo.errors.SettingError`.
        step_offset: Added to Optuna's step to get a 1-based epoch (1 for steps 0, 1, ...;
            0 if your steps already start at 1).
        model: Anything with LC-PFN's ``prob_improvement``; default ``LCPFN.load()``.
        calibrate: Recalibrate LC-PFN on the study's COMPLETE trials whose reports reach
            ``max_step`` (:mod:`hpo.surrogates.lcpfn.calibration`; on by default).
        rank_check: Judge a trial before ``min_steps`` reports where this study's finished
            trials show that values at that point rank-agree with their finals
            (:mod:`hpo.surrogates.lcpfn.stopping`; on by default).

    Example::

        study = optuna.create_study(direction="maximize", pruner=LCPFNPruner(max_step=50))
    """

    def __init__(
        self,
        max_step: int,
        threshold: float = 0.05,
        min_steps: int = 3,
        y_range: tuple[float, float] | None = None,
        step_offset: int = 1,
        model: Any = None,
        calibrate: bool = True,
        rank_check: bool = True,
    ) -> None:
        from hpo.surrogates.lcpfn.stopping import StoppingRule

        if max_step < 1:
            raise ValueError(f"max_step must be >= 1, got {max_step!r}")
        self.rule = StoppingRule(threshold, min_steps, 1, y_range, model, calibrate, rank_check)
        self.rule.label = "the values passed to trial.report()"
        self._seen: set[int] = set()  # COMPLETE trials the rule has learned from
        self.max_step = max_step
        self.threshold = threshold
        self.min_steps = min_steps
        self.y_range = y_range
        self.step_offset = step_offset

    @property
    def model(self) -> Any:
        return self.rule.model

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(study.directions) != 1 or not complete:
            return False
        maximize = study.direction == StudyDirection.MAXIMIZE
        for done in complete:
            if done.number not in self._seen:
                self._seen.add(done.number)
                self.rule.observe_final(self._curve(done), float(self.max_step), maximize)
        return self.rule.should_stop(self._curve(trial), float(self.max_step), float(study.best_value), maximize)

    def _curve(self, trial: FrozenTrial) -> list[tuple[float, float]]:
        values = trial.intermediate_values
        return [(float(step + self.step_offset), float(values[step])) for step in sorted(values)]
