"""Property tests of the scheduler: nothing lost, nothing run twice, due order kept."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from queue_helpers import FakeClock, wait_until

from jirabucket.errors import NotFound, RateLimited, TransientError
from jirabucket.queue import KeyLimit, RetryPolicy, TaskQueue, set_testing

TASK = st.tuples(
    st.sampled_from(["jira:a", "jira:b", "bitbucket:c"]),  # key
    st.sampled_from([None, "ABC-1", "ABC-2"]),  # sub-key
    st.integers(min_value=0, max_value=3),  # transient failures before success
    st.booleans(),  # ends with a permanent error instead
)


@settings(max_examples=25, deadline=None)
@given(tasks=st.lists(TASK, min_size=1, max_size=40), workers=st.integers(1, 4))
def test_no_task_lost_or_run_twice(tasks: list[tuple[str, str | None, int, bool]],
                                   workers: int) -> None:
    set_testing(True, seed=0)
    q_holder: list[TaskQueue] = []
    try:
        attempts: dict[int, int] = {}
        finals: dict[int, int] = {}
        lock = threading.Lock()

        def handler(args: Mapping[str, Any]) -> int:
            n = args["n"]
            _, _, failures, permanent = tasks[n]
            with lock:
                attempts[n] = attempts.get(n, 0) + 1
                if attempts[n] <= failures:
                    raise TransientError("503", status=503)
                finals[n] = finals.get(n, 0) + 1
            if permanent:
                raise NotFound("gone", status=404)
            return n

        q = TaskQueue(workers=workers, default_limit=KeyLimit(concurrency=2),
                      policy=RetryPolicy(max_attempts=10))
        q_holder.append(q)
        for key in ("jira:a", "jira:b", "bitbucket:c"):
            q.register("op", handler, key=key)
        futures = [q.submit("op", {"n": n}, key=key, idempotent=True, subkey=sub)
                   for n, (key, sub, _, _) in enumerate(tasks)]
        assert q.join(timeout=30)
        for n, future in enumerate(futures):
            if tasks[n][3]:
                assert isinstance(future.exception(timeout=0), NotFound)
            else:
                assert future.result(timeout=0) == n
        assert finals == dict.fromkeys(range(len(tasks)), 1)  # each ran to its end once
        assert attempts == {n: t[2] + 1 for n, t in enumerate(tasks)}
        stats = q.stats()
        assert stats.succeeded + stats.failed == len(tasks)
        assert stats.retried == sum(t[2] for t in tasks)
        assert (stats.in_flight, stats.waiting) == (0, 0)
    finally:
        set_testing(False)
        for made in q_holder:
            made.close(timeout=1)


@settings(max_examples=15, deadline=None)
@given(waits=st.lists(st.integers(1, 500), min_size=2, max_size=12, unique=True))
def test_retries_run_in_order_of_due_time(waits: list[int]) -> None:
    clock = FakeClock()
    q = TaskQueue(workers=1, clock=clock, policy=RetryPolicy(base_delay=0.0, deadline=1e4))
    seen: list[int] = []
    lock = threading.Lock()

    def handler(args: Mapping[str, Any]) -> None:
        with lock:
            first = args["wait"] not in seen
            seen.append(args["wait"])
        if first:
            raise RateLimited("429", status=429, retry_after=float(args["wait"]))

    try:
        for n, wait in enumerate(waits):
            q.register("op", handler, key=f"k{n}")  # one key each: one cool-down each
            q.submit("op", {"wait": wait}, key=f"k{n}", idempotent=True)
        wait_until(lambda: q.stats().retried == len(waits))
        clock.advance(1000.0)  # every retry is due now; they must run by due time
        assert q.join(timeout=30)
        assert seen[len(waits):] == sorted(waits)
    finally:
        q.close(timeout=1)
