"""The metrics port: /metrics for Prometheus, read-only reports at /reports/<ns>/<name>."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from imagerollout.kube.client import ApiError
from imagerollout.report.server import serve
from tests.cli.sample import FakeKube, Object, rollout


class EventsKube(FakeKube):
    def __init__(self, *rollouts: Object, events_error: bool = False) -> None:
        super().__init__(*rollouts)
        self.events_error = events_error

    def list_events(self, namespace: str, name: str) -> list[Object]:
        if self.events_error:
            raise ApiError(403, "events is forbidden")
        return [{"reason": "GateFailed", "message": "text/logos: <b>Fail</b>", "type": "Warning"}]


@pytest.fixture
def kube() -> EventsKube:
    return EventsKube(rollout())


@pytest.fixture
def base(kube: EventsKube) -> Iterator[str]:
    server = serve("127.0.0.1", 0, kube)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_metrics_are_served(base: str) -> None:
    code, kind, body = get(f"{base}/metrics")
    assert code == 200
    assert kind.startswith("text/plain")
    assert "python_info" in body or "process_" in body or "# HELP" in body


def test_a_rollouts_report_is_served_with_its_timeline(base: str) -> None:
    code, kind, body = get(f"{base}/reports/team-a/imagegen")
    assert code == 200
    assert kind == "text/html; charset=utf-8"
    assert 'id="timeline"' in body
    assert "text/logos: &lt;b&gt;Fail&lt;/b&gt;" in body


def test_unreadable_events_still_give_a_page(kube: EventsKube, base: str) -> None:
    kube.events_error = True
    code, _, body = get(f"{base}/reports/team-a/imagegen")
    assert code == 200
    assert "Events unreadable: HTTP 403: events is forbidden" in body


@pytest.mark.parametrize(
    "path", ["/reports/team-a/nope", "/reports/team-a", "/reports/../etc/passwd", "/other"]
)
def test_anything_else_is_not_found(base: str, path: str) -> None:
    assert get(base + path)[0] == 404


def test_it_is_read_only(base: str) -> None:
    request = urllib.request.Request(f"{base}/reports/team-a/imagegen", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 501
