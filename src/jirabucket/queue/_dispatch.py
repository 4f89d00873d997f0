"""Admission and scheduling: when does a task become runnable?

One lock guards all of it. A task runs at once when its key has room (fewer
than ``concurrency`` in flight, no cool-down, a token in its bucket, its
sub-key free); otherwise it waits in its key's FIFO (or its sub-key's). Delayed
tasks and key wake-ups live in one due-time heap owned by a scheduler thread
that sleeps on a condition until the earliest due time: workers never sleep.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

from jirabucket.queue._task import _KeyState, _Task
from jirabucket.queue.limits import KeyLimit
from jirabucket.queue.testing import is_testing

_HeapEntry = tuple[float, int, "_Task | None", _KeyState]

# With an injected clock time may jump at any moment: poll it this often (seconds).
_FAKE_CLOCK_POLL = 0.005


class _Dispatcher:
    """The scheduling half of :class:`~jirabucket.queue.TaskQueue`."""

    def __init__(
        self, *, limits: Mapping[str, KeyLimit] | None, default_limit: KeyLimit,
        clock: Callable[[], float] | None, rng: random.Random,
    ) -> None:
        self._limits = dict(limits or {})
        self._default_limit = default_limit
        self._clock = clock or time.monotonic
        self._poll = None if clock is None else _FAKE_CLOCK_POLL
        self._rng = rng
        self._init_state()

    def _init_state(self) -> None:
        """Create the lock, conditions and containers (again in a forked child)."""
        self._lock = threading.Lock()
        self._sched_cv = threading.Condition(self._lock)
        self._ready: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._heap: list[_HeapEntry] = []
        self._heap_seq = itertools.count()
        self._keys: dict[str, _KeyState] = {}
        self._stopped = False
        self._pending = 0
        self._in_flight = 0

    def _key_state(self, key: str) -> _KeyState:
        ks = self._keys.get(key)
        if ks is None:
            limit = self._limits.get(key, self._default_limit)
            ks = self._keys[key] = _KeyState(key, limit, self._clock())
        return ks

    def _admit(self, task: _Task, ks: _KeyState) -> None:
        """Run a new task now if its key has room, else queue it (lock held)."""
        if ks.free and not ks.waiting and task.subkey is None and (
            ks.in_flight + ks.reserved < ks.limit
        ):
            ks.in_flight += 1
            self._in_flight += 1
            self._ready.put(task)
            return
        if task.subkey is not None and task.subkey in ks.busy and not task.holding:
            ks.sub_waiting.setdefault(task.subkey, deque()).append(task)
            return
        ks.waiting.append(task)
        self._pump(ks)

    def _start(self, task: _Task, ks: _KeyState) -> None:
        if task.subkey is not None and not task.holding:
            ks.busy.add(task.subkey)
            task.holding = True
        ks.in_flight += 1
        self._in_flight += 1
        self._ready.put(task)

    def _pump(self, ks: _KeyState) -> None:
        """Start waiting tasks of a key while it has room (lock held)."""
        waiting = ks.waiting
        while waiting and ks.in_flight + ks.reserved < ks.limit:
            task = waiting[0]
            if task.subkey is not None and not task.holding and task.subkey in ks.busy:
                waiting.popleft()
                ks.sub_waiting.setdefault(task.subkey, deque()).append(task)
                continue
            if not ks.free and not self._may_start(ks):
                return
            waiting.popleft()
            self._start(task, ks)

    def _may_start(self, ks: _KeyState) -> bool:
        """Check the cool-down and the token bucket of a key (lock held)."""
        now = self._clock()
        if ks.paused_until:
            if ks.paused_until > now:
                self._wake_key(ks, ks.paused_until)
                return False
            self._end_pause(ks, now)
            return False  # the released tasks start after their stagger
        bucket = ks.bucket
        if bucket is not None and not bucket.take(now):
            self._wake_key(ks, bucket.ready_at(now))
            return False
        return True

    def _end_pause(self, ks: _KeyState, now: float) -> None:
        """End a key's cool-down: release up to ``concurrency`` tasks, each after a
        random stagger, so the server does not see them all at the same instant."""
        ks.paused_until = 0.0
        ks.free = ks.bucket is None
        slots = min(ks.limit - ks.in_flight - ks.reserved, len(ks.waiting))
        for _ in range(slots):
            task = ks.waiting.popleft()
            stagger = 0.0 if is_testing() else task.policy.base_delay
            task.reserved = True
            ks.reserved += 1
            self._push(now + self._rng.uniform(0.0, stagger), task, ks)

    def _pause(self, ks: _KeyState, until: float) -> None:
        """Hold every task of a key until ``until`` (lock held)."""
        if until > ks.paused_until:
            ks.paused_until = until
            ks.free = False
            self._wake_key(ks, until)

    def _wake_key(self, ks: _KeyState, when: float) -> None:
        if ks.wake_at is None or when < ks.wake_at:
            ks.wake_at = when
            self._push(when, None, ks)

    def _push(self, due: float, task: _Task | None, ks: _KeyState) -> None:
        entry = (due, next(self._heap_seq), task, ks)
        heapq.heappush(self._heap, entry)
        if self._heap[0] is entry:
            self._sched_cv.notify()

    def _on_due(self, task: _Task | None, ks: _KeyState, now: float) -> None:
        if task is None:
            if ks.wake_at is not None and ks.wake_at <= now:
                ks.wake_at = None
        else:
            if task.reserved:
                task.reserved = False
                ks.reserved -= 1
            # A retry goes first: it has waited already and its deadline runs.
            ks.waiting.appendleft(task)
        self._pump(ks)

    def _schedule_loop(self) -> None:
        """The scheduler thread: move due tasks and key wake-ups into admission."""
        with self._lock:
            heap = self._heap
            while not self._stopped:
                if not heap:
                    self._sched_cv.wait(self._poll)
                    continue
                now = self._clock()
                due = heap[0][0]
                if due > now:
                    wait = due - now
                    self._sched_cv.wait(wait if self._poll is None else min(wait, self._poll))
                    continue
                _, _, task, ks = heapq.heappop(heap)
                self._on_due(task, ks, now)

    def _drain_waiting(self) -> list[_Task]:
        """Remove and return every task that is not running (lock held)."""
        left = [entry[2] for entry in self._heap if entry[2] is not None]
        self._heap.clear()
        for ks in self._keys.values():
            left.extend(ks.waiting)
            ks.waiting.clear()
            for tasks in ks.sub_waiting.values():
                left.extend(tasks)
            ks.sub_waiting.clear()
        return left
