"""One ``BOSearcher`` fed from an Optuna study's trials: how ``HPOSampler`` suggests.

``HPOSampler`` suggests on two kinds of sub-space of a define-by-run study: the conditional
tree read off the trials (our ``Choice`` encoding) and, where the trials form no tree, each
group of co-occurring parameters. Both go through the same ``BOSearcher`` that ``Study``
uses, so an Optuna study gets the same scrambled-Sobol design, duplicate guard
(``BOSearcher._fresh``), failed-trial imputation and pending points as ours. Before the
sixteenth session the groups called :func:`hpo.searchers.bo.propose` directly after uniform
random starts, without the duplicate guard; on a define-by-run space whose branches hang on
a float (``dbr-threshold``) that ended at a median regret of 0.27 after 60 trials, now 0.0012
(TPE 0.016); on six 8-way categoricals (``dbr-cats``) it did not help (2.0 before, 2.9 after,
TPE 2.28; ``robustness.md``, sixteenth session). The cause there was the GP's warm-started
hyperparameter fit, which stayed where the categoricals explained nothing; with cold restarts
(:class:`hpo.surrogates.gp.GPSurrogate`, ``restart_growth``) all 20 seeds find the best
combination (median regret 2.3e-6; seventeenth session).

A :class:`Feed` keeps the searcher and the trial numbers it has seen; it is rebuilt when its
key (the tree, or the group's names and space) changes, and a rebuilt searcher skips the
design points the trials so far stand for (:meth:`hpo.searchers.bo.BOSearcher.replay`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from hpo.search_spaces import SearchSpace

__all__ = ["Feed", "feed_and_suggest"]


@dataclass
class Feed:
    """A searcher of one sub-space and the trial numbers it has been told about."""

    key: Any
    searcher: Any
    seen: set[int] = field(default_factory=set)


def sub_seed(seed: int | None, key: str) -> int | None:
    """A per-sub-space seed (None stays None), so that two groups do not share one Sobol sequence."""
    return None if seed is None else (seed + zlib.crc32(key.encode())) % 2**32


def feed_and_suggest(
    feeds: dict[str, Feed],
    slot: str,
    key: Any,
    make: Callable[[], Any],
    trials: list[FrozenTrial],
    trial: FrozenTrial,
    to_config: Callable[[Mapping[str, Any]], dict[str, Any] | None],
    observed: Callable[[FrozenTrial], Sequence[float] | None],
    signs: Sequence[float],
    handed_out: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Tell ``feeds[slot]``'s searcher the trials it has not seen, and return its next config.

    Args:
        feeds: The sampler's feeds, by slot (``"tree"``, or one per group); updated in place.
        slot: Which feed.
        key: What the feed's searcher was built for; a different key rebuilds it with ``make()``.
        make: Builds a fresh ``BOSearcher`` (objective set, to be maximized).
        trials: The study's COMPLETE, PRUNED, RUNNING and FAIL trials.
        trial: The trial being sampled (not pending).
        to_config: A trial's params as a config of the searcher's space; None where it has none.
        observed: A trial's values (one per objective) to learn from, or None.
        signs: Per objective, +1 to maximize it, -1 to minimize it.
        handed_out: Per slot, the suggestions its searchers have made so far (updated in
            place; the sampler keeps it across pickling). A new searcher skips that many of
            its design points, as many as earlier searchers of the slot handed out: none for
            a group's first searcher, whose trials so far came from Optuna's independent
            sampler (the first trial of every study, and a branch's first trials), so its
            scrambled-Sobol design stays whole. That matters for categoricals: 8 Sobol
            points give each of 8 categories once per column, and a design that lost its
            first point to a random trial missed a category in some column on about half the
            runs of ``dbr-cats``. None (the tree): skip one design point per trial so far,
            as the tree's trials came from the groups' designs.
    """
    from hpo.trial import Observation, TrialStatus

    feed = feeds.get(slot)
    fresh = feed is None or feed.key != key
    if fresh:
        feed = feeds[slot] = Feed(key, make())
    assert feed is not None
    new = []
    for t in trials:
        if t.number in feed.seen or t.state == TrialState.RUNNING:
            continue
        config, values = to_config(t.params), observed(t)
        if config is not None and values is not None:
            signed = tuple(s * v for s, v in zip(signs, values, strict=True))
            new.append(Observation(t.number, config, TrialStatus.COMPLETED, 1.0, values=signed))
        elif config is not None and t.state == TrialState.FAIL:
            new.append(Observation(t.number, config, TrialStatus.FAILED, 1.0, reason="the Optuna trial failed"))
    if fresh:  # skip the design points earlier searchers stood for, then learn the rest
        skip = len(new) if handed_out is None else min(handed_out.get(slot, 0), len(new))
        feed.searcher.replay(new[:skip])
        feed.searcher.observe(new[skip:])
    else:
        feed.searcher.observe(new)
    feed.seen.update(o.trial_id for o in new)
    running = [to_config(t.params) for t in trials if t.state == TrialState.RUNNING and t.number != trial.number]
    config = feed.searcher.suggest(1, [c for c in running if c is not None])[0]
    if handed_out is not None:
        handed_out[slot] = handed_out.get(slot, 0) + 1
    return config


def group_config(names: list[str]) -> Callable[[Mapping[str, Any]], dict[str, Any] | None]:
    """``to_config`` of a group: the trial's values of ``names``, or None when it lacks one."""

    def to_config(params: Mapping[str, Any]) -> dict[str, Any] | None:
        return {n: params[n] for n in names} if all(n in params for n in names) else None

    return to_config


def space_key(space: SearchSpace) -> tuple[Any, ...]:
    """A group's identity: its parameters and their types and bounds."""
    return tuple((name, repr(param)) for name, param in space.params.items())
