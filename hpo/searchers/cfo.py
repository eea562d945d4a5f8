"""CFO: frugal local search (FLOW2) for cost-related hyperparameters, with restarts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from hpo.errors import ConfigError, SettingError
from hpo.search_spaces import Categorical, Choice, Float, Int, SearchSpace
from hpo.searchers._flow2 import _bucket, _Flow2, _key, _n_grid, _numeric, _Proposal
from hpo.searchers.base import BaseSearcher
from hpo.trial import INTERRUPTED, Observation, TrialStatus

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CFO"]

#: FLAML's ``STEPSIZE`` where it is not the initial step: how far the explored box widens
#: at each restart, its margin, and the noise scale of a box of zero width.
_BOX_MARGIN = 0.1
#: FLAML's ``STEP_LOWER_BOUND``: the lower bound of the step without discrete dimensions.
_STEP_LB_CONTINUOUS = 1e-4
#: Attempts at a new, not yet handed-out config before a uniformly random one is returned.
_TRIES = 100


class CFO(BaseSearcher):
    """Cost-Frugal Optimization: FLOW2 randomized local search started at the low-cost corner.

    Reference: Wu, Wang & Huang, "Frugal Optimization for Cost-related Hyperparameters",
    AAAI 2021; a port of microsoft/FLAML's ``FLOW2`` (``flaml/tune/searcher/flow2.py``)
    and of the ``CFO`` thread logic around it (``blendsearch.py``).

    The search runs in the unit cube of :meth:`SearchSpace.encode` (log dimensions in log
    space, an integer or a ``step`` value a cell of equal width, a categorical choice the
    cell ``(i + 0.5) / n``), `d` its number of columns.

    **FLOW2 rules** (one local search, a *thread*, at a time):

    * *Start.* The first config is the start point: ``low_cost_partial_config``'s values,
      the other dimensions drawn uniformly at random. Without one, every Float and Int
      (conditional ones included) starts at its ``low`` and every categorical is random.
      Its result starts a thread there.
    * *Step.* It starts at ``step_init * sqrt(d)`` (FLAML: 0.1), or twice the lower bound
      if that is larger, and never exceeds ``sqrt(d)``. Its lower bound is the smallest
      one-unit move over the discrete dimensions (``1/n`` for an Int or stepped Float of
      ``n`` values; ``log(1 + 1/v)`` over the log range for a log Int at the incumbent's
      value ``v``) times ``sqrt(d)``, or ``1e-4`` without discrete dimensions.
    * *Moves.* Draw ``u`` uniformly on the unit sphere, propose ``x + step*u`` and next
      ``x - step*u`` (clipped to the cube), then a new ``u``. Proposals go on while
      earlier ones are pending, so parallel workers each get the next move (hence
      ``supports_pending = False``: the searcher remembers what it handed out). A move
      of the incumbent does not end a pair: after ``x + step*u`` wins, ``-u`` from there
      leads back to the old incumbent, whose known result is fed back (as in FLAML).
    * *Moving.* A result better than the incumbent's makes its config the incumbent; the
      step becomes the one that config was proposed at, times ``sqrt(K/oldK)`` once the
      step has shrunk (it undoes the last shrink), capped at ``sqrt(d)``.
    * *Shrinking.* After ``2^min(9, d)`` proposals around one incumbent, and every 2
      proposals after that while it stays, ``oldK = K or k_best`` and ``K = k + 1``
      (``k`` proposals made by the thread, ``k_best`` the result count when the incumbent
      last moved), and ``step *= sqrt(oldK/K)``. **FLAML#85:** this follows FLAML's code,
      which updates ``K`` and ``oldK`` at every shrink, so the step decays like
      ``sqrt(k_best/k)``; the paper's algorithm changes ``k'`` only on improvement, so
      there the shrink factors compound.
    * *Initial phase.* Until the first shrink, when both moves of a pair round to the
      incumbent's config (discrete spaces) the step grows by ``step_init``. After it, a
      move that rounds to the incumbent's config moves ``x`` itself to the move (the
      config stays), and that config, already evaluated, is not handed out again.
    * *Restart.* When the step is below its lower bound and ``2^min(9, d) - 2`` results
      of the incumbent's moves are in, the thread has converged. The explored box (every
      move handed out, per start dimension) widens by 0.1 on each side, and the next
      start point is the start plus Gaussian noise as wide as the box (0.1 for a box of
      zero width), kept within the box plus 0.1 and the cube; dimensions the start does
      not give are drawn at random again. That point's result starts a fresh thread.
      Start points asked for while a start point is pending are drawn the same way, and
      only a start point's result starts a thread (a late result of a converged
      thread's move does not).
    * *Categoricals.* Categoricals whose choices are all numbers are ordered (sorted by
      value, FLAML's rule) and move like numbers. Other categoricals and Choice
      selectors are unordered: when a move leaves the incumbent's cell, another choice is
      drawn uniformly at random; the parameters of a newly chosen option take whatever
      the move's columns decode to.
    * *Duplicates.* A move whose config already has a result is not handed out; that
      result is fed back as the move's result (FLAML does the same). A config that is
      pending is skipped; so are the ``pending`` configs passed to :meth:`suggest`.
    * There is no cost model: frugality comes only from the low-cost start and the local
      steps.

    **Deviations from FLAML.**

    * Choice selectors move like unordered categoricals inside a thread, over all `d`
      columns; FLAML's thread searches only the sub-space of its start config, and only
      a restart can change the option.
    * Unordered categoricals sit at their cell's centre, so any move of more than half a
      cell in that column leaves it (FLAML keeps the thread's first coordinate there,
      0.5 for a choice it sampled, a cell edge when there are two choices).
    * A result better than the incumbent's moves it whoever proposed the config (the
      scheduler's random configs, enqueued configs, a start point drawn while the thread
      ran, an earlier thread's move); FLAML's thread sees only its own moves. Only the
      thread's own moves count toward convergence, as in FLAML.
    * Without ``low_cost_partial_config`` FLAML samples every dimension of the start at
      random; here Floats and Ints start at their ``low`` (the low-cost corner).
    * Codec: the unit positions are those of :meth:`SearchSpace.encode`, so one step of
      an Int of ``n`` values is ``1/n`` (FLAML: ``1/(n-1)``), and the incumbent sits at
      its value's cell centre. Bool choices are not numbers here (FLAML orders
      ``[True, False]`` as integers).
    * ``suggest`` must return configs: where FLAML returns nothing (the stuck thread
      awaiting results, a start point or move already tried), it tries again, and after
      100 tries returns a uniformly random config.
    * Failed trials and missing values count as no improvement; a value of exactly 0
      counts (FLAML's ``if obj:`` skips it). Trials that ended INTERRUPTED are ignored.
    * FLOW2's own resource dimension, its truncated directions and the parallel
      throttle (``can_suggest``, which CFO ignores too) are not ported; budgets are the
      scheduler's business.

    **Multi-fidelity.** Every observation is a result of its config, as FLAML's CFO sees
    intermediate and final results under Ray Tune's ASHA: a better value at any fidelity
    moves the incumbent (a better value of the incumbent's own config only updates its
    score). An observation below the highest fidelity already seen of its trial is
    ignored, and a trial counts once toward the step rules (its first observation). Low
    fidelities are not compared apart from high ones, so once the incumbent has a value
    at a high rung, new low-rung results rarely beat it, the step shrinks and the search
    restarts.

    **Resume** (:meth:`replay`): the stored observations are replayed in order; the first
    result starts a thread, better ones move it, each other trial counts as a proposal
    and a result of the incumbent (so the step shrinks, and restarts happen, as often as
    they would have). The generator is then re-seeded from ``(seed, number of trials)``,
    so the moves that follow are not those the earlier run drew.

    Args:
        space: The search space.
        seed: Seed of the searcher's generator.
        low_cost_partial_config: Parameter name to the value of a cheap config, for some
            or all parameters (e.g. ``{"n_estimators": 4}``); see *Start* above.
        step_init: The initial step as a fraction of ``sqrt(d)``.

    Attributes:
        n_restarts: Threads that converged and were replaced by a new start point.
        n_threads: Threads started.

    Raises:
        SettingError: for a ``step_init`` that is not a positive finite number.
        ConfigError: for a ``low_cost_partial_config`` value outside its parameter, or a
            name that is not a parameter of ``space``.

    Example:
        >>> from hpo.search_spaces import Float, Int, SearchSpace
        >>> space = SearchSpace({"lr": Float(1e-4, 1e-1, log=True), "trees": Int(4, 512, log=True)})
        >>> cfo = CFO(space, seed=0)
        >>> cfo.suggest(1)[0]["trees"]
        4
    """

    uses_history: ClassVar[bool] = True
    supports_pending: ClassVar[bool] = False

    def __init__(
        self,
        space: SearchSpace,
        seed: int | None = None,
        low_cost_partial_config: Mapping[str, Any] | None = None,
        step_init: float = 0.1,
    ) -> None:
        import numpy as np

        super().__init__(space, seed)
        if isinstance(step_init, bool) or not isinstance(step_init, (int, float)) or not 0 < step_init < math.inf:
            raise SettingError(f"step_init must be a positive finite number, got {step_init!r}")
        self.step_init = float(step_init)
        self.low_cost_partial_config = None if low_cost_partial_config is None else dict(low_cost_partial_config)
        d = space.d
        self._ordered: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # column -> (rank -> index, index -> rank)
        self._unordered: list[int] = []
        for j, dim in enumerate(space.dims):
            if isinstance(dim.param, Choice) or (isinstance(dim.param, Categorical) and not _numeric(dim.param.choices)):
                self._unordered.append(j)
            elif isinstance(dim.param, Categorical):
                order = np.argsort(np.asarray(dim.param.choices, dtype=float), kind="stable")
                self._ordered[j] = (order, np.argsort(order, kind="stable"))
        self._start, self._given = self._start_point_spec()
        self._box_lo, self._box_hi = self._start.copy(), self._start.copy()
        self._n_dirs = 2 ** min(9, d)
        self.n_restarts = 0
        self.n_threads = 0
        self._n_starts = 0
        self._thread: _Flow2 | None = None
        self._proposals: dict[str, _Proposal] = {}
        self._pending: set[str] = set()
        self._results: dict[str, float] = {}  # config key -> latest score (sign * value)
        self._fidelity: dict[int, float] = {}  # trial id -> highest fidelity seen
        self._replaying = False

    # ------------------------------------------------------------------ state, read-only
    @property
    def step(self) -> float | None:
        """The current thread's step, or None between threads."""
        return None if self._thread is None else self._thread.step

    @property
    def step_lower_bound(self) -> float | None:
        """The current thread's step lower bound, or None between threads."""
        return None if self._thread is None else self._thread.step_lb

    @property
    def incumbent(self) -> dict[str, Any] | None:
        """The current thread's incumbent config, or None between threads."""
        return None if self._thread is None else dict(self._thread.config)

    # ------------------------------------------------------------------ coordinates
    def _to_space(self, x: np.ndarray) -> np.ndarray:
        """Searcher coordinates (ordered categoricals by rank) -> the space's unit cube."""
        y = x.copy()
        for j, (order, _) in self._ordered.items():
            n = len(order)
            y[..., j] = (order[_bucket(y[..., j], n)] + 0.5) / n
        return y

    def _to_internal(self, y: np.ndarray) -> np.ndarray:
        x = y.copy()
        for j, (_, rank) in self._ordered.items():
            n = len(rank)
            x[..., j] = (rank[_bucket(x[..., j], n)] + 0.5) / n
        return x

    def _encode(self, config: Mapping[str, Any]) -> np.ndarray:
        return self._to_internal(self.space.encode([config]))[0]

    def _decode(self, x: np.ndarray) -> dict[str, Any]:
        return self.space.decode(self._to_space(x)[None, :])[0]

    def _start_point_spec(self) -> tuple[np.ndarray, np.ndarray]:
        """The start point's coordinates and which columns it gives (`d`-dim each)."""
        import numpy as np

        dims = self.space.dims
        start, given = np.full(len(dims), 0.5), np.zeros(len(dims), dtype=bool)
        if self.low_cost_partial_config is None:
            for j, dim in enumerate(dims):
                if isinstance(dim.param, (Float, Int)):
                    start[j], given[j] = dim.param.to_unit(dim.param.low), True
            return start, given
        column = {dim.name: j for j, dim in enumerate(dims)}
        for name, value in self.low_cost_partial_config.items():
            if name not in column:
                if name in self.space.names:
                    continue  # a Fixed parameter takes no coordinate
                raise ConfigError(name, "low_cost_partial_config names a parameter that is not in the space")
            j = column[name]
            dims[j].param.check(name, value)
            start[j], given[j] = dims[j].param.to_unit(value), True
        return self._to_internal(start), given

    def _step_lower_bound(self, config: Mapping[str, Any]) -> float:
        lb = math.inf
        for dim in self.space.dims:
            p = dim.param
            if isinstance(p, Int) and p.log:
                if dim.name in config and p.high > p.low:
                    span = math.log(p.high + 0.5) - math.log(p.low - 0.5)
                    lb = min(lb, math.log1p(1.0 / config[dim.name]) / span)
            elif isinstance(p, Int) or (isinstance(p, Float) and p.step is not None):
                n = _n_grid(p)
                if n > 1:
                    lb = min(lb, 1.0 / n)
        return _STEP_LB_CONTINUOUS if math.isinf(lb) else lb * math.sqrt(self.space.d)

    # ------------------------------------------------------------------ proposals
    def suggest(self, n: int, pending: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        import numpy as np

        if self.space.d == 0:
            return self.space.decode(np.zeros((n, 0)))
        avoid = {_key(c) for c in pending}
        configs = []
        for _ in range(n):
            config = self._next(avoid)
            key = _key(config)
            avoid.add(key)
            self._pending.add(key)
            configs.append(config)
        return configs

    def _next(self, avoid: set[str]) -> dict[str, Any]:
        for _ in range(_TRIES):
            if self._thread is None:
                config = self._decode(self._start_point())
                key = _key(config)
                if key in self._results or key in self._pending or key in avoid:
                    continue  # FLAML: a start point tried before gives nothing this time
                self._proposals[key] = _Proposal(None)
                return config
            thread = self._thread
            proposal = _Proposal(self.n_threads, thread.step, thread.version)
            move = self._local_move()
            if move is None:
                if thread.converged:
                    self._end_thread()
                continue
            key = _key(move)
            if key in self._results:  # tried: its result is this move's result
                self._learn(move, self._results[key], True, proposal)
                continue
            if key in self._pending or key in avoid:
                continue
            self._proposals[key] = proposal
            self._widen_box(self._encode(move), move)
            return move
        return self.space.sample(self.rng)

    def _start_point(self) -> np.ndarray:
        """The start point; after the first, with Gaussian noise as wide as the explored box."""
        x = self.rng.random(self.space.d)  # the columns the start does not give: at random
        x[self._given] = self._start[self._given]
        if self._n_starts > 0:
            for j in map(int, self._given.nonzero()[0]):
                if j in self._unordered:
                    continue  # FLAML keeps a given unordered choice
                lo, hi = self._box_lo[j], self._box_hi[j]
                noise = self.rng.normal(0.0, (hi - lo) or _BOX_MARGIN)
                x[j] = min(max(x[j] + noise, max(lo - _BOX_MARGIN, 0.0)), min(hi + _BOX_MARGIN, 1.0))
        self._n_starts += 1
        return x

    def _local_move(self) -> dict[str, Any] | None:
        """FLOW2's next move around the incumbent, or None when the thread is stuck."""
        thread = self._thread
        assert thread is not None
        move = thread.next_move(self.rng)
        active = self.space.active_mask([thread.config])[0]
        for j in self._unordered:  # parents come before their children
            if not active[j]:
                continue
            n = self.space.dims[j].n_choices
            here = int(_bucket(thread.x[j], n))
            if n > 1 and int(_bucket(move[j], n)) != here:
                other = int(self.rng.integers(n - 1))
                move[j] = (other + (other >= here) + 0.5) / n
        config = self._decode(move)
        same = config == thread.config
        if not thread.after_proposal(same, self.step_init):
            return None
        if same and not thread.init_phase:
            thread.x, thread.version = move, thread.version + 1
        return config

    def _widen_box(self, x: np.ndarray, config: Mapping[str, Any]) -> None:
        import numpy as np

        mask = self._given & self.space.active_mask([config])[0]
        self._box_lo[mask] = np.minimum(self._box_lo[mask], x[mask])
        self._box_hi[mask] = np.maximum(self._box_hi[mask], x[mask])

    # ------------------------------------------------------------------ results
    def observe(self, observations: Sequence[Observation]) -> None:
        for obs in observations:
            if obs.reason == INTERRUPTED:
                continue
            seen = self._fidelity.get(obs.trial_id)
            if seen is not None and obs.fidelity < seen:
                continue  # a stale, lower-fidelity result of a trial seen higher up
            self._fidelity[obs.trial_id] = obs.fidelity
            key = _key(obs.config)
            if seen is None:
                self._pending.discard(key)
            value = None if obs.status is TrialStatus.FAILED else obs.value
            score = None if value is None else self.sign * value
            if score is not None:
                self._results[key] = score
            self._learn(dict(obs.config), score, seen is None, self._proposals.get(key))
        super().observe(observations)

    def _learn(self, config: dict[str, Any], score: float | None, first: bool, proposal: _Proposal | None) -> None:
        """One result (``first``: the first of its trial) reaches the thread."""
        thread = self._thread
        if thread is None:
            if score is not None and ((proposal is not None and proposal.thread is None) or self._replaying):
                self._new_thread(config, score)
            return
        own = proposal is not None and proposal.thread == self.n_threads
        replayed = self._replaying and proposal is None and first
        if replayed:  # it was proposed around the incumbent, as far as we know
            thread.n_proposed_total += 1
            thread.after_proposal(False, self.step_init)
        if first:
            thread.n_complete_total += 1
        if score is not None and score > thread.score:
            if config == thread.config:
                thread.score = score
            else:
                step = proposal.step if own and proposal is not None else None
                thread.move_to(self._encode(config), config, score, step, self._step_lower_bound(config))
            return
        counts = first and (replayed or (own and proposal is not None and proposal.version == thread.version))
        thread.no_improvement(counts)
        if thread.converged:
            self._end_thread()

    def _new_thread(self, config: dict[str, Any], score: float) -> None:
        d = self.space.d
        step_ub, step_lb = math.sqrt(d), self._step_lower_bound(config)
        step = self.step_init * step_ub
        if step_lb > step:
            step = 2 * step_lb
        x = self._encode(config)
        self._thread = _Flow2(x, config, score, min(step, step_ub), step_ub, step_lb, self._n_dirs)
        self.n_threads += 1
        self._widen_box(x, config)

    def _end_thread(self) -> None:
        self._thread = None
        self.n_restarts += 1
        self._box_lo -= _BOX_MARGIN
        self._box_hi += _BOX_MARGIN

    def replay(self, observations: Sequence[Observation]) -> None:
        import numpy as np

        self._replaying = True
        try:
            super().replay(observations)
        finally:
            self._replaying = False
        if observations:
            self._n_starts = max(self._n_starts, 1)
        self.rng = np.random.default_rng([self.seed or 0, self.n_trials_in(observations)])
