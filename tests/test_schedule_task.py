"""The live cosine-schedule task of the multi-fidelity suite (``benchmarks/schedule_task.py``)."""

from __future__ import annotations

import itertools
import math

import pytest

pytest.importorskip("sklearn")

from benchmarks.multifidelity import make_task, run_one  # noqa: E402
from benchmarks.schedule_task import EPOCHS, DigitsCosine, learning_rate  # noqa: E402

CONFIG = {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "hidden_units": 32, "layers": 1, "dropout": 0.1,
          "batch_size": 64, "warmup": 2}


def test_the_schedule_warms_up_then_decays_to_zero_at_the_full_budget():
    assert learning_rate(0.3, 0, 2) == pytest.approx(0.1)  # 1/3 of the way up
    assert learning_rate(0.3, 1, 2) == pytest.approx(0.2)
    assert learning_rate(0.3, 2, 2) == pytest.approx(0.3)  # the peak, right after warm-up
    rates = [learning_rate(0.3, e, 2) for e in range(2, EPOCHS)]
    assert all(a > b for a, b in itertools.pairwise(rates))  # strictly decaying after the peak
    assert learning_rate(0.3, EPOCHS, 2) == pytest.approx(0.0, abs=1e-12)
    half = 2 + (EPOCHS - 2) / 2
    assert learning_rate(0.3, int(half), 2) == pytest.approx(0.3 * 0.5 * (1 + math.cos(math.pi * (int(half) - 2) / (EPOCHS - 2))))
    assert learning_rate(0.3, 0, 0) == pytest.approx(0.3)  # no warm-up


def test_a_promoted_config_resumes_where_it_stopped_and_learns():
    task = DigitsCosine()
    first, t_first = task.segment(CONFIG, 0, 3)
    second, t_second = task.segment(CONFIG, 3, 6)
    whole, _ = DigitsCosine().segment(CONFIG, 0, 6)
    assert first + second == whole  # the kept model and optimizer continue; the schedule is the same
    assert t_second[0] > t_first[-1]
    assert all(0.0 <= a <= 100.0 for a in whole) and whole[-1] > 80.0


def test_without_its_state_a_config_retrains_from_scratch():
    task = DigitsCosine()
    task.segment(CONFIG, 0, 4)
    again, _ = task.segment(CONFIG, 0, 2)
    assert again == DigitsCosine().segment(CONFIG, 0, 2)[0]


def test_a_diverging_learning_rate_reports_a_valid_accuracy():
    wild = dict(CONFIG, lr=1.0, momentum=0.99, warmup=0, weight_decay=1e-6)
    acc, _ = DigitsCosine().segment(wild, 0, 3)
    assert len(acc) == 3 and all(0.0 <= a <= 100.0 for a in acc)


def test_the_task_runs_under_the_suite_by_name():
    task = make_task("digits-cosine")
    assert isinstance(task, DigitsCosine) and set(task.space()) == set(CONFIG)
    r = run_one("digits-cosine", "hpo-asha", 0, 40, workers=2)
    assert len(r["values"]) == 40 and max(r["values"]) > 50.0


def test_the_step_schedule_drops_tenfold_at_half_and_three_quarters():
    rates = [learning_rate(0.3, e, 2, schedule="step") for e in range(EPOCHS)]
    assert rates[:3] == pytest.approx([0.1, 0.2, 0.3])  # the same warm-up
    assert rates[EPOCHS // 2 - 1] == pytest.approx(0.3) and rates[EPOCHS // 2] == pytest.approx(0.03)
    assert rates[3 * EPOCHS // 4 - 1] == pytest.approx(0.03) and rates[3 * EPOCHS // 4] == pytest.approx(0.003)
    assert rates[-1] == pytest.approx(0.003)
    with pytest.raises(ValueError, match="schedule"):
        learning_rate(0.3, 5, 0, schedule="linear")
    with pytest.raises(ValueError, match="schedule"):
        DigitsCosine("exponential")


def test_the_step_task_trains_with_its_own_schedule():
    cosine, _ = DigitsCosine("cosine").segment(CONFIG, 0, EPOCHS // 2 + 1)
    step = make_task("digits-step")
    assert step.task == "digits-step"
    stepped, _ = step.segment(CONFIG, 0, EPOCHS // 2 + 1)
    # identical until the first epoch whose rate differs (the step keeps the peak, the cosine decays)
    assert stepped[0] == cosine[0] and stepped != cosine
