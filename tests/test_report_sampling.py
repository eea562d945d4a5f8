"""The report of a large study: every figure and the table draw a sample past
``hpo.viz._data.MAX_SHOWN`` trials and say so; fANOVA fits a sample past
``hpo.viz._importance.MAX_TRIALS``; the best-so-far line and the Pareto front use every
trial; ``hpo.load_study(reports=False)`` still serves reports. (A 10,000-trial study's
timings: ``benchmarks/scale.py``.) The limits are lowered here so a small study shows it.
"""

from __future__ import annotations

import json
import re

import pytest

import hpo
import hpo.viz._data as viz_data
import hpo.viz._importance as viz_importance
from hpo.search_spaces import Float
from hpo.viz import render_report

N = 40


def figures(page: str) -> list[dict]:
    found = re.search(r'<script type="application/json" id="hpo-figures">(.*?)</script>', page, re.S)
    assert found, "no figure block"
    return json.loads(found.group(1).replace("<\\/", "</"))


def section(page: str, key: str) -> str:
    found = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
    assert found, f"no section {key!r}"
    return found.group(1)


def rows(page: str) -> int:
    return section(page, "trials").count("<tr data-trial=")


def objective(config, budget):
    for step in range(budget.start, budget.stop):
        hpo.report(loss=config["x"] + config["y"] + 1.0 / (step + 1), cost=1.0 + config["y"], step=step)
    return {"loss": config["x"] + config["y"], "cost": 1.0 + config["y"]}


@pytest.fixture(scope="module")
def study_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sampling") / "big.db"
    study = hpo.Study.create(objective, {"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)}, storage=str(path),
                             executor="inprocess", searcher="random", seed=0, budget=hpo.Budget(1, 3))
    try:
        study.optimize(N)
    finally:
        study.close()
    return path


def test_every_figure_and_the_table_draw_a_sample_and_say_so(study_file, monkeypatch):
    monkeypatch.setattr(viz_data, "MAX_SHOWN", 8)
    page = render_report(study_file, lcpfn=False)
    assert rows(page) == 8
    for key in ("history", "parallel", "curves", "timeline", "trials"):
        assert f"{N} trials: 8 are drawn, the best 2 by loss" in section(page, key), key
    by_number = figures(page)[0]["data"]
    markers = [t for t in by_number if t["name"] != "best so far"]
    assert sum(len(t["x"]) for t in markers) == 8
    best_ids = sorted(hpo.load_study(study_file).trials, key=lambda t: t.value)[:2]
    drawn = {int(text.split()[1].rstrip(",")) for t in markers for text in t["text"]}
    assert {t.trial_id for t in best_ids} <= drawn  # the best are always drawn
    line = next(t for t in by_number if t["name"] == "best so far")
    assert line["x"][-1] == N and line["y"] == sorted(line["y"], reverse=True)  # every trial, steps only


def test_the_pareto_front_is_always_drawn_whole(study_file, monkeypatch):
    monkeypatch.setattr(viz_data, "MAX_SHOWN", 4)
    page = render_report(study_file, lcpfn=False)
    front = hpo.load_study(study_file).pareto_front(cost="cost")
    fig = next(f for f in figures(page) if f["layout"]["title"]["text"] == "Cost-performance front")
    everyone = next(t for t in fig["data"] if t["name"] == "completed")
    assert {f"trial {t.trial_id}" for t in front} <= set(everyone["text"])
    assert len(everyone["x"]) == max(4, len(front))


def test_fanova_fits_a_seeded_sample_past_its_limit(study_file, monkeypatch):
    monkeypatch.setattr(viz_importance, "MAX_TRIALS", 12)
    text = section(render_report(study_file, lcpfn=False), "importance")
    assert f"a uniform random sample of 12 of these {N} trials (seed 0)" in text and "could not" not in text


def test_load_study_without_reports_reads_them_when_asked(study_file):
    eager, lazy = hpo.load_study(study_file), hpo.load_study(study_file, reports=False)
    assert [t.trial_id for t in eager.trials] == [t.trial_id for t in lazy.trials]
    for t in eager.trials[:3]:
        assert eager.reports(t.trial_id) == lazy.reports(t.trial_id) and len(eager.reports(t.trial_id)) == 3
