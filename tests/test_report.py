"""``hpo report`` / :mod:`hpo.viz`: the HTML page's sections for every kind of study, the CLI,
and the live server (the page in a real browser: tests/test_report_browser.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

import hpo
from hpo.cli import main
from hpo.errors import HPOError, SettingError
from hpo.search_spaces import Categorical, Choice, Float, Int
from hpo.viz import render_report, write_report

SECTIONS = ("history", "parallel", "importance", "curves", "pareto", "timeline", "trials")


def figures(page: str) -> list[dict]:
    found = re.search(r'<script type="application/json" id="hpo-figures">(.*?)</script>', page, re.S)
    assert found, "no figure block"
    return json.loads(found.group(1).replace("<\\/", "</"))


def titles(page: str) -> list[str]:
    return [f["layout"]["title"]["text"] for f in figures(page)]


def section(page: str, key: str) -> str:
    found = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
    assert found, f"no section {key!r}"
    return found.group(1)


def rows(page: str) -> int:
    return section(page, "trials").count("<tr data-trial=")


def quadratic(config, budget):
    loss = (config["x"] - 0.3) ** 2 + 0.1 * config["n"] + (0.05 if config["c"] == "b" else 0.0)
    for step in range(budget.start, budget.stop):
        hpo.report(loss=loss + 1.0 / (step + 1), step=step)
    return {"loss": loss}


SPACE = {"x": Float(1e-3, 1.0, log=True), "n": Int(1, 4), "c": Categorical(["a", "b", "</script><b>x"])}


def _run(path, objective, space, n, **settings):
    study = hpo.Study.create(objective, space, storage=str(path), executor="inprocess", searcher="random",
                             seed=0, **settings)
    try:
        if n:
            study.optimize(n)
    finally:
        study.close()
    return path


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("single") / "single.db", quadratic, SPACE, 12, budget=hpo.Budget(1, 4))


def test_single_objective_study_has_every_section_and_figure(single):
    page = render_report(single, lcpfn=False)
    assert page.startswith("<!DOCTYPE html>") and page.count("<script>") == 2  # plotly.js inlined once, + ours
    assert "cdn." not in page.split("<script>")[0]  # nothing loaded from the network
    for key in SECTIONS:
        section(page, key)
    assert titles(page) == ["Value by trial number", "Value by time", "Configs by value",
                            "Parameter importance (fANOVA)", "Learning curves", "Cost-performance front",
                            "Trials per worker"]
    assert rows(page) == 12
    assert "fANOVA" in section(page, "importance") and "This section failed" not in page
    assert "LC-PFN bands are off" in section(page, "curves")
    assert "held-out" not in page.lower()  # no re-evaluation in this study
    # the history follows the mode: the best-so-far line never rises for a loss
    best = next(t for t in figures(page)[0]["data"] if t["name"] == "best so far")["y"]
    assert best == sorted(best, reverse=True)


def test_study_values_are_escaped(single):
    page = render_report(single, lcpfn=False)
    assert "</script><b>x" not in page  # neither in the table nor in the figures' JSON
    assert "&lt;/script&gt;&lt;b&gt;x" in section(page, "trials")
    parcoords = figures(page)[2]["data"][0]
    assert "</script><b>x" in [d for d in parcoords["dimensions"] if d["label"] == "c"][0]["ticktext"]


def test_categoricals_and_log_params_on_the_parallel_axes(single):
    dims = {d["label"]: d for d in figures(render_report(single, lcpfn=False))[2]["data"][0]["dimensions"]}
    assert dims["c"]["tickvals"] == [0, 1, 2] and dims["c"]["ticktext"][:2] == ["a", "b"]
    assert "x (log)" in dims and dims["x (log)"]["range"] == pytest.approx([-3.0, 0.0])
    assert set(dims["c"]["values"]) <= {0, 1, 2} and "inactive" not in dims["n"]["ticktext"]


def test_conditional_parameters_are_drawn_inactive(tmp_path):
    space = {"lr": Float(0.0, 1.0), "model": Choice({"svm": {"C": Float(1e-3, 1e3, log=True)}, "rf": {"depth": Int(1, 9)}})}

    def objective(config):
        return (config["lr"] - 0.5) ** 2 + (config.get("depth", 5) / 10 if config["model"] == "rf" else 0.2)

    page = render_report(_run(tmp_path / "cond.db", objective, space, 14), lcpfn=False)
    dims = {d["label"]: d for d in figures(page)[titles(page).index("Configs by value")]["data"][0]["dimensions"]}
    assert sorted(dims["model"]["ticktext"]) == ["rf", "svm"]
    for name in ("C (log)", "depth"):  # each is missing where the other option was chosen
        assert dims[name]["ticktext"][0] == "inactive"
        assert dims[name]["values"].count(dims[name]["tickvals"][0]) >= 1
    assert "separate 'inactive' tick" in section(page, "parallel")
    importance = section(page, "importance")
    assert "only the parameters present in every COMPLETED trial" in importance and "C, depth" in importance
    assert "Parameter importance (fANOVA)" in titles(page)


def test_multi_objective_study_shows_its_pareto_front(tmp_path):
    def objective(config):
        return {"f1": config["x"], "f2": 1.0 - config["x"] ** 0.5 + config["y"]}

    path = _run(tmp_path / "mo.db", objective, {"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)}, 12,
                metric=("f1", "f2"), mode=("min", "min"))
    page = render_report(path, lcpfn=False)
    assert "Pareto front" in titles(page)
    front = next(t for t in figures(page)[titles(page).index("Pareto front")]["data"] if t["name"] == "Pareto front")
    assert len(front["x"]) == len(hpo.load_study(path).pareto_front())
    assert "shows the first" in section(page, "history")
    assert ">f1</th><th>f2</th>" in section(page, "trials")


def test_failed_trials_are_marked_and_listed(tmp_path):
    def objective(config, budget):
        if config["n"] == 4:
            raise RuntimeError("out of memory (simulated)")
        return quadratic(config, budget)

    path = _run(tmp_path / "failing.db", objective, SPACE, 14, budget=hpo.Budget(1, 3))
    result = hpo.load_study(path)
    n_failed = result.counts().get("FAILED", 0)
    assert n_failed >= 1
    page = render_report(path, lcpfn=False)
    timeline = figures(page)[titles(page).index("Trials per worker")]["data"]
    assert len(next(t for t in timeline if t["name"] == "failure")["x"]) == n_failed
    assert section(page, "trials").count("out of memory (simulated)") == n_failed
    assert rows(page) == 14


def test_empty_study_says_what_is_missing(tmp_path):
    path = _run(tmp_path / "empty.db", quadratic, SPACE, 0)
    page = render_report(path, lcpfn=False)
    assert figures(page) == [] and rows(page) == 0
    assert "No trial has a value yet" in section(page, "history")
    assert "Not enough trials" in section(page, "importance")
    assert "No trial has reported" in section(page, "curves")
    assert "Does not apply" in section(page, "pareto")
    assert "No trial has started yet" in section(page, "timeline")


def test_lcpfn_bands_for_trials_short_of_the_full_budget(tmp_path):
    def accuracy(config, budget):
        for step in range(budget.start, budget.stop):
            hpo.report(acc=(1 - config["x"]) * (1 - 0.7 ** (step + 1)), step=step)
        return {"acc": (1 - config["x"]) * (1 - 0.7 ** budget.stop)}

    path = _run(tmp_path / "asha.db", accuracy, {"x": Float(0.0, 1.0)}, 20, metric="acc", mode="max",
                scheduler="asha", budget=hpo.Budget(1, 9))
    page = render_report(path)  # the shipped LC-PFN weights
    curves = figures(page)[titles(page).index("Learning curves")]["data"]
    bands = [t for t in curves if t.get("fill") == "toself"]
    assert 1 <= len(bands) <= 20
    assert all(len(b["x"]) == len(b["y"]) for b in bands)
    assert "5-95% predictive band" in section(page, "curves") and "[0, 1]" in section(page, "curves")
    top = next(t for t in curves if t["name"].startswith("reached budget"))
    assert top["name"] == "reached budget 9"


def test_no_band_for_a_metric_without_a_known_range(tmp_path):
    def score(config, budget):
        for step in range(budget.start, budget.stop):
            hpo.report(score=-50.0 + 10 * config["x"] * step, step=step)
        return {"score": -50.0 + 10 * config["x"] * budget.stop}

    path = _run(tmp_path / "range.db", score, {"x": Float(0.0, 1.0)}, 12, metric="score", mode="max",
                scheduler="asha", budget=hpo.Budget(1, 9))
    class Unused:
        def predict_quantiles(self, *args, **kwargs):
            raise AssertionError("no band should be attempted")

    page = render_report(path, lcpfn=Unused())
    assert "has no known range" in section(page, "curves") and "This section failed" not in page


def test_a_loss_band_maps_from_0_to_the_median_first_value_and_clips_a_diverging_curve(tmp_path):
    def loss(config, budget):
        value = 0.0
        for step in range(budget.start, budget.stop):
            value = 50.0 * step if config["x"] > 0.9 else 0.2 + 2.0 * 0.6 ** (step * config["x"])
            hpo.report(loss=value, step=step)
        return {"loss": value}

    path = _run(tmp_path / "loss.db", loss, {"x": Float(0.0, 1.0)}, 20, metric="loss", mode="min",
                scheduler="asha", budget=hpo.Budget(1, 9))  # fmt: skip

    class Record:
        def predict_quantiles(self, x, y, xq, qs, maximize, y_range):
            self.y, self.y_range, self.maximize = y, y_range, maximize
            return [np.tile(np.array(qs), (len(q), 1)) for q in xq]

    model = Record()
    page = render_report(path, lcpfn=model)
    assert model.y_range[0] == 0.0 and 1.0 < model.y_range[1] <= 2.2 and not model.maximize
    assert all(model.y_range[0] <= v <= model.y_range[1] for c in model.y for v in c)
    assert "median first value" in section(page, "curves")


def test_a_result_in_memory_and_a_study_object(tmp_path):
    f = hpo.tune(space=SPACE, metric="loss", searcher="random", budget=hpo.Budget(1, 2))(quadratic)
    result = f.run(n_trials=6, executor="inprocess", seed=0)
    page = render_report(result, title="in memory", lcpfn=False)
    assert "<title>in memory</title>" in page and rows(page) == 6
    with pytest.raises(HPOError, match="out_path"):
        write_report(result)
    study = hpo.Study.create(quadratic, SPACE, storage=str(tmp_path / "obj.db"), executor="inprocess",
                             searcher="random", budget=hpo.Budget(1, 2), seed=0)
    try:
        study.optimize(5)
        out = write_report(study, lcpfn=False)
    finally:
        study.close()
    assert out == tmp_path / "obj_report.html" and rows(out.read_text()) == 5
    with pytest.raises(HPOError, match="cannot report on a int"):
        render_report(3)


def test_held_out_seeds_section_when_the_result_has_one(single):
    class Row:
        trial_id, config, mean, sd, values = 3, {"x": 0.5}, 0.25, 0.01, [0.24, 0.26]

    class Reevaluation:
        seeds, rows = [11, 12], [Row()]

    result = hpo.load_study(single)
    result.reevaluation = lambda: Reevaluation()  # what StudyResult.reevaluation() returns
    page = render_report(result, lcpfn=False)
    held = section(page, "heldout")
    assert "0.25 &plusmn; 0.01" in held and "11, 12" in held


def test_cli_writes_the_report_next_to_the_study(single, capsys):
    assert main(["report", str(single), "--no-lcpfn"]) == 0
    out = single.with_name("single_report.html")
    assert f"wrote {out}" in capsys.readouterr().out and rows(out.read_text()) == 12
    other = single.with_name("other.html")
    assert main(["report", str(single), "-o", str(other), "--no-lcpfn", "--title", "T"]) == 0
    assert "<h1>T</h1>" in other.read_text()


def test_cli_errors_are_typed_and_exit_non_zero(single, tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing.db")]) == 2
    assert "no study database" in capsys.readouterr().err
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a sqlite file" * 100)
    assert main(["report", str(junk)]) == 2
    assert "error" in capsys.readouterr().err
    assert main(["report", str(junk), "--serve", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "loopback" in err and "0.0.0.0" in err
    assert main(["report", str(single), "--no-lcpfn", "-o", str(tmp_path / "missing" / "r.html")]) == 2
    assert "cannot write the report" in capsys.readouterr().err
    assert main(["report", str(single), "--port", "9000"]) == 2
    assert "--serve" in capsys.readouterr().err


def test_loopback_hosts_only():
    from hpo.viz._serve import loopback_host

    assert loopback_host("localhost") == "127.0.0.1" and loopback_host("127.0.0.1") == "127.0.0.1"
    assert loopback_host("::1") == "::1"
    for host in ("0.0.0.0", "192.168.1.4", "example.org", "", "::"):
        with pytest.raises(SettingError, match="loopback"):
            loopback_host(host)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_served_page_follows_the_study(tmp_path):
    from hpo.viz._serve import ReportServer

    path = _run(tmp_path / "live.db", quadratic, SPACE, 3, budget=hpo.Budget(1, 2))
    server = ReportServer(path, port=0, lcpfn=False, every=1.0)
    assert server.server_address[0] == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        status, page = _get(server.url)
        assert status == 200 and rows(page) == 3 and 'id="hpo-live"' in page and "http-equiv=\"refresh\"" in page
        stamp = _get(server.url + "stamp")[1]
        assert stamp in page and _get(server.url + "stamp")[1] == stamp  # reading changes nothing
        assert _get(server.url)[1] == page  # unchanged study: the same rendering
        study = hpo.Study.load(str(path), quadratic, executor="inprocess")
        try:
            study.optimize(5)
        finally:
            study.close()
        assert _get(server.url + "stamp")[1] != stamp
        assert rows(_get(server.url)[1]) == 5
        assert _get(server.url + "nothing")[0] == 404
    finally:
        server.shutdown()
        server.server_close()
    assert write_report(path, tmp_path / "static.html", lcpfn=False).read_text().count('id="hpo-live"') == 0


def test_cli_serve_prints_its_loopback_url(single, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "hpo", "report", str(single), "--serve", "--port", "0", "--no-lcpfn"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, f"no URL in {line!r}"
        status, page = _get(url.group(0))
        assert status == 200 and rows(page) == 12
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_importing_hpo_viz_loads_nothing_heavy():
    code = (
        "import json, sys; import hpo.viz, hpo.viz._cli, hpo.cli; "
        "print(json.dumps([m for m in ('torch', 'optuna', 'plotly', 'numpy', 'ray') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout) == []


def test_importance_falls_back_to_the_largest_budget_enough_trials_reached(tmp_path):
    def loss_only_x_matters(config, budget):
        for step in range(budget.start, budget.stop):
            hpo.report(loss=(config["x"] - 0.3) ** 2 + 0.01 / (step + 1), step=step)
        return {"loss": (config["x"] - 0.3) ** 2}

    path = _run(tmp_path / "asha.db", loss_only_x_matters, SPACE, 30, budget=hpo.Budget(1, 27), scheduler="asha")
    result = hpo.load_study(path)
    assert result.counts().get("COMPLETED", 0) < 5  # ASHA: few trials reach the full budget
    page = render_report(path, lcpfn=False)
    importance = section(page, "importance")
    assert "largest budget" in importance and "Not enough trials" not in importance
    fig = figures(page)[titles(page).index("Parameter importance (fANOVA)")]
    shares = dict(zip(fig["data"][0]["y"], fig["data"][0]["x"], strict=True))
    assert max(shares, key=shares.get) == "x"  # the only parameter the loss depends on


def test_numpy_fanova_recovers_known_main_effects():
    """y = x0 + x1 / 2 on the uniform cube: main effects 1/12 and 1/48, shares 0.8 and 0.2, no interaction."""
    import doctest

    import numpy as np

    import hpo.viz._fanova as viz_fanova

    x_unit = np.random.default_rng(0).random((300, 3))
    found = viz_fanova.fanova(x_unit, x_unit[:, 0] + 0.5 * x_unit[:, 1], np.random.default_rng(0))
    assert found.n_trees == viz_fanova.N_TREES
    assert found.fractions / found.fractions.sum() == pytest.approx([0.8, 0.2, 0.0], abs=0.04)
    assert found.fractions.sum() > 0.95  # an additive function: the main effects explain nearly all
    flat = viz_fanova.fanova(x_unit, np.ones(300), np.random.default_rng(0))
    assert flat.n_trees == 0 and not flat.fractions.any()
    assert doctest.testmod(viz_fanova).failed == 0


def test_a_report_imports_neither_optuna_nor_scikit_learn_nor_plotly(single):
    """What keeps ``hpo report`` of a 10,000-trial study under 2 s (benchmarks/results/scale.md)."""
    code = (
        "import json, sys; from hpo.viz import render_report; page = render_report(sys.argv[1], lcpfn=False); "
        "assert 'Parameter importance (fANOVA)' in page; "
        "print(json.dumps([m for m in ('optuna', 'sklearn', 'scipy', 'plotly', 'pandas', 'torch') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(single)], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout) == []
