"""RisingBandits: round-robin pulls, DESIGN's bounds, eliminations in the notes, resume."""

import json
import sqlite3
import subprocess
import sys

import pytest

import hpo
from hpo.errors import HPOError
from hpo.schedulers import RisingBandits
from hpo.schedulers.rising_bandits import arm_bounds
from hpo.search_spaces import Categorical, Choice, Float, SearchSpace
from hpo.searchers import BOSearcher, RandomSearcher
from hpo.study import Study
from hpo.testing import SchedulerContract
from hpo.testing._drive import kill_when

SPACE = {"learner": Choice({"a": {"x": Float(0.0, 1.0)}, "b": {"y": Float(0.0, 1.0)}, "c": {"z": Float(0.0, 1.0)}})}


def _rising_arms():
    """An objective whose value depends only on how often its learner was pulled (known curves).

    a: 0.6, 0.7, 0.8, 0.9, 0.9, ...; b: 0.55 always; c: 0.22, 0.24, 0.26, ...
    """
    pulls = {"a": 0, "b": 0, "c": 0}

    def objective(config):
        arm = config["learner"]
        pulls[arm] += 1
        k = pulls[arm]
        return {"a": 0.5 + 0.1 * min(k, 4), "b": 0.55, "c": 0.2 + 0.02 * k}[arm]

    return objective


def test_arm_bounds_formula():
    assert arm_bounds([0.1, 0.2], window=2, remaining=10) is None  # needs C + 1 pulls
    lower, upper = arm_bounds([0.1, 0.2, 0.4], window=2, remaining=1)
    assert lower == 0.4 and upper == pytest.approx(0.4 + (0.4 - 0.1) / 2 * 1)
    assert arm_bounds([0.1, 0.2, 0.4], window=2, remaining=10)[1] == 1.0  # capped at 1


def test_elimination_order_and_timing_match_a_hand_computation():
    """Window C=2, 40 trials, sequential, round-robin a, b, c. By hand, in raw units (the
    decision does not depend on the normalisation, see the class docstring):

    * trials 1-9 are rounds a, b, c; after trial 8, b has 3 pulls: y=0.55, slope 0,
      upper 0.55 < a's lower 0.8 -> b goes (3 pulls, trial 8). After trial 9, c: y=0.26,
      slope (0.26-0.22)/2=0.02, 31 pulls left: upper 0.26+0.62=0.88 >= 0.8 -> stays.
    * trial 10 is a's 4th pull (0.9). The bounds are checked again after every result:
      c still has y=0.26, slope 0.02, now 30 pulls left: upper 0.26+0.60=0.86 < a's new
      lower 0.9 -> c goes (3 pulls, triggered by trial 10). Every later pull is a's.
    """
    space = SearchSpace(SPACE)
    sched = RisingBandits(RandomSearcher(space, seed=0), window=2)
    study = Study.create(_rising_arms(), space, metric="acc", mode="max", scheduler=sched, executor="inprocess", seed=0)
    study.optimize(n_trials=40)
    learners = [t.config["learner"] for t in study.trials]
    assert learners[:10] == ["a", "b", "c"] * 3 + ["a"]
    assert set(learners[10:]) == {"a"}
    gone = sched.eliminations()
    assert list(gone) == ["b", "c"]
    assert (gone["b"]["pulls"], gone["b"]["trial"], gone["b"]["by"]) == (3, 8, "a")
    assert (gone["c"]["pulls"], gone["c"]["trial"], gone["c"]["by"]) == (3, 10, "a")
    # normalised by the range seen: lo 0.22 (c's first), hi 0.8 at trial 8, 0.9 at trial 10
    assert gone["b"]["upper"] == pytest.approx((0.55 - 0.22) / (0.8 - 0.22))
    assert gone["c"]["upper"] == pytest.approx((0.86 - 0.22) / (0.9 - 0.22))
    assert gone["c"]["remaining"] == 30
    # the notes of the trial whose result triggered each elimination hold its record
    notes = {t.trial_id: t.notes["rising_bandits"] for t in study.trials}
    assert [e["arm"] for e in notes[8]["eliminated"]] == ["b"]
    assert [e["arm"] for e in notes[10]["eliminated"]] == ["c"]
    assert all(notes[t.trial_id]["arm"] == t.config["learner"] for t in study.trials)


def test_no_horizon_means_round_robin_without_elimination(caplog):
    space = SearchSpace(SPACE)
    sched = RisingBandits(RandomSearcher(space, seed=0), window=2)
    study = Study.create(_rising_arms(), space, metric="acc", mode="max", scheduler=sched, executor="inprocess", seed=0)
    study.optimize(max_budget=15)  # no trial limit, no timeout
    assert sched.active() == ["a", "b", "c"]
    assert "no horizon" in caplog.text


