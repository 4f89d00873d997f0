"""Clocks the simulators read for their time windows (429 windows, hourly request budgets).

A clock is any callable returning seconds on a monotonic scale. The default is
:func:`time.monotonic`; :class:`ScaledClock` runs simulated time faster than
real time (a benchmark can live through an hour-long rate-limit window in
seconds), and :class:`ManualClock` moves only when a test says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "ManualClock", "ScaledClock"]


class Clock(Protocol):
    """Seconds on a monotonic scale (only differences matter)."""

    def __call__(self) -> float:
        """Return the current reading."""


class ScaledClock:
    """Simulated time that runs ``time_scale`` times faster than real time.

    ``ScaledClock(3600)`` makes one real second a simulated hour.

    Args:
        time_scale: Simulated seconds per real second (> 0).
        source: The real clock it scales.

    Raises:
        ValueError: ``time_scale`` is not positive.
    """

    def __init__(self, time_scale: float, *, source: Callable[[], float] = time.monotonic) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, got {time_scale}")
        self.time_scale = time_scale
        self._source = source
        self._start = source()

    def __call__(self) -> float:
        """Return simulated seconds since the clock was made."""
        return (self._source() - self._start) * self.time_scale

    def real_seconds(self, simulated: float) -> float:
        """Return how many real seconds ``simulated`` seconds take on this clock."""
        return simulated / self.time_scale


class ManualClock:
    """A clock that stands still until :meth:`advance` moves it (thread-safe).

    Args:
        start: The first reading.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """Return the current reading."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward.

        Raises:
            ValueError: ``seconds`` is negative (a monotonic clock never goes back).
        """
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go back")
        with self._lock:
            self._now += seconds
