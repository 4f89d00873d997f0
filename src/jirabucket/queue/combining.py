"""A lock whose holder does the bookkeeping that other threads handed it, so they need not wait.

Why: the queue's workers used to take the queue's lock after every task to
account for it (counters, the scheduler's free slot, the next task's dispatch),
while the submitting thread took it for every ``submit``. Under the GIL a
contended lock is expensive: a thread that finds it held blocks, gives up the
GIL, and comes back only after two thread switches. With 8 workers and one
busy submitter, 40 % of the lock's acquisitions found it held (counted by
``bench/queue_bench.py``'s way of running 50,000 no-op tasks), and the queue
made 20,000 tasks/s where ``ThreadPoolExecutor``, which has no such lock, made 30,000.

A :class:`CombiningLock` lets a thread *hand off* an item instead: it appends
the item (a ``deque`` append is atomic) and drains the hand-offs itself only if
it gets the lock at once; if the lock is held, the holder drains them when it
releases it. That order makes it airtight: a hand-off that failed to take the
lock was appended before the holder's release, and every release (including
the one inside ``Condition.wait``) looks for hand-offs after it lets go. A
worker therefore never blocks on the lock for its bookkeeping, and one
holder often accounts for several tasks in one go.

The drain runs with the lock held, in whichever thread releases it: it must be
short and must not raise (an error propagates to that thread's ``release``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

__all__ = ["CombiningLock"]

T = TypeVar("T")


class CombiningLock(Generic[T]):
    """A mutex (usable with ``with`` and ``threading.Condition``) that drains hand-offs on release.

    Args:
        drain: Called with the lock held and the deque of items handed off; it
            takes them out (e.g. ``popleft`` until empty).
    """

    __slots__ = ("_drain", "_items", "_lock", "acquire")

    def __init__(self, drain: Callable[[deque[T]], None]) -> None:
        self._lock = threading.Lock()
        self._drain = drain
        self._items: deque[T] = deque()
        self.acquire = self._lock.acquire
        """Acquire the lock, as ``threading.Lock.acquire`` (``blocking``, ``timeout``)."""

    def release(self) -> None:
        """Release the lock, then drain what was handed off meanwhile (if the lock is free)."""
        self._lock.release()
        if self._items:
            self._drain_if_free()

    def hand_off(self, item: T) -> None:
        """Have ``item`` drained: now, if the lock is free; else by the holder, when it releases the lock.

        Args:
            item: What the drain function gets.
        """
        self._items.append(item)
        self._drain_if_free()

    def _drain_if_free(self) -> None:
        items, lock = self._items, self._lock
        # Loop: items handed off while we drained found the lock held, and we are their releaser.
        while items and lock.acquire(False):
            try:
                self._drain(items)
            finally:
                lock.release()

    def condition(self) -> threading.Condition:
        """Return a ``threading.Condition`` on this lock (its waits release it, and drain, through it)."""
        # Condition takes any object with acquire() and release(); typeshed lists only its own locks.
        return threading.Condition(self)  # type: ignore[arg-type]

    def locked(self) -> bool:
        """Whether some thread holds the lock."""
        return self._lock.locked()

    def __enter__(self) -> bool:
        """Acquire the lock."""
        return self._lock.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Release the lock (and drain the hand-offs)."""
        self.release()
