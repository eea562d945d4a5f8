"""Contract test suites and helpers that every plugin's tests reuse.

Subclass a contract and provide its factory fixture; pytest then runs every inherited
test against your implementation (like Optuna's ``optuna.testing.pytest_samplers``)::

    from hpo.testing import SearcherContract

    class TestMySearcher(SearcherContract):
        def make_searcher(self, space, seed):
            return MySearcher(space, seed=seed)

Importing this package needs pytest.
"""

from hpo.testing.executor import ExecutorContract
from hpo.testing.scheduler import SchedulerContract
from hpo.testing.searcher import SearcherContract
from hpo.testing.storage import StorageContract
from hpo.testing.surrogate import FunctionSurrogate, SurrogateContract

__all__ = [
    "SearcherContract",
    "SchedulerContract",
    "ExecutorContract",
    "StorageContract",
    "SurrogateContract",
    "FunctionSurrogate",
]
