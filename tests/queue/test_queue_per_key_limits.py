"""Per-key limits on a running queue: concurrency, sub-keys, token buckets and holds.

The rules themselves are tested with numbers in ``test_queue_scheduler.py``; these
tests check that the queue's threads, its clock and its policy apply them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest
from queue_helpers import wait_until

from jirabucket.errors import NotFound, RateLimited, TransientError
from jirabucket.queue import KeyLimit, ManualClock, RetryPolicy, TaskQueue, WaitEvent, set_testing

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


def test_a_429_without_retry_after_holds_the_key_then_one_probe_goes_first(
    queues: list[TaskQueue], clock: ManualClock
) -> None:
    policy = RetryPolicy(rate_limit_base_delay=4.0, rate_limit_max_delay=4.0)
    waits: list[WaitEvent] = []
    q = TaskQueue(workers=2, clock=clock, policy=policy, seed=0, wait_hooks=[waits.append])
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
    [event] = waits
    assert (event.key, event.reason, event.server_said) == (BB, "rate_limited", False)
    assert 2.0 <= event.seconds <= 4.0  # equal jitter: at least half the step
    clock.advance(4.0)  # past the wait: the first task probes, then the second follows
    future.result(timeout=10)
    assert q.join(timeout=10) and times == [0.0, 4.0, 4.0]


def drive(q: TaskQueue, clock: ManualClock, waits: list[WaitEvent], futures: list[Any]) -> None:
    """Advance the clock by each wait the queue announces until every future is done."""
    seen = 0
    while not all(f.done() for f in futures):
        wait_until(lambda seen=seen: len(waits) > seen or all(f.done() for f in futures))
        if len(waits) > seen:
            seen = len(waits)
            clock.advance(waits[-1].seconds)


def test_a_rate_limited_host_waits_past_max_attempts_and_deadline_probing_once_per_step(
    queues: list[TaskQueue], clock: ManualClock
) -> None:
    # Bitbucket Cloud's hourly limit: 429 without Retry-After until the window frees (here at 900 s).
    policy = RetryPolicy(max_attempts=2, deadline=10.0, rate_limit_base_delay=60.0,
                         rate_limit_max_delay=240.0, rate_limit_max_wait=3600.0)
    waits: list[WaitEvent] = []
    q = TaskQueue(workers=4, clock=clock, policy=policy, seed=7, wait_hooks=[waits.append])
    queues.append(q)
    calls: list[float] = []
    lock = threading.Lock()

    def call(args: Mapping[str, Any]) -> int:
        with lock:
            calls.append(clock())
        if clock() < 900.0:
            raise RateLimited("429 Too Many Requests", status=429)
        return int(args["n"])

    q.register("get", call, key=BB)
    futures = [q.submit("get", {"n": n}, key=BB, idempotent=True) for n in range(10)]
    drive(q, clock, waits, futures)
    assert [f.result(timeout=0) for f in futures] == list(range(10))
    limited = [t for t in calls if t < 900.0]
    assert len(limited) == 4 + (len(waits) - 1)  # the first four in flight, then one probe per step
    assert [w.limited_for for w in waits] == sorted(w.limited_for for w in waits)
    assert waits[-1].limited_for == pytest.approx(clock()) and clock() >= 900.0  # far past 2 attempts / 10 s
    ceilings = [min(240.0, 60.0 * 2**n) for n in range(len(waits))]
    assert all(c / 2 <= w.seconds <= c for w, c in zip(waits, ceilings, strict=True))
    assert q.stats().per_key[BB].failed == 0


def test_a_host_limited_past_rate_limit_max_wait_fails_its_tasks_and_no_other(
    queues: list[TaskQueue], clock: ManualClock
) -> None:
    policy = RetryPolicy(rate_limit_base_delay=40.0, rate_limit_max_delay=40.0, rate_limit_max_wait=100.0)
    waits: list[WaitEvent] = []
    q = TaskQueue(workers=2, clock=clock, policy=policy, wait_hooks=[waits.append],
                  default_limit=KeyLimit(concurrency=1))
    queues.append(q)
    calls: list[str] = []

    def limited(args: Mapping[str, Any]) -> None:
        calls.append(args["n"])
        raise RateLimited("429 Too Many Requests", status=429)

    q.register("get", limited, key=BB)
    q.register("get", lambda a: "fine", key=JIRA)
    futures = [q.submit("get", {"n": n}, key=BB, idempotent=True) for n in "abc"]
    drive(q, clock, waits, futures)
    for future in futures:
        with pytest.raises(RateLimited, match="stayed rate limited"):
            future.result(timeout=0)
    assert calls == ["a"] * (len(waits) + 1)  # only the probe asked; b and c were never sent
    assert 100.0 - 40.0 < waits[-1].limited_for <= 100.0
    assert [d.args["n"] for d in q.dead_letters()] == ["a", "b", "c"]
    assert q.submit("get", {}, key=JIRA, idempotent=True).result(timeout=10) == "fine"


def test_test_mode_reports_rate_limit_waits_without_waiting(queues: list[TaskQueue], clock: ManualClock) -> None:
    set_testing(True)
    waits: list[WaitEvent] = []
    q = TaskQueue(workers=2, clock=clock, wait_hooks=[waits.append])
    queues.append(q)
    answers = [RateLimited("429", status=429), RateLimited("429", status=429, retry_after=120.0)]

    def call(args: Mapping[str, Any]) -> str:
        if answers:
            raise answers.pop(0)
        return "ok"

    q.register("get", call, key=BB)
    assert q.submit("get", {}, key=BB, idempotent=True).result(timeout=10) == "ok"
    assert clock() == 0.0
    assert [(w.server_said, round(w.seconds)) for w in waits][1] == (True, 120)
    assert 7.5 <= waits[0].seconds <= 15.0  # the default first step, reported, not waited
