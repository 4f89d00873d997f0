"""The public :class:`TaskQueue`: submit, resume, dead letters, stats, join, close.

The queue owns its parts and the one lock that guards them:

- a :class:`~jirabucket.queue.scheduler.Scheduler` (pure: which task may start, when to look again),
- a :class:`~jirabucket.queue.workers.WorkerPool` (threads running attempts),
- a timer thread sleeping until the scheduler's next due time,
- an optional :class:`~jirabucket.queue.journal.Journal` (tasks as data, dead letters),
- the :class:`~jirabucket.queue.policy.RetryPolicy` that decides each failed attempt,
- counters and hooks.

An attempt runs in a worker without the lock. A success is handed to the lock
(:class:`~jirabucket.queue.combining.CombiningLock`): the worker accounts for
it at once if the lock is free, else the thread holding it does on release, so
workers never wait for the lock to move on; either way the scheduler hears of
it and may hand the freed slot to the next task. Failures take the lock.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Literal

from jirabucket.errors import OutcomeUnknown, RateLimited
from jirabucket.queue import lifecycle
from jirabucket.queue.clock import SteppedClock
from jirabucket.queue.combining import CombiningLock
from jirabucket.queue.events import (
    AttemptEvent,
    AttemptHook,
    CloseReport,
    Counters,
    QueueStats,
    WaitEvent,
    WaitHook,
)
from jirabucket.queue.exceptions import QueueClosed, QueueFull, UnknownOperation
from jirabucket.queue.journal import DeadLetter, Journal, StoredTask, encode_args
from jirabucket.queue.limits import KeyLimit
from jirabucket.queue.policy import Decision, Outcome, RetryPolicy
from jirabucket.queue.scheduler import Scheduler
from jirabucket.queue.task import Handler, Task
from jirabucket.queue.testing import is_testing, testing_seed
from jirabucket.queue.workers import WorkerPool

__all__ = ["TaskQueue"]

_log = logging.getLogger("jirabucket.queue")
_DEFAULT_POLICY = RetryPolicy()
_DEFAULT_LIMIT = KeyLimit()

_EventOutcome = Literal["success", "retry", "failed"]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True, slots=True)
class _Verdict:
    """The fate of a failed attempt, decided under the lock and carried out after it."""

    outcome: Outcome
    wait: float
    error: BaseException
    wait_event: WaitEvent | None = None
    evicted: list[Task] = field(default_factory=list)  # the key gave up: tasks to fail unstarted


class _WorkerState(threading.local):
    """What a worker thread remembers between two tasks."""

    receipt = 0  # the journal receipt of the last task it ended, until committed


class TaskQueue:
    """An in-process retrying queue: worker threads, scheduled retries, per-key limits.

    Args:
        workers: Worker threads (daemon threads, drained at exit).
        policy: The default retry policy.
        max_pending: Most tasks accepted and not finished; beyond it ``submit`` blocks or raises.
        when_full: ``"block"`` (up to ``submit_timeout``) or ``"raise"`` when full.
        submit_timeout: Seconds ``submit`` may block when full (``None``: forever).
        journal: A durable journal; tasks are then stored as data until done.
        limits: Limits per key; keys not listed get ``default_limit``.
        default_limit: Limits of unlisted keys (4 in flight per key by default).
        hooks: Called after every attempt.
        wait_hooks: Called when a key starts waiting (rate limited, or a server asked
            for a pause), e.g. to print "Bitbucket rate limit: waiting 60 s".
        clock: Monotonic clock in seconds (injectable for tests; a
            :class:`~jirabucket.queue.ManualClock` wakes the queue when advanced).
        seed: Seed of the jitter (``set_testing``'s seed while test mode is on).
        exit_timeout: Seconds the exit drain of an unclosed queue may take.
    """

    def __init__(
        self, *, workers: int = 8, policy: RetryPolicy = _DEFAULT_POLICY, max_pending: int = 10_000,
        when_full: Literal["block", "raise"] = "block", submit_timeout: float | None = 60.0,
        journal: Journal | None = None, limits: Mapping[str, KeyLimit] | None = None,
        default_limit: KeyLimit = _DEFAULT_LIMIT, hooks: Sequence[AttemptHook] = (),
        clock: Callable[[], float] | None = None, seed: int | None = None,
        exit_timeout: float = 10.0, wait_hooks: Sequence[WaitHook] = (),
    ) -> None:
        if workers < 1 or max_pending < 1:
            raise ValueError("TaskQueue needs at least one worker and max_pending >= 1")
        if is_testing() and seed is None:
            seed = testing_seed()
        self._workers = workers
        self._policy = policy
        self._max_pending = max_pending
        self._when_full = when_full
        self._submit_timeout = submit_timeout
        self._journal = journal
        self._limits = dict(limits or {})
        self._default_limit = default_limit
        self._hooks = tuple(hooks)
        self._wait_hooks = tuple(wait_hooks)
        self._clock = clock or time.monotonic
        self._rng = random.Random(seed)
        self._exit_timeout = exit_timeout
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._resumed: set[int] = set()
        self._dead: dict[int, tuple[DeadLetter, Task]] = {}  # without a journal
        self._dead_by_key: dict[str, int] = {}  # idempotency key -> dead letter id
        self._dead_ids = itertools.count(1)
        self._open()
        # A clock that jumps says so: the timer thread then needs no polling.
        self._unsubscribe = clock.subscribe(self._clock_moved) if isinstance(clock, SteppedClock) else None
        lifecycle.track(self, drain=self._drain_at_exit, restart=self._restart_after_fork)

    def _open(self) -> None:
        """Create the lock, scheduler, counters and threads (again in a forked child)."""
        self._lock: CombiningLock[Task] = CombiningLock(self._account)
        self._not_full = self._lock.condition()
        self._idle = self._lock.condition()
        self._timer_cv = self._lock.condition()
        self._scheduler: Scheduler[Task] = Scheduler(
            limits=self._limits, default_limit=self._default_limit, rng=self._rng
        )
        self._totals = Counters()
        self._per_key: dict[str, Counters] = {}
        self._idem: dict[str, Task] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._stopped = False
        self._full_waiters = 0
        self._idle_waiters = 0
        self._timer_wake = math.inf  # when the timer thread looks again by itself
        self._worker = _WorkerState()
        self._pool: WorkerPool[Task] = WorkerPool(self._workers, self._run, name="jirabucket-worker")
        self._pool.start()
        threading.Thread(target=self._timer_loop, name="jirabucket-scheduler", daemon=True).start()

    # --- intake -----------------------------------------------------------------------

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
        policy: RetryPolicy | None = None, durable: bool = True,
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
            durable: Keep it in the journal until done (default). ``False`` for work
                nobody resumes after a crash, such as a read whose caller waits for it:
                never stored, and no dead letter when it fails (its caller has the error).

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
        task = Task(operation, key, args, handler, idempotent=idempotent, idem_key=idempotency_key,
                    subkey=subkey, policy=policy or self._policy, durable=durable)
        payload = None
        if self._journal is not None and durable:
            try:
                payload = encode_args(args)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"arguments of {operation!r} are not JSON-serialisable: {exc}"
                                ) from exc
        return self._accept(task, payload, stored_id=None)

    def _accept(self, task: Task, payload: str | dict[str, Any] | None, *, stored_id: int | None) -> Future[Any]:
        """Accept a task: new (``payload`` is its stored arguments) or stored (``stored_id`` is its row)."""
        with self._lock:
            if self._closed:
                raise QueueClosed("the queue is closed and takes no new task")
            idem_key = task.idem_key
            if idem_key is not None and (twin := self._idem.get(idem_key)):
                return self._merged(twin, stored_id)
            if self._scheduler.pending >= self._max_pending:
                self._wait_for_room()
                if idem_key is not None and (twin := self._idem.get(idem_key)):
                    self._not_full.notify()  # we were woken for a slot we do not take: pass it on
                    return self._merged(twin, stored_id)
            if idem_key is not None:
                self._idem[idem_key] = task
            journal = self._journal
            if stored_id is not None:
                task.id = stored_id
            elif journal is None or not task.durable:
                task.id = next(self._ids)
            else:
                task.id = journal.next_id()
                if payload is not None:
                    journal.record_submit((task.id, task.operation, task.key, payload,
                                           idem_key, task.idempotent, task.subkey))
            counts = self._per_key.get(task.key)
            if counts is None:
                counts = self._per_key[task.key] = Counters()
            counts.submitted += 1
            self._totals.submitted += 1
            now = self._clock()
            self._scheduler.add(task, now)
            self._dispatch(now)
        return task.future

    def _merged(self, twin: Task, stored_id: int | None) -> Future[Any]:
        """Return the pending twin's future; a stored duplicate row is retired, as the twin runs."""
        if stored_id is not None and self._journal is not None:
            self._journal.record_done(stored_id)
        return twin.future

    def _wait_for_room(self) -> None:
        """Block until the queue has room (lock held), or raise."""
        if self._when_full == "raise" or self._submit_timeout == 0:
            raise QueueFull(f"the queue holds {self._max_pending} pending tasks")
        limit = self._submit_timeout
        deadline = lifecycle.deadline_after(limit)
        self._full_waiters += 1
        try:
            while self._scheduler.pending >= self._max_pending and not self._closed:
                left = lifecycle.next_slice(deadline)
                if left <= 0:
                    raise QueueFull(f"the queue stayed full ({self._max_pending} pending tasks)"
                                    f" for {limit} s")
                self._not_full.wait(left)
        finally:
            self._full_waiters -= 1
        if self._closed:
            raise QueueClosed("the queue was closed while submit waited for room")

    def resume(self) -> int:
        """Submit again the pending journal tasks a previous process left behind.

        Only tasks whose ``(key, operation)`` is registered are resumed; the
        others stay in the journal. Delivery is at-least-once: a task that was
        running when the process died runs again, so handlers must be idempotent.

        Returns:
            How many tasks were resumed.
        """
        journal = self._journal
        if journal is None:
            return 0
        count = 0
        for stored in journal.pending(max_id=journal.previous_max_id):
            if stored.id in self._resumed or self._resubmit(stored) is None:
                continue
            self._resumed.add(stored.id)
            count += 1
        return count

    def _resubmit(self, stored: StoredTask) -> Future[Any] | None:
        """Accept a task stored in the journal (resumed, or a dead letter taken back)."""
        handler = self._handlers.get((stored.key, stored.operation))
        if handler is None:
            _log.info("not resuming %s on %s: operation not registered",
                      stored.operation, stored.key)
            return None
        task = Task(stored.operation, stored.key, stored.args, handler, idempotent=stored.idempotent,
                    idem_key=stored.idempotency_key, subkey=stored.subkey, policy=self._policy)
        task.attempts = stored.attempts
        return self._accept(task, None, stored_id=stored.id)

    def dead_letters(self) -> list[DeadLetter]:
        """Return the tasks that failed for good (from the journal if there is one).

        Returns:
            The dead letters, oldest first.
        """
        if self._journal is not None:
            return self._journal.dead_letters()
        with self._lock:
            return [letter for letter, _ in self._dead.values()]

    def discard_dead_letters(self, idempotency_keys: Iterable[str]) -> int:
        """Delete the dead letters with these idempotency keys (made moot by a later success).

        Args:
            idempotency_keys: The keys; unknown ones are ignored.

        Returns:
            How many dead letters were deleted.
        """
        if self._journal is not None:
            return self._journal.discard_dead_letters(idempotency_keys)
        with self._lock:
            doomed = [self._dead_by_key.pop(key) for key in set(idempotency_keys) if key in self._dead_by_key]
            return sum(self._dead.pop(dead_id, None) is not None for dead_id in doomed)

    def retry_dead_letters(self, ids: Sequence[int] | None = None) -> int:
        """Submit dead letters again as new tasks (attempts start over).

        Args:
            ids: The dead letter ids to retry; ``None`` for all.

        Returns:
            How many were submitted.
        """
        if self._journal is not None:
            wanted = None if ids is None else set(ids)
            # Unregistered operations stay dead: nothing here could run them.
            chosen = [d.id for d in self._journal.dead_letters()
                      if (wanted is None or d.id in wanted)
                      and (d.key, d.operation) in self._handlers]
            # Already pending rows in the journal: a failure below leaves them for resume().
            taken = self._journal.take_dead_letters(chosen)
            return sum(self._resubmit(stored) is not None for stored in taken)
        with self._lock:
            chosen = list(self._dead) if ids is None else [i for i in ids if i in self._dead]
        for dead_id in chosen:
            self._accept(self._dead[dead_id][1].again(), None, stored_id=None)
            with self._lock:
                del self._dead[dead_id]  # only once it is queued again
        return len(chosen)

    # --- scheduling -------------------------------------------------------------------

    def _dispatch(self, now: float) -> None:
        """Hand the tasks due now to the workers; wake the timer for an earlier due time (lock held)."""
        put = self._pool.put
        for task in self._scheduler.due(now):
            put(task)
        wake = self._scheduler.next_wake()
        if wake is not None and wake < self._timer_wake:
            self._timer_cv.notify()

    def _timer_loop(self) -> None:
        """The timer thread: sleep until the next due time, then dispatch."""
        scheduler, put = self._scheduler, self._pool.put
        with self._lock:
            while not self._stopped:
                now = self._clock()
                for task in scheduler.due(now):
                    put(task)
                wake = scheduler.next_wake()
                self._timer_wake = math.inf if wake is None else wake
                self._timer_cv.wait(None if wake is None else wake - now)
                self._timer_wake = -math.inf  # awake: nobody needs to notify us

    def _clock_moved(self) -> None:
        with self._lock:
            self._timer_cv.notify()

    # --- attempts (in worker threads) --------------------------------------------------

    def _run(self, task: Task) -> None:
        """Run one attempt of ``task``, then record its outcome."""
        receipt = self._worker.receipt
        if receipt and self._journal is not None:
            # This worker's previous task is durable as done before a new one starts, so a
            # crash re-runs at most one task per worker. Usually the done log made it so at
            # once (no receipt); else (no done log) it waits for a commit: often another
            # worker's took it along, or this worker commits every completion buffered so far.
            self._journal.wait_committed(receipt)
            self._worker.receipt = 0
        if self._stopped:
            self._abandon(task)
            return
        if not task.started:
            if not task.future.set_running_or_notify_cancel():
                self._cancelled(task)
                return
            task.started = True
            task.first_at = self._clock()
        task.attempts += 1
        try:
            result = task.handler(task.args)
        except BaseException as exc:  # a handler's error, whatever it is, is its task's outcome
            self._attempt_failed(task, exc)
        else:
            self._succeeded(task, result)

    def _succeeded(self, task: Task, result: object) -> None:
        if self._journal is not None and task.durable:
            self._worker.receipt = self._journal.record_done(task.id, prompt=True)
        task.future.set_result(result)
        self._lock.hand_off(task)  # accounted for by _account, now or by the lock's holder
        if self._hooks:
            self._emit(task, "success", None, None)

    def _account(self, succeeded: deque[Task]) -> None:
        """Account for the tasks that succeeded; their slots go to the next ones (lock held)."""
        now = self._clock()
        done, totals, per_key = self._scheduler.done, self._totals, self._per_key
        while succeeded:
            task = succeeded.popleft()
            totals.succeeded += 1
            per_key[task.key].succeeded += 1
            done(task, now)
            self._settle(task)
        self._dispatch(now)

    def _attempt_failed(self, task: Task, exc: BaseException) -> None:
        policy = task.policy
        with self._lock:  # under the lock: seeded jitter is drawn in a deterministic order
            now = self._clock()
            decision = policy.decide(exc, idempotent=task.idempotent, attempts=task.attempts - task.throttled,
                                     elapsed=now - task.first_at - task.waited, rng=self._rng)
            stopped = self._stopped
            if stopped:
                verdict = _Verdict(decision.outcome, decision.wait, exc)
            elif decision.outcome == "retry" and isinstance(exc, RateLimited):
                verdict = self._throttle(task, exc, decision.wait, now)
            else:
                verdict = self._reschedule(task, exc, decision, now)
            if verdict.outcome == "retry":
                self._totals.retried += 1
                self._per_key[task.key].retried += 1
        if verdict.wait_event is not None:
            self._emit_wait(verdict.wait_event)
        if verdict.outcome != "retry":
            self._fail(task, verdict.error, unknown=verdict.outcome == "unknown")
            for other in verdict.evicted:
                self._fail(other, verdict.error, unknown=False, in_flight=False)
        elif stopped:
            self._abandon(task, exc)
        else:
            if self._journal is not None and task.durable:
                self._journal.record_attempts(task.id, task.attempts)
            _log.debug("%s on %s: attempt %d failed (%s); retrying in %.2fs",
                       task.operation, task.key, task.attempts, _describe(exc), verdict.wait)
            if self._hooks:
                self._emit(task, "retry", _describe(exc), verdict.wait)

    def _throttle(self, task: Task, exc: RateLimited, server_wait: float, now: float) -> _Verdict:
        """A 429: the scheduler rate-limits the task's whole key (lock held)."""
        throttle = self._scheduler.throttle(
            task, now=now, server_wait=None if exc.retry_after is None else server_wait,
            policy=task.policy, instant=is_testing(),
        )
        if throttle.given_up:
            error = self._gave_up(task, exc, throttle.limited_for)
            return _Verdict("fail", 0.0, error, evicted=self._scheduler.evict(task.key))
        task.throttled += 1
        task.waited += throttle.wait
        self._dispatch(now)
        event = None
        if throttle.started:
            event = WaitEvent(task.key, throttle.wait, "rate_limited", exc.retry_after is not None,
                              throttle.limited_for)
        return _Verdict("retry", throttle.wait, exc, wait_event=event)

    def _reschedule(self, task: Task, exc: BaseException, decision: Decision, now: float) -> _Verdict:
        """Any other failed attempt: retry it later, or let it fail (lock held)."""
        wait, testing = decision.wait, is_testing()
        due = now + (0.0 if testing else wait)  # test mode: computed and reported, not waited
        event = None
        if decision.hold_key:  # the server asked for a pause: every task of the key waits
            self._scheduler.hold(task.key, until=due, stagger=0.0 if testing else task.policy.base_delay,
                                 now=now)
            event = WaitEvent(task.key, wait, "unavailable", True, wait)
        if decision.outcome == "retry":
            self._scheduler.retry(task, at=due, now=now)
            self._dispatch(now)
        return _Verdict(decision.outcome, wait, exc, wait_event=event)

    @staticmethod
    def _gave_up(task: Task, exc: RateLimited, limited_for: float) -> RateLimited:
        error = RateLimited(
            f"{task.key} stayed rate limited: its waits added up to {limited_for:.0f} s and the next one"
            f" would pass rate_limit_max_wait ({task.policy.rate_limit_max_wait:.0f} s); giving up its tasks"
            f" ({exc})",
            status=exc.status, retry_after=exc.retry_after, method=exc.method, url=exc.url,
        )
        error.__cause__ = exc
        return error

    def _emit_wait(self, event: WaitEvent) -> None:
        _log.info("%s: waiting %.0f s (%s)", event.key, event.seconds, event.reason)
        for hook in self._wait_hooks:
            try:
                hook(event)
            except Exception:
                _log.exception("wait hook %r raised; ignored", hook)

    def _fail(self, task: Task, exc: BaseException, *, unknown: bool, in_flight: bool = True) -> None:
        """End a task with an error; ``in_flight=False`` for one the scheduler gave back unstarted."""
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
        if self._journal is not None and task.durable:
            self._worker.receipt = self._journal.record_dead(task.id, task.attempts, text, prompt=True)
        try:
            task.future.set_exception(error)
        except InvalidStateError:  # an unstarted task given up with its key was cancelled meanwhile
            _log.debug("future of %s already ended", task.operation)
        with self._lock:
            self._totals.failed += 1
            self._per_key[task.key].failed += 1
            if self._journal is None and task.durable:
                self._remember_dead(task, text)
            if in_flight:
                self._finish(task)
            else:
                self._settle(task)
        _log.warning("%s on %s failed after %d attempt(s): %s",
                     task.operation, task.key, task.attempts, text)
        if self._hooks:
            self._emit(task, "failed", text, None)

    def _remember_dead(self, task: Task, text: str) -> None:
        """Keep a dead letter in memory; one per idempotency key, as the journal does (lock held)."""
        known = None if task.idem_key is None else self._dead_by_key.get(task.idem_key)
        if known is not None and known in self._dead:
            old = self._dead[known][0]
            letter = replace(old, operation=task.operation, key=task.key, args=dict(task.args),
                             attempts=old.attempts + task.attempts, error=text, failed_at=time.time())
        else:
            known = next(self._dead_ids)
            letter = DeadLetter(known, task.operation, task.key, dict(task.args), task.attempts, text,
                                time.time(), task.idem_key)
            if task.idem_key is not None:
                self._dead_by_key[task.idem_key] = known
        self._dead[known] = (letter, task)

    def _cancelled(self, task: Task) -> None:
        """The caller cancelled the future before the task started."""
        if self._journal is not None and task.durable:
            self._journal.record_done(task.id)
        with self._lock:
            self._finish(task)

    def _finish(self, task: Task) -> None:
        """Account for a task that ended; its slot goes to the next one (lock held)."""
        now = self._clock()
        self._scheduler.done(task, now)
        self._dispatch(now)
        self._settle(task)

    def _settle(self, task: Task) -> None:
        """Forget a task that left the scheduler; wake who waits for room or for idle (lock held)."""
        if task.idem_key is not None and self._idem.get(task.idem_key) is task:
            del self._idem[task.idem_key]
        if self._full_waiters:
            self._not_full.notify()
        if self._idle_waiters and not self._scheduler.pending:
            self._idle.notify_all()

    def _abandon(self, task: Task, exc: BaseException | None = None) -> None:
        """The queue stopped before this task finished: end its future, keep its row."""
        if task.future.done():
            return
        error = QueueClosed(
            f"{task.operation} on {task.key}: the queue closed before the task finished;"
            " it stays in the journal (if any) for resume()"
        )
        error.__cause__ = exc
        try:
            task.future.set_exception(error)
        except Exception:  # it ended meanwhile (cancelled, or set by its worker)
            _log.debug("future of %s already ended", task.operation)

    def _emit(self, task: Task, outcome: _EventOutcome, error: str | None, delay: float | None) -> None:
        event = AttemptEvent(task.operation, task.key, task.attempts, outcome, error, delay,
                             self._clock() - task.first_at)
        for hook in self._hooks:
            try:
                hook(event)
            except Exception:
                _log.exception("attempt hook %r raised; ignored", hook)

    # --- state and shutdown -------------------------------------------------------------

    @property
    def policy(self) -> RetryPolicy:
        """The default retry policy of the queue's tasks."""
        return self._policy

    def limit_of(self, key: str) -> KeyLimit:
        """Return the limits that apply to ``key``: its own, else the default."""
        return self._limits.get(key, self._default_limit)

    def stats(self) -> QueueStats:
        """Return a snapshot of the counters.

        Returns:
            Totals and per-key counters.
        """
        with self._lock:
            scheduler = self._scheduler
            per_key = {
                key: self._per_key[key].snapshot(in_flight=load.in_flight,
                                                 waiting=load.pending - load.in_flight)
                for key, load in scheduler.load() if key in self._per_key
            }
            totals = self._totals
            return QueueStats(totals.submitted, totals.succeeded, totals.retried, totals.failed,
                              scheduler.in_flight, scheduler.pending - scheduler.in_flight, per_key)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no task is pending or in flight.

        Args:
            timeout: Seconds to wait at most (``None``: forever).

        Returns:
            ``True`` if the queue drained, ``False`` on timeout.
        """
        deadline = lifecycle.deadline_after(timeout)
        with self._lock:
            self._idle_waiters += 1
            try:
                while self._scheduler.pending:
                    left = lifecycle.next_slice(deadline)
                    if left <= 0:
                        return False
                    self._idle.wait(left)
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
            return CloseReport(self._totals.succeeded, self._scheduler.pending, self._totals.failed)

    def _shutdown(self) -> None:
        with self._lock:
            already = self._stopped
            self._stopped = True
            left = self._scheduler.drain()
            self._timer_cv.notify_all()
        lifecycle.untrack(self)
        if already:
            return
        if self._unsubscribe is not None:
            self._unsubscribe()
        left.extend(self._pool.stop())  # handed to the workers but not started: they won't be
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

    def _restart_after_fork(self) -> None:
        # The parent's threads do not exist here and its tasks belong to the parent:
        # start empty with fresh workers. The SQLite connection must not cross fork.
        self._journal = None
        self._open()
