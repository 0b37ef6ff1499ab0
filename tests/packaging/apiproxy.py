"""A recording reverse proxy in front of kube-apiserver, and the RBAC reading of each request.

The operator is pointed at the proxy (plain HTTP on loopback; the proxy speaks TLS to the API
server). Every request is recorded with its response status, streams (watches) included, so a
test can list exactly which (API group, resource, verb) a real run needed: the evidence that each
RBAC rule is used, and that nothing else is.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web

# Headers that belong to one hop, or that aiohttp sets itself.
_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "host",
    "content-length",
    "accept-encoding",
    "content-encoding",
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    status: int


@dataclass(frozen=True, order=True)
class Access:
    """One request in RBAC terms (what a SubjectAccessReview would ask)."""

    group: str
    resource: str  # "deployments", or "imagemodelrollouts/status" for a subresource
    verb: str
    namespace: str  # "" for cluster-scoped requests and for lists across all namespaces


_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def access(method: str, path: str, query: str = "") -> Access | None:
    """The RBAC attributes of a resource request; None for discovery and other non-resource URLs.

    /api/v1/namespaces/NS/services/NAME -> ("", "services", "get", "NS");
    /apis/G/V/RESOURCE?watch=true -> (G, RESOURCE, "watch", "").
    """
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource, name = rest[0], rest[1] if len(rest) > 1 else ""
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    if method == "GET":
        watch = parse_qs(query).get("watch", [""])[0] in ("true", "1")
        verb = "watch" if watch else "get" if name else "list"
    elif method == "DELETE" and not name:
        verb = "deletecollection"
    else:
        verb = _VERBS.get(method, method.lower())
    return Access(group, resource, verb, namespace)


def granted(rules: Iterable[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(group, resource, verb) triples a list of RBAC PolicyRules grants (no wildcards expected)."""
    triples: set[tuple[str, str, str]] = set()
    for rule in rules:
        assert "resourceNames" not in rule, "the test does not model resourceNames"
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for verb in rule.get("verbs", []):
                    assert "*" not in (group, resource, verb), f"wildcard in {rule}"
                    triples.add((group, resource, verb))
    return triples


class RecordingProxy:
    """http://127.0.0.1:PORT -> https://API-SERVER, recording every request."""

    def __init__(self, upstream: str, ca_file: Path) -> None:
        self.upstream = upstream.rstrip("/")
        self.ca_file = ca_file
        self.records: list[Request] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    def start(self) -> str:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.url = future.result(timeout=30)
        return self.url

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)

    def requests(self) -> list[Request]:
        with self._lock:
            return list(self.records)

    def accesses(self) -> set[Access]:
        found = (access(r.method, r.path, r.query) for r in self.requests())
        return {a for a in found if a is not None}

    async def _start(self) -> str:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            auto_decompress=False,
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        assert self._runner is not None
        assert self._session is not None
        await self._runner.cleanup()
        await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        headers["Accept-Encoding"] = "identity"  # bodies pass through as they are
        body = await request.read()
        url = self.upstream + request.rel_url.raw_path_qs
        async with self._session.request(
            request.method,
            url,
            headers=headers,
            data=body or None,
            allow_redirects=False,
            # Forward a missing Content-Type as missing (aiohttp would add octet-stream).
            skip_auto_headers=["Content-Type"],
        ) as upstream:
            with self._lock:
                self.records.append(
                    Request(request.method, request.path, request.query_string, upstream.status)
                )
            response = web.StreamResponse(
                status=upstream.status,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in _HOP},
            )
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
            except (ConnectionResetError, aiohttp.ClientError):
                pass  # the client went away mid-stream (a watch being closed)
            return response