def test_an_int_horizon_counts_pulls_started():
    space = SearchSpace(SPACE)
    sched = RisingBandits(RandomSearcher(space, seed=0), window=2, horizon=12)
    study = Study.create(_rising_arms(), space, metric="acc", mode="max", scheduler=sched, executor="inprocess", seed=0)
    study.optimize(n_trials=12)
    # after trial 9, c: upper 0.26 + 0.02 * (12 - 9) = 0.32 < 0.8 -> goes at trial 9 (not 11)
    assert sched.eliminations()["c"]["trial"] == 9


def test_time_horizon_divides_seconds_left_by_the_arms_mean_cost():
    class View:
        def remaining(self):
            return None, 100.0

    space = SearchSpace(SPACE)
    sched = RisingBandits(RandomSearcher(space, seed=0), horizon="time")
    arm = sched._by_option["a"]
    arm.costs = [2.0, 6.0]
    assert sched._remaining(View(), arm) == 25.0
    assert RisingBandits(RandomSearcher(space), horizon="auto")._remaining(View(), arm) == 25.0


def test_parallel_pulls_count_pending_and_arms_get_their_own_searchers():
    space = SearchSpace({**SPACE, "scale": Categorical(["std", "none"])})
    bo = BOSearcher(space, seed=3, surrogate="forest", acquisition="ts")
    sched = RisingBandits(bo)
    study = Study.create(lambda c: 0.0, space, metric="acc", mode="max", scheduler=sched, executor="inprocess", seed=3)
    jobs = [sched.next_job(study.view) for _ in range(4)]  # none finishes: all four are running
    assert [j.trial.config["learner"] for j in jobs] == ["a", "b", "c", "a"]
    for option in "abc":
        arm = sched._by_option[option]
        assert isinstance(arm.searcher, BOSearcher) and arm.searcher is not bo
        assert type(arm.searcher.surrogate).__name__ == "RandomForestSurrogate"
        assert arm.searcher.acquisition == "ts"
        assert set(arm.searcher.space.names) == {"scale", {"a": "x", "b": "y", "c": "z"}[option]}
        assert arm.searcher.metric == "acc" and arm.searcher.mode == "max"  # the objective reached every arm
    study.close()


def test_arms_are_judged_only_after_their_searchers_initial_design():
    space = SearchSpace(SPACE)
    bo = RisingBandits(BOSearcher(space, seed=0, n_init=4), window=3)
    assert [bo.judged_after(o) for o in "abc"] == [4 + 3] * 3
    assert RisingBandits(RandomSearcher(space), window=3).judged_after("a") == 4  # no design: C + 1
    assert RisingBandits(BOSearcher(space, n_init=4), window=3, min_pulls=2).judged_after("a") == 4  # at least C + 1
    assert RisingBandits(BOSearcher(space, n_init=4), window=3, min_pulls=12).judged_after("a") == 12
    with pytest.raises(HPOError, match="min_pulls"):
        RisingBandits(RandomSearcher(space), min_pulls=0)


def test_arm_searchers_derive_their_initial_design_from_their_own_space():
    wide = SearchSpace({"learner": Choice({
        "a": {f"a{i}": Float(0.0, 1.0) for i in range(9)},
        "b": {"y": Float(0.0, 1.0)},
    })})
    sched = RisingBandits(BOSearcher(wide, seed=0))  # the template's design: d + 1 = 12 (with the selector)
    assert sched.searcher.n_init == 12
    assert [sched._by_option[o].searcher.n_init for o in "ab"] == [10, 5]  # max(5, d_arm + 1)
    given = RisingBandits(BOSearcher(wide, seed=0, n_init=3))
    assert [given._by_option[o].searcher.n_init for o in "ab"] == [3, 3]  # a user's setting carries over


def test_bad_settings_are_typed_errors_naming_the_culprit():
    flat = SearchSpace({"x": Float(0.0, 1.0)})
    with pytest.raises(HPOError, match="top-level Choice"):
        RisingBandits(RandomSearcher(flat))
    with pytest.raises(HPOError, match="arms='model'"):
        RisingBandits(RandomSearcher(SearchSpace(SPACE)), arms="model")
    with pytest.raises(HPOError, match="window"):
        RisingBandits(RandomSearcher(SearchSpace(SPACE)), window=0)
    with pytest.raises(HPOError, match="horizon"):
        RisingBandits(RandomSearcher(SearchSpace(SPACE)), horizon="forever")
    with pytest.raises(HPOError, match="one objective"):
        Study.create(lambda c: {"a": 1.0, "b": 1.0}, SPACE, metric=("a", "b"), mode=("max", "max"),
                     scheduler="rising_bandits", searcher="random")


def _score(config):
    return {"a": 0.9 - (config.get("x", 0.0) - 0.3) ** 2, "b": 0.5, "c": 0.1}[config["learner"]]


