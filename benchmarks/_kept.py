"""Training states kept in memory between segments: the live tasks' in-process checkpoints.

A live multi-fidelity task (:mod:`benchmarks.digits`, :mod:`benchmarks.schedule_task`,
:mod:`benchmarks.trees_task`) keeps each unfinished config's model after its last segment,
so a promoted trial continues where it stopped. A segment that does not start where the
kept state ends starts from a fresh state (a trial without a checkpoint retrains), and a
state that reached the full budget is dropped (nothing will resume it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["KeptStates"]


class KeptStates:
    """Per-config states (dicts with an ``"epoch"``: the epochs they hold), for ``epochs`` in all."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self._states: dict[tuple[Any, ...], dict[str, Any]] = {}

    @staticmethod
    def key(config: Mapping[str, Any]) -> tuple[Any, ...]:
        """A hashable key of a config."""
        return tuple(sorted((k, str(v)) for k, v in config.items()))

    def get(self, config: Mapping[str, Any]) -> dict[str, Any] | None:
        """The state kept for ``config``, if any."""
        return self._states.get(self.key(config))

    def resume(self, config: Mapping[str, Any], start: int, fresh: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The kept state if it ends at ``start``, else ``fresh()`` (whose ``"epoch"`` is 0)."""
        state = self.get(config)
        return state if state is not None and state["epoch"] == start else fresh()

    def keep(self, config: Mapping[str, Any], state: dict[str, Any], stop: int) -> None:
        """Record that ``state`` now holds ``stop`` epochs: kept if unfinished, dropped if finished."""
        state["epoch"] = stop
        key = self.key(config)
        if stop >= self.epochs:
            self._states.pop(key, None)
        else:
            self._states[key] = state
