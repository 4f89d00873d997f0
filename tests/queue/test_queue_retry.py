"""Retries, failures, deadlines and hooks of the running queue."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest

from jirabucket.errors import NotFound, OutcomeUnknown, PermanentError, TransientError
from jirabucket.queue import AttemptEvent, ManualClock, RetryPolicy, TaskQueue, set_testing

KEY = "jira:acme.atlassian.net"


class Flaky:
    """A handler that raises the given errors, then returns ``"ok"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, args: Mapping[str, Any]) -> str:
        with self.lock:
            self.calls += 1
            if self.errors:
                raise self.errors.pop(0)
        return "ok"


def make(queues: list[TaskQueue], **options: Any) -> TaskQueue:
    q = TaskQueue(workers=options.pop("workers", 4), **options)
    queues.append(q)
    return q


def test_transient_errors_are_retried_until_success(queues: list[TaskQueue]) -> None:
    set_testing(True, seed=1)
    events: list[AttemptEvent] = []
    q = make(queues, hooks=[events.append])
    handler = Flaky(TransientError("503", status=503), TransientError("reset", status=None))
    q.register("jira.get_issue", handler, key=KEY)
    future = q.submit("jira.get_issue", {"issue": "ABC-1"}, key=KEY, idempotent=True)
    assert future.result(timeout=10) == "ok"
    assert handler.calls == 3
    assert [e.outcome for e in events] == ["retry", "retry", "success"]
    assert [e.attempt for e in events] == [1, 2, 3]
    assert events[0].error == "TransientError: 503" and events[0].delay is not None
    stats = q.stats()
    assert (stats.submitted, stats.succeeded, stats.retried, stats.failed) == (1, 1, 2, 0)
    assert stats.per_key[KEY].retried == 2


def test_permanent_error_fails_at_once_unchanged(queues: list[TaskQueue]) -> None:
    q = make(queues)
    handler = Flaky(NotFound("no issue ABC-9", status=404))
    q.register("jira.get_issue", handler, key=KEY)
    future = q.submit("jira.get_issue", {}, key=KEY, idempotent=True)
    with pytest.raises(NotFound, match="no issue ABC-9"):
        future.result(timeout=10)
    assert handler.calls == 1
    [dead] = q.dead_letters()
    assert dead.error == "NotFound: no issue ABC-9" and dead.attempts == 1


def test_handler_bug_fails_and_worker_survives(queues: list[TaskQueue]) -> None:
    q = make(queues, workers=1)

    def buggy(args: Mapping[str, Any]) -> None:
        raise ZeroDivisionError("oops")

    q.register("bug", buggy, key=KEY)
    q.register("fine", lambda args: 42, key=KEY)
    with pytest.raises(ZeroDivisionError):
        q.submit("bug", {}, key=KEY, idempotent=True).result(timeout=10)
    assert q.submit("fine", {}, key=KEY, idempotent=True).result(timeout=10) == 42


def test_post_connection_failure_is_outcome_unknown(queues: list[TaskQueue]) -> None:
    q = make(queues)
    reset = TransientError("connection reset", status=None, method="POST", url="https://x/y")
    handler = Flaky(reset)
    q.register("jira.add_comment", handler, key=KEY)
    future = q.submit("jira.add_comment", {"body": "hi"}, key=KEY, idempotent=False)
    with pytest.raises(OutcomeUnknown, match="may or may not") as info:
        future.result(timeout=10)
    assert info.value.__cause__ is reset and info.value.method == "POST"
    assert handler.calls == 1


def test_safe_post_is_retried_after_connection_failure(queues: list[TaskQueue]) -> None:
    set_testing(True)
    q = make(queues)
    handler = Flaky(TransientError("timeout", status=None))
    q.register("jira.upsert_remote_link", handler, key=KEY)
    future = q.submit("jira.upsert_remote_link", {"globalId": "g1"}, key=KEY, idempotent=True)
    assert future.result(timeout=10) == "ok" and handler.calls == 2


def test_a_bare_handler_raising_connection_errors_is_retried(queues: list[TaskQueue]) -> None:
    set_testing(True)
    q = make(queues)
    handler = Flaky(ConnectionResetError(104, "Connection reset by peer"), TimeoutError("timed out"))
    q.register("notify", handler, key=KEY)
    assert q.submit("notify", {}, key=KEY, idempotent=True).result(timeout=10) == "ok"
    assert handler.calls == 3
    once = Flaky(ConnectionError("reset"))
    q.register("post", once, key=KEY)
    with pytest.raises(OutcomeUnknown, match="may or may not"):  # not safe to repeat
        q.submit("post", {}, key=KEY, idempotent=False).result(timeout=10)
    assert once.calls == 1


