from __future__ import annotations

import logging
import threading

import pytest

from imagerollout.controller.leader import AlwaysLeader
from imagerollout.controller.queue import WorkQueue
from imagerollout.controller.reconciler import ActionError
from imagerollout.controller.workers import Workers


class Standby(AlwaysLeader):
    def __init__(self) -> None:
        self.leading = False

    def is_leading(self) -> bool:
        return self.leading


def test_a_standby_does_not_act_until_it_leads() -> None:
    queue: WorkQueue[str] = WorkQueue()
    done = threading.Event()
    leader = Standby()
    workers = Workers(queue, lambda key: done.set(), leader, 2)
    workers.start()
    queue.add("a")
    assert not done.wait(0.3)
    leader.leading = True
    assert done.wait(3), "the skipped key came back once leading"
    workers.stop(2)


def test_a_failing_pass_is_retried_and_logged_once_per_distinct_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue: WorkQueue[str] = WorkQueue(backoff=(0.01, 0.02))
    calls: list[str] = []
    recovered = threading.Event()

    def handle(key: str) -> float | None:
        calls.append(key)
        if len(calls) <= 4:
            raise ActionError("EnsureServices refused: exceeded quota")
        recovered.set()
        return None

    workers = Workers(queue, handle, AlwaysLeader(), 1)
    with caplog.at_level(logging.INFO, logger="imagerollout"):
        workers.start()
        queue.add("a")
        assert recovered.wait(5)
        workers.stop(2)
    lines = [r.getMessage() for r in caplog.records]
    assert sum("exceeded quota" in line for line in lines) == 1, lines
    assert any("recovered" in line for line in lines)
    assert all(r.exc_info is None for r in caplog.records), "no traceback for a refused action"


def test_stop_waits_for_the_pass_in_flight() -> None:
    queue: WorkQueue[str] = WorkQueue()
    started, finished = threading.Event(), threading.Event()

    def slow(key: str) -> float | None:
        started.set()
        threading.Event().wait(0.3)
        finished.set()
        return None

    workers = Workers(queue, slow, AlwaysLeader(), 1)
    workers.start()
    queue.add("a")
    assert started.wait(2)
    workers.stop(5)
    assert finished.is_set()
