"""Clocks the queue can run on: the monotonic clock, or one a test moves by hand.

The queue's timer thread sleeps until the next due time. With the real clock
that is a plain timed wait. A clock that jumps (a test's) must say when it
moved, or the timer would sleep on in real time: :class:`ManualClock` calls
the listeners each queue subscribes, so no polling is needed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SteppedClock"]


class Clock(Protocol):
    """A monotonic clock in seconds."""

    def __call__(self) -> float:
        """Return the current time in seconds."""
        ...


@runtime_checkable
class SteppedClock(Protocol):
    """A clock that moves by jumps and tells its listeners when it did."""

    def __call__(self) -> float:
        """Return the current time in seconds."""
        ...

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after every jump; return a function that unsubscribes it."""
        ...


class ManualClock:
    """A monotonic clock moved only by :meth:`advance`, for tests.

    Pass it as ``TaskQueue(clock=...)``: queued retries, holds and token
    buckets then follow it, and the queue wakes as soon as it is advanced.

    Args:
        start: The initial time in seconds.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._listeners: dict[int, Callable[[], None]] = {}
        self._ids = 0

    def __call__(self) -> float:
        """Return the current time in seconds."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward and wake the queues that use it.

        Args:
            seconds: How far (not negative: the clock is monotonic).

        Raises:
            ValueError: ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError("a monotonic clock does not go back")
        with self._lock:
            self._now += seconds
            listeners = list(self._listeners.values())
        for listener in listeners:  # outside our lock: a listener takes its queue's lock
            listener()

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after every :meth:`advance`.

        Args:
            listener: A quick, non-raising callable.

        Returns:
            A function that unsubscribes it.
        """
        with self._lock:
            self._ids += 1
            token = self._ids
            self._listeners[token] = listener

        def unsubscribe() -> None:
            with self._lock:
                self._listeners.pop(token, None)

        return unsubscribe
