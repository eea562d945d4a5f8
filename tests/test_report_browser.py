"""The ``hpo report`` page in a real headless browser: Debian's Chromium, driven by playwright.

* ``make demo``'s report: the demo's two commands, ``python examples/digits_demo.py
  --storage demo_study.db`` (a scikit-learn MLP under model-based ASHA, 2 worker processes)
  and ``hpo report demo_study.db -o demo_report.html``, here with
  :data:`QUICK_DEMO_TRIALS` trials instead of the demo's 60 to keep the test short.
* A study with a failing config: an objective that learns epoch by epoch under ASHA (so
  there are reports, promotions and paused trials), one config of which always fails.

Each page must render every figure with no console or page error and load nothing from
the network, list one table row per trial, and filter and sort its table. Served live
(``hpo report --serve``), the page reloads itself as the study goes on.

Chromium is Debian's ``/usr/bin/chromium`` (``make browser`` installs it; ``make test``
runs that first): playwright launches it directly and downloads no browser. The tests
skip only when no Chromium can be found.

``HPO_SAVE_SCREENSHOT=1`` runs the demo with its own number of trials, exactly as ``make
demo`` does (several minutes), and saves a full-page screenshot of its report to
benchmarks/results/report_screenshot.png, the picture in the README.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import hpo
from hpo.search_spaces import Categorical, Float, Int
from hpo.trial import TrialStatus
from hpo.viz import write_report

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "benchmarks" / "results" / "report_screenshot.png"
DEMO = REPO / "examples" / "digits_demo.py"
#: Trials of the demo run in a plain test run (``make demo`` runs the script's default, 60).
QUICK_DEMO_TRIALS = 10
SECTIONS = ("history", "parallel", "importance", "curves", "pareto", "timeline", "trials")
# As root, and on a machine with no network: no sandbox, no background connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("Debian's chromium is not installed (`make browser` installs it: apt-get install -y chromium)")


def _watch(page) -> list[str]:
    """Console errors, page errors and any request that leaves the file: filled in as the page runs."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:")) else errors.append(f"network: {r.url}"))
    return errors


def _every_figure_renders(page, expected: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('.fig.js-plotly-plot svg.main-svg').length >= n",
        arg=expected,
        timeout=120_000,
    )
    page.wait_for_timeout(500)  # let plotly finish its last frame
    assert page.locator(".fig").count() == expected
    rendered = page.evaluate(
        "Array.from(document.querySelectorAll('.fig'))"
        ".map(d => d.classList.contains('js-plotly-plot') && d.querySelector('svg.main-svg') !== null)"
    )
    assert rendered == [True] * expected
    assert page.locator("#curves .fig path").count() > 0


@contextlib.contextmanager
def _page(executable: str, url: str, expected_figures: int):
    """A Chromium page on ``url`` with every figure rendered, and the list its errors land in."""
    from playwright.sync_api import sync_playwright  # the `test` extra

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = _watch(page)
            page.goto(url)
            _every_figure_renders(page, expected_figures)
            yield page, errors
        finally:
            browser.close()


def _run(cmd: list[str], cwd: Path, timeout: float) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"


def _make_demo(folder: Path, trials: int | None) -> tuple[Path, Path]:
    """``make demo``'s two commands, run in ``folder`` with the same relative file names
    (``trials``: None for the script's own number)."""
    more = [] if trials is None else ["--trials", str(trials)]
    _run([sys.executable, str(DEMO), "--storage", "demo_study.db", *more], folder, timeout=1500)
    _run([sys.executable, "-m", "hpo", "report", "demo_study.db", "-o", "demo_report.html"], folder, timeout=600)
    return folder / "demo_study.db", folder / "demo_report.html"


@pytest.mark.timeout(1800)
def test_make_demo_report_renders_in_chromium(tmp_path):
    executable = _chromium()

    save = os.environ.get("HPO_SAVE_SCREENSHOT") == "1"
    study, page_file = _make_demo(tmp_path, None if save else QUICK_DEMO_TRIALS)
    result = hpo.load_study(study)
    n_trials = len(result.trials)
    assert save or n_trials == QUICK_DEMO_TRIALS
    assert result.counts().get("PAUSED", 0) >= 1  # ASHA paused trials at its rungs
    markup = page_file.read_text(encoding="utf-8")
    assert all(f'<section id="{key}">' in markup for key in SECTIONS) and "This section failed" not in markup
    # history (2), parallel coordinates, importance, learning curves, timeline; the cost
    # front once a trial completed the full budget
    n_figures = markup.count('<div class="fig"')
    assert n_figures == 6 + (result.counts().get("COMPLETED", 0) > 0)

    with _page(executable, page_file.as_uri(), n_figures) as (page, errors):
        assert page.locator("#hpo-trials tbody tr").count() == n_trials
        relu = sum(t.config["activation"] == "relu" for t in result.trials)
        page.fill("#hpo-filter", "relu")
        assert page.locator("#hpo-trials tbody tr:visible").count() == relu
        page.fill("#hpo-filter", "")
        page.click("#hpo-trials th:nth-child(3)")  # val_loss, ascending
        first = page.locator("#hpo-trials tbody tr").first.get_attribute("data-trial")
        assert first == str(min((t for t in result.trials if t.value is not None), key=lambda t: t.value).trial_id)
        page.click("#hpo-trials th:nth-child(1)")  # back to id order
        page.screenshot(path=str(SCREENSHOT if save else tmp_path / "demo_report.png"), full_page=True)
        assert errors == []


