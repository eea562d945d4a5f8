"""``hpo report STUDY.db --serve``: the report page, live, on the loopback interface only.

The server re-renders the page when the study file changes (its and its WAL's size and
modification time) and otherwise serves the last rendering; the page asks for ``/stamp``
every few seconds and reloads itself when the study changed, so it follows a running
study. The study is read with the read-only loader, so serving never blocks its driver.
It listens on 127.0.0.1 (or another loopback address) only: a study's configs, paths and
tracebacks are not for the network.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hpo.errors import HPOError, SettingError

__all__ = ["ReportServer", "loopback_host"]

_log = logging.getLogger(__name__)


def loopback_host(host: str) -> str:
    """``host`` if it is a loopback address (``localhost`` becomes ``127.0.0.1``).

    Raises:
        SettingError: for any other host, e.g. ``0.0.0.0`` or a network interface's address.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SettingError(
            f"--host {host!r}: the report server listens on a loopback address only (127.0.0.1, "
            "localhost or ::1), never on a network interface; to view it from another machine, "
            "forward the port (e.g. ssh -L 8765:127.0.0.1:8765 HOST)"
        )
    return host


def _stamp(path: str) -> str:
    """Changes whenever the study file (or its write-ahead log) does.

    An empty log counts as none: a reader that opens the study creates an empty one.
    """
    parts = []
    for name in (path, f"{path}-wal"):
        try:
            st = os.stat(name)
        except OSError:
            parts.append("-")
            continue
        parts.append(f"{st.st_mtime_ns}:{st.st_size}" if st.st_size else "-")
    return "/".join(parts)


class _Handler(BaseHTTPRequestHandler):
    server: ReportServer

    def do_GET(self) -> None:  # the name http.server calls
        route = self.path.split("?", 1)[0]
        if route in ("/", "/index.html"):
            status, body, kind = self.server.page()
        elif route == "/stamp":
            status, body, kind = 200, _stamp(self.server.path).encode(), "text/plain"
        else:
            status, body, kind = 404, b"not found", "text/plain"
        try:
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser left (a reload, a closed tab): nothing to tell it

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.address_string(), *args)


class ReportServer(ThreadingHTTPServer):
    """Serve the report of the study at ``path`` on ``host:port`` (loopback only).

    Args:
        path: The study file.
        host: A loopback address (see :func:`loopback_host`).
        port: The port; 0 picks a free one (see :attr:`url`).
        title: The page's title.
        lcpfn: As in :func:`hpo.viz.render_report`; True loads the shipped LC-PFN once.
        every: Seconds between the page's checks for a changed study.

    Raises:
        SettingError: for a host that is not a loopback address.
        HPOError: when the address cannot be bound (e.g. the port is taken).
    """

    daemon_threads = True

    def __init__(
        self, path: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8765, *,
        title: str | None = None, lcpfn: Any = True, every: float = 3.0,
    ) -> None:
        from hpo.storage.sqlite import parse_sqlite_url

        host = loopback_host(host)
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.path = parse_sqlite_url(path)
        self.title = title
        self.every = every
        self._lcpfn = lcpfn
        self._lock = threading.Lock()
        self._cached: tuple[str, bytes] | None = None
        try:
            super().__init__((host, port), _Handler)
        except OSError as exc:
            raise HPOError(f"cannot serve the report on {host}:{port}: {exc}") from exc

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log.warning("report server: error while answering %s", client_address, exc_info=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/"

    def _model(self) -> Any:
        """The LC-PFN model, loaded on the first rendering and kept (False if it cannot load)."""
        if self._lcpfn is True:
            try:
                from hpo.surrogates.lcpfn import LCPFN

                self._lcpfn = LCPFN.load()
            except (HPOError, ImportError, OSError) as exc:
                _log.warning("no LC-PFN bands: %s", exc)
                self._lcpfn = False
        return self._lcpfn

    def page(self) -> tuple[int, bytes, str]:
        """``(status, body, content type)`` of the page, re-rendered if the study changed."""
        from hpo.viz import _render
        from hpo.viz._data import collect

        with self._lock:
            stamp = _stamp(self.path)
            if self._cached is not None and self._cached[0] == stamp:
                return 200, self._cached[1], "text/html"
            try:
                data = collect(self.path)  # read-only: never blocks the study's driver
                body = _render(data, self.title, self._model(), (stamp, self.every)).encode("utf-8")
            except HPOError as exc:
                return 503, f"cannot read the study: {exc}".encode(), "text/plain"
            self._cached = (stamp, body)
            return 200, body, "text/html"
