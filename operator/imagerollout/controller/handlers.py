"""Thin kopf handlers: kopf runs the process (startup, SIGTERM, liveness); the controller
watches and reconciles on its own threads.

kopf handlers on the rollouts would put a finalizer on each (a rollout could then not be
deleted while the operator is down), and kopf's per-object watch would be a second copy of
what the informers hold; so no kopf handler watches rollouts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kopf

from imagerollout import GROUP
from imagerollout.api.ocr_settings import DEFAULT_ENGINE
from imagerollout.controller.leader import AlwaysLeader, Leader, LeaseLeader
from imagerollout.controller.notifications import Notifications, parse_secret_ref
from imagerollout.controller.runtime import Controller
from imagerollout.controller.sampler.registry import SamplerRegistry
from imagerollout.controller.sampler.scoring import LazyOcrPool
from imagerollout.core.leader import Timing
from imagerollout.kube.client import Kube, load_config
from imagerollout.kube.endpoint_slices import EndpointSliceWatch
from imagerollout.kube.leases import Leases
from imagerollout.quality.scorer import InProcessScorer, Scorer
from imagerollout.quality.scorer_client import RemoteScorer
from imagerollout.telemetry import OperatorMetrics

OCR_WORKERS = int(os.environ.get("IMAGEROLLOUT_OCR_WORKERS", "2"))
WORKERS = int(os.environ.get("IMAGEROLLOUT_WORKERS", "32"))
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
namespaces: list[str] | None = None  # set by `imagerollout run --namespace`
_controller: Controller | None = None


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    global _controller
    # kopf's bookkeeping goes to annotations, never into our status.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    settings.watching.server_timeout = 120
    load_config()
    per_engine = _remote_scorers() if scorer_service else _in_process_scorers()
    samplers = SamplerRegistry(per_engine(DEFAULT_ENGINE.value), per_engine)
    metrics = OperatorMetrics()
    secret = os.environ.get(NOTIFIERS_SECRET_ENV)
    notifications = Notifications(Kube(), parse_secret_ref(secret) if secret else None, metrics)
    report_base = os.environ.get(REPORT_BASE_ENV, "").rstrip("/")
    _controller = Controller(
        namespaces, samplers, metrics, notifications, WORKERS, report_base, _leader()
    )
    _controller.start()


def _in_process_scorers() -> Callable[[str], Scorer]:
    """One lazy OCR pool per engine that some rollout asks for (spec.analysis.ocr.engine)."""
    pools: dict[str, Scorer] = {}

    def for_engine(engine: str) -> Scorer:
        if engine not in pools:
            pools[engine] = InProcessScorer(LazyOcrPool(OCR_WORKERS, engine))
        return pools[engine]

    return for_engine


def _remote_scorers() -> Callable[[str], Scorer]:
    """One client per engine, on the same endpoints: the scorer runs the rollout's engine."""
    assert scorer_service is not None
    where = scorer_service
    slices = EndpointSliceWatch(where.namespace, where.name, where.port_name)
    slices.start()
    log.info("scoring on %s/%s: %s", where.namespace, where.name, slices.ready() or "none ready")
    clients: dict[str, Scorer] = {}

    def for_engine(engine: str) -> Scorer:
        if engine not in clients:
            clients[engine] = RemoteScorer(slices.ready, ocr_engine=engine)
        return clients[engine]

    return for_engine


def _leader() -> Leader:
    if election is None:
        return AlwaysLeader()
    timing = Timing.for_duration(election.duration_s)
    # Lease calls time out within the renew deadline, so a hung call cannot outlast our term.
    kube = Kube(timeout=timing.renew_deadline_s / 2)
    return LeaseLeader(Leases(kube, election.namespace, election.name), timing)


@kopf.on.cleanup()
def stop(**_: Any) -> None:
    if _controller is not None:
        _controller.stop()
        log.info("stopped: the passes in flight are done and their events posted")
