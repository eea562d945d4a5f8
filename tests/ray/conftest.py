"""Ray fixtures: a local Ray instance, and a real 3-node cluster on this machine.

One process can be connected to one Ray cluster at a time, so each fixture disconnects
whatever was connected before it starts its own.
"""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")


def _disconnect() -> None:
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray instance with 2 CPUs (about 2 s to start)."""
    _disconnect()
    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def ray_cluster():
    """``ray.cluster_utils.Cluster`` with 3 nodes, each declaring 1 CPU and 1 GPU (no real GPU)."""
    from ray.cluster_utils import Cluster

    _disconnect()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 1})
    for _ in range(2):
        cluster.add_node(num_cpus=1, num_gpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()
