"""The controller: informers feed a work queue; a few workers reconcile one rollout each.

A rollout is queued when it or an object it depends on changes (dependents), at its next
deadline (core.rollout.wakeup), after a failed pass (backoff), and on a slow resync. A
routing error is looked at again every 2 s only while an object its provider reads has no
informer (its CRD was not served at start); otherwise the object's fix wakes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from imagerollout.api.v1alpha1 import RolloutSpec, RolloutStatus
from imagerollout.controller.dependents import Dependents
from imagerollout.controller.leader import AlwaysLeader, Leader
from imagerollout.controller.notifications import Notifications
from imagerollout.controller.queue import WorkQueue
from imagerollout.controller.reconciler import reconcile, remove_capability_rules, utc_now
from imagerollout.controller.sampler.registry import SamplerRegistry
from imagerollout.controller.webhooks import WebhookCalls
from imagerollout.controller.workers import Workers
from imagerollout.core import reasons as R
from imagerollout.core.rollout.wakeup import next_wakeup, routing_error
from imagerollout.kube.cache import (
    CACHED,
    EVENT_SENDERS,
    IF_SERVED,
    ROLLOUTS,
    CachedKube,
    Caches,
    pooled_client,
    served,
)
from imagerollout.kube.client import Kube, requests_on_this_thread
from imagerollout.kube.informer import OnChange, Resource
from imagerollout.telemetry import OperatorMetrics

Object = dict[str, Any]
Key = tuple[str, str]
log = logging.getLogger("imagerollout")
SYNC_TIMEOUT = 120.0
RESYNC_SECONDS = 300.0  # a safety net; it costs no request (reads are cached)
DRAIN_SECONDS = 25.0


class Controller:
    def __init__(
        self,
        namespaces: Iterable[str] | None,
        samplers: SamplerRegistry,
        metrics: OperatorMetrics,
        notifications: Notifications,
        workers: int,
        report_base: str = "",
        leader: Leader | None = None,
    ) -> None:
        self.report_base = report_base
        self.webhooks = WebhookCalls()
        self.samplers, self.metrics, self.notifications = samplers, metrics, notifications
        self.leader = leader or AlwaysLeader()
        self.queue: WorkQueue[Key] = WorkQueue(on_wait=metrics.queue_wait_seconds.observe)
        self.dependents = Dependents()
        scopes = list(namespaces or [])
        kinds = (*CACHED, *served(Kube(), IF_SERVED))
        watches = max(len(scopes), 1) * len(kinds)
        self.caches = Caches(Kube(pooled_client(watches + 4)), scopes, self._on_change, kinds)
        self.kube = CachedKube(self.caches, pooled_client(workers + EVENT_SENDERS + 2))
        self.workers = Workers(self.queue, self._reconcile, self.leader, workers)
        self._stopped = threading.Event()
        # Deleted rollouts whose capability rules are still to be removed from their route.
        self._deleted: dict[Key, Object] = {}

    def start(self) -> None:
        self.leader.start(on_lost=self._leadership_lost)
        self.caches.start()
        if not self.caches.wait_synced(SYNC_TIMEOUT, CACHED):  # others: read live till synced
            log.warning("caches not synced after %ss; starting anyway", SYNC_TIMEOUT)
        self.workers.start()
        threading.Thread(target=self._resync, name="resync", daemon=True).start()

    def stop(self) -> None:
        """SIGTERM: finish the passes in flight (they post their events), then stop."""
        self._stopped.set()
        self.workers.stop(DRAIN_SECONDS)
        if not self.kube.events.flush(DRAIN_SECONDS):
            log.warning("stopping with events not yet posted (the API server is slow)")
        self.samplers.stop_all()
        self.leader.release()  # right after the drain: the standby takes over a settled state
        self.caches.stop()
        self.notifications.sender.stop()
        self.webhooks.stop()

    def _leadership_lost(self) -> None:
        """The workers stop acting on their own (they ask the leader); samplers stop now."""
        log.warning("leadership lost: standing by (workers act again once leading)")
        self.samplers.stop_all()

    def _on_change(self, kind: Resource) -> OnChange:
        def changed(old: Object | None, new: Object | None) -> None:
            obj = new if new is not None else old
            assert obj is not None
            if kind == ROLLOUTS:
                self._rollout_changed(obj, deleted=new is None)
                return
            for key in self.dependents.of(kind.plural, obj):
                self.queue.add(key)

        return changed

    def _rollout_changed(self, rollout: Object, deleted: bool) -> None:
        key = (rollout["metadata"]["namespace"], rollout["metadata"]["name"])
        if deleted:
            self.dependents.forget(key)
            self.samplers.stop(f"{key[0]}/{key[1]}")
            self.metrics.forget(*key)
            self.notifications.forget(*key)
            self.webhooks.forget(f"{key[0]}/{key[1]}")
            self._deleted[key] = rollout
            self.queue.add(key)  # a worker removes its rules: leading, retried with backoff
            return
        self.dependents.track(rollout)
        self.queue.add(key)

    def _reconcile(self, key: Key) -> float | None:
        namespace, name = key
        before = requests_on_this_thread()
        with self.metrics.reconcile_seconds.time():
            decision = reconcile(
                self.kube,
                namespace,
                name,
                samplers=self.samplers,
                metrics=self.metrics,
                notify=self.notifications.notify,
                report_base=self.report_base,
                webhooks=self.webhooks,
            )
        if decision is None:
            if (gone := self._deleted.get(key)) is not None:
                remove_capability_rules(self.kube, gone)
            self._deleted.pop(key, None)
            return None
        self._deleted.pop(key, None)  # created again: its own pass routes it
        self.metrics.record(namespace, name, decision.status)
        if any(R.STEP_COMPLETED in event.also for event in decision.events):
            self.metrics.step_changes.inc()
            self.metrics.step_change_requests.inc(requests_on_this_thread() - before)
        for event in decision.events:
            log.info("%s/%s %s: %s", namespace, name, event.reason, event.message)
        wake_at = decision.wake_at
        if routing_error(decision.status) and self._routing_watched(key):
            wake_at = self._unpolled_wakeup(key, decision.status)
        if wake_at is None:
            return None
        return max((wake_at - utc_now()).total_seconds(), 0.0)

    def _routing_watched(self, key: Key) -> bool:
        """Every object the rollout's provider reads has an informer, so its fix wakes it."""
        refs = self.dependents.refs(key)
        return all(self.caches.watching(plural, namespace) for plural, namespace, _ in refs)

    def _unpolled_wakeup(self, key: Key, status: RolloutStatus) -> datetime | None:
        """The rollout's next deadline without the routing-error poll (read from the cache)."""
        rollout, now = self.kube.get_rollout(*key), utc_now()
        try:
            spec = RolloutSpec.model_validate((rollout or {}).get("spec"))
        except ValidationError:  # changed meanwhile: that change queues it again anyway
            return None
        return next_wakeup(spec, status, now, routing_watched=True)

    def _resync(self) -> None:
        while not self._stopped.wait(RESYNC_SECONDS):
            for rollout in self.caches.items(ROLLOUTS):
                self.queue.add((rollout["metadata"]["namespace"], rollout["metadata"]["name"]))
