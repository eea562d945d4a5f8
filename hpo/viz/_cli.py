"""The ``hpo report`` subcommand: write a study's HTML report, or serve it live.

    hpo report study.db                     # -> study_report.html next to it
    hpo report study.db -o report.html
    hpo report study.db --serve --port 8765 # http://127.0.0.1:8765/, follows a running study
"""

from __future__ import annotations

import argparse
from typing import Any

from hpo.errors import SettingError

__all__ = ["add_parser", "cmd"]


def add_parser(sub: Any) -> None:
    """Register ``report`` on the ``hpo`` command's subparsers."""
    p = sub.add_parser("report", help="a self-contained HTML report of a study (plots and a table), or serve it live")
    p.add_argument("storage", help="the study file (read-only: works while a driver runs the study)")
    p.add_argument("-o", "--output", default=None, help="HTML file to write (default: <study>_report.html next to it)")
    p.add_argument("--title", default=None, help="the page's title")
    p.add_argument("--no-lcpfn", action="store_true", help="leave out the LC-PFN bands of the learning curves")
    p.add_argument("--serve", action="store_true",
                   help="serve the page on 127.0.0.1, re-rendered whenever the study changes, until Ctrl-C")
    p.add_argument("--port", type=int, default=8765, help="port for --serve (default 8765; 0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address for --serve: 127.0.0.1 (default), localhost or ::1")


def cmd(args: argparse.Namespace) -> int:
    """Run ``hpo report``; errors are :class:`~hpo.errors.HPOError` (the CLI exits 2 on them)."""
    lcpfn = not args.no_lcpfn
    if args.serve:
        return _serve(args, lcpfn)
    if args.port != 8765 or args.host != "127.0.0.1":
        raise SettingError("--port and --host go with --serve")
    import time

    from hpo.viz import write_report

    start = time.monotonic()
    out = write_report(args.storage, args.output, title=args.title, lcpfn=lcpfn)
    size = out.stat().st_size / 1e6
    print(f"wrote {out} ({size:.1f} MB, {time.monotonic() - start:.1f} s)")
    return 0


def _serve(args: argparse.Namespace, lcpfn: bool) -> int:
    from hpo.viz._data import collect
    from hpo.viz._serve import ReportServer, loopback_host

    if args.output is not None:
        raise SettingError("--serve writes no file: drop -o/--output, or drop --serve")
    loopback_host(args.host)  # refuse a network address before reading anything
    collect(args.storage)  # a missing or damaged study fails now, not at the first request
    server = ReportServer(args.storage, args.host, args.port, title=args.title, lcpfn=lcpfn)
    print(f"serving the report of {args.storage} at {server.url} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
