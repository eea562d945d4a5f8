"""Rising Bandits: algorithm selection (CASH) as a bandit whose arms get better as they are pulled.

Li, Zhang, Jiang, Zhang & Cui, "Efficient Automatic CASH via Rising Bandits", AAAI 2020
(reference code: alpha-ml ``MONO_MAB_SMBO``, mindware ``first_layer_bandit``). DESIGN §4.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from hpo.errors import HPOError
from hpo.schedulers.base import BaseScheduler
from hpo.search_spaces import Choice, SearchSpace
from hpo.searchers.base import BaseSearcher
from hpo.trial import INTERRUPTED, Job, Observation, StudyView, Trial, TrialStatus

__all__ = ["RisingBandits", "arm_bounds"]

logger = logging.getLogger("hpo.study")

#: Key of this scheduler's entries in :attr:`Trial.notes`.
NOTES_KEY = "rising_bandits"


def arm_bounds(best_so_far: Sequence[float], window: int, remaining: float) -> tuple[float, float] | None:
    """``(lower, upper)`` bound of an arm from its best-so-far curve, or None before ``window + 1`` pulls.

    DESIGN's bounds, on normalised rewards (``1`` is the best value the study has seen):
    ``lower = y(n)``, ``upper = min(1, y(n) + slope * remaining)`` with
    ``slope = (y(n) - y(n - C)) / C``.

    Args:
        best_so_far: `n`-long best normalised reward after each of the arm's pulls,
            ``y(1) .. y(n)``.
        window: ``C``, the pulls the slope is measured over.
        remaining: ``T - t``, the pulls the arm could still get.
    """
    n = len(best_so_far)
    if n < window + 1:
        return None
    y_n, y_back = best_so_far[-1], best_so_far[-1 - window]
    slope = (y_n - y_back) / window
    return y_n, min(1.0, y_n + slope * max(0.0, remaining))


@dataclass
class _Arm:
    """One option of the arms' ``Choice``: its sub-space, its searcher and its pulls."""

    option: str
    space: SearchSpace | None  # None: the option has no parameters (one fixed config)
    names: frozenset[str]
    searcher: BaseSearcher | None
    scores: list[float | None] = field(default_factory=list)  # sign * value per finished pull (None: no value)
    costs: list[float] = field(default_factory=list)
    eliminated: dict[str, Any] | None = None

    def sub_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in config.items() if k in self.names}


def _names(params: Mapping[str, Any]) -> set[str]:
    out: set[str] = set()
    for name, param in params.items():
        out.add(name)
        if isinstance(param, Choice):
            for sub in param.options.values():
                out |= _names(sub)
    return out


