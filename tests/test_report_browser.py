"""The ``hpo report`` page in a real headless browser: Debian's Chromium, driven by playwright.

The study is real: an objective that learns epoch by epoch under ASHA (so there are reports,
promotions and paused trials), with a failing config. The page must render every figure
with no console or page error, list one table row per trial, and filter and sort its table.
Served live (``hpo report --serve``), the page reloads itself as the study goes on.

Chromium is Debian's ``/usr/bin/chromium`` (``make browser`` installs it; ``make test``
runs that first): playwright launches it directly and downloads no browser. The test
skips only when no Chromium can be found. ``HPO_SAVE_SCREENSHOT=1`` saves a full-page
screenshot to benchmarks/results/report_screenshot.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import hpo
from hpo.search_spaces import Categorical, Float, Int
from hpo.trial import TrialStatus
from hpo.viz import write_report

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "benchmarks" / "results" / "report_screenshot.png"
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
def test_report_renders_in_chromium(tmp_path):
    executable = _chromium()
    from playwright.sync_api import sync_playwright  # the `test` extra

    study = tmp_path / "browser.db"
    result = learn.run(n_trials=60, executor="inprocess", storage=str(study), seed=0)
    counts = result.counts()
    assert counts.get("FAILED", 0) >= 1 and counts.get("COMPLETED", 0) >= 5 and counts.get("PAUSED", 0) >= 1
    n_failed = counts["FAILED"]
    page_file = write_report(study, tmp_path / "report.html")
    # history (2), parallel coordinates, importance, learning curves, cost front, timeline
    expected_figures = 7

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:")) else errors.append(f"network: {r.url}"))
            page.goto(page_file.as_uri())
            page.wait_for_function(
                "n => document.querySelectorAll('.fig.js-plotly-plot svg.main-svg').length >= n",
                arg=expected_figures,
                timeout=120_000,
            )
            page.wait_for_timeout(500)  # let plotly finish its last frame
            assert page.locator(".fig").count() == expected_figures
            rendered = page.evaluate(
                "Array.from(document.querySelectorAll('.fig'))"
                ".map(d => d.classList.contains('js-plotly-plot') && d.querySelector('svg.main-svg') !== null)"
            )
            assert rendered == [True] * expected_figures
            assert page.locator("#curves .fig path").count() > 0

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

            if os.environ.get("HPO_SAVE_SCREENSHOT") == "1":
                page.click("#hpo-trials th:nth-child(1)")  # back to id order for the picture
                page.screenshot(path=str(SCREENSHOT), full_page=True)
            else:
                page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
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
