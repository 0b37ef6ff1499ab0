"""All calls to the Kubernetes API go through Kube. Objects travel as plain dicts."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from kubernetes import client, config, watch
from prometheus_client import Counter, Histogram

from imagerollout import GROUP, KIND, PLURAL, VERSION

Object = dict[str, Any]
log = logging.getLogger(__name__)
CONFLICT_RETRIES = 8
REQUEST_TIMEOUT = 15
# Every request the operator makes, by verb and resource: the scale bench reads it.
REQUESTS = Counter(
    "imagerollout_api_requests_total",
    "Requests to the Kubernetes API server, by verb and resource.",
    ("verb", "resource"),
)

# How long the API server takes to answer (headers and body), by verb: the scale bench
# tells a slow API server from slow workers with it.
REQUEST_SECONDS = Histogram(
    "imagerollout_api_request_duration_seconds",
    "Time to an answer from the Kubernetes API server, by verb (watches excluded).",
    ("verb",),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class _PassRequests(threading.local):
    count = 0


_this_thread = _PassRequests()


def requests_on_this_thread() -> int:
    """Requests this thread has made so far: a pass's cost is the difference (workers are
    threads, so passes running at once do not mix)."""
    return _this_thread.count


def count_request() -> None:
    """Charge a request made on this thread's behalf (by another thread) to its pass."""
    _this_thread.count += 1


def _resource(path: str) -> str:
    """The plural (and subresource) a path names: .../namespaces/ns/httproutes/x -> httproutes."""
    parts = path.split("?")[0].strip("/").split("/")
    if "namespaces" in parts[:-1]:
        parts = parts[parts.index("namespaces") + 2 :]
    else:
        parts = parts[2:] if parts[0] == "api" else parts[3:]
    return "/".join(parts[:1] + parts[2:3])


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message = status, message


class ConflictError(ApiError):
    """The object changed since it was read (HTTP 409)."""


class NotFoundError(ApiError):
    pass


def _error(status: int, data: bytes) -> ApiError:
    try:
        message = str(json.loads(data).get("message", ""))
    except ValueError:
        message = data[:200].decode(errors="replace")
    kinds = {404: NotFoundError, 409: ConflictError}
    return kinds.get(status, ApiError)(status, message)


def load_config() -> None:
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]


def current_namespace() -> str:
    """The namespace of the kubeconfig's current context, as kubectl uses it ("default")."""
    try:
        _, active = config.list_kube_config_contexts()  # type: ignore[no-untyped-call]
    except (config.ConfigException, FileNotFoundError):
        return "default"
    return str((active or {}).get("context", {}).get("namespace") or "default")