class RisingBandits(BaseScheduler):
    """Each option of a top-level ``Choice`` (e.g. the learner) is an arm; weak arms are eliminated.

    Faithful to DESIGN §4 and Li et al. (AAAI 2020):

    * **Arms.** Arm ``k`` is a searcher over option ``k``'s sub-space (its own parameters
      plus the space's other top-level parameters). By default each is a fresh copy of the
      study's searcher (``searcher=``/``surrogate=`` reach every arm: BO over that branch
      with any surrogate); ``arm_searcher`` names another (``"random"``, ``"sobol"``,
      ``"bo-ts"``, any registered searcher) or is a ``(space, seed) -> searcher`` factory.
    * **Pulls.** A pull is one full evaluation of a config from that arm. Arms are pulled
      round-robin: the next pull goes to the active arm with the fewest pulls started
      (finished plus running, so parallel workers spread over the arms; ties: the order
      of the options).
    * **Rewards and bounds.** ``y_k(n)`` is arm ``k``'s best value after ``n`` finished
      pulls. Values are normalised to [0, 1] by the range of every result the study has
      seen (worst 0, best 1; flipped for ``mode="min"``); a pull that failed or gave no
      value counts as a pull without improvement (the worst value before the arm's first
      success). With window ``C``, once an arm has ``C + 1`` finished pulls:
      ``lower = y(n)``, ``upper = min(1, y(n) + slope * (T - t))``,
      ``slope = (y(n) - y(n - C)) / C`` (:func:`arm_bounds`). Because every lower bound is
      at most 1 and the map is affine, which arm goes does not depend on the
      normalisation; it only makes the logged bounds comparable across studies.
    * **Elimination.** Before each new pull, an active arm whose upper bound is below
      another active arm's lower bound is eliminated (the last one never goes). An arm
      has bounds only once it has been judged long enough (:meth:`judged_after`): by
      default ``C`` pulls past its searcher's initial design, at least ``C + 1``. DESIGN
      only says "none before C pulls"; judging an arm on its random design measured
      badly: on the live CASH benchmark (``benchmarks/results/cash.md``) BO arms went at
      their first bound, after a 5-6 point Sobol design and one model step, and the
      learner of the eventual best config was eliminated on 6 of 9 dataset-seeds. The
      rising-curve assumption is about the arm's optimizer at work, which starts after
      its design.
    * **Horizon** ``T - t``. ``horizon="trials"``: the trials the study may still start
      (``n_trials`` of :meth:`~hpo.study.Study.optimize` minus those created); an int:
      that many pulls in all, minus those started; ``"time"`` (cost-aware): seconds left
      before ``timeout`` divided by the arm's mean cost (``trial.cost``, seconds) per pull;
      ``"auto"`` (default): trials when the study has a trial limit, else time when it
      has a timeout, else no elimination (round-robin only; a warning is logged once).
      The remaining pulls are what one arm could get if every other arm went: an arm
      is eliminated only if even that cannot lift it to the leader's current best.

    **The log.** Each elimination is logged (logger ``hpo.study``) with its bounds, and
    written to the notes of the trial whose result triggered it:
    ``trial.notes["rising_bandits"]["eliminated"]`` is a list of ``{"arm", "pulls",
    "lower", "upper", "slope", "remaining", "by", "by_lower", "trial"}``. Every trial's
    notes name its arm (``{"arm": option}``). On resume, arm histories are rebuilt from
    the stored observations and eliminations from the notes.

    Args:
        searcher: The study's searcher (over the whole space): the template of the arms'.
        arms: Name of the top-level ``Choice`` whose options are the arms; None (default):
            the space's only top-level ``Choice``.
        window: ``C``, 4 to 10 in the paper; 5 by default.
        horizon: ``"auto"``, ``"trials"``, ``"time"`` or a total number of pulls.
        arm_searcher: None (copies of ``searcher``), a registered searcher name, or a
            factory ``(space, seed) -> searcher``.
        min_pulls: Finished pulls before an arm can be eliminated (at least
            ``window + 1``); None (default): see :meth:`judged_after`.

    Raises:
        HPOError: when the space has no such top-level ``Choice``, for a window below 1, an
            unknown horizon, several objectives, or an arm searcher that cannot be built.

    Deviations from the paper: pulls run asynchronously on parallel workers (the paper's
    loop is sequential); a failed pull counts as a pull without improvement.
    """

    judges_reports: ClassVar[bool] = False

    def __init__(
        self,
        searcher: BaseSearcher,
        arms: str | None = None,
        window: int = 5,
        horizon: str | int = "auto",
        arm_searcher: str | Callable[[SearchSpace, int | None], BaseSearcher] | None = None,
        min_pulls: int | None = None,
    ) -> None:
        super().__init__(searcher)
        if min_pulls is not None and (not isinstance(min_pulls, int) or isinstance(min_pulls, bool) or min_pulls < 1):
            raise HPOError(f"min_pulls must be a positive integer or None, got {min_pulls!r}")
        self.min_pulls = min_pulls
        if not isinstance(window, int) or isinstance(window, bool) or window < 1:
            raise HPOError(f"window must be an integer >= 1, got {window!r}")
        if not (horizon in ("auto", "trials", "time") or (isinstance(horizon, int) and not isinstance(horizon, bool) and horizon > 0)):
            raise HPOError(f"horizon must be 'auto', 'trials', 'time' or a positive number of pulls, got {horizon!r}")
        self.arms = arms
        self.window = window
        self.horizon = horizon
        self.arm_searcher = arm_searcher
        space = searcher.space
        self._choice = self._find_choice(space, arms)
        choice = space.params[self._choice]
        assert isinstance(choice, Choice)
        shared = {k: v for k, v in space.params.items() if k != self._choice}
        self._arms: list[_Arm] = []
        for i, (option, sub) in enumerate(choice.options.items()):
            params = {**shared, **sub}
            sub_space = SearchSpace(params) if params else None
            arm_seed = None if searcher.seed is None else int(searcher.seed) + 7919 * (i + 1)
            self._arms.append(_Arm(option, sub_space, frozenset(_names(params)), self._make_searcher(sub_space, arm_seed)))
        self._by_option = {arm.option: arm for arm in self._arms}
        self._running: dict[int, Mapping[str, Any]] = {}  # trial id -> config of running pulls
        self._started = 0  # pulls started (for an int horizon)
        self._lo: float | None = None  # the range of every score seen (normalisation)
        self._hi: float | None = None
        self._last_finished: int | None = None
        self._unlogged: list[dict[str, Any]] = []  # eliminations not yet written to notes
        self._warned = False

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _find_choice(space: SearchSpace, name: str | None) -> str:
        tops = [k for k, p in space.params.items() if isinstance(p, Choice)]
        if name is not None:
            if name not in tops:
                raise HPOError(
                    f"arms={name!r} is not a top-level Choice of the space; top-level Choices: {tops or 'none'}"
                )
            return name
        if len(tops) != 1:
            raise HPOError(
                f"RisingBandits needs the Choice whose options are the arms: the space has {len(tops)} top-level "
                f"Choice parameters ({', '.join(tops) or 'none'}); pass arms=NAME"
            )
        return tops[0]

    def _make_searcher(self, space: SearchSpace | None, seed: int | None) -> BaseSearcher | None:
        from hpo import presets

        if space is None:
            return None
        try:
            if callable(self.arm_searcher):
                return self.arm_searcher(space, seed)
            return presets.searcher_like(self.arm_searcher or self.searcher, space, seed)
        except HPOError as exc:
            raise HPOError(
                f"RisingBandits cannot build an arm's searcher from {type(self.searcher).__name__}: {exc}; "
                "pass arm_searcher=NAME or a (space, seed) -> searcher factory"
            ) from exc

    def set_objective(self, metric: str | Sequence[str], mode: str | Sequence[str]) -> None:
        from hpo.trial import as_objectives

        metrics, _ = as_objectives(metric, mode)
        if len(metrics) > 1:
            raise HPOError(f"RisingBandits optimizes one objective, the study has {len(metrics)} ({', '.join(metrics)})")
        super().set_objective(metric, mode)
        for arm in self._arms:
            if arm.searcher is not None:
                arm.searcher.set_objective(metric, mode)

    def set_cost_budget(self, total: float | None) -> None:
        super().set_cost_budget(total)
        for arm in self._arms:
            if arm.searcher is not None:
                arm.searcher.set_cost_budget(total)

    # ------------------------------------------------------------------ state
    def active(self) -> list[str]:
        """The arms not eliminated."""
        return [arm.option for arm in self._arms if arm.eliminated is None]

    def eliminations(self) -> dict[str, dict[str, Any]]:
        """Eliminated arm -> the record of why (see the class docstring)."""
        return {arm.option: dict(arm.eliminated) for arm in self._arms if arm.eliminated is not None}

    def pulls(self, option: str) -> int:
        """Finished pulls of an arm."""
        return len(self._by_option[option].scores)

    # ------------------------------------------------------------------ the loop
    def next_job(self, view: StudyView) -> Job | None:
        self._eliminate(view)
        if self._unlogged:
            trial = next((t for t in reversed(view.trials()) if t.trial_id == self._last_finished), None)
            if trial is not None:
                mine = dict(trial.notes.get(NOTES_KEY, {}))
                mine["eliminated"] = [*mine.get("eliminated", []), *self._unlogged]
                view.annotate(trial.trial_id, {NOTES_KEY: mine})
            self._unlogged = []
        if not view.can_start_trial():
            return None
        queued = view.take_enqueued()
        if queued is not None:
            trial = queued
        else:
            arm = self._next_arm()
            config = {self._choice: arm.option, **self._suggest(arm)}
            trial = view.new_trial(config, notes={NOTES_KEY: {"arm": arm.option}})
        self._running[trial.trial_id] = trial.config
        self._started += 1
        return Job(trial, view.budget.full())

    def _next_arm(self) -> _Arm:
        running: dict[str, int] = {}
        for config in self._running.values():
            option = config.get(self._choice)
            running[option] = running.get(option, 0) + 1
        active = [arm for arm in self._arms if arm.eliminated is None]
        return min(active, key=lambda arm: len(arm.scores) + running.get(arm.option, 0))

    def _suggest(self, arm: _Arm) -> dict[str, Any]:
        if arm.searcher is None:
            return {}
        pending = []
        if arm.searcher.supports_pending:
            pending = [arm.sub_config(c) for c in self._running.values() if c.get(self._choice) == arm.option]
        (sub,) = arm.searcher.suggest(1, pending=pending)
        return sub

    def on_complete(self, trial: Trial) -> None:
        self._running.pop(trial.trial_id, None)

    def observe(self, observation: Observation) -> None:
        self._absorb([observation])

    def replay(self, observations: Sequence[Observation]) -> None:
        self._absorb(observations, replay=True)

    def restore(self, trials: Sequence[Trial]) -> None:
        for trial in trials:
            for record in trial.notes.get(NOTES_KEY, {}).get("eliminated", []):
                arm = self._by_option.get(record.get("arm"))
                if arm is not None and arm.eliminated is None:
                    arm.eliminated = dict(record)

    def _absorb(self, observations: Sequence[Observation], replay: bool = False) -> None:
        per_arm: dict[str, list[Observation]] = {}
        for obs in observations:
            option = obs.config.get(self._choice)
            arm = self._by_option.get(option) if isinstance(option, str) else None
            if arm is None:
                continue
            sub_obs = replace(obs, config=arm.sub_config(obs.config))
            per_arm.setdefault(arm.option, []).append(sub_obs)
            if obs.status is TrialStatus.FAILED and obs.reason == INTERRUPTED:
                continue  # re-queued under a new id: not a pull
            if obs.status is TrialStatus.PAUSED:
                continue
            score = None if obs.value is None or not math.isfinite(obs.value) else self.searcher.sign * float(obs.value)
            arm.scores.append(score)
            arm.costs.append(float(obs.cost))
            if score is not None:
                self._lo = score if self._lo is None else min(self._lo, score)
                self._hi = score if self._hi is None else max(self._hi, score)
            self._last_finished = obs.trial_id
        for option, sub_obs in per_arm.items():
            searcher = self._by_option[option].searcher
            if searcher is not None:
                (searcher.replay if replay else searcher.observe)(sub_obs)

    # ------------------------------------------------------------------ bounds
    def _normalise(self, score: float | None) -> float:
        lo, hi = self._lo, self._hi
        if score is None or lo is None or hi is None:
            return 0.0
        return 1.0 if hi <= lo else (score - lo) / (hi - lo)

    def best_so_far(self, option: str) -> list[float]:
        """Arm ``option``'s normalised best value after each finished pull, ``y(1) .. y(n)``."""
        out: list[float] = []
        best: float | None = None
        for score in self._by_option[option].scores:
            if score is not None and (best is None or score > best):
                best = score
            out.append(self._normalise(best))
        return out

    def _remaining(self, view: StudyView, arm: _Arm) -> float | None:
        trials, seconds = view.remaining()
        mode = self.horizon
        if mode == "auto":
            mode = "trials" if trials is not None else ("time" if seconds is not None else None)  # type: ignore[assignment]
        if isinstance(mode, int):
            return float(max(0, mode - self._started))
        if mode == "trials" and trials is not None:
            return float(trials)
        if mode == "time" and seconds is not None:
            cost = sum(arm.costs) / len(arm.costs) if arm.costs else 0.0
            return math.inf if cost <= 0 else seconds / cost
        return None

    def bounds(self, view: StudyView) -> dict[str, tuple[float, float] | None]:
        """Active arm -> ``(lower, upper)`` now (None before ``window + 1`` pulls or without a horizon)."""
        out: dict[str, tuple[float, float] | None] = {}
        for arm in self._arms:
            if arm.eliminated is not None:
                continue
            remaining = self._remaining(view, arm)
            if remaining is None or len(arm.scores) < self.judged_after(arm.option):
                out[arm.option] = None
            else:
                out[arm.option] = arm_bounds(self.best_so_far(arm.option), self.window, remaining)
        return out

    def judged_after(self, option: str) -> int:
        """Finished pulls before arm ``option`` has bounds (and can be eliminated).

        ``min_pulls`` if given; by default ``window`` pulls past the arm searcher's initial
        design (``n_init`` of BO, ``num_random_samples`` of CARBS; none for model-free
        searchers), and at least ``window + 1``.
        """
        if self.min_pulls is not None:
            return max(self.window + 1, self.min_pulls)
        searcher = self._by_option[option].searcher
        design = getattr(searcher, "n_init", None) or getattr(searcher, "num_random_samples", None) or 0
        return max(self.window + 1, int(design) + self.window)

    def _eliminate(self, view: StudyView) -> None:
        active = [arm for arm in self._arms if arm.eliminated is None]
        if len(active) < 2:
            return
        if self._remaining(view, active[0]) is None and not self._warned:
            self._warned = True
            logger.warning(
                "RisingBandits has no horizon (no n_trials, no timeout and no horizon=N): arms are pulled "
                "round-robin and none is eliminated"
            )
        bounds = self.bounds(view)
        curves = {arm.option: self.best_so_far(arm.option) for arm in active}
        lowers = {arm.option: curves[arm.option][-1] for arm in active if any(s is not None for s in arm.scores)}
        gone = []
        for arm in active:
            b = bounds.get(arm.option)
            if b is None:
                continue
            rivals = {o: lo for o, lo in lowers.items() if o != arm.option}
            if not rivals:
                continue
            by = max(rivals, key=lambda o: rivals[o])
            if b[1] < rivals[by]:
                remaining = self._remaining(view, arm)
                y = curves[arm.option]
                gone.append((arm, {
                    "arm": arm.option,
                    "pulls": len(arm.scores),
                    "lower": b[0],
                    "upper": b[1],
                    "slope": (y[-1] - y[-1 - self.window]) / self.window,
                    "remaining": None if remaining is None or math.isinf(remaining) else remaining,
                    "by": by,
                    "by_lower": rivals[by],
                    "trial": self._last_finished,
                }))
        if len(gone) == len(active):  # cannot happen (the leader's bound is at least its lower); be safe
            gone = gone[:-1]
        for arm, record in gone:
            arm.eliminated = record
            self._unlogged.append(record)
            logger.info(
                "rising bandits: arm %r eliminated after %d pulls: upper bound %.4g < %r's lower bound %.4g "
                "(normalised; slope %.4g over %d pulls, %s pulls left; after trial %s)",
                arm.option, record["pulls"], record["upper"], record["by"], record["by_lower"], record["slope"],
                self.window, record["remaining"], record["trial"],
            )