def test_by_name_from_tune_with_two_workers_and_bo_arms():
    @hpo.tune(space=SPACE, metric="acc", mode="max", scheduler="rising_bandits", surrogate="gp")
    def train(config):
        return {"acc": _score(config)}

    study = train.study(executor="inprocess", workers=2, seed=0)
    try:
        result = study.optimize(n_trials=40)  # BO arms are judged after 5 design + 5 pulls
    finally:
        study.close()
    assert isinstance(study.scheduler, RisingBandits)
    assert set(study.scheduler.eliminations()) == {"b", "c"}
    assert result.best_config["learner"] == "a" and result.best_value > 0.89


KILL_SCRIPT = '''
import time
import hpo
from hpo.search_spaces import Choice, Float

@hpo.tune(space={"learner": Choice({"a": {"x": Float(0.0, 1.0)}, "b": {"y": Float(0.0, 1.0)}, "c": {"z": Float(0.0, 1.0)}})},
          metric="acc", mode="max")
def train(config):
    time.sleep(0.1)
    return {"a": 0.9 - (config.get("x", 0.0) - 0.3) ** 2, "b": 0.5, "c": 0.1}[config["learner"]]
'''


def _finished(db):
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = c.execute("SELECT trial_id, config, notes FROM trials WHERE status='COMPLETED' ORDER BY trial_id").fetchall()
        c.close()
    except sqlite3.OperationalError:
        return []
    return rows


def test_kill_and_resume_keeps_eliminations_and_arm_histories(tmp_path):
    (tmp_path / "rb.py").write_text(KILL_SCRIPT)
    db = tmp_path / "rb.db"
    cmd = [sys.executable, "-m", "hpo.cli"]
    driver = subprocess.Popen([*cmd, "run", f"{tmp_path}/rb.py:train", "--trials", "40", "--workers", "2", "--storage",
                               str(db), "--seed", "0", "--no-progress", "--scheduler", "rising_bandits", "--searcher", "random"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # b and c go after 6 pulls each (window 5): by about trial 18
    kill_when(driver, lambda: len(_finished(db)) >= 24, timeout=180)
    before = _finished(db)
    eliminated_before = {e["arm"]: e for _, _, notes in before for e in json.loads(notes).get("rising_bandits", {}).get("eliminated", [])}
    assert set(eliminated_before) == {"b", "c"}
    last_before = max(tid for tid, _, _ in before)

    # rebuilt from storage: the same eliminations, and each arm's pulls
    study = Study.load(str(db))
    try:
        sched = study.scheduler
        assert sched.eliminations() == eliminated_before
        counted = {o: sum(1 for _, cfg, _ in before if json.loads(cfg)["learner"] == o) for o in "abc"}
        assert {o: sched.pulls(o) for o in "abc"} == counted
    finally:
        study.close()

    resume = subprocess.run([*cmd, "resume", str(db), "--no-progress"], capture_output=True, text=True, timeout=300)
    assert resume.returncode == 0, resume.stdout + resume.stderr
    after = [(tid, json.loads(cfg)) for tid, cfg, _ in _finished(db) if tid > last_before]
    assert after and all(cfg["learner"] == "a" for _, cfg in after)  # eliminated arms stay out
    rows = _finished(db)
    assert len(rows) >= 40 - 2  # n_trials reached (interrupted trials are re-queued under new ids)


class TestRisingBanditsContract(SchedulerContract):
    space = SearchSpace({"x": Float(0.0, 1.0), "arm": Choice({"a": {}, "b": {"w": Float(0.0, 1.0)}, "c": {"k": Categorical([1, 2])}})})

    def make_scheduler(self, searcher, budget):
        return RisingBandits(searcher, window=2)


def _arm_score(config):
    return _score(config)


def test_a_rising_bandits_object_resumes_with_its_settings_and_arm_searchers(tmp_path):
    path = tmp_path / "rb.db"
    space = SearchSpace(SPACE)
    sched = RisingBandits(BOSearcher(space, seed=1, acquisition="ucb", n_init=3), window=2, horizon=30)
    study = Study.create(_arm_score, space, metric="acc", mode="max", scheduler=sched, storage=str(path),
                         executor="inprocess", seed=1)
    study.optimize(n_trials=18)
    gone = sched.eliminations()
    study.close()
    again = Study.load(str(path), objective=_arm_score, executor="inprocess")
    try:
        rb = again.scheduler
        assert type(rb) is RisingBandits and (rb.window, rb.horizon) == (2, 30)
        assert rb.eliminations() == gone and gone  # b and c score flat: gone after 3 + 2 pulls each
        arm = rb._by_option["a"].searcher
        assert type(arm) is BOSearcher and (arm.acquisition, arm.n_init) == ("ucb", 3)
        assert arm.n_observed == rb.pulls("a") > 0  # the arm's own history was replayed to it
        again.optimize(n_trials=24)
        assert {t.config["learner"] for t in again.trials[18:]} == {"a"}
    finally:
        again.close()
