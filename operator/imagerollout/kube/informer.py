"""An informer: a local copy of one kind of object, kept current by list + watch.

It lists (in pages), then watches from the list's resourceVersion with the kubernetes
client's Watch, resumes from the last resourceVersion seen (bookmarks included) when a watch
ends, and lists again when the API server answers 410 Gone. Every change is handed to
`on_change(old, new)` (new is None when the object was deleted).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from imagerollout.kube.client import ApiError, Kube

Object = dict[str, Any]
Key = tuple[str, str]
OnChange = Callable[[Object | None, Object | None], None]
log = logging.getLogger(__name__)
PAGE = 500
WATCH_SECONDS = 300  # the server ends each watch after about this long; we resume
BACKOFF = (0.5, 30.0)


@dataclass(frozen=True)
class Resource:
    api_version: str
    plural: str


def key_of(obj: Object) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


def newer(candidate: Object, current: Object | None) -> bool:
    """resourceVersions are opaque, but etcd's are integers; compare them when they are."""
    if current is None:
        return True
    new, old = _rv(candidate), _rv(current)
    if new.isdigit() and old.isdigit():
        return int(new) > int(old)
    return new != old


def _rv(obj: Object) -> str:
    return str(obj["metadata"].get("resourceVersion", ""))


def _trim(obj: Object) -> Object:
    obj["metadata"].pop("managedFields", None)  # large, and nothing here reads it
    return obj


class _Watch(watch.Watch):
    """The client's Watch without its per-event round trip through json.dumps and the model
    deserializer (a copy of the dict it already has); it still tracks the resourceVersion, so
    it resumes and handles 410 as before."""

    def unmarshal_event(self, data: str, return_type: Any) -> Object | None:
        if not data or data.isspace():
            return None
        try:
            event: Object = json.loads(data)
        except json.JSONDecodeError:
            return None
        event["raw_object"] = obj = event["object"]
        if event["type"] != "ERROR" and isinstance(obj, dict):
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if version:
                self.resource_version = version
        return event


class Informer:
    def __init__(
        self, kube: Kube, resource: Resource, namespace: str | None, on_change: OnChange
    ) -> None:
        self.kube, self.resource, self.namespace = kube, resource, namespace
        self.on_change = on_change
        self.synced = threading.Event()
        self.changed = threading.Condition()
        self._store: dict[Key, Object] = {}
        self._stopped = threading.Event()
        self._watch: Any = None
        where = namespace or "all namespaces"
        self._name = f"{resource.plural} in {where}"
        self._thread = threading.Thread(target=self._run, name=f"informer {self._name}")
        self._thread.daemon = True
        self.lists = 0

    # --- reads ---
    def get(self, namespace: str, name: str) -> Object | None:
        """The stored object; callers must not modify it."""
        return self._store.get((namespace, name))

    def items(self) -> list[Object]:
        return list(self._store.values())

    # --- writes that happened through us (write-through, so the next read sees them) ---
    def put(self, obj: Object) -> None:
        """Reported like a watch event: a pass that changed something is followed by one
        that finds nothing left to do (or the next thing, such as a step's pause)."""
        self._apply(_trim(obj), notify=True)

    def wait_newer(self, namespace: str, name: str, resource_version: str, timeout: float) -> None:
        """Wait until the stored object is not at `resource_version` any more."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                obj = self._store.get((namespace, name))
                left = deadline - time.monotonic()
                if obj is None or _rv(obj) != resource_version or left <= 0:
                    return
                self.changed.wait(left)

    # --- the loop ---
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._watch is not None:
            self._watch.stop()

    def _run(self) -> None:
        delay = BACKOFF[0]
        version: str | None = None
        while not self._stopped.is_set():
            try:
                if version is None:
                    version = self._relist()
                version = self._follow(version)
                delay = BACKOFF[0]
            except ApiException as error:
                if error.status == 410:  # too old to resume: list again
                    log.info("%s: watch expired (410); listing again", self._name)
                    version = None
                    continue
                delay = self._pause(f"watch failed: HTTP {error.status} {error.reason}", delay)
            except ApiError as error:
                version = None
                delay = self._pause(f"list failed: {error}", delay)
            except Exception as error:  # a dropped connection: resume from where we were
                delay = self._pause(f"watch interrupted: {error!r}", delay)

    def _pause(self, why: str, delay: float) -> float:
        if not self._stopped.is_set():
            log.warning("%s: %s; again in %.1fs", self._name, why, delay)
            self._stopped.wait(delay)
        return min(delay * 2, BACKOFF[1])

    def _relist(self) -> str:
        listed: dict[Key, Object] = {}
        version = ""
        for page, page_version in self._pages():
            version = page_version  # the first page's: continued pages share its snapshot
            for obj in page:
                listed[key_of(obj)] = _trim(obj)
        self.lists += 1
        for key in set(self._store) - set(listed):
            self._apply_delete(self._store[key])
        for obj in listed.values():
            self._apply(obj, notify=True)
        self.synced.set()
        return version

    def _pages(self) -> Iterator[tuple[list[Object], str]]:
        token = ""
        while True:
            query = {"limit": str(PAGE), **({"continue": token} if token else {})}
            body = self.kube.list_path(self._path(), query)
            meta = body.get("metadata", {})
            yield body.get("items", []), str(meta.get("resourceVersion", ""))
            token = meta.get("continue") or ""
            if not token:
                return

    def _follow(self, version: str) -> str:
        self._watch = _Watch(return_type="object")  # type: ignore[no-untyped-call]
        seconds = int(WATCH_SECONDS * random.uniform(0.8, 1.0))  # spread the reconnects
        stream = self._watch.stream(
            self._watch_request, resource_version=version, timeout_seconds=seconds
        )
        for event in stream:
            kind, obj = event["type"], event["raw_object"]
            if kind == "BOOKMARK":
                continue
            if kind == "DELETED":
                self._apply_delete(obj)
            else:
                self._apply(_trim(obj), notify=True)
        latest: str = self._watch.resource_version or version
        return latest

    def _watch_request(
        self,
        *,
        watch: bool,
        _preload_content: bool,
        resource_version: str,
        timeout_seconds: int,
    ) -> Any:
        query = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_seconds),
        }
        return self.kube.stream_path(self._path(), query, read_timeout=timeout_seconds + 30)

    def _path(self) -> str:
        return self.kube.collection_path(
            self.resource.api_version, self.resource.plural, self.namespace
        )

    # --- the store ---
    def _apply(self, obj: Object, notify: bool) -> None:
        key = key_of(obj)
        with self.changed:
            old = self._store.get(key)
            if not newer(obj, old):
                return  # already known (our own write, seen again on the watch)
            self._store[key] = obj
            self.changed.notify_all()
        if notify:
            self._notify(old, obj)

    def _apply_delete(self, obj: Object) -> None:
        with self.changed:
            old = self._store.pop(key_of(obj), None)
            self.changed.notify_all()
        self._notify(old or obj, None)

    def _notify(self, old: Object | None, new: Object | None) -> None:
        try:
            self.on_change(old, new)
        except Exception:  # a handler bug must not stop the informer
            log.exception("%s: change handler failed", self._name)

    def __repr__(self) -> str:
        return f"Informer({self._name}, {len(self._store)} objects)"
