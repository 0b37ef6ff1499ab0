"""The informer against a scripted API: list pages, watch events, resume, relist on 410."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from imagerollout.kube.client import Kube
from imagerollout.kube.informer import Informer, Resource

DEPLOYMENTS = Resource("apps/v1", "deployments")
Object = dict[str, Any]


def obj(name: str, rv: int, **extra: Any) -> Object:
    meta = {"namespace": "ns", "name": name, "resourceVersion": str(rv), "managedFields": [{}]}
    return {"metadata": meta, **extra}


class Response:
    """What kubernetes.watch.Watch reads: a urllib3-like streaming response."""

    status = 200

    def __init__(self, events: list[Object]) -> None:
        self._lines = [json.dumps(e).encode() + b"\n" for e in events]

    def stream(self, amt: Any = None, decode_content: bool = False) -> Iterator[bytes]:
        yield from self._lines

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


class ScriptedKube(Kube):
    def __init__(self, lists: list[list[Object]], watches: list[list[Object]]) -> None:
        super().__init__(api=object())  # type: ignore[arg-type]
        self.lists, self.watches = lists, watches
        self.list_queries: list[dict[str, str]] = []
        self.watch_versions: list[str] = []
        self.done = threading.Event()

    def list_path(self, path: str, query: dict[str, str]) -> Object:
        self.list_queries.append(query)
        items = self.lists.pop(0)
        return {"metadata": {"resourceVersion": str(len(self.list_queries) * 100)}, "items": items}

    def stream_path(self, path: str, query: dict[str, str], read_timeout: float) -> Any:
        self.watch_versions.append(query["resourceVersion"])
        if not self.watches:
            self.done.set()
            threading.Event().wait(5)  # block like an idle watch
            return Response([])
        return Response(self.watches.pop(0))


def run(kube: ScriptedKube) -> tuple[Informer, list[tuple[str | None, str | None]]]:
    changes: list[tuple[str | None, str | None]] = []

    def version(o: Object | None) -> str | None:
        return None if o is None else str(o["metadata"]["resourceVersion"])

    def on_change(old: Object | None, new: Object | None) -> None:
        changes.append((version(old), version(new)))

    informer = Informer(kube, DEPLOYMENTS, "ns", on_change)
    informer.start()
    assert kube.done.wait(5), "the informer did not reach its last watch"
    informer.stop()
    return informer, changes


def test_list_then_watch_resumes_from_the_last_version_seen() -> None:
    kube = ScriptedKube(
        lists=[[obj("a", 10)]],
        watches=[
            [
                {"type": "MODIFIED", "object": obj("a", 11)},
                {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "150"}}},
            ],
            [
                {"type": "ADDED", "object": obj("b", 160)},
                {"type": "DELETED", "object": obj("a", 170)},
            ],
        ],
    )
    informer, changes = run(kube)

    assert kube.list_queries == [{"limit": "500"}]
    assert kube.watch_versions == ["100", "150", "170"]
    assert changes == [(None, "10"), ("10", "11"), (None, "160"), ("11", None)]
    assert informer.get("ns", "a") is None
    b = informer.get("ns", "b")
    assert b is not None
    assert "managedFields" not in b["metadata"]
    assert informer.synced.is_set()


def test_410_gone_lists_again_and_reports_what_changed_meanwhile() -> None:
    gone = {"type": "ERROR", "object": {"code": 410, "reason": "Expired", "message": "too old"}}
    kube = ScriptedKube(
        lists=[[obj("a", 10), obj("b", 10)], [obj("a", 20), obj("c", 20)]],
        watches=[[gone]],
    )
    informer, changes = run(kube)

    assert len(kube.list_queries) == 2
    assert sorted(changes, key=str) == sorted(
        [(None, "10"), (None, "10"), ("10", None), ("10", "20"), (None, "20")], key=str
    )
    assert informer.get("ns", "b") is None
    assert informer.lists == 2


def test_our_own_write_is_reported_once_not_again_when_the_watch_brings_it() -> None:
    kube = ScriptedKube(lists=[[obj("a", 10)]], watches=[])
    changes: list[Object | None] = []
    informer = Informer(kube, DEPLOYMENTS, "ns", lambda old, new: changes.append(new))
    informer.put(obj("a", 12))
    informer._apply(obj("a", 12), notify=True)  # the watch event of that write
    informer._apply(obj("a", 11), notify=True)  # an older one, arriving late
    assert [c["metadata"]["resourceVersion"] for c in changes if c is not None] == ["12"]
    stored = informer.get("ns", "a")
    assert stored is not None
    assert stored["metadata"]["resourceVersion"] == "12"
