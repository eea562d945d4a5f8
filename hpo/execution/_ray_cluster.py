"""The Ray executor's picture of the cluster: nodes, their resources, and placement.

:class:`Cluster` re-reads ``ray.nodes()`` (at most every 2 s unless forced), keeps what
the executor's actors hold on each node, and answers where a job of some demand fits.
Requests use Ray's resource names (:func:`normalize_resources`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hpo.errors import HPOError

__all__ = ["Cluster", "Node", "Resources", "normalize_resources", "fmt"]

Resources = Mapping[str, float]
_ALIASES = {
    "cpu": "CPU", "cpus": "CPU", "num_cpus": "CPU",
    "gpu": "GPU", "gpus": "GPU", "num_gpus": "GPU",
    "memory": "memory",
}  # fmt: skip
_EPS = 1e-9


def normalize_resources(resources: Mapping[str, Any] | None, culprit: str = "resources") -> dict[str, float]:
    """Check a per-trial resource request and use Ray's names (``CPU``, ``GPU``, custom ones).

    Args:
        resources: e.g. ``{"gpu": 0.5, "cpu": 2}``; None means ``{"cpu": 1}``. Keys not
            given are 0 (``{"gpu": 1}`` asks for no CPU). Other keys are Ray custom resources.
        culprit: Named in errors.

    Raises:
        HPOError: for a non-mapping, a negative or non-numeric amount, or a fractional
            amount above 1 (Ray accepts fractions of one unit only).
    """
    if resources is None:
        return {"CPU": 1.0}
    if not isinstance(resources, Mapping):
        raise HPOError(f"{culprit} must be a dict like {{'gpu': 1, 'cpu': 4}}, got {type(resources).__name__}")
    out: dict[str, float] = {}
    for key, amount in resources.items():
        name = _ALIASES.get(str(key).lower(), str(key))
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount) or amount < 0:
            raise HPOError(f"{culprit}[{key!r}] must be a number >= 0, got {amount!r}")
        if amount > 1 and not float(amount).is_integer():
            raise HPOError(f"{culprit}[{key!r}] = {amount}: amounts above 1 must be whole (Ray splits one unit only)")
        if amount > 0:
            out[name] = out.get(name, 0.0) + float(amount)
    return out


@dataclass
class Node:
    node_id: str
    ip: str
    total: dict[str, float]
    used: dict[str, float] = field(default_factory=dict)

    def free(self, name: str) -> float:
        return self.total.get(name, 0.0) - self.used.get(name, 0.0)

    def fits(self, demand: Resources) -> bool:
        return all(self.free(k) >= v - _EPS for k, v in demand.items())

    def holds(self, demand: Resources) -> bool:
        """Whether the node's total resources could hold ``demand`` at all."""
        return all(self.total.get(k, 0.0) >= v - _EPS for k, v in demand.items())

    def take(self, demand: Resources, sign: float = 1.0) -> None:
        for k, v in demand.items():
            self.used[k] = self.used.get(k, 0.0) + sign * v



class Cluster:
    """The live nodes (dead ones are left out until Ray forgets them) and what they hold."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.dead: set[str] = set()
        self._read_at = -math.inf

    def refresh(self, force: bool = False) -> None:
        """Re-read the cluster's nodes (at most every 2 s unless forced)."""
        import ray

        now = time.monotonic()
        if not force and now - self._read_at < 2.0:
            return
        self._read_at = now
        alive: dict[str, Node] = {}
        for info in ray.nodes():
            node_id = info["NodeID"]
            if not info.get("Alive") or node_id in self.dead:
                continue
            node = self.nodes.get(node_id)
            total = {k: float(v) for k, v in info.get("Resources", {}).items() if not k.startswith("node:")}
            if node is None:
                node = Node(node_id, info.get("NodeManagerAddress", "?"), total)
            node.total = total
            alive[node_id] = node
        self.nodes = alive

    def could_hold(self, demand: Resources) -> bool:
        """Whether some node's total resources could hold ``demand`` (free or not)."""
        return any(n.holds(demand) for n in self.nodes.values())

    def describe(self) -> str:
        """Every node's total resources, for error messages."""
        return "; ".join(f"{n.ip}: {fmt(n.total)}" for n in self.nodes.values()) or "no node"

    def place(self, demand: Resources) -> Node | None:
        """The node with the most room left after the job (spreads jobs), or None."""
        best, best_room = None, -math.inf
        for node in self.nodes.values():
            if not node.fits(demand):
                continue
            room = min((node.free(k) - v) / max(node.total.get(k, 0.0), _EPS) for k, v in demand.items()) if demand else 0.0
            if room > best_room:
                best, best_room = node, room
        return best

    def fits(self, demand: Resources, slots: float) -> int:
        """How many more jobs of ``demand`` the nodes' free resources hold (at most ``slots``)."""
        if not demand:
            return int(min(slots, 1_000_000))
        count = 0
        for node in self.nodes.values():
            free = {k: node.free(k) for k in demand}
            while all(free[k] >= v - _EPS for k, v in demand.items()):
                count += 1
                free = {k: free[k] - v for k, v in demand.items()}
                if count >= slots:
                    return int(slots)
        return int(min(count, slots))


def fmt(resources: Mapping[str, float]) -> str:
    """``CPU=1, GPU=0.5`` (or ``nothing``)."""
    return ", ".join(f"{k}={v:g}" for k, v in sorted(resources.items())) or "nothing"
