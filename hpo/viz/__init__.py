"""A study as one self-contained HTML page: ``hpo report STUDY.db``.

    from hpo.viz import write_report

    write_report("study.db", "report.html")   # plotly.js inlined: opens offline, anywhere

The page has, in order: the history of values (by trial number, and by time or cost),
parallel coordinates of the configs, parameter importance (fANOVA), learning curves with
LC-PFN predictive bands, the Pareto front, a timeline of trials per worker, held-out-seed
re-evaluations when the study has them, and a sortable, filterable table of the trials.
``hpo report STUDY.db --serve`` serves the page on 127.0.0.1 and reloads it as the study
changes (:mod:`hpo.viz._serve`).

A study file is read with :func:`hpo.load_study` (read-only, no lock), so a report can be
made while a driver runs the study. Importance is a NumPy fANOVA (:mod:`hpo.viz._fanova`),
plotly.js is read from the installed ``plotly`` package's file without importing plotly,
and torch is imported only when a page draws LC-PFN bands: ``hpo report`` of a
10,000-trial study takes about 1 s of CPU (``benchmarks/results/scale.md``). Nothing heavy
is imported on ``import hpo.viz``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hpo.errors import HPOError

__all__ = ["render_report", "write_report", "default_output"]

_log = logging.getLogger(__name__)


def _guarded(key: str, title: str, build: Callable[[], Any]) -> Any:
    """A section, or a note saying it failed: one broken section never loses the page."""
    from hpo.viz._data import Section

    try:
        return build()
    except Exception as exc:  # noqa: BLE001 - shown on the page and logged
        _log.warning("report section %r failed", key, exc_info=True)
        return Section(key, title, notes=(f"This section failed: {type(exc).__name__}: {exc}",))


def _render(data: Any, title: str | None, lcpfn: Any, live: tuple[str, float] | None) -> str:
    from hpo.viz._curves import curves_section
    from hpo.viz._figures import history_section, pareto_section, timeline_section
    from hpo.viz._html import heldout_section, render_page, table_section
    from hpo.viz._importance import importance_section
    from hpo.viz._parallel import parallel_section

    sections = [
        _guarded("history", "History", lambda: history_section(data)),
        _guarded("parallel", "Parallel coordinates", lambda: parallel_section(data)),
        _guarded("importance", "Parameter importance", lambda: importance_section(data)),
        _guarded("curves", "Learning curves", lambda: curves_section(data, lcpfn)),
        _guarded("pareto", "Pareto front", lambda: pareto_section(data)),
        _guarded("timeline", "Timeline", lambda: timeline_section(data)),
    ]
    held = _guarded("heldout", "Held-out seeds", lambda: heldout_section(data.result))
    if held is not None:
        sections.append(held)
    sections.append(table_section(data))
    return render_page(data, sections, title or f"hpo report: {data.name}", live)


def render_report(result: Any, *, title: str | None = None, lcpfn: Any = True) -> str:
    """The report page of a study, as an HTML string.

    Args:
        result: A study file (path or ``"sqlite:///..."``), a :class:`~hpo.result.StudyResult`
            or a :class:`~hpo.study.Study`.
        title: The page's title (default ``"hpo report: <study name>"``).
        lcpfn: True: LC-PFN bands from the shipped weights; False: none (torch is not
            imported); or an already loaded :class:`~hpo.surrogates.lcpfn.LCPFN`.

    Raises:
        StorageError: if there is no study file at the path.
        StorageCorruptError: for a file that is not a readable study.
        HPOError: for an unusable ``result``, or when plotly is not installed.
    """
    from hpo.viz._data import collect

    return _render(collect(result), title, lcpfn, None)


def default_output(study_path: str | os.PathLike[str]) -> Path:
    """``<study>_report.html`` next to the study file."""
    from hpo.storage.sqlite import parse_sqlite_url

    path = Path(parse_sqlite_url(study_path))
    return path.with_name(f"{path.stem}_report.html")


def write_report(
    study_or_path: Any,
    out_path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    lcpfn: Any = True,
) -> Path:
    """Write the report page of a study to an HTML file (written whole, then renamed into place).

    Args:
        study_or_path: A study file, a :class:`~hpo.result.StudyResult` or a
            :class:`~hpo.study.Study` (see :func:`render_report`).
        out_path: The HTML file; by default ``<study>_report.html`` next to the study file.
        title, lcpfn: As in :func:`render_report`.

    Returns:
        The path written.

    Raises:
        HPOError: for no ``out_path`` with a study that has no file, or a file that cannot
            be written; and as :func:`render_report`.
    """
    if out_path is None:
        source = study_or_path
        if not isinstance(source, (str, os.PathLike)):  # a StudyResult's path, or a Study's storage's
            source = getattr(source, "storage", None)
            source = getattr(source, "location", source)
        if not isinstance(source, (str, os.PathLike)):
            raise HPOError("this study has no file: give write_report an out_path")
        out_path = default_output(source)
    page = render_report(study_or_path, title=title, lcpfn=lcpfn)
    out = Path(out_path)
    partial = out.with_name(f".{out.name}.partial")
    try:
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise HPOError(f"cannot write the report to {str(out)!r}: {exc}") from exc
    return out
