"""Submit: registration, idempotency keys, backpressure, close, stats."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import CancelledError
from typing import Any

import pytest
from queue_helpers import wait_until

from jirabucket.queue import KeyLimit, QueueClosed, QueueFull, TaskQueue, UnknownOperation

KEY = "jira:acme.atlassian.net"


class Gate:
    """A handler that blocks until the test opens the gate."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, args: Mapping[str, Any]) -> Any:
        with self._lock:
            self.calls += 1
        assert self.open.wait(20)
        return args.get("n")


def test_unregistered_operation_is_refused(queues: list[TaskQueue]) -> None:
    q = TaskQueue(workers=1)
    queues.append(q)
    q.register("jira.get_issue", lambda a: None, key=KEY)
    with pytest.raises(UnknownOperation, match=r"jira\.nope"):
        q.submit("jira.nope", {}, key=KEY, idempotent=True)
    with pytest.raises(UnknownOperation, match="other"):
        q.submit("jira.get_issue", {}, key="other", idempotent=True)  # registered per key


def test_idempotency_key_returns_the_pending_future(queues: list[TaskQueue]) -> None:
    q = TaskQueue(workers=2)
    queues.append(q)
    gate = Gate()
    q.register("sync", gate, key=KEY)
    first = q.submit("sync", {"n": 1}, key=KEY, idempotent=True, idempotency_key="ABC-1")
    again = q.submit("sync", {"n": 2}, key=KEY, idempotent=True, idempotency_key="ABC-1")
    other = q.submit("sync", {"n": 3}, key=KEY, idempotent=True, idempotency_key="ABC-2")
    assert again is first and other is not first
    gate.open.set()
    assert first.result(timeout=10) == 1 and other.result(timeout=10) == 3
    assert q.join(timeout=10)
    later = q.submit("sync", {"n": 4}, key=KEY, idempotent=True, idempotency_key="ABC-1")
    assert later is not first and later.result(timeout=10) == 4  # no longer pending
    assert gate.calls == 3


def test_full_queue_raises(queues: list[TaskQueue]) -> None:
    q = TaskQueue(workers=1, max_pending=3, when_full="raise")
    queues.append(q)
    gate = Gate()
    q.register("op", gate, key=KEY)
    for _ in range(3):
        q.submit("op", {}, key=KEY, idempotent=True)
    with pytest.raises(QueueFull, match="3 pending"):
        q.submit("op", {}, key=KEY, idempotent=True)
    gate.open.set()
    assert q.join(timeout=10)
    q.submit("op", {}, key=KEY, idempotent=True).result(timeout=10)


def test_full_queue_blocks_then_times_out(queues: list[TaskQueue]) -> None:
    q = TaskQueue(workers=1, max_pending=2, submit_timeout=0.2)
    queues.append(q)
    gate = Gate()
    q.register("op", gate, key=KEY)
    q.submit("op", {}, key=KEY, idempotent=True)
    q.submit("op", {}, key=KEY, idempotent=True)
    started = time.monotonic()
    with pytest.raises(QueueFull, match="stayed full"):
        q.submit("op", {}, key=KEY, idempotent=True)
    assert time.monotonic() - started >= 0.15
    gate.open.set()


def test_full_queue_blocks_until_room(queues: list[TaskQueue]) -> None:
    q = TaskQueue(workers=1, max_pending=1, submit_timeout=20)
    queues.append(q)
    gate = Gate()
    q.register("op", gate, key=KEY)
    q.submit("op", {"n": 1}, key=KEY, idempotent=True)
    threading.Timer(0.1, gate.open.set).start()
    blocked = q.submit("op", {"n": 2}, key=KEY, idempotent=True)  # waits for the first
    assert gate.open.is_set()
    assert blocked.result(timeout=10) == 2


def test_submit_after_close_is_refused() -> None:
    q = TaskQueue(workers=1)
    q.register("op", lambda a: None, key=KEY)
    report = q.close()
    assert (report.completed, report.remaining, report.dead) == (0, 0, 0)
    with pytest.raises(QueueClosed):
        q.submit("op", {}, key=KEY, idempotent=True)


def test_close_drains_then_reports(queues: list[TaskQueue]) -> None:
    done: list[int] = []
    with TaskQueue(workers=2) as q:
        q.register("op", lambda a: done.append(a["n"]), key=KEY)
        for n in range(50):
            q.submit("op", {"n": n}, key=KEY, idempotent=True)
    assert sorted(done) == list(range(50))
    assert q.close().completed == 50  # closing again is harmless


def test_close_timeout_leaves_and_ends_the_rest() -> None:
    q = TaskQueue(workers=1)
    gate = Gate()
    q.register("op", gate, key=KEY)
    futures = [q.submit("op", {"n": n}, key=KEY, idempotent=True) for n in range(3)]
    report = q.close(timeout=0.1)
    assert report.remaining == 3 and report.completed == 0
    with pytest.raises(QueueClosed, match="closed before the task finished"):
        futures[2].result(timeout=5)
    gate.open.set()
    assert futures[0].result(timeout=10) == 0  # the running task still finishes


def test_cancelled_future_is_skipped(queues: list[TaskQueue]) -> None:
    q = TaskQueue(workers=1, default_limit=KeyLimit(1))
    queues.append(q)
    gate = Gate()
    q.register("op", gate, key=KEY)
    first = q.submit("op", {"n": 1}, key=KEY, idempotent=True)
    second = q.submit("op", {"n": 2}, key=KEY, idempotent=True)
    assert second.cancel()
    gate.open.set()
    assert first.result(timeout=10) == 1
    assert q.join(timeout=10)
    with pytest.raises(CancelledError):
        second.result()
    assert gate.calls == 1


def test_stats_count_waiting_and_in_flight(queues: list[TaskQueue]) -> None:
    q = TaskQueue(workers=4)
    queues.append(q)
    gate = Gate()
    q.register("op", gate, key=KEY)
    for _ in range(6):
        q.submit("op", {}, key=KEY, idempotent=True)
    wait_until(lambda: gate.calls == 4)
    stats = q.stats()
    assert (stats.submitted, stats.in_flight, stats.waiting) == (6, 4, 2)
    assert stats.per_key[KEY].in_flight == 4 and stats.per_key[KEY].waiting == 2
    gate.open.set()
    assert q.join(timeout=10)
    stats = q.stats()
    assert (stats.succeeded, stats.in_flight, stats.waiting) == (6, 0, 0)


def test_join_times_out_while_busy(queues: list[TaskQueue]) -> None:
    q = TaskQueue(workers=1)
    queues.append(q)
    gate = Gate()
    q.register("op", gate, key=KEY)
    q.submit("op", {}, key=KEY, idempotent=True)
    assert q.join(timeout=0.05) is False
    gate.open.set()
    assert q.join(timeout=10) is True
