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
- rate limiting (:meth:`Scheduler.throttle`): a 429 holds the whole key, for
  the server's ``Retry-After`` or else for a backoff that grows with each 429
  in a row; without ``Retry-After`` one task (the probe) goes first when the
  hold ends and the others follow only once it got an answer other than 429;
  past the policy's ``rate_limit_max_wait`` the key gives up;
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
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from jirabucket.queue.limits import KeyLimit, TokenBucket
from jirabucket.queue.policy import RetryPolicy

__all__ = ["KeyLoad", "Schedulable", "Scheduler", "Throttle"]


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

# What a key's gate says to the next waiting task.
_OPEN, _CLOSED, _PROBE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Throttle:
    """What a 429 did to its key (see :meth:`Scheduler.throttle`).

    Args:
        wait: Seconds until the task's next attempt at the earliest (the key's wait).
        started: A new wait of the key began with this 429 (report it); ``False``
            when the task joined a wait already running, or when the key gave up.
        given_up: The key has been rate limited longer than ``rate_limit_max_wait``:
            the task is still in flight, to be failed, and the key's other tasks too.
        limited_for: Seconds the key's waits add up to since its first 429 in a row.
    """

    wait: float
    started: bool
    given_up: bool
    limited_for: float


class _Key(Generic[T]):
    """The limits, hold, waiting tasks and load of one key."""

    __slots__ = (
        "bucket", "busy", "free", "held_until", "in_flight", "limit", "limited_for", "name", "pending",
        "probe", "probe_next", "reserved", "stagger", "strikes", "sub_waiting", "waiting", "wake_at",
    )

    def __init__(self, name: str, limit: KeyLimit, now: float) -> None:
        self.name = name
        self.limit = limit.concurrency
        self.bucket = None if limit.rate is None else TokenBucket(limit.rate, limit.burst, now)
        # free: no bucket and no hold, so admission needs no look at the clock.
        self.free = self.bucket is None
        self.held_until = -math.inf
        self.stagger = 0.0
        self.probe_next = False  # when the hold ends, one task goes first
        self.probe: T | None = None  # that task, while it runs: the others wait for its answer
        self.strikes = 0  # 429s in a row
        self.limited_for = 0.0  # seconds of waits since the first of them
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
        if ks.strikes:
            self._answered(task, ks)
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
        if ks.strikes:
            self._answered(task, ks)
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

    def throttle(
        self, task: T, *, now: float, server_wait: float | None, policy: RetryPolicy,
        instant: bool = False,
    ) -> Throttle:
        """A task handed out by :meth:`due` was answered 429: rate-limit its whole key.

        The first 429 in a row (or the probe's) starts a wait of the key: the
        server's ``server_wait``, or ``policy.rate_limit_delay`` of the number of
        429s in a row. The task waits at the head of the key's line. A 429 of a
        task that was already running when the wait began joins that wait
        without making it longer. When the waits of the key would add up to more
        than ``policy.rate_limit_max_wait``, the key gives up: the task stays in
        flight for the caller to fail (with :meth:`done`), and :meth:`evict`
        hands over the key's other tasks.

        Args:
            task: The task.
            now: The current clock time.
            server_wait: Seconds the server asked for (``Retry-After``), if it did.
            policy: The task's policy (delays and the longest total wait).
            instant: Compute and report the wait, but do not wait (test mode).

        Returns:
            The wait, whether it started now, and whether the key gave up.
        """
        ks = self._keys[task.key]
        if ks.probe is not task and (ks.held_until > now or ks.probe is not None or ks.probe_next):
            self._requeue(task, ks, now)  # in flight when the key's wait began: wait with the others
            return Throttle(max(0.0, ks.held_until - now), started=False, given_up=False,
                            limited_for=ks.limited_for)
        if ks.probe is task:
            ks.probe = None
        wait = policy.rate_limit_delay(ks.strikes, rng=self._rng) if server_wait is None else server_wait
        if ks.limited_for + wait > policy.rate_limit_max_wait:
            limited_for = ks.limited_for
            ks.strikes, ks.limited_for = 0, 0.0
            ks.free = ks.bucket is None and ks.held_until == -math.inf and not ks.probe_next
            return Throttle(0.0, started=False, given_up=True, limited_for=limited_for)
        ks.strikes += 1
        ks.limited_for += wait
        stagger = 0.0 if instant else policy.base_delay
        self.hold(task.key, until=now if instant else now + wait, stagger=stagger, now=now)
        ks.probe_next = server_wait is None
        self._requeue(task, ks, now)
        return Throttle(wait, started=True, given_up=False, limited_for=ks.limited_for)

    def evict(self, key: str) -> list[T]:
        """Remove and return every task of ``key`` that is not in flight; they count as done.

        Args:
            key: The key.

        Returns:
            The tasks (waiting, waiting for their sub-key, or due later).
        """
        ks = self._keys.get(key)
        if ks is None:
            return []
        left = list(ks.waiting)
        ks.waiting.clear()
        for queued in ks.sub_waiting.values():
            left.extend(queued)
        ks.sub_waiting.clear()
        kept = []
        for entry in self._heap:
            if entry[4] is ks and entry[3] is not None:
                left.append(entry[3])
                if entry[2] == _RELEASE:
                    ks.reserved -= 1
            else:
                kept.append(entry)
        heapq.heapify(kept)
        self._heap = kept
        for task in left:
            if task.subkey is not None and ks.busy.get(task.subkey) is task:
                del ks.busy[task.subkey]
        ks.pending -= len(left)
        self.pending -= len(left)
        return left

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
            if not ks.free:
                gate = self._gate(ks, now)
                if gate == _CLOSED:
                    return
                if gate == _PROBE:
                    waiting.popleft()
                    ks.probe_next = False
                    ks.probe = task  # alone until it is answered
                    self._start(task, ks)
                    return
            waiting.popleft()
            self._start(task, ks)

    def _gate(self, ks: _Key[T], now: float) -> int:
        """Whether the next task of a key that is not free may start: hold, probe, bucket."""
        if ks.probe is not None:
            return _CLOSED
        if ks.held_until > -math.inf:
            if ks.held_until > now:
                self._wake_key(ks, ks.held_until)
                return _CLOSED
            if not ks.probe_next:
                self._end_hold(ks)
                return _CLOSED  # the released tasks start after their stagger
            ks.held_until = -math.inf  # the wait is over; one task probes the server
        bucket = ks.bucket
        if bucket is not None and not bucket.take(now):
            self._wake_key(ks, bucket.ready_at(now))
            return _CLOSED
        return _PROBE if ks.probe_next else _OPEN

    def _answered(self, task: T, ks: _Key[T]) -> None:
        """A task of a key rate-limited lately ended without a 429."""
        if ks.probe is task:
            ks.probe = None  # the server takes requests again: everyone may go
            ks.free = ks.bucket is None and ks.held_until == -math.inf and not ks.probe_next
        if ks.probe is None and not ks.probe_next and ks.held_until == -math.inf:
            ks.strikes, ks.limited_for = 0, 0.0  # the rate limit is over

    def _requeue(self, task: T, ks: _Key[T], now: float) -> None:
        ks.in_flight -= 1
        self.in_flight -= 1
        ks.waiting.appendleft(task)
        self._pump(ks, now)

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
