from __future__ import annotations

import threading

from imagerollout.controller.queue import WorkQueue


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_queued_once_however_often_it_is_added() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for _ in range(3):
        queue.add("a")
    queue.add("b")

    assert [queue.get(0), queue.get(0), queue.get(0)] == ["a", "b", None]


def test_a_key_added_while_worked_on_comes_back_after_done_and_not_before() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert queue.get(0) == "a"
    queue.add("a")  # a change while the pass runs

    assert queue.get(0) is None, "one worker at a time per key"
    queue.done("a")
    assert queue.get(0) == "a"


def test_add_after_keeps_the_earliest_deadline() -> None:
    clock = Clock()
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    queue.add_after("a", 5)
    queue.add_after("a", 2)
    queue.add_after("a", 9)

    clock.now = 1.9
    assert queue.get(0) is None
    clock.now = 2.0
    assert queue.get(0) == "a"
    queue.done("a")
    clock.now = 10
    assert queue.get(0) is None, "the later deadlines were superseded"


def test_retry_backs_off_from_half_a_second_to_a_minute_and_forget_resets() -> None:
    queue: WorkQueue[str] = WorkQueue(clock=Clock())
    delays = [queue.retry("a") for _ in range(9)]
    assert delays == [0.5, 1, 2, 4, 8, 16, 32, 60, 60]
    queue.forget("a")
    assert queue.retry("a") == 0.5


def test_get_waits_for_a_deadline_and_close_wakes_waiters() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("a", 0.05)
    assert queue.get(2) == "a"

    got: list[str | None] = []
    waiter = threading.Thread(target=lambda: got.append(queue.get()))
    waiter.start()
    queue.close()
    waiter.join(2)
    assert got == [None]
    queue.add("b")
    assert queue.get(0) is None, "a closed queue hands out nothing"


def test_the_wait_counts_from_when_a_key_was_due() -> None:
    clock, waits = Clock(), list[float]()
    queue: WorkQueue[str] = WorkQueue(clock=clock, on_wait=waits.append)
    queue.add("now")
    queue.add_after("later", 5)
    clock.now = 1.5
    assert queue.get(0) == "now"
    clock.now = 6.25  # "later" was due at 5 and is taken 1.25 s late
    assert queue.get(0) == "later"
    assert waits == [1.5, 1.25]
