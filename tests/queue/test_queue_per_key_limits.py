"""Per-key limits on a running queue: concurrency, sub-keys, token buckets and holds.

The rules themselves are tested with numbers in ``test_queue_scheduler.py``; these
tests check that the queue's threads, its clock and its policy apply them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from queue_helpers import wait_until

from jirabucket.errors import NotFound, RateLimited, TransientError
from jirabucket.queue import KeyLimit, ManualClock, RetryPolicy, TaskQueue, set_testing

JIRA = "jira:acme.atlassian.net"
BB = "bitbucket:api.bitbucket.org"


class Gauge:
    """Measures how many calls run at once per name; calls block until the gate opens."""

    def __init__(self, *, gated: bool = True) -> None:
        self.lock = threading.Lock()
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.order: list[Any] = []

    def __call__(self, name: str, args: Mapping[str, Any]) -> None:
        with self.lock:
            self.now[name] = self.now.get(name, 0) + 1
            self.peak[name] = max(self.peak.get(name, 0), self.now[name])
            self.order.append(args.get("n"))
        assert self.gate.wait(20)
        with self.lock:
            self.now[name] -= 1

    def running(self) -> dict[str, int]:
        with self.lock:
            return dict(self.now)


def test_per_key_concurrency_is_never_exceeded(queues: list[TaskQueue]) -> None:
    q = TaskQueue(workers=8, limits={JIRA: KeyLimit(concurrency=3)})
    queues.append(q)
    gauge = Gauge()
    q.register("op", lambda a: gauge(JIRA, a), key=JIRA)
    q.register("op", lambda a: gauge(BB, a), key=BB)
    futures = [q.submit("op", {}, key=key, idempotent=True) for _ in range(20) for key in (JIRA, BB)]
    wait_until(lambda: gauge.running() == {JIRA: 3, BB: 4})  # BB: the default limit
    per_key = q.stats().per_key
    assert (per_key[JIRA].in_flight, per_key[JIRA].waiting) == (3, 17)
    assert (per_key[BB].in_flight, per_key[BB].waiting) == (4, 16)
    gauge.gate.set()
    assert q.join(timeout=30)
    assert all(f.done() and f.exception() is None for f in futures)
    assert gauge.peak == {JIRA: 3, BB: 4}
    assert q.stats().per_key[JIRA].succeeded == 20


def test_subkey_serialises_writes_to_one_issue(queues: list[TaskQueue]) -> None:
    q = TaskQueue(workers=8, default_limit=KeyLimit(concurrency=8))
    queues.append(q)
    gauges = {issue: Gauge(gated=False) for issue in ("ABC-1", "ABC-2")}
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
    set_testing(True)
    q = TaskQueue(workers=4)
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


def test_token_bucket_paces_calls_by_the_queue_clock(queues: list[TaskQueue], clock: ManualClock) -> None:
    q = TaskQueue(workers=4, clock=clock, limits={BB: KeyLimit(rate=1.0, burst=2)})
    queues.append(q)
    calls: list[float] = []
    q.register("get", lambda a: calls.append(clock()), key=BB)
    for _ in range(5):
        q.submit("get", {}, key=BB, idempotent=True)
    wait_until(lambda: len(calls) == 2 and q.stats().in_flight == 0)  # the burst
    assert q.stats().waiting == 3  # no token left until the clock moves
    clock.advance(1.0)  # wakes the queue's timer: no polling
    wait_until(lambda: len(calls) == 3)
    clock.advance(2.0)
    wait_until(lambda: len(calls) == 5)
    assert calls == [0.0, 0.0, 1.0, 3.0, 3.0]


def test_a_server_wait_holds_every_task_of_its_key_and_no_other(
    queues: list[TaskQueue], clock: ManualClock
) -> None:
    q = TaskQueue(workers=4, clock=clock, policy=RetryPolicy(base_delay=0.0), seed=3)
    queues.append(q)
    server: list[tuple[str, float]] = []
    lock = threading.Lock()

    def call(args: Mapping[str, Any]) -> str:
        with lock:
            server.append((args["name"], clock()))
            if len(server) == 1:
                raise RateLimited("429", status=429, retry_after=30.0)
        return str(args["name"])

    q.register("get", call, key=JIRA)
    q.register("get", call, key=BB)
    first = q.submit("get", {"name": "a"}, key=JIRA, idempotent=True)
    wait_until(lambda: q.stats().retried == 1)
    others = [q.submit("get", {"name": n}, key=JIRA, idempotent=True) for n in "bcde"]
    held = q.stats().per_key[JIRA]
    assert (held.in_flight, held.waiting) == (0, 5)  # decided at submit: all wait for the hold
    assert q.submit("get", {"name": "other"}, key=BB, idempotent=True).result(timeout=10) == "other"
    clock.advance(30.0)
    assert [f.result(timeout=10) for f in [first, *others]] == list("abcde")
    assert server[:2] == [("a", 0.0), ("other", 0.0)]
    assert all(t == 30.0 for _, t in server[2:])


def test_a_404_carrying_a_retry_after_holds_nothing(queues: list[TaskQueue], clock: ManualClock) -> None:
    q = TaskQueue(workers=1, clock=clock)
    queues.append(q)
    seen: list[float] = []

    def handler(args: Mapping[str, Any]) -> None:
        seen.append(clock())
        if len(seen) == 1:
            raise NotFound("gone", status=404, retry_after=30.0)

    q.register("op", handler, key=JIRA)
    assert isinstance(q.submit("op", {}, key=JIRA, idempotent=True).exception(timeout=10), NotFound)
    q.submit("op", {}, key=JIRA, idempotent=True).result(timeout=10)  # the clock never moved
    assert seen == [0.0, 0.0]


def test_ratelimited_without_retry_after_holds_the_key_for_the_backoff(
    queues: list[TaskQueue], clock: ManualClock
) -> None:
    policy = RetryPolicy(base_delay=4.0, max_delay=4.0)
    q = TaskQueue(workers=2, clock=clock, policy=policy, seed=0)
    queues.append(q)
    times: list[float] = []

    def call(args: Mapping[str, Any]) -> None:
        times.append(clock())
        if len(times) == 1:
            raise RateLimited("429 without Retry-After", status=429)

    q.register("get", call, key=BB)
    future = q.submit("get", {}, key=BB, idempotent=True)
    wait_until(lambda: q.stats().retried == 1)
    q.submit("get", {}, key=BB, idempotent=True)
    held = q.stats().per_key[BB]
    assert (held.in_flight, held.waiting) == (0, 2)  # the key is held: the second task waits too
    clock.advance(4.0)  # past the backoff (at most 4 s) ...
    clock.advance(4.0)  # ... and past the release stagger (at most 4 s)
    future.result(timeout=10)
    assert q.join(timeout=10) and len(times) == 3
    assert all(t >= 4.0 for t in times[1:])
