"""The worker half of the queue: run an attempt, then succeed, retry or fail.

Workers take runnable tasks from a ``queue.SimpleQueue`` (C-implemented,
lock-free for the caller) and touch the shared lock once per attempt. A retry
never sleeps here: the task goes back to the scheduler with a due time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from jirabucket.errors import OutcomeUnknown, RateLimited, TransientError
from jirabucket.queue._dispatch import _Dispatcher
from jirabucket.queue._task import _KeyState, _Task
from jirabucket.queue.events import AttemptEvent, AttemptHook
from jirabucket.queue.exceptions import QueueClosed
from jirabucket.queue.journal import DeadLetter, Journal
from jirabucket.queue.testing import is_testing

_log = logging.getLogger("jirabucket.queue")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _Runner(_Dispatcher):
    """Worker threads and the outcome of each attempt."""

    _journal: Journal | None
    _hooks: Sequence[AttemptHook]
    _idem: dict[str, _Task]
    _dead: dict[int, tuple[DeadLetter, _Task]]
    _dead_ids: Any
    _full_waiters: int
    _idle_waiters: int
    _not_full: threading.Condition
    _idle: threading.Condition
    _counts: list[int]  # submitted, succeeded, retried, failed

    def _work(self) -> None:
        """A worker thread: run tasks until a ``None`` sentinel arrives."""
        get = self._ready.get
        clock = self._clock
        while True:
            task = get()
            if task is None:
                return
            if self._stopped:
                self._abandon(task)
                continue
            if not task.started:
                if not task.future.set_running_or_notify_cancel():
                    self._cancelled(task)
                    continue
                task.started = True
                task.first_at = clock()
            task.attempts += 1
            try:
                result = task.handler(task.args)
            except BaseException as exc:
                self._attempt_failed(task, exc)
            else:
                self._succeeded(task, result)

    def _succeeded(self, task: _Task, result: object) -> None:
        task.future.set_result(result)
        if self._journal is not None:
            self._journal.record_done(task.id)
        with self._lock:
            self._counts[1] += 1
            ks: _KeyState = task.ks  # type: ignore[assignment]
            ks.succeeded += 1
            self._release(task, ks)
        if self._hooks:
            self._emit(task, "success", None, None)

    def _release(self, task: _Task, ks: _KeyState) -> None:
        """Account for a task that ended (lock held)."""
        ks.in_flight -= 1
        self._in_flight -= 1
        ks.pending -= 1
        self._pending -= 1
        if task.holding:
            self._release_subkey(task, ks)
        if ks.waiting:
            self._pump(ks)
        if task.idem_key is not None and self._idem.get(task.idem_key) is task:
            del self._idem[task.idem_key]
        if self._full_waiters:
            self._not_full.notify()
        if not self._pending and self._idle_waiters:
            self._idle.notify_all()

    def _release_subkey(self, task: _Task, ks: _KeyState) -> None:
        task.holding = False
        subkey: str = task.subkey  # type: ignore[assignment]
        ks.busy.discard(subkey)
        queued = ks.sub_waiting.get(subkey)
        if queued:
            ks.waiting.appendleft(queued.popleft())
            if not queued:
                del ks.sub_waiting[subkey]

    def _attempt_failed(self, task: _Task, exc: BaseException) -> None:
        policy = task.policy
        outcome = policy.classify(exc, idempotent=task.idempotent)
        now = self._clock()
        # A wait asked for on a 4xx that will never succeed (say a 404 that happens to carry
        # X-RateLimit-Reset) must not pause every task of the host.
        server_wait = exc.retry_after if isinstance(exc, RateLimited | TransientError) else None
        pause = server_wait is not None or isinstance(exc, RateLimited)
        with self._lock:
            # Under the lock so that seeded jitter is drawn in a deterministic order.
            backoff = policy.delay(task.attempts - 1, rng=self._rng)
        wait = backoff if server_wait is None else min(server_wait, policy.max_retry_after)
        if outcome == "retry" and (
            task.attempts >= policy.max_attempts or now + wait - task.first_at > policy.deadline
        ):
            outcome = "fail"  # exhausted: the last error ends the task
        if outcome == "retry":
            self._retry(task, exc, wait, pause, now)
            return
        if pause:
            with self._lock:
                self._pause(task.ks, now + self._real(wait))  # type: ignore[arg-type]
        self._fail(task, exc, unknown=outcome == "unknown")

    def _real(self, wait: float) -> float:
        return 0.0 if is_testing() else wait

    def _retry(self, task: _Task, exc: BaseException, wait: float, pause: bool, now: float) -> None:
        due = now + self._real(wait)
        with self._lock:
            ks: _KeyState = task.ks  # type: ignore[assignment]
            self._counts[2] += 1
            ks.retried += 1
            ks.in_flight -= 1
            self._in_flight -= 1
            stopped = self._stopped
            if stopped:
                pass
            elif pause:
                self._pause(ks, due)
                ks.waiting.appendleft(task)
                self._pump(ks)
            else:
                self._push(due, task, ks)
                if ks.waiting:
                    self._pump(ks)
        if stopped:
            self._abandon(task, exc)
            return
        if self._journal is not None:
            self._journal.record_attempts(task.id, task.attempts)
        _log.debug(
            "%s on %s: attempt %d failed (%s); retrying in %.2fs",
            task.operation, task.key, task.attempts, _describe(exc), wait,
        )
        if self._hooks:
            self._emit(task, "retry", _describe(exc), wait)

    def _fail(self, task: _Task, exc: BaseException, *, unknown: bool) -> None:
        error = exc
        if unknown:
            error = OutcomeUnknown(
                f"{task.operation} on {task.key}: the call broke mid-flight ({_describe(exc)})"
                " and may or may not have taken effect; not retried because the task is not"
                " idempotent",
                method=getattr(exc, "method", None), url=getattr(exc, "url", None),
            )
            error.__cause__ = exc
        text = _describe(error)
        task.future.set_exception(error)
        if self._journal is not None:
            self._journal.record_dead(task.id, task.attempts, text)
        with self._lock:
            self._counts[3] += 1
            ks: _KeyState = task.ks  # type: ignore[assignment]
            ks.failed += 1
            if self._journal is None:
                self._remember_dead(task, text)
            self._release(task, ks)
        _log.warning(
            "%s on %s failed after %d attempt(s): %s", task.operation, task.key, task.attempts, text
        )
        if self._hooks:
            self._emit(task, "failed", text, None)

    def _remember_dead(self, task: _Task, text: str) -> None:
        dead_id = next(self._dead_ids)
        letter = DeadLetter(
            dead_id, task.operation, task.key, dict(task.args), task.attempts, text, time.time()
        )
        self._dead[dead_id] = (letter, task)

    def _cancelled(self, task: _Task) -> None:
        """The caller cancelled the future before the task started."""
        if self._journal is not None:
            self._journal.record_done(task.id)
        with self._lock:
            self._release(task, task.ks)  # type: ignore[arg-type]

    def _abandon(self, task: _Task, exc: BaseException | None = None) -> None:
        """The queue stopped before this task finished: end its future, keep its row."""
        if not task.future.done():
            error = QueueClosed(
                f"{task.operation} on {task.key}: the queue closed before the task finished;"
                " it stays in the journal (if any) for resume()"
            )
            error.__cause__ = exc
            try:
                task.future.set_exception(error)
            except Exception:
                _log.debug("future of %s already ended", task.operation)

    def _emit(self, task: _Task, outcome: Any, error: str | None, delay: float | None) -> None:
        event = AttemptEvent(
            task.operation, task.key, task.attempts, outcome, error, delay,
            self._clock() - task.first_at,
        )
        for hook in self._hooks:
            try:
                hook(event)
            except Exception:
                _log.exception("attempt hook %r raised; ignored", hook)
