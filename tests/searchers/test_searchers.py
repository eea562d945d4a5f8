import numpy as np

from hpo.search_spaces import Float, SearchSpace
from hpo.searchers import RandomSearcher, SobolSearcher, make_searcher
from hpo.testing import SearcherContract


class TestRandomSearcher(SearcherContract):
    def make_searcher(self, space, seed):
        return RandomSearcher(space, seed)


class TestSobolSearcher(SearcherContract):
    def make_searcher(self, space, seed):
        return SobolSearcher(space, seed)


def test_sobol_covers_the_cube_more_evenly_than_random():
    space = SearchSpace({"a": Float(0, 1), "b": Float(0, 1)})

    def worst_gap(configs):
        # largest empty cell in an 8x8 grid count: Sobol fills all 64 cells with 64 points
        cells = {(int(c["a"] * 8), int(c["b"] * 8)) for c in configs}
        return 64 - len(cells)

    sobol = worst_gap(SobolSearcher(space, 0).suggest(64))
    random = np.median([worst_gap(RandomSearcher(space, s).suggest(64)) for s in range(5)])
    assert sobol == 0 and random > 10


def test_make_searcher_by_name():
    space = SearchSpace({"a": Float(0, 1)})
    assert isinstance(make_searcher("sobol", space, 0), SobolSearcher)
