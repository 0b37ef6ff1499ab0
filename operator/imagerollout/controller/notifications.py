"""Notifications of the operator: the providers from its Secret, what a decision sends to whom,
and what a failed delivery shows (a metric, and one Warning event until a delivery succeeds)."""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from imagerollout.api.v1alpha1 import RolloutSpec, RolloutStatus
from imagerollout.core import reasons as R
from imagerollout.core.durations import format_time
from imagerollout.core.notifications import deliveries, notifications
from imagerollout.core.rollout.actions import Decision
from imagerollout.kube.client import ApiError, Kube
from imagerollout.providers.notifiers.config import SECRET_KEY, parse_providers
from imagerollout.providers.notifiers.notifier import Notifier
from imagerollout.providers.notifiers.sender import Outcome, Sender
from imagerollout.telemetry import OperatorMetrics

Object = dict[str, Any]
log = logging.getLogger(__name__)
RELOAD_SECONDS = 30.0  # a changed Secret is read again within this


class Notifications:
    def __init__(
        self,
        kube: Kube,
        secret: tuple[str, str] | None,
        metrics: OperatorMetrics,
        make_sender: Callable[[Callable[[Outcome], None]], Sender] = Sender,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube, self.secret, self.metrics, self.clock = kube, secret, metrics, clock
        self.sender = make_sender(self._report)
        self._providers: dict[str, Notifier] = {}
        self._problem: str | None = None
        self._loaded_at: float | None = None
        self._lock = threading.Lock()
        self._rollouts: dict[tuple[str, str], Object] = {}  # involved objects of events
        self._warned: set[tuple[str, str, str]] = set()

    def notify(
        self, rollout: Object, spec: RolloutSpec, before: RolloutStatus, decision: Decision
    ) -> None:
        """Queue what the decision sends; called once its status was written."""
        if not spec.notifications or not decision.events:
            return
        meta = rollout["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        stamp = format_time(datetime.now(UTC))
        notes = notifications(namespace, name, spec, before, decision, stamp)
        wanted = deliveries(spec.notifications, notes)
        if not wanted:
            return
        with self._lock:
            self._rollouts[(namespace, name)] = {"metadata": dict(meta)}
        providers, problem = self._load()
        for provider, note in wanted:
            notifier = providers.get(provider)
            if notifier is not None:
                self.sender.submit(notifier, note)
                continue
            why = problem or f"provider {provider} is not in the notifiers Secret"
            self._report(Outcome(provider, note, "failed", why))

    def _load(self) -> tuple[dict[str, Notifier], str | None]:
        """The providers, read again every RELOAD_SECONDS; a problem explains a missing one."""
        with self._lock:
            fresh = self._loaded_at is not None and self.clock() - self._loaded_at < RELOAD_SECONDS
            if not fresh:
                self._providers, self._problem = self._read()
                self._loaded_at = self.clock()
            return self._providers, self._problem

    def _read(self) -> tuple[dict[str, Notifier], str | None]:
        if self.secret is None:
            return {}, "the operator runs without --notifiers-secret"
        namespace, name = self.secret
        where = f"notifiers Secret {namespace}/{name}"
        try:
            secret = self.kube.get_object("v1", "secrets", namespace, name)
        except ApiError as error:
            return {}, f"{where}: {error}"
        if secret is None:
            return {}, f"{where} not found"
        encoded = (secret.get("data") or {}).get(SECRET_KEY)
        if encoded is None:
            return {}, f"{where} has no key {SECRET_KEY}"
        try:
            return parse_providers(base64.b64decode(encoded).decode()), None
        except (ValueError, binascii.Error, UnicodeDecodeError) as error:
            return {}, f"{where}: {error}"

    def _report(self, outcome: Outcome) -> None:
        note = outcome.note
        self.metrics.notifications.labels(
            note.namespace, note.name, outcome.provider, note.trigger.value, outcome.result
        ).inc()
        key = (note.namespace, note.name, outcome.provider)
        with self._lock:
            if outcome.result == "sent":
                self._warned.discard(key)
                return
            first = key not in self._warned
            self._warned.add(key)
            rollout = self._rollouts.get((note.namespace, note.name))
        log.warning(
            "%s/%s: %s notification to %s %s: %s",
            note.namespace,
            note.name,
            note.trigger.value,
            outcome.provider,
            outcome.result,
            outcome.error,
        )
        if first and rollout is not None:
            tries = f" after {outcome.attempts} attempts" if outcome.attempts else ""
            message = (
                f"{note.trigger.value} notification to {outcome.provider} {outcome.result}"
                f"{tries}: {outcome.error}; the rollout goes on, and later failures to this "
                "provider are only counted in imagerollout_notifications_total"
            )
            self.kube.emit_event(rollout, R.NOTIFICATION_FAILED, message, warning=True)

    def forget(self, namespace: str, name: str) -> None:
        with self._lock:
            self._rollouts.pop((namespace, name), None)
            self._warned = {k for k in self._warned if k[:2] != (namespace, name)}


def parse_secret_ref(text: str) -> tuple[str, str]:
    """`NAMESPACE/NAME` of the notifiers Secret."""
    namespace, _, name = text.partition("/")
    if not namespace or not name or "/" in name:
        raise ValueError(f"--notifiers-secret must be NAMESPACE/NAME, got {text!r}")
    return namespace, name
