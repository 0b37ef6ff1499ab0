"""The event recorder: posts off the caller's thread, in order per rollout, all of them on flush."""

from __future__ import annotations

import threading
from typing import Any

from imagerollout.kube.events import EventRecorder


def rollout(name: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name}}


class Poster:
    def __init__(self, fail_on: str = "", gate: threading.Event | None = None) -> None:
        self.posted: list[tuple[str, str, str]] = []
        self.threads: set[str] = set()
        self.fail_on, self.gate = fail_on, gate
        self.lock = threading.Lock()

    def __call__(self, obj: dict[str, Any], reason: str, message: str, warning: bool) -> None:
        if self.gate is not None:
            self.gate.wait(5)
        if reason == self.fail_on:
            raise RuntimeError("API server said no")
        with self.lock:
            self.posted.append((obj["metadata"]["name"], reason, message))
            self.threads.add(threading.current_thread().name)


def test_flush_posts_every_queued_event_in_order_per_rollout() -> None:
    poster = Poster()
    recorder = EventRecorder(poster, senders=3)
    for i in range(50):
        for name in ("a", "b", "c", "d"):
            recorder.record(rollout(name), f"R{i}", f"{name} {i}", warning=False)
    assert recorder.flush(timeout=10)
    assert len(poster.posted) == 200
    for name in ("a", "b", "c", "d"):
        reasons = [reason for who, reason, _ in poster.posted if who == name]
        assert reasons == [f"R{i}" for i in range(50)]
    assert threading.current_thread().name not in poster.threads


def test_record_returns_before_the_post_is_done() -> None:
    gate = threading.Event()
    poster = Poster(gate=gate)
    recorder = EventRecorder(poster, senders=1)
    recorder.record(rollout("a"), "TrafficWeightUpdated", "canary 5%", warning=False)
    assert poster.posted == []  # the sender is still held at the gate
    gate.set()
    assert recorder.flush(timeout=10)
    assert poster.posted == [("a", "TrafficWeightUpdated", "canary 5%")]


def test_a_failed_post_does_not_stop_the_others() -> None:
    poster = Poster(fail_on="Bad")
    recorder = EventRecorder(poster, senders=1)
    recorder.record(rollout("a"), "Bad", "x", warning=True)
    recorder.record(rollout("a"), "Good", "y", warning=False)
    assert recorder.flush(timeout=10)
    assert poster.posted == [("a", "Good", "y")]


def test_flush_reports_a_sender_that_cannot_finish_in_time() -> None:
    gate = threading.Event()
    recorder = EventRecorder(Poster(gate=gate), senders=1)
    recorder.record(rollout("a"), "Slow", "x", warning=False)
    assert not recorder.flush(timeout=0.2)
    gate.set()