def test_500_retried_only_for_idempotent_tasks(queues: list[TaskQueue]) -> None:
    set_testing(True)
    q = make(queues)
    get, post = Flaky(TransientError("500", status=500)), Flaky(TransientError("500", status=500))
    q.register("get", get, key=KEY)
    q.register("post", post, key=KEY)
    assert q.submit("get", {}, key=KEY, idempotent=True).result(timeout=10) == "ok"
    with pytest.raises(TransientError):
        q.submit("post", {}, key=KEY, idempotent=False).result(timeout=10)
    assert (get.calls, post.calls) == (2, 1)


def test_max_attempts_exhausted_sets_last_error(queues: list[TaskQueue]) -> None:
    set_testing(True)
    q = make(queues, policy=RetryPolicy(max_attempts=3))
    errors = [TransientError(f"503 #{n}", status=503) for n in range(1, 6)]
    handler = Flaky(*errors)
    q.register("get", handler, key=KEY)
    with pytest.raises(TransientError, match="503 #3"):
        q.submit("get", {}, key=KEY, idempotent=True).result(timeout=10)
    assert handler.calls == 3
    assert q.dead_letters()[0].attempts == 3


def test_deadline_is_honoured(queues: list[TaskQueue], clock: ManualClock) -> None:
    # Each attempt "takes" 3 s of fake time; no attempt may be scheduled past 10 s.
    set_testing(True)
    policy = RetryPolicy(deadline=10.0, base_delay=0.0, max_delay=0.0, max_attempts=100)
    q = make(queues, policy=policy, clock=clock)
    starts: list[float] = []

    def slow_failure(args: Mapping[str, Any]) -> None:
        starts.append(clock())
        clock.advance(3.0)
        raise TransientError(f"503 at {starts[-1]:.0f}", status=503)

    q.register("get", slow_failure, key=KEY)
    with pytest.raises(TransientError, match="503 at 9"):
        q.submit("get", {}, key=KEY, idempotent=True).result(timeout=10)
    assert starts == [0.0, 3.0, 6.0, 9.0]
    assert all(start <= policy.deadline for start in starts)


def test_per_task_policy_overrides_the_queue_policy(queues: list[TaskQueue]) -> None:
    set_testing(True)
    q = make(queues)
    handler = Flaky(*[TransientError("503", status=503) for _ in range(5)])
    q.register("get", handler, key=KEY)
    future = q.submit("get", {}, key=KEY, idempotent=True, policy=RetryPolicy(max_attempts=2))
    with pytest.raises(TransientError):
        future.result(timeout=10)
    assert handler.calls == 2


def test_workers_do_not_sleep_while_a_retry_waits(queues: list[TaskQueue], clock: ManualClock) -> None:
    # One worker; a task waits for its retry (up to 2 s of the queue's clock); meanwhile 20
    # other tasks must all run: the retry wait does not hold the worker.
    policy = RetryPolicy(base_delay=2.0, max_delay=2.0)
    q = make(queues, workers=1, policy=policy, seed=0, clock=clock)
    order: list[str] = []
    handler = Flaky(TransientError("503", status=503))
    q.register("slow", lambda a: order.append("retry") if handler(a) else None, key="a")
    q.register("fast", lambda a: order.append("fast"), key="b")
    slow = q.submit("slow", {}, key="a", idempotent=True)
    fast = [q.submit("fast", {}, key="b", idempotent=True) for _ in range(20)]
    for f in fast:
        f.result(timeout=10)
    assert order == ["fast"] * 20 and not slow.done()
    clock.advance(2.0)
    slow.result(timeout=10)
    assert order == ["fast"] * 20 + ["retry"]


def test_test_mode_reports_waits_without_waiting(queues: list[TaskQueue], clock: ManualClock) -> None:
    set_testing(True)
    events: list[AttemptEvent] = []
    q = make(queues, policy=RetryPolicy(base_delay=60.0, max_delay=60.0), clock=clock,
             hooks=[events.append])
    handler = Flaky(*[TransientError("503", status=503) for _ in range(4)])
    q.register("get", handler, key=KEY)
    assert q.submit("get", {}, key=KEY, idempotent=True).result(timeout=10) == "ok"
    assert clock() == 0.0  # the clock never moved, yet all four retries ran
    delays = [e.delay for e in events if e.outcome == "retry"]
    assert len(delays) == 4 and all(d is not None and 0.0 <= d <= 60.0 for d in delays)
    assert any(d is not None and d > 1.0 for d in delays)  # computed and reported as they are


def test_hook_errors_do_not_break_the_queue(queues: list[TaskQueue]) -> None:
    def bad_hook(event: AttemptEvent) -> None:
        raise RuntimeError("hook bug")

    q = make(queues, hooks=[bad_hook])
    q.register("get", lambda a: "fine", key=KEY)
    assert q.submit("get", {}, key=KEY, idempotent=True).result(timeout=10) == "fine"


def test_permanent_error_other_4xx(queues: list[TaskQueue]) -> None:
    q = make(queues)
    q.register("post", Flaky(PermanentError("bad field", status=400)), key=KEY)
    with pytest.raises(PermanentError):
        q.submit("post", {}, key=KEY, idempotent=False).result(timeout=10)