def _split(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class Kube:
    def __init__(
        self, api: client.ApiClient | None = None, timeout: float = REQUEST_TIMEOUT
    ) -> None:
        self.api = api or client.ApiClient()
        self.timeout = timeout

    # Generic access by path keeps one code path for built-in and custom resources.
    def _path(self, api_version: str, plural: str, namespace: str, name: str = "") -> str:
        tail = f"/{name}" if name else ""
        return f"{self.collection_path(api_version, plural, namespace)}{tail}"

    def collection_path(self, api_version: str, plural: str, namespace: str | None) -> str:
        """The list URL of a kind, in one namespace or (None) in all."""
        group, version = _split(api_version)
        root = f"/apis/{group}/{version}" if group else f"/api/{version}"
        where = f"/namespaces/{namespace}" if namespace else ""
        return f"{root}{where}/{plural}"

    def _send(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str | None = None,
        timeout: Any = None,
        query: list[tuple[str, str]] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        request = self.api.param_serialize(
            method,
            path,
            query_params=query,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        verb, url, headers, payload, _ = request
        watching = "watch=true" in url
        REQUESTS.labels("watch" if watching else method.lower(), _resource(path)).inc()
        _this_thread.count += 1
        started = time.perf_counter()
        response = self.api.call_api(
            verb, url, header_params=headers, body=payload, _request_timeout=timeout or self.timeout
        )
        if not watching:
            REQUEST_SECONDS.labels(method.lower()).observe(time.perf_counter() - started)
        return response

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str | None = None,
        query: list[tuple[str, str]] | None = None,
    ) -> Object:
        response = self._send(method, path, body, content_type, query=query)
        data = response.read() or b"{}"
        if response.status >= 400:
            raise _error(response.status, data)
        result: Object = json.loads(data)
        return result

    def list_path(self, path: str, query: dict[str, str]) -> Object:
        return self._call("GET", f"{path}?{urlencode(query)}")

    def stream_path(self, path: str, query: dict[str, str], read_timeout: float) -> Any:
        """A watch: the raw response, read line by line by kubernetes.watch.Watch."""
        response = self._send("GET", f"{path}?{urlencode(query)}", timeout=(10, read_timeout))
        if response.status >= 400:
            raise _error(response.status, response.read() or b"{}")
        return response.response

    def get_object(self, api_version: str, plural: str, namespace: str, name: str) -> Object | None:
        try:
            return self._call("GET", self._path(api_version, plural, namespace, name))
        except NotFoundError:
            return None

    def create_object(self, api_version: str, plural: str, namespace: str, body: Object) -> Object:
        return self._call("POST", self._path(api_version, plural, namespace), body)

    def replace_object(
        self, api_version: str, plural: str, namespace: str, name: str, body: Object
    ) -> Object:
        """PUT as given: a stale metadata.resourceVersion fails with ConflictError."""
        return self._call("PUT", self._path(api_version, plural, namespace, name), body)

    def delete_object(self, api_version: str, plural: str, namespace: str, name: str) -> None:
        """Delete the object; one already gone is fine (every action is idempotent)."""
        try:
            self._call("DELETE", self._path(api_version, plural, namespace, name))
        except NotFoundError:
            return

    def update_object(
        self,
        api_version: str,
        plural: str,
        namespace: str,
        name: str,
        mutate: Callable[[Object], bool],
    ) -> None:
        path = self._path(api_version, plural, namespace, name)
        for _ in range(CONFLICT_RETRIES):
            obj = self._call("GET", path)
            if not mutate(obj):
                return
            try:
                self.put_object(api_version, plural, namespace, name, obj)
                return
            except ConflictError:
                log.info("conflict updating %s/%s, retrying", plural, name)
        raise ConflictError(
            409, f"{plural}/{name}: still conflicting after {CONFLICT_RETRIES} tries"
        )

    def put_object(
        self, api_version: str, plural: str, namespace: str, name: str, obj: Object
    ) -> Object:
        """PUT, guarded by obj's resourceVersion (ConflictError when it is stale)."""
        return self._call("PUT", self._path(api_version, plural, namespace, name), obj)

    def merge_patch(
        self, api_version: str, plural: str, namespace: str, name: str, patch: Object
    ) -> Object:
        path = self._path(api_version, plural, namespace, name)
        return self._call("PATCH", path, patch, "application/merge-patch+json")

    def await_change(self, namespace: str, name: str, resource_version: str) -> None:
        """After a conflict: reads here are live, so the next read is already fresh."""

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        patch = {"spec": {"replicas": replicas}}
        self.merge_patch("apps/v1", "deployments", namespace, name, patch)

    # The ImageModelRollout itself.
    def get_rollout(self, namespace: str, name: str) -> Object | None:
        return self.get_object(f"{GROUP}/{VERSION}", PLURAL, namespace, name)

    def list_rollouts(self, namespace: str | None) -> list[Object]:
        """Rollouts in one namespace, or in all of them (None)."""
        root = f"/apis/{GROUP}/{VERSION}"
        path = f"{root}/namespaces/{namespace}/{PLURAL}" if namespace else f"{root}/{PLURAL}"
        items: list[Object] = self._call("GET", path).get("items", [])
        return items

    def watch_rollout(self, namespace: str, name: str, timeout: float) -> Iterator[Object]:
        """The rollout now, then each change until `timeout` seconds have passed.

        The client's Watch re-lists on each reconnect, so a dropped stream loses no change.
        """
        api = client.CustomObjectsApi(self.api)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                api.list_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                field_selector=f"metadata.name={name}",
                timeout_seconds=max(1, int(left)),
            )
            for event in stream:
                if event["type"] in ("ADDED", "MODIFIED"):
                    yield event["object"]
                if time.monotonic() >= deadline:
                    return

    def list_events(self, namespace: str, name: str) -> list[Object]:
        """Events about one rollout, oldest first."""
        selector = f"involvedObject.kind={KIND},involvedObject.name={name}"
        path = self._path("v1", "events", namespace)
        items: list[Object] = self._call("GET", path, query=[("fieldSelector", selector)]).get(
            "items", []
        )
        return sorted(items, key=lambda e: e.get("eventTime") or e.get("lastTimestamp") or "")

    def dry_run_apply(self, obj: Object) -> Object:
        """Server-side apply with dryRun=All: admission runs (CEL rules), nothing is stored."""
        meta = obj.get("metadata") or {}
        path = self._path(
            obj.get("apiVersion", f"{GROUP}/{VERSION}"),
            PLURAL,
            meta.get("namespace") or "default",
            meta.get("name", ""),
        )
        query = [("dryRun", "All"), ("fieldManager", "kubectl-imr"), ("force", "true")]
        return self._call("PATCH", path, json.dumps(obj), "application/apply-patch+yaml", query)

    def write_rollout_status(
        self, namespace: str, name: str, resource_version: str, status: Object
    ) -> Object:
        """Merge-patch status, guarded by resourceVersion so no concurrent edit is lost."""
        path = self._path(f"{GROUP}/{VERSION}", PLURAL, namespace, name) + "/status"
        patch = {"metadata": {"resourceVersion": resource_version}, "status": status}
        return self._call("PATCH", path, patch, "application/merge-patch+json")

    def patch_rollout_status(self, namespace: str, name: str, status: Object) -> Object:
        """An unguarded merge patch, as `kubectl patch --subresource=status` does."""
        path = self._path(f"{GROUP}/{VERSION}", PLURAL, namespace, name) + "/status"
        return self._call("PATCH", path, {"status": status}, "application/merge-patch+json")

    def emit_event(self, rollout: Object, reason: str, message: str, warning: bool) -> None:
        meta = rollout["metadata"]
        moment = datetime.now(UTC)
        now = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": KIND,
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": "imagerollout"},
            "reportingComponent": "imagerollout.dev/operator",
            "reportingInstance": "imagerollout",
            "action": reason,
            "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self.create_object("v1", "events", meta["namespace"], event)
        except ApiError as error:  # Events are best effort; status is the truth.
            log.warning("could not post event %s: %s", reason, error)
