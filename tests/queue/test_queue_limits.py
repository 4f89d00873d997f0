"""Per-key concurrency, sub-keys, token buckets and shared cool-downs."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from queue_helpers import FakeClock, wait_until

from jirabucket.errors import RateLimited, TransientError
from jirabucket.queue import KeyLimit, RetryPolicy, TaskQueue

JIRA = "jira:acme.atlassian.net"
BB = "bitbucket:api.bitbucket.org"


class Gauge:
    """Measures how many calls run at once, per key and per sub-key."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.order: list[Any] = []

    def __call__(self, name: str, args: Mapping[str, Any]) -> None:
        with self.lock:
            self.now[name] = self.now.get(name, 0) + 1
            self.peak[name] = max(self.peak.get(name, 0), self.now[name])
            self.order.append(args.get("n"))
        time.sleep(0.005)
        with self.lock:
            self.now[name] -= 1


def test_per_key_concurrency_is_never_exceeded(queues: list[TaskQueue]) -> None:
    q = TaskQueue(workers=8, limits={JIRA: KeyLimit(concurrency=3)})
    queues.append(q)
    gauge = Gauge()
    q.register("op", lambda a: gauge(JIRA, a), key=JIRA)
    q.register("op", lambda a: gauge(BB, a), key=BB)
    futures = [q.submit("op", {}, key=key, idempotent=True) for _ in range(40) for key in (JIRA, BB)]
    assert q.join(timeout=30)
    assert all(f.done() and f.exception() is None for f in futures)
    assert gauge.peak[JIRA] <= 3
    assert gauge.peak[BB] <= 4  # the default limit
    assert q.stats().per_key[JIRA].succeeded == 40


def test_subkey_serialises_writes_to_one_issue(queues: list[TaskQueue]) -> None:
    q = TaskQueue(workers=8, default_limit=KeyLimit(concurrency=8))
    queues.append(q)
    gauges = {issue: Gauge() for issue in ("ABC-1", "ABC-2")}
    q.register("write", lambda a: gauges[a["issue"]](a["issue"], a), key=JIRA)
    for n in range(15):
        for issue in gauges:
            q.submit("write", {"issue": issue, "n": n}, key=JIRA, idempotent=True, subkey=issue)
    assert q.join(timeout=30)
    for issue, gauge in gauges.items():
        assert gauge.peak[issue] == 1
        assert gauge.order == list(range(15))  # one at a time, in submission order


def test_subkey_is_held_across_a_retry(queues: list[TaskQueue]) -> None:
    # The first write to ABC-1 fails once: the second write must wait for its retry.
    q = TaskQueue(workers=4, policy=RetryPolicy(base_delay=0.05, max_delay=0.05))
    queues.append(q)
    seen: list[tuple[int, str]] = []
    failed = threading.Event()

    def write(args: Mapping[str, Any]) -> None:
        if args["n"] == 0 and not failed.is_set():
            failed.set()
            seen.append((0, "failed"))
            raise TransientError("503", status=503)
        seen.append((args["n"], "ok"))

    q.register("write", write, key=JIRA)
    for n in range(3):
        q.submit("write", {"n": n}, key=JIRA, idempotent=True, subkey="ABC-1")
    assert q.join(timeout=30)
    assert seen == [(0, "failed"), (0, "ok"), (1, "ok"), (2, "ok")]


def test_token_bucket_limits_the_rate(queues: list[TaskQueue], fake_clock: FakeClock) -> None:
    q = TaskQueue(workers=4, clock=fake_clock, limits={BB: KeyLimit(rate=1.0, burst=2)})
    queues.append(q)
    calls: list[float] = []
    q.register("get", lambda a: calls.append(fake_clock()), key=BB)
    for _ in range(5):
        q.submit("get", {}, key=BB, idempotent=True)
    wait_until(lambda: len(calls) == 2)  # the burst
    time.sleep(0.1)
    assert len(calls) == 2  # no token left until the clock moves
    fake_clock.advance(1.0)
    wait_until(lambda: len(calls) == 3)
    fake_clock.advance(2.0)
    wait_until(lambda: len(calls) == 5)
    assert calls == [0.0, 0.0, 1.0, 3.0, 3.0]


