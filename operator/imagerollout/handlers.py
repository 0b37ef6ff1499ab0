"""Thin kopf handlers: a timer per rollout that runs one reconcile pass."""

from __future__ import annotations

import logging
import os
from typing import Any

import kopf

from imagerollout import GROUP, PLURAL, VERSION
from imagerollout.kube.client import ApiError, Kube, load_config
from imagerollout.quality.ocr import OcrPool
from imagerollout.reconciler import reconcile
from imagerollout.sampler.registry import SamplerRegistry

INTERVAL = float(os.environ.get("IMAGEROLLOUT_INTERVAL_SECONDS", "2"))
OCR_WORKERS = int(os.environ.get("IMAGEROLLOUT_OCR_WORKERS", "2"))
_kube: Kube | None = None
_samplers: SamplerRegistry | None = None
log = logging.getLogger("imagerollout")


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    global _kube, _samplers
    # kopf's bookkeeping goes to annotations, never into our status.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING
    # A timer fires every INTERVAL: keep kopf's per-run "succeeded" lines out of the log.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    settings.watching.server_timeout = 120
    load_config()
    _kube = Kube()
    _samplers = SamplerRegistry(OcrPool(workers=OCR_WORKERS))


@kopf.timer(GROUP, VERSION, PLURAL, interval=INTERVAL, backoff=INTERVAL)
def reconcile_rollout(namespace: str | None, name: str, **_: Any) -> None:
    assert _kube is not None, "startup handler did not run"
    assert namespace is not None, "ImageModelRollout is namespaced"
    try:
        decision = reconcile(_kube, namespace, name, samplers=_samplers)
    except ApiError as error:
        raise kopf.TemporaryError(str(error), delay=INTERVAL) from error
    if decision is not None:
        for event in decision.events:
            log.info("%s/%s %s: %s", namespace, name, event.reason, event.message)
