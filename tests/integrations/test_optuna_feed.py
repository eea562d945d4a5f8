"""``HPOSampler``'s feeds: which trials a new ``BOSearcher`` replays (skipping its design) and which it only observes."""

from __future__ import annotations

import pickle

import pytest

optuna = pytest.importorskip("optuna")

from hpo.integrations._optuna_feed import feed_and_suggest, group_config  # noqa: E402
from hpo.integrations.optuna import HPOSampler  # noqa: E402


class Recording:
    """A stand-in searcher that records what it is told (isolates the feeding)."""

    def __init__(self) -> None:
        self.replayed: list[int] = []
        self.observed: list[int] = []
        self.asked = 0

    def replay(self, observations):
        self.replayed += [o.trial_id for o in observations]

    def observe(self, observations):
        self.observed += [o.trial_id for o in observations]

    def suggest(self, n, pending=()):
        self.asked += 1
        return [{"x": 0.5}]


def finished_study(n: int):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=n)
    return study


def feed(feeds, handed, study, key="k"):
    trials = study.get_trials(deepcopy=False)
    made = []

    def make():
        made.append(Recording())
        return made[-1]

    feed_and_suggest(feeds, "group x", key, make, trials, trials[-1], group_config(["x"]),
                     lambda t: (t.value,), [-1.0], handed)  # fmt: skip
    return made[0] if made else feeds["group x"].searcher


def test_a_groups_first_searcher_keeps_its_whole_design_and_a_rebuilt_one_skips_what_was_handed_out():
    study = finished_study(3)  # trials from another sampler (Optuna's independent one)
    feeds, handed = {}, {}
    first = feed(feeds, handed, study)
    assert first.replayed == [] and first.observed == [0, 1, 2] and handed == {"group x": 1}
    feed(feeds, handed, study)  # the same searcher: nothing new to tell
    assert first.observed == [0, 1, 2] and first.asked == 2 and handed == {"group x": 2}
    rebuilt = feed(feeds, handed, study, key="changed")  # e.g. the group's space changed
    assert rebuilt.replayed == [0, 1] and rebuilt.observed == [2]  # two design points already handed out
    tree = {}
    feed_and_suggest(tree, "tree", "t", Recording, study.get_trials(deepcopy=False), study.trials[-1],
                     group_config(["x"]), lambda t: (t.value,), [-1.0])  # fmt: skip
    assert tree["tree"].searcher.replayed == [0, 1, 2]  # the tree: one design point per trial so far


def test_the_handed_out_counts_survive_pickling_and_the_design_is_not_restarted():
    sampler = HPOSampler(seed=0, n_startup_trials=5)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: (t.suggest_float("x", -2, 2) - 1) ** 2 + t.suggest_float("y", -2, 2) ** 2, n_trials=4)
    assert sampler._handed_out == {"group x,y": 3}  # trial 0 came from the independent sampler
    restored = pickle.loads(pickle.dumps(sampler))
    assert not restored._feeds and restored._handed_out == {"group x,y": 3}
    study.sampler = restored
    study.optimize(lambda t: (t.suggest_float("x", -2, 2) - 1) ** 2 + t.suggest_float("y", -2, 2) ** 2, n_trials=1)
    searcher = restored._feeds["group x,y"].searcher
    assert searcher._n_suggested == 3 + 1  # skipped the 3 design points handed out before, then one more
