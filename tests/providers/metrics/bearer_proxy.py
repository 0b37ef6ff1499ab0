"""A reverse proxy that demands a bearer token, in front of a real Prometheus: Prometheus 2.42
itself only knows basic auth."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _handler(upstream: str, token: str) -> type[BaseHTTPRequestHandler]:
    class BearerOnly(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") != f"Bearer {token}":
                self._reply(401, b"missing or wrong bearer token\n", "text/plain")
                return
            try:
                with urllib.request.urlopen(upstream + self.path, timeout=10) as response:
                    self._reply(response.status, response.read(), response.headers["Content-Type"])
            except urllib.error.HTTPError as err:
                self._reply(err.code, err.read(), err.headers["Content-Type"])

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep pytest output clean

    return BearerOnly


@contextmanager
def bearer_proxy(upstream: str, token: str) -> Iterator[str]:
    """Serve on a free loopback port; yield the proxy's URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream, token))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
