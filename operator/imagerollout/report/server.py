"""The operator's metrics port: Prometheus /metrics, and read-only reports at
/reports/<namespace>/<name> (the page of the rollout's current attempt).

One small threaded HTTP server (the standard library's) serves both, so the report needs no
new port, Service or NetworkPolicy. Only GET and HEAD are answered.
"""

from __future__ import annotations

import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from imagerollout.kube.client import ApiError, Kube
from imagerollout.report.page import attempt_from_rollout, build

log = logging.getLogger(__name__)
REPORT_PATH = re.compile(r"^/reports/([a-z0-9][a-z0-9-]{0,62})/([a-z0-9][a-z0-9.-]{0,252})/?$")


def rollout_report(kube: Kube, namespace: str, name: str) -> str | None:
    """The page for a rollout as it is now, or None when there is no such rollout."""
    rollout = kube.get_rollout(namespace, name)
    if rollout is None:
        return None
    try:
        events, problem = kube.list_events(namespace, name), None
    except ApiError as error:  # the page still shows everything else
        events, problem = [], str(error)
    return build(attempt_from_rollout(rollout, events, problem))


class Handler(BaseHTTPRequestHandler):
    kube: Kube  # set on the subclass serve() makes

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY))
            return
        match = REPORT_PATH.match(path)
        if match is None:
            self._send(404, "text/plain; charset=utf-8", b"not found\n")
            return
        try:
            page = rollout_report(self.kube, match.group(1), match.group(2))
        except ApiError as error:
            self._send(502, "text/plain; charset=utf-8", f"{error}\n".encode())
            return
        if page is None:
            self._send(404, "text/plain; charset=utf-8", b"no such rollout\n")
            return
        self._send(200, "text/html; charset=utf-8", page.encode())

    do_HEAD = do_GET  # noqa: N815  (http.server's naming)

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def serve(host: str, port: int, kube: Kube) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; raises OSError if the port is taken."""
    handler = type("BoundHandler", (Handler,), {"kube": kube})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
