"""Property tests: nothing lost, nothing run twice, limits and sub-key order kept, due order kept.

The pure scheduler is driven by generated programs of events; the threaded queue by
generated task mixes."""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from queue_helpers import wait_until

from jirabucket.errors import NotFound, RateLimited, TransientError
from jirabucket.queue import KeyLimit, ManualClock, RetryPolicy, TaskQueue, set_testing
from jirabucket.queue.scheduler import Scheduler

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
    clock = ManualClock()
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


@dataclass(eq=False)
class Job:
    n: int
    key: str
    subkey: str | None


EVENT = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(["a", "b"]), st.sampled_from([None, "x", "y"])),
    st.tuples(st.just("finish"), st.integers(0, 50)),
    st.tuples(st.just("retry"), st.integers(0, 50), st.floats(0.0, 5.0)),
    st.tuples(st.just("hold"), st.sampled_from(["a", "b"]), st.floats(0.0, 10.0), st.floats(0.0, 3.0)),
    st.tuples(st.just("tick"), st.floats(0.0, 4.0)),
    st.tuples(st.just("throttle"), st.integers(0, 50), st.one_of(st.none(), st.floats(0.0, 5.0))),
)
THROTTLE = RetryPolicy(rate_limit_base_delay=1.0, rate_limit_max_delay=4.0, rate_limit_max_wait=12.0)
LIMITS = {"a": KeyLimit(concurrency=2), "b": KeyLimit(concurrency=3, rate=2.0, burst=2)}


class Program:
    """Runs generated events against a scheduler and checks its promises after each."""

    def __init__(self, seed: int) -> None:
        self.s: Scheduler[Job] = Scheduler(limits=LIMITS, rng=random.Random(seed))
        self.now = 0.0
        self.added: list[Job] = []
        self.running: list[Job] = []
        self.finished: list[int] = []
        self.first_starts: list[Job] = []

    def take_due(self) -> None:
        s, running = self.s, self.running
        for job in s.due(self.now):
            assert job not in running
            if job.n not in {j.n for j in self.first_starts}:
                self.first_starts.append(job)
            running.append(job)
        for key, limit in LIMITS.items():
            assert sum(j.key == key for j in running) <= limit.concurrency
        held = [(j.key, j.subkey) for j in running if j.subkey is not None]
        assert len(held) == len(set(held))  # one task per sub-key at a time
        assert s.in_flight == len(running) and s.pending == len(self.added) - len(self.finished)

    def apply(self, event: tuple[Any, ...]) -> None:
        s, kind = self.s, event[0]
        if kind == "add":
            job = Job(len(self.added), event[1], event[2])
            self.added.append(job)
            s.add(job, now=self.now)
        elif kind == "hold":
            s.hold(event[1], until=self.now + event[2], stagger=event[3], now=self.now)
        elif kind == "tick":
            self.now += event[1]
        elif self.running:
            job = self.running.pop(event[1] % len(self.running))
            if kind == "finish":
                self.finish(job)
            elif kind == "retry":
                s.retry(job, at=self.now + event[2], now=self.now)
            elif s.throttle(job, now=self.now, server_wait=event[2], policy=THROTTLE).given_up:
                self.finish(job)  # the job and every task of its key not running end here
                self.finished.extend(t.n for t in s.evict(job.key))
        self.take_due()

    def finish(self, job: Job) -> None:
        self.s.done(job, now=self.now)
        self.finished.append(job.n)

    def run_to_end(self) -> None:
        for _ in range(10 * len(self.added) + 10):
            if self.s.pending == 0:
                return
            for job in list(self.running):
                self.running.remove(job)
                self.finish(job)
            wake = self.s.next_wake()
            if wake is not None and wake > self.now:
                self.now = wake
            self.take_due()


@settings(max_examples=300, deadline=None)
@given(events=st.lists(EVENT, max_size=80), seed=st.integers(0, 3))
def test_scheduler_keeps_its_promises_under_any_sequence_of_events(
    events: list[tuple[Any, ...]], seed: int
) -> None:
    program = Program(seed)
    for event in events:
        program.apply(event)
    program.run_to_end()
    assert sorted(program.finished) == list(range(len(program.added)))  # nothing lost, nothing twice
    assert (program.s.pending, program.s.in_flight) == (0, 0)
    for key in LIMITS:
        for subkey in ("x", "y"):
            order = [j.n for j in program.first_starts if (j.key, j.subkey) == (key, subkey)]
            assert order == sorted(order)  # a sub-key's tasks start in submission order
