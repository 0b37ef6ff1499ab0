"""Thin kopf handlers: watch events keep the set of rollouts; one loop reconciles each of them.

A kopf timer would put a finalizer on every rollout, and a rollout could then not be deleted
while the operator is down. Watch events need no finalizer, so the loop is ours.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kopf

from imagerollout import GROUP, PLURAL, VERSION
from imagerollout.controller.leader import AlwaysLeader, Leader, LeaseLeader
from imagerollout.controller.notifications import Notifications, parse_secret_ref
from imagerollout.controller.reconciler import reconcile
from imagerollout.controller.sampler.registry import SamplerRegistry
from imagerollout.controller.sampler.scoring import LazyOcrPool
from imagerollout.controller.webhooks import WebhookCalls
from imagerollout.core.leader import Timing
from imagerollout.kube.client import Kube, load_config
from imagerollout.kube.endpoint_slices import EndpointSliceWatch
from imagerollout.kube.leases import Leases
from imagerollout.quality.scorer import InProcessScorer, Scorer
from imagerollout.quality.scorer_client import RemoteScorer
from imagerollout.telemetry import OperatorMetrics

INTERVAL = float(os.environ.get("IMAGEROLLOUT_INTERVAL_SECONDS", "2"))
OCR_WORKERS = int(os.environ.get("IMAGEROLLOUT_OCR_WORKERS", "2"))
NOTIFIERS_SECRET_ENV = "IMAGEROLLOUT_NOTIFIERS_SECRET"  # set by `imagerollout run`
# Where users reach the metrics port (status.reportURL); `imagerollout run` sets a default.
REPORT_BASE_ENV = "IMAGEROLLOUT_REPORT_BASE_URL"
log = logging.getLogger("imagerollout")


@dataclass(frozen=True)
class Election:
    """Leader election on the Lease namespace/name (set by `imagerollout run --leader-elect`)."""

    namespace: str
    name: str
    duration_s: int


election: Election | None = None  # None: this process always leads


@dataclass(frozen=True)
class ScorerService:
    """Score on the ready endpoints of this Service (`imagerollout scorer` pods)."""

    namespace: str
    name: str
    port_name: str | None


scorer_service: ScorerService | None = None  # None: score in this process


class ReconcileLoop:
    """Every INTERVAL, one reconcile pass per known rollout; a failing pass is retried next tick.

    Only the leader reconciles; a standby keeps its set of rollouts and waits.
    """

    def __init__(
        self,
        kube: Kube,
        samplers: SamplerRegistry,
        metrics: OperatorMetrics,
        notifications: Notifications,
        leader: Leader,
    ) -> None:
        self.kube, self.samplers, self.metrics = kube, samplers, metrics
        self.notifications, self.leader = notifications, leader
        self.report_base = os.environ.get(REPORT_BASE_ENV, "").rstrip("/")
        self.webhooks = WebhookCalls()
        self.rollouts: set[tuple[str, str]] = set()
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, name="reconcile", daemon=True)

    def track(self, namespace: str, name: str, deleted: bool) -> None:
        with self.lock:
            (self.rollouts.discard if deleted else self.rollouts.add)((namespace, name))
        if deleted:
            self.metrics.forget(namespace, name)
            self.notifications.forget(namespace, name)
            self.webhooks.forget(f"{namespace}/{name}")

    def run(self) -> None:
        while not self.stopped.wait(INTERVAL):
            with self.lock:
                keys = sorted(self.rollouts)
            for namespace, name in keys:
                if not self.leader.is_leading():
                    break
                self.reconcile_one(namespace, name)

    def drain(self) -> None:
        """Finish the pass in flight (its status and events), then hand the lease over."""
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(timeout=60)
        self.samplers.stop_all()
        self.leader.release()

    def reconcile_one(self, namespace: str, name: str) -> None:
        try:
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
        except Exception:  # one broken rollout must not stop the others
            log.exception("%s/%s: reconcile failed; retrying in %ss", namespace, name, INTERVAL)
            return
        if decision is None:
            return
        self.metrics.record(namespace, name, decision.status)
        for event in decision.events:
            log.info("%s/%s %s: %s", namespace, name, event.reason, event.message)


_loop: ReconcileLoop | None = None


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    global _loop
    # kopf's bookkeeping goes to annotations, never into our status.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    settings.watching.server_timeout = 120
    load_config()
    samplers = SamplerRegistry(_scorer(), None if scorer_service else _in_process_scorers())
    kube, metrics = Kube(), OperatorMetrics()
    secret = os.environ.get(NOTIFIERS_SECRET_ENV)
    notifications = Notifications(kube, parse_secret_ref(secret) if secret else None, metrics)
    _loop = ReconcileLoop(kube, samplers, metrics, notifications, _leader())
    _loop.leader.start(on_lost=samplers.stop_all)
    _loop.thread.start()


def _in_process_scorers() -> Callable[[str], Scorer]:
    """One lazy OCR pool per engine that some rollout asks for (spec.analysis.ocr.engine)."""
    pools: dict[str, Scorer] = {}

    def for_engine(engine: str) -> Scorer:
        if engine not in pools:
            pools[engine] = InProcessScorer(LazyOcrPool(OCR_WORKERS, engine))
        return pools[engine]

    return for_engine


def _scorer() -> Scorer:
    if scorer_service is None:
        return InProcessScorer(LazyOcrPool(workers=OCR_WORKERS))
    where = scorer_service
    slices = EndpointSliceWatch(where.namespace, where.name, where.port_name)
    slices.start()
    log.info("scoring on %s/%s: %s", where.namespace, where.name, slices.ready() or "none ready")
    return RemoteScorer(slices.ready)


def _leader() -> Leader:
    if election is None:
        return AlwaysLeader()
    timing = Timing.for_duration(election.duration_s)
    # Lease calls time out within the renew deadline, so a hung call cannot outlast our term.
    kube = Kube(timeout=timing.renew_deadline_s / 2)
    return LeaseLeader(Leases(kube, election.namespace, election.name), timing)


@kopf.on.cleanup()
def stop(**_: Any) -> None:
    if _loop is not None:
        _loop.drain()
        _loop.notifications.sender.stop()
        _loop.webhooks.stop()


@kopf.on.event(GROUP, VERSION, PLURAL)
def track_rollout(type: str | None, namespace: str | None, name: str, **_: Any) -> None:
    assert _loop is not None, "startup handler did not run"
    assert namespace is not None, "ImageModelRollout is namespaced"
    _loop.track(namespace, name, deleted=type == "DELETED")