def test_rate_limit_pauses_every_task_of_the_key(
    queues: list[TaskQueue], fake_clock: FakeClock
) -> None:
    q = TaskQueue(workers=4, clock=fake_clock, policy=RetryPolicy(base_delay=0.0), seed=3)
    queues.append(q)
    server: list[tuple[str, float]] = []
    lock = threading.Lock()
    limited = threading.Event()

    def call(args: Mapping[str, Any]) -> str:
        with lock:
            server.append((args["name"], fake_clock()))
            if args["name"] == "a" and not limited.is_set():
                limited.set()
                raise RateLimited("429", status=429, retry_after=30.0)
        if args["name"] == "a":
            time.sleep(0.05)  # let b..e queue up behind the cool-down
        return str(args["name"])

    q.register("get", call, key=JIRA)
    q.register("get", call, key=BB)
    first = q.submit("get", {"name": "a"}, key=JIRA, idempotent=True)
    wait_until(limited.is_set)
    wait_until(lambda: q.stats().retried == 1)
    others = [q.submit("get", {"name": n}, key=JIRA, idempotent=True) for n in "bcde"]
    assert q.submit("get", {"name": "other"}, key=BB, idempotent=True).result(timeout=10)
    fake_clock.advance(10.0)
    time.sleep(0.1)
    fake_clock.advance(10.0)
    time.sleep(0.1)
    with lock:
        assert [name for name, _ in server] == ["a", "other"]  # nothing hit JIRA in the pause
    fake_clock.advance(10.5)
    for future in [first, *others]:
        future.result(timeout=10)
    jira_calls = [t for name, t in server if name != "other"]
    assert jira_calls[0] == 0.0 and all(t >= 30.0 for t in jira_calls[1:])


def test_release_after_a_pause_is_staggered(
    queues: list[TaskQueue], fake_clock: FakeClock
) -> None:
    policy = RetryPolicy(base_delay=8.0, max_delay=8.0)
    q = TaskQueue(workers=4, clock=fake_clock, policy=policy, seed=5)
    queues.append(q)
    times: list[float] = []
    limited = threading.Event()

    def call(args: Mapping[str, Any]) -> None:
        if not limited.is_set():
            limited.set()
            raise RateLimited("429", status=429, retry_after=20.0)
        times.append(fake_clock())

    q.register("get", call, key=JIRA)
    q.submit("get", {}, key=JIRA, idempotent=True)
    wait_until(lambda: q.stats().retried == 1)
    for _ in range(3):
        q.submit("get", {}, key=JIRA, idempotent=True)
    fake_clock.advance(20.0)
    for _ in range(9):  # walk through the 8 s stagger window a second at a time
        time.sleep(0.05)
        fake_clock.advance(1.0)
    assert q.join(timeout=10)
    assert len(times) == 4 and all(20.0 <= t <= 29.0 for t in times)
    assert len(set(times)) > 1  # not all released at the same instant


def test_ratelimited_without_retry_after_pauses_for_backoff(
    queues: list[TaskQueue], fake_clock: FakeClock
) -> None:
    policy = RetryPolicy(base_delay=4.0, max_delay=4.0)
    q = TaskQueue(workers=2, clock=fake_clock, policy=policy, seed=0)
    queues.append(q)
    times: list[float] = []

    def call(args: Mapping[str, Any]) -> None:
        times.append(fake_clock())
        if len(times) == 1:
            raise RateLimited("429 without Retry-After", status=429)

    q.register("get", call, key=BB)
    future = q.submit("get", {}, key=BB, idempotent=True)
    wait_until(lambda: q.stats().retried == 1)
    q.submit("get", {}, key=BB, idempotent=True)
    time.sleep(0.1)
    assert times == [0.0]  # the key is paused, the second task waits too
    fake_clock.advance(4.0)  # past the backoff (at most 4 s) ...
    time.sleep(0.05)
    fake_clock.advance(4.0)  # ... and past the release stagger (at most 4 s)
    future.result(timeout=10)
    assert q.join(timeout=10) and len(times) == 3
    assert all(t >= 4.0 for t in times[1:])
