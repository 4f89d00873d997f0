"""The public :class:`TaskQueue`: submit, resume, dead letters, stats, close."""

from __future__ import annotations

import itertools
import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Literal

from jirabucket.queue import _lifecycle
from jirabucket.queue._intake import _Intake
from jirabucket.queue._task import Handler, _Task
from jirabucket.queue.events import AttemptHook, CloseReport, KeyStats, QueueStats
from jirabucket.queue.exceptions import UnknownOperation
from jirabucket.queue.journal import Journal
from jirabucket.queue.limits import KeyLimit
from jirabucket.queue.policy import RetryPolicy
from jirabucket.queue.testing import is_testing, testing_seed

__all__ = ["TaskQueue"]

_log = logging.getLogger("jirabucket.queue")
_DEFAULT_POLICY = RetryPolicy()
_DEFAULT_LIMIT = KeyLimit()


class TaskQueue(_Intake):
    """An in-process retrying queue: worker threads, scheduled retries, per-key limits.

    Args:
        workers: Worker threads (daemon threads, drained at exit).
        policy: The default retry policy.
        max_pending: Most tasks accepted and not finished; beyond it ``submit`` blocks or raises.
        when_full: ``"block"`` (up to ``submit_timeout``) or ``"raise"`` when full.
        submit_timeout: Seconds ``submit`` may block when full (``None``: forever).
        journal: A durable journal; tasks are then stored as data until done.
        limits: Limits per key; keys not listed get ``default_limit``.
        default_limit: Limits of unlisted keys.
        hooks: Called after every attempt.
        clock: Monotonic clock in seconds (injectable for tests).
        seed: Seed of the jitter (``set_testing``'s seed while test mode is on).
        exit_timeout: Seconds the exit drain of an unclosed queue may take.
    """

    def __init__(
        self, *, workers: int = 8, policy: RetryPolicy = _DEFAULT_POLICY, max_pending: int = 10_000,
        when_full: Literal["block", "raise"] = "block", submit_timeout: float | None = 60.0,
        journal: Journal | None = None, limits: Mapping[str, KeyLimit] | None = None,
        default_limit: KeyLimit = _DEFAULT_LIMIT, hooks: Sequence[AttemptHook] = (),
        clock: Callable[[], float] | None = None, seed: int | None = None,
        exit_timeout: float = 10.0,
    ) -> None:
        if workers < 1 or max_pending < 1:
            raise ValueError("TaskQueue needs at least one worker and max_pending >= 1")
        if is_testing() and seed is None:
            seed = testing_seed()
        super().__init__(
            limits=limits, default_limit=default_limit, clock=clock, rng=random.Random(seed)
        )
        self._workers = workers
        self._policy = policy
        self._max_pending = max_pending
        self._when_full = when_full
        self._submit_timeout = submit_timeout
        self._journal = journal
        self._hooks = tuple(hooks)
        self._exit_timeout = exit_timeout
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._resumed: set[int] = set()
        self._dead = {}
        self._dead_ids = itertools.count(1)
        self._counts = [0, 0, 0, 0]
        self._init_intake()
        _lifecycle.track(self)

    def _init_intake(self) -> None:
        """Set up intake state and start the threads (again in a forked child)."""
        self._ids = itertools.count(1)
        self._closed = False
        self._idem = {}
        self._full_waiters = 0
        self._idle_waiters = 0
        self._not_full = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._threads = [
            threading.Thread(target=self._work, name=f"jirabucket-worker-{n}", daemon=True)
            for n in range(self._workers)
        ]
        self._threads.append(
            threading.Thread(target=self._schedule_loop, name="jirabucket-scheduler", daemon=True)
        )
        for thread in self._threads:
            thread.start()

    def register(self, operation: str, handler: Callable[[Mapping[str, Any]], object], *,
                 key: str) -> None:
        """Register the handler of ``operation`` for tasks of ``key``.

        Args:
            operation: A stable name, e.g. ``"jira.upsert_remote_link"`` (stored in the journal).
            handler: Called with the task's JSON arguments; resolves its client in memory.
            key: The rate-limit key, e.g. ``"jira:acme.atlassian.net"``.
        """
        self._handlers[(key, operation)] = handler

    def submit(
        self, operation: str, args: Mapping[str, Any], *, key: str, idempotent: bool,
        idempotency_key: str | None = None, subkey: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> Future[Any]:
        """Queue a task and return its future.

        Args:
            operation: A registered operation name.
            args: JSON-serialisable arguments passed to the handler.
            key: The rate-limit key the operation was registered under.
            idempotent: Whether the task is safe to repeat (GET/PUT/DELETE, upserts).
            idempotency_key: While a task with this key is pending, return its future.
            subkey: Tasks with the same ``(key, subkey)`` run one at a time.
            policy: This task's retry policy (default: the queue's).

        Returns:
            The task's future: its result, or the error that ended it.

        Raises:
            UnknownOperation: ``(key, operation)`` is not registered.
            TypeError: A journal is on and ``args`` is not JSON-serialisable.
            QueueFull: The queue is full and ``when_full="raise"`` or the wait timed out.
            QueueClosed: The queue was closed.
        """
        handler = self._handlers.get((key, operation))
        if handler is None:
            raise UnknownOperation(f"no handler registered for operation {operation!r} on {key!r}")
        task = _Task(operation, key, args, handler, idempotent, idempotency_key, subkey,
                     policy or self._policy)
        payload = None
        if self._journal is not None:
            try:
                payload = json.dumps(args)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"arguments of {operation!r} are not JSON-serialisable: {exc}"
                                ) from exc
        return self._enqueue(task, payload, None)

    def stats(self) -> QueueStats:
        """Return a snapshot of the counters.

        Returns:
            Totals and per-key counters.
        """
        with self._lock:
            per_key = {
                key: KeyStats(ks.submitted, ks.succeeded, ks.retried, ks.failed, ks.in_flight,
                              ks.pending - ks.in_flight)
                for key, ks in self._keys.items()
            }
            submitted, succeeded, retried, failed = self._counts
            return QueueStats(submitted, succeeded, retried, failed, self._in_flight,
                              self._pending - self._in_flight, per_key)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no task is pending or in flight.

        Args:
            timeout: Seconds to wait at most (``None``: forever).

        Returns:
            ``True`` if the queue drained, ``False`` on timeout.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._idle_waiters += 1
            try:
                while self._pending:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._idle.wait(remaining)
            finally:
                self._idle_waiters -= 1
        return True

    def close(self, timeout: float | None = 30.0) -> CloseReport:
        """Stop intake, drain within ``timeout``, stop the threads, flush the journal.

        Tasks that did not finish end with :class:`QueueClosed` and stay in the
        journal. Ctrl-C while draining stops at once, journal flushed.

        Args:
            timeout: Seconds to drain at most (``None``: until done).

        Returns:
            Tasks completed and dead over the queue's life, and tasks left.
        """
        with self._lock:
            self._closed = True
            self._not_full.notify_all()
        try:
            self.join(timeout)
        finally:
            self._shutdown()
        with self._lock:
            return CloseReport(self._counts[1], self._pending, self._counts[3])

    def _shutdown(self) -> None:
        with self._lock:
            already = self._stopped
            self._stopped = True
            left = self._drain_waiting()
            self._sched_cv.notify_all()
        _lifecycle.untrack(self)
        if already:
            return
        while True:  # admitted tasks no worker has taken yet will not run either
            try:
                queued = self._ready.get_nowait()
            except queue.Empty:
                break
            if queued is not None:
                left.append(queued)
        for _ in range(self._workers):
            self._ready.put(None)
        for task in left:
            self._abandon(task)
        if self._journal is not None:
            try:
                self._journal.flush()
            except RuntimeError:
                _log.debug("journal already closed at queue shutdown")

    def __enter__(self) -> TaskQueue:
        """Return the queue itself.

        Returns:
            This queue.
        """
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Close the queue (drain up to 30 s)."""
        self.close()

    def _drain_at_exit(self, started: float) -> None:
        budget = max(0.0, self._exit_timeout - (time.monotonic() - started))
        report = self.close(timeout=budget)
        if report.remaining:
            _log.warning("exit drain left %d task(s) unfinished after %.1f s",
                         report.remaining, self._exit_timeout)

    def _after_fork_in_child(self) -> None:
        # The parent's threads do not exist here and its tasks belong to the parent:
        # start empty with fresh workers. The SQLite connection must not cross fork.
        if self._journal is not None:
            self._journal = None
        self._init_state()
        self._init_intake()
