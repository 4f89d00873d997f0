"""A rolling-window request budget per credential (Bitbucket Cloud's hourly limit).

Bitbucket Cloud allows 1,000 requests to ``/2.0/repositories/*`` per rolling
hour per user or access token and answers 429 beyond it, without Retry-After.
:class:`RollingBudget` is the pure bookkeeping: give it the clock reading with
every request and it says whether the request fits and how many are left.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["Admission", "HourlyLimit", "RollingBudget"]


@dataclass(frozen=True, slots=True)
class HourlyLimit:
    """How many requests one credential may make per rolling window.

    Args:
        requests: Requests allowed per window (Bitbucket Cloud: 1,000; scaled
            access-token limits go up to 10,000).
        window_seconds: The window's length in the simulator clock's seconds.

    Raises:
        ValueError: ``requests`` below 1 or a window that is not positive.
    """

    requests: int = 1000
    window_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.requests < 1 or self.window_seconds <= 0:
            raise ValueError(f"need requests >= 1 and window_seconds > 0, got {self}")


@dataclass(frozen=True, slots=True)
class Admission:
    """The budget's answer for one request.

    Attributes:
        allowed: Whether the request fits in the budget (it was counted).
        limit: The window's request limit.
        remaining: Requests left in the window after this one.
    """

    allowed: bool
    limit: int
    remaining: int

    @property
    def near_limit(self) -> bool:
        """Whether less than 20% of the budget is left (Bitbucket's ``X-RateLimit-NearLimit``)."""
        return self.remaining < 0.2 * self.limit


class RollingBudget:
    """Counts each credential's requests in a rolling window (not thread-safe: the simulator's lock guards it).

    Args:
        limit: The budget.
    """

    def __init__(self, limit: HourlyLimit) -> None:
        self.limit = limit
        self._seen: dict[str, deque[float]] = {}

    def admit(self, key: str, now: float) -> Admission:
        """Count a request by ``key`` at ``now`` if it fits; refused requests are not counted.

        Args:
            key: Who makes the request (one budget per key).
            now: The clock reading.

        Returns:
            Whether it fits, and what is left.
        """
        times = self._seen.setdefault(key, deque())
        while times and times[0] <= now - self.limit.window_seconds:
            times.popleft()
        if len(times) >= self.limit.requests:
            return Admission(False, self.limit.requests, 0)
        times.append(now)
        return Admission(True, self.limit.requests, self.limit.requests - len(times))

    def seconds_until_free(self, key: str, now: float) -> float:
        """Return how long until ``key`` may make another request (0 when it may now)."""
        live = [t for t in self._seen.get(key, ()) if t > now - self.limit.window_seconds]
        if len(live) < self.limit.requests:
            return 0.0
        return live[len(live) - self.limit.requests] + self.limit.window_seconds - now