@hpo.tune(
    space={
        "lr": Float(1e-3, 1.0, log=True),
        "width": Int(1, 4),
        "act": Categorical(["relu", "tanh"]),
    },
    metric="acc",
    mode="max",
    scheduler="asha",
    searcher="random",
    budget=hpo.Budget(1, 9),
)
def learn(config, budget):
    """A learning curve that saturates at a config-dependent accuracy; one config always fails."""
    if config["width"] == 4 and config["act"] == "tanh":
        raise RuntimeError("diverged (simulated)")
    ceiling = (1.0 - 0.5 * abs(config["lr"] - 0.1)) * (0.9 if config["act"] == "relu" else 0.8)
    acc = 0.0
    for step in range(budget.start, budget.stop):
        acc = ceiling * (1.0 - 0.75 ** (step + 1 + config["width"]))
        hpo.report(acc=acc, step=step)
    return {"acc": acc}


@pytest.mark.timeout(600)
def test_failing_study_report_renders_in_chromium(tmp_path):
    executable = _chromium()

    study = tmp_path / "browser.db"
    result = learn.run(n_trials=60, executor="inprocess", storage=str(study), seed=0)
    counts = result.counts()
    assert counts.get("FAILED", 0) >= 1 and counts.get("COMPLETED", 0) >= 5 and counts.get("PAUSED", 0) >= 1
    n_failed = counts["FAILED"]
    page_file = write_report(study, tmp_path / "report.html")
    # history (2), parallel coordinates, importance, learning curves, cost front, timeline
    expected_figures = 7

    with _page(executable, page_file.as_uri(), expected_figures) as (page, errors):

        table = page.locator("#hpo-trials tbody tr")
        assert table.count() == len(result.trials) == 60
        page.fill("#hpo-filter", "diverged")
        assert page.locator("#hpo-trials tbody tr:visible").count() == n_failed
        assert page.locator("#hpo-shown").inner_text() == f"{n_failed} of 60 trials"
        page.fill("#hpo-filter", "no such text anywhere")
        assert page.locator("#hpo-trials tbody tr:visible").count() == 0
        page.fill("#hpo-filter", "")
        assert page.locator("#hpo-trials tbody tr:visible").count() == 60

        page.click("#hpo-trials th:nth-child(3)")  # value, ascending; trials without one last
        first = page.locator("#hpo-trials tbody tr").first.get_attribute("data-trial")
        lowest = min((t for t in result.trials if t.value is not None), key=lambda t: t.value)
        assert first == str(lowest.trial_id)
        page.click("#hpo-trials th:nth-child(3)")  # descending; still without a value last
        top = page.locator("#hpo-trials tbody tr").first.get_attribute("data-trial")
        assert int(top) == max((t for t in result.trials if t.value is not None), key=lambda t: t.value).trial_id

        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        assert errors == []
    assert any(t.status is TrialStatus.COMPLETED for t in result.trials)


@pytest.mark.timeout(300)
def test_served_page_reloads_while_the_study_runs(tmp_path):
    executable = _chromium()
    import threading

    from playwright.sync_api import sync_playwright

    from hpo.viz._serve import ReportServer

    study = tmp_path / "live.db"
    learn.run(n_trials=3, executor="inprocess", storage=str(study), seed=0)
    server = ReportServer(study, port=0, lcpfn=False, every=0.5)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page()
                errors: list[str] = []
                page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
                page.goto(server.url)
                assert page.locator("#hpo-trials tbody tr").count() == 3
                learn.run(n_trials=8, executor="inprocess", storage=str(study), seed=0)  # the study goes on
                page.wait_for_function("document.querySelectorAll('#hpo-trials tbody tr').length === 8", timeout=60_000)
                assert errors == []
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
