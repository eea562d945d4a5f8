"""One ``BOSearcher`` fed from an Optuna study's trials: how ``HPOSampler`` suggests with one objective.

``HPOSampler`` suggests on two kinds of sub-space of a define-by-run study: the conditional
tree read off the trials (our ``Choice`` encoding) and, where the trials form no tree, each
group of co-occurring parameters. Both go through the same ``BOSearcher`` that ``Study``
uses, so an Optuna study gets the same scrambled-Sobol design, duplicate guard
(``BOSearcher._fresh``), failed-trial imputation and pending points as ours. Before the
sixteenth session the groups called :func:`hpo.searchers.bo.propose` directly on uniform
random starts, without the duplicate guard: on six 8-way categoricals plus a float it
repeated the same categorical combination in up to 39 of 60 trials (median best 3.0 over
5 seeds against 1.0 through ``BOSearcher``; ``robustness.md``, sixteenth session).

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
    """
    from hpo.trial import Observation, TrialStatus

    feed = feeds.get(slot)
    if feed is None or feed.key != key:
        feed = feeds[slot] = Feed(key, make())
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
    (feed.searcher.replay if not feed.seen else feed.searcher.observe)(new)
    feed.seen.update(o.trial_id for o in new)
    running = [to_config(t.params) for t in trials if t.state == TrialState.RUNNING and t.number != trial.number]
    return feed.searcher.suggest(1, [c for c in running if c is not None])[0]


def group_config(names: list[str]) -> Callable[[Mapping[str, Any]], dict[str, Any] | None]:
    """``to_config`` of a group: the trial's values of ``names``, or None when it lacks one."""

    def to_config(params: Mapping[str, Any]) -> dict[str, Any] | None:
        return {n: params[n] for n in names} if all(n in params for n in names) else None

    return to_config


def space_key(space: SearchSpace) -> tuple[Any, ...]:
    """A group's identity: its parameters and their types and bounds."""
    return tuple((name, repr(param)) for name, param in space.params.items())
