"""Population based training (PBT), asynchronous.

Reference: Jaderberg, Dalibard, Osindero, Czarnecki, Donahue, Razavi, Vinyals, Green,
Dunning, Simonyan, Fernando & Kavukcuoglu, "Population Based Training of Neural
Networks", arXiv:1711.09846, 2017 (truncation selection; perturb-or-resample explore).

A population of ``population_size`` trials trains in slices of ``interval`` budget
units. Whenever a member finishes a slice, it is ranked by its latest score among the
population's latest scores:

* **exploit** (truncation): a member in the bottom ``quantile`` (25%) is replaced by a
  copy of a random member of the top ``quantile``: its checkpoint is copied and it goes
  on from the same budget;
* **explore**: each numeric hyperparameter of the copy is multiplied by 0.8 or 1.2
  (rounded and clipped for integers and bounds), or, with probability
  ``resample_probability`` (0.25), resampled from the search space; categorical ones are
  resampled with that probability and kept otherwise.

Other members simply continue with their next slice, until ``budget.max``.

Deviation, for a clean record: trial configs are immutable here, so the copy is a **new
trial** (``trial.parent`` names the member it copied, ``notes["replaces"]`` the one it
replaced) that starts from the parent's checkpoint; the replaced member stays PAUSED at
the budget it reached. Ray Tune instead mutates the replaced trial's config in place.
Without a checkpoint (the train function never calls ``hpo.checkpoint.save``), the copy
trains again from 0, and ``trial.restarts`` says so. On resume the population starts
afresh (members of the previous run stay PAUSED).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from hpo.errors import HPOError
from hpo.schedulers.base import BaseScheduler
from hpo.searchers.base import BaseSearcher
from hpo.trial import Job, StudyView, Trial, TrialStatus

__all__ = ["PBT", "explore"]


def explore(
    config: Mapping[str, Any],
    space: Any,
    rng: Any,
    resample_probability: float = 0.25,
    factors: tuple[float, float] = (0.8, 1.2),
) -> dict[str, Any]:
    """PBT's explore step on one config (see the module docstring)."""
    fresh = space.sample(rng)
    out = dict(config)
    for dim in space.dims:
        name = dim.name
        if name not in out:
            continue
        if rng.random() < resample_probability or dim.kind == "categorical":
            if dim.kind != "categorical" or rng.random() < resample_probability:
                out[name] = fresh.get(name, out[name])
            continue
        p = dim.param
        value = out[name] * factors[int(rng.integers(2))]
        value = min(max(value, p.low), p.high)  # type: ignore[attr-defined]
        out[name] = int(round(value)) if dim.kind == "int" else float(value)
    # keep the config valid (Int steps, conditional branches): snap through the encoding
    try:
        space.validate(out)
        return out
    except HPOError:
        return space.decode(space.encode([out]))[0]


class PBT(BaseScheduler):
    """Population based training (asynchronous truncation selection).

    Args:
        searcher: Where the initial population's configs come from.
        population_size: Members training at once (the population).
        interval: Budget units per slice between two exploit/explore decisions; by
            default a tenth of ``budget.max`` (at least ``budget.min``).
        quantile: Bottom/top fraction for truncation selection (0.25).
        resample_probability: Probability to resample a hyperparameter in explore (0.25).
        seed: Seed of the explore/exploit random choices.
    """

    pauses_trials: ClassVar[bool] = True
    judges_reports: ClassVar[bool] = False
    needs_checkpoints: ClassVar[bool] = True

    def __init__(
        self,
        searcher: BaseSearcher,
        population_size: int = 8,
        interval: float | None = None,
        quantile: float = 0.25,
        resample_probability: float = 0.25,
        seed: int | None = None,
    ) -> None:
        super().__init__(searcher)
        if isinstance(population_size, bool) or not isinstance(population_size, int) or population_size < 2:
            raise HPOError(f"population_size must be an int >= 2, got {population_size!r}")
        if not 0 < quantile <= 0.5:
            raise HPOError(f"quantile must be in (0, 0.5], got {quantile!r}")
        if interval is not None and not interval > 0:
            raise HPOError(f"interval must be > 0, got {interval!r}")
        self.population_size = population_size
        self.interval = interval
        self.quantile = quantile
        self.resample_probability = resample_probability
        self.seed = seed
        self.rng = self._own_rng(seed)
        self._members: dict[int, Trial] = {}  # live members: trial id -> latest trial
        # decisions taken in on_complete, turned into jobs by next_job (which has the view)
        self._todo: list[tuple[Trial, Trial | None, float]] = []  # (member, parent to copy, budget)
        self.n_exploits = 0

    def _slice(self, view: StudyView) -> float:
        if self.interval is None:
            b = view.budget
            step = b.max / 10
            step = float(round(step)) if float(b.max).is_integer() else step
            self.interval = max(step, b.min)
        return self.interval

    def _job(self, view: StudyView, trial: Trial, start: float) -> Job:
        from hpo.budget import JobBudget

        stop = min(start + self._slice(view), view.budget.max)
        return Job(trial, JobBudget(start, stop, view.budget.max))

    def next_job(self, view: StudyView) -> Job | None:
        while self._todo:
            member, parent, start = self._todo.pop(0)
            if member.trial_id not in self._members:
                continue
            if parent is not None:
                # the parent may have finished another slice since the decision (use its
                # latest record) or left the population (pick again among the members)
                parent = self._members.get(parent.trial_id) or self._parent_for(member)
            if parent is not None and view.can_start_trial():
                return self._exploit(view, member, parent, start)
            return self._job(view, member, start)
        trial = self._new_trial(view) if len(self._members) < self.population_size else None
        if trial is not None:
            self._members[trial.trial_id] = trial
            return self._job(view, trial, 0)
        return None

    def _exploit(self, view: StudyView, loser: Trial, parent: Trial, start: float) -> Job:
        from hpo import checkpoint

        config = explore(parent.config, view.space, self.rng, self.resample_probability)
        child = view.new_trial(config, notes={"replaces": loser.trial_id}, parent=parent.trial_id)
        dst = view.artifact_dir(child.trial_id)
        start = parent.fidelity
        if checkpoint.copy(view.artifact_dir(parent.trial_id), dst):
            # the parent may be running its next slice and have saved a newer checkpoint
            newer = checkpoint.saved_step(dst) or 0.0
            if start < newer < view.budget.max:
                start = newer
        del self._members[loser.trial_id]
        self._members[child.trial_id] = child
        self.n_exploits += 1
        return self._job(view, child, start)

    def on_complete(self, trial: Trial) -> None:
        if trial.trial_id not in self._members:
            return
        if trial.status is not TrialStatus.PAUSED or trial.value is None:
            del self._members[trial.trial_id]  # reached the full budget, failed or stopped
            return
        self._members[trial.trial_id] = trial
        self._todo.append((trial, self._parent_for(trial), trial.fidelity))

    def _parent_for(self, trial: Trial) -> Trial | None:
        """A random top-quantile member if ``trial`` is in the bottom quantile, else None."""
        scored = [t for t in self._members.values() if t.value is not None]
        if len(scored) < 2:
            return None
        ranked = sorted(scored, key=lambda t: (self.searcher.sign * t.value, -t.trial_id))  # type: ignore[operator]
        n_cut = max(1, int(len(ranked) * self.quantile))
        if trial.trial_id not in {t.trial_id for t in ranked[:n_cut]}:
            return None
        top = [t for t in ranked[-n_cut:] if t.trial_id != trial.trial_id]
        return top[int(self.rng.integers(len(top)))] if top else None
