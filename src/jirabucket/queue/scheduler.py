"""The scheduler: which task may start now, and when to look again.

Pure bookkeeping, no threads, no sleeps, no locks: time is a number the caller
passes in, so every rule is testable with plain numbers. The queue calls it
under its own lock and hands what :meth:`Scheduler.due` returns to its workers.

Rules, per key (e.g. one host):

- at most ``KeyLimit.concurrency`` tasks in flight;
- an optional token bucket (``KeyLimit.rate``, ``KeyLimit.burst``);
- a hold (cool-down): nothing of the key starts until it ends; then the waiting
  tasks are released one by one at random offsets within ``stagger`` seconds,
  so the server does not see them all at the same instant;
- tasks with the same sub-key run one at a time, in submission order, and a
  task keeps its sub-key across its retries;
- otherwise first come, first served; a retry that comes due goes first.

Delayed tasks (retries, staggered releases) and key wake-ups (end of a hold,
next token) live in one due-time heap; :meth:`Scheduler.next_wake` says when
its earliest entry is due.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Generic, Protocol, TypeVar

from jirabucket.queue.limits import KeyLimit, TokenBucket

__all__ = ["KeyLoad", "Schedulable", "Scheduler"]


class Schedulable(Protocol):
    """What the scheduler reads of a task."""

    @property
    def key(self) -> str:
        """The key whose limits apply."""
        ...

    @property
    def subkey(self) -> str | None:
        """Tasks with the same ``(key, subkey)`` run one at a time."""
        ...


T = TypeVar("T", bound=Schedulable)

_DEFAULT_LIMIT = KeyLimit()

# Kinds of heap entries.
_WAKE = 0  # look at a key again (its hold ended, or its next token is there)
_RETRY = 1  # a task's retry is due
_RELEASE = 2  # a task released from a hold has waited out its stagger


class _Key(Generic[T]):
    """The limits, hold, waiting tasks and load of one key."""

    __slots__ = (
        "bucket", "busy", "free", "held_until", "in_flight", "limit", "name", "pending",
        "reserved", "stagger", "sub_waiting", "waiting", "wake_at",
    )

    def __init__(self, name: str, limit: KeyLimit, now: float) -> None:
        self.name = name
        self.limit = limit.concurrency
        self.bucket = None if limit.rate is None else TokenBucket(limit.rate, limit.burst, now)
        # free: no bucket and no hold, so admission needs no look at the clock.
        self.free = self.bucket is None
        self.held_until = -math.inf
        self.stagger = 0.0
        self.wake_at: float | None = None
        self.in_flight = 0  # handed out by due() and not yet back
        self.reserved = 0  # released from a hold, waiting out their stagger
        self.pending = 0  # accepted and not done
        self.waiting: deque[T] = deque()
        self.busy: dict[str, T] = {}  # sub-key -> the task holding it
        self.sub_waiting: dict[str, deque[T]] = {}


class KeyLoad(Protocol):
    """The load of one key, as :meth:`Scheduler.load` reports it."""

    @property
    def in_flight(self) -> int:
        """Tasks handed out and not back yet."""
        ...

    @property
    def pending(self) -> int:
        """Tasks accepted and not done (in flight included)."""
        ...


class Scheduler(Generic[T]):
    """Admission, holds, token buckets, sub-keys and the due-time heap.

    Args:
        limits: Limits per key; other keys get ``default_limit``.
        default_limit: Limits of unlisted keys.
        rng: Random source of the release stagger (seeded for reproducible runs).
    """

    def __init__(
        self, *, limits: Mapping[str, KeyLimit] | None = None,
        default_limit: KeyLimit = _DEFAULT_LIMIT, rng: random.Random,
    ) -> None:
        self._limits = dict(limits or {})
        self._default_limit = default_limit
        self._rng = rng
        self._keys: dict[str, _Key[T]] = {}
        self._heap: list[tuple[float, int, int, T | None, _Key[T]]] = []
        self._seq = itertools.count()
        self._ready: list[T] = []
        self.pending = 0
        """Tasks accepted and not done."""
        self.in_flight = 0
        """Tasks handed out by :meth:`due` and not back yet."""

    # --- events -----------------------------------------------------------------

    def add(self, task: T, now: float) -> None:
        """Accept a new task: it runs as soon as its key admits it.

        Args:
            task: The task.
            now: The current clock time.
        """
        ks = self._keys.get(task.key) or self._new_key(task.key, now)
        ks.pending += 1
        self.pending += 1
        subkey = task.subkey
        if subkey is not None and subkey in ks.busy:
            ks.sub_waiting.setdefault(subkey, deque()).append(task)
        elif ks.free and not ks.waiting and ks.in_flight + ks.reserved < ks.limit:
            self._start(task, ks)  # the common case: room, no bucket, no hold
        else:
            ks.waiting.append(task)
            self._pump(ks, now)

    def done(self, task: T, now: float) -> None:
        """A task handed out by :meth:`due` ended (success, failure or cancel).

        Args:
            task: The task.
            now: The current clock time.
        """
        ks = self._keys[task.key]
        ks.in_flight -= 1
        self.in_flight -= 1
        ks.pending -= 1
        self.pending -= 1
        subkey = task.subkey
        if subkey is not None and ks.busy.get(subkey) is task:
            del ks.busy[subkey]
            queued = ks.sub_waiting.get(subkey)
            if queued:
                ks.waiting.appendleft(queued.popleft())  # the next write to that resource
                if not queued:
                    del ks.sub_waiting[subkey]
        if ks.waiting:
            self._pump(ks, now)

    def retry(self, task: T, *, at: float, now: float) -> None:
        """A task handed out by :meth:`due` is to run again at ``at``.

        It keeps its sub-key meanwhile. When its key is held past ``at`` it
        waits for the hold's end at the head of the key's line instead.

        Args:
            task: The task.
            at: The clock time of the next attempt.
            now: The current clock time.
        """
        ks = self._keys[task.key]
        ks.in_flight -= 1
        self.in_flight -= 1
        if ks.held_until >= at:
            ks.waiting.appendleft(task)
        else:
            self._push(at, _RETRY, task, ks)
        if ks.waiting:
            self._pump(ks, now)

    def hold(self, key: str, *, until: float, stagger: float, now: float) -> None:
        """Start nothing of ``key`` before ``until`` (a server asked us to wait).

        A later end wins over an earlier one. When the hold ends, the waiting
        tasks are released at random offsets within ``stagger`` seconds.

        Args:
            key: The key.
            until: The clock time the hold ends.
            stagger: Seconds over which the release is spread.
            now: The current clock time.
        """
        ks = self._keys.get(key) or self._new_key(key, now)
        if until > ks.held_until:
            ks.held_until = until
            ks.stagger = stagger
            ks.free = False
            self._wake_key(ks, until)

    # --- queries ----------------------------------------------------------------

    def due(self, now: float) -> list[T]:
        """Return the tasks to run now; they count as in flight until ``done`` or ``retry``.

        Args:
            now: The current clock time.

        Returns:
            The tasks, in the order they should start.
        """
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, kind, task, ks = heapq.heappop(heap)
            if task is None:  # _WAKE
                if ks.wake_at is not None and ks.wake_at <= now:
                    ks.wake_at = None
            else:
                if kind == _RELEASE:
                    ks.reserved -= 1
                ks.waiting.appendleft(task)  # it has waited already: it goes first
            self._pump(ks, now)
        ready = self._ready
        if not ready:
            return []
        self._ready = []
        return ready

    def next_wake(self) -> float | None:
        """Return when :meth:`due` may have something new without any event.

        Returns:
            The clock time of the earliest heap entry, or ``None`` when the heap is empty.
        """
        return self._heap[0][0] if self._heap else None

    def load(self) -> Iterator[tuple[str, KeyLoad]]:
        """Yield each key seen so far with its load.

        Yields:
            ``(key, load)`` pairs.
        """
        yield from self._keys.items()

    def drain(self) -> list[T]:
        """Remove and return every accepted task that is not in flight.

        The drained tasks stay counted as pending: they did not finish.

        Returns:
            The tasks (retries, staggered releases, waiting tasks).
        """
        left = [entry[3] for entry in self._heap if entry[3] is not None]
        self._heap.clear()
        for ks in self._keys.values():
            left.extend(ks.waiting)
            ks.waiting.clear()
            for queued in ks.sub_waiting.values():
                left.extend(queued)
            ks.sub_waiting.clear()
        for task in self._ready:  # made runnable but never handed out: not in flight after all
            self._keys[task.key].in_flight -= 1
            self.in_flight -= 1
        left.extend(self._ready)
        self._ready = []
        return left

    # --- admission ----------------------------------------------------------------

    def _new_key(self, name: str, now: float) -> _Key[T]:
        ks: _Key[T] = _Key(name, self._limits.get(name, self._default_limit), now)
        self._keys[name] = ks
        return ks

    def _start(self, task: T, ks: _Key[T]) -> None:
        subkey = task.subkey
        if subkey is not None:
            ks.busy[subkey] = task
        ks.in_flight += 1
        self.in_flight += 1
        self._ready.append(task)

    def _pump(self, ks: _Key[T], now: float) -> None:
        """Start waiting tasks of a key while it has room."""
        waiting = ks.waiting
        while waiting and ks.in_flight + ks.reserved < ks.limit:
            task = waiting[0]
            subkey = task.subkey
            if subkey is not None:
                holder = ks.busy.get(subkey)
                if holder is not None and holder is not task:
                    waiting.popleft()  # its resource is busy: wait behind the holder
                    ks.sub_waiting.setdefault(subkey, deque()).append(task)
                    continue
            if not ks.free and not self._may_start(ks, now):
                return
            waiting.popleft()
            self._start(task, ks)

    def _may_start(self, ks: _Key[T], now: float) -> bool:
        """Check the hold and the token bucket of a key."""
        if ks.held_until > -math.inf:
            if ks.held_until > now:
                self._wake_key(ks, ks.held_until)
                return False
            self._end_hold(ks)
            return False  # the released tasks start after their stagger
        bucket = ks.bucket
        if bucket is not None and not bucket.take(now):
            self._wake_key(ks, bucket.ready_at(now))
            return False
        return True

    def _end_hold(self, ks: _Key[T]) -> None:
        """Release up to ``concurrency`` waiting tasks, each after a random stagger.

        The offsets are sorted so the tasks still start in line order (a sub-key's
        writes must not overtake each other).
        """
        ended = ks.held_until  # the window starts when the hold ended, however late we look
        ks.held_until = -math.inf
        ks.free = ks.bucket is None
        released: list[T] = []
        room = ks.limit - ks.in_flight - ks.reserved
        while ks.waiting and len(released) < room:
            task = ks.waiting.popleft()
            subkey = task.subkey
            if subkey is not None:
                holder = ks.busy.get(subkey)
                if holder is not None and holder is not task:
                    ks.sub_waiting.setdefault(subkey, deque()).append(task)
                    continue
                ks.busy[subkey] = task  # claimed now, so no later task of its sub-key overtakes it
            released.append(task)
        offsets = sorted(self._rng.uniform(0.0, ks.stagger) for _ in released)
        for offset, task in zip(offsets, released, strict=True):
            ks.reserved += 1
            self._push(ended + offset, _RELEASE, task, ks)

    def _wake_key(self, ks: _Key[T], when: float) -> None:
        if ks.wake_at is None or when < ks.wake_at:
            ks.wake_at = when
            self._push(when, _WAKE, None, ks)

    def _push(self, when: float, kind: int, task: T | None, ks: _Key[T]) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), kind, task, ks))
