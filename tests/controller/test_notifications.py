"""The operator's notifications: providers from the Secret, failures as a metric and one event."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from imagerollout.api.notifications import Subscription, Trigger
from imagerollout.controller.notifications import Notifications, parse_secret_ref
from imagerollout.core import reasons as R
from imagerollout.core.rollout.actions import Decision, Event
from imagerollout.providers.notifiers.sender import Outcome, Policy, Sender
from imagerollout.providers.post import Reply
from imagerollout.telemetry import OperatorMetrics
from tests.core.builders import make_spec, rolling

ROLLOUT = {"metadata": {"namespace": "prod", "name": "imagegen", "uid": "u1"}}
PROVIDERS = """
providers:
  - {name: oncall, type: slack, url: "https://hooks.slack.com/services/x"}
  - {name: audit, type: webhook, url: "http://audit:8080/"}
"""
ABORTED = Decision(rolling(1, 0), events=(Event(R.ROLLOUT_ABORTED, "aborted on request", True),))


class FakeKube:
    def __init__(self, providers: str | None = PROVIDERS) -> None:
        self.secret: dict[str, Any] | None = None
        if providers is not None:
            encoded = base64.b64encode(providers.encode()).decode()
            self.secret = {"data": {"providers.yaml": encoded}}
        self.reads = 0
        self.events: list[tuple[str, str, bool]] = []

    def get_object(self, api: str, kind: str, namespace: str, name: str) -> Any:
        assert (api, kind, namespace, name) == ("v1", "secrets", "imagerollout", "notifiers")
        self.reads += 1
        return self.secret

    def emit_event(self, rollout: Any, reason: str, message: str, warning: bool) -> None:
        assert rollout["metadata"]["uid"] == "u1"
        self.events.append((reason, message, warning))


class Post:
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.urls: list[str] = []

    def __call__(
        self, url: str, body: Mapping[str, Any], timeout: float, headers: Mapping[str, str]
    ) -> Reply:
        self.urls.append(url)
        return self.reply


def notifier(
    kube: FakeKube, post: Post, secret: tuple[str, str] | None = ("imagerollout", "notifiers")
) -> tuple[Notifications, OperatorMetrics, threading.Semaphore]:
    metrics = OperatorMetrics(CollectorRegistry())
    reported = threading.Semaphore(0)

    def make_sender(report: Callable[[Outcome], None]) -> Sender:
        def counted(outcome: Outcome) -> None:
            report(outcome)
            reported.release()

        return Sender(counted, Policy(attempts=2, first_backoff_s=0.01), post)

    notifications = Notifications(kube, secret, metrics, make_sender)  # type: ignore[arg-type]
    return notifications, metrics, reported


def count(
    metrics: OperatorMetrics, provider: str, result: str, trigger: str = "RolledBack"
) -> float:
    value = metrics.notifications.labels("prod", "imagegen", provider, trigger, result)
    return float(value._value.get())


def spec_with(*subs: Subscription) -> Any:
    return make_spec().model_copy(update={"notifications": list(subs)})


def test_each_subscribed_provider_gets_the_notification() -> None:
    post = Post(Reply(200, None))
    notifications, metrics, reported = notifier(FakeKube(), post)
    spec = spec_with(Subscription(provider="oncall"), Subscription(provider="audit"))

    notifications.notify(ROLLOUT, spec, rolling(1, 25), ABORTED)
    assert reported.acquire(timeout=5)
    assert reported.acquire(timeout=5)

    assert sorted(post.urls) == ["http://audit:8080/", "https://hooks.slack.com/services/x"]
    assert count(metrics, "oncall", "sent") == count(metrics, "audit", "sent") == 1


def test_a_rollout_without_subscriptions_reads_no_secret() -> None:
    kube = FakeKube()
    notifications, _, _ = notifier(kube, Post(Reply(200, None)))

    notifications.notify(ROLLOUT, make_spec(), rolling(1, 25), ABORTED)

    assert kube.reads == 0


def test_failures_are_counted_and_warned_once_until_a_delivery_succeeds() -> None:
    post = Post(Reply(None, "no answer from http://audit:8080: NewConnectionError"))
    kube = FakeKube()
    notifications, metrics, reported = notifier(kube, post)
    spec = spec_with(Subscription(provider="audit", triggers=[Trigger.ROLLED_BACK]))

    for _ in range(2):
        notifications.notify(ROLLOUT, spec, rolling(1, 25), ABORTED)
        assert reported.acquire(timeout=5)

    assert count(metrics, "audit", "failed") == 2
    [(reason, message, warning)] = kube.events
    assert (reason, warning) == (R.NOTIFICATION_FAILED, True)
    assert message.startswith("RolledBack notification to audit failed after 2 attempts: no answer")
    assert "the rollout goes on" in message

    post.reply = Reply(200, None)
    notifications.notify(ROLLOUT, spec, rolling(1, 25), ABORTED)
    assert reported.acquire(timeout=5)
    post.reply = Reply(500, "HTTP 500 from http://audit:8080")
    notifications.notify(ROLLOUT, spec, rolling(1, 25), ABORTED)
    assert reported.acquire(timeout=5)
    assert len(kube.events) == 2  # a new outage, a new event


@pytest.mark.parametrize(
    ("kube", "secret", "problem"),
    [
        (FakeKube(None), ("imagerollout", "notifiers"), "notifiers not found"),
        (FakeKube("providers: ["), ("imagerollout", "notifiers"), "is not YAML"),
        (FakeKube(), ("imagerollout", "notifiers"), "provider pager is not in the notifiers"),
        (FakeKube(), None, "without --notifiers-secret"),
    ],
)
def test_a_provider_that_cannot_be_found_fails_with_the_reason(
    kube: FakeKube, secret: tuple[str, str] | None, problem: str
) -> None:
    notifications, metrics, _ = notifier(kube, Post(Reply(200, None)), secret)

    notifications.notify(
        ROLLOUT, spec_with(Subscription(provider="pager")), rolling(1, 25), ABORTED
    )

    assert count(metrics, "pager", "failed") == 1
    [(reason, message, _)] = kube.events
    assert reason == R.NOTIFICATION_FAILED
    assert problem in message


def test_the_secret_ref_is_namespace_slash_name() -> None:
    assert parse_secret_ref("imagerollout/notifiers") == ("imagerollout", "notifiers")
    for bad in ("notifiers", "/x", "a/b/c", "a/"):
        with pytest.raises(ValueError, match="NAMESPACE/NAME"):
            parse_secret_ref(bad)
