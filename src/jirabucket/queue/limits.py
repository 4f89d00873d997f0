"""Per-key limits: concurrency and an optional token-bucket request rate.

:class:`KeyLimit` is the data a caller gives; :class:`TokenBucket` is the limiter
the scheduler keeps per key. Both are pure: time is a number passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["KeyLimit", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class KeyLimit:
    """The limits applied to every task of one key (e.g. one host).

    Args:
        concurrency: Most tasks of this key in flight at once.
        rate: Token-bucket refill in requests per second (e.g. ``1000 / 3600``
            for Bitbucket Cloud); ``None`` for no rate limit.
        burst: Size of the bucket: requests allowed back to back.
    """

    concurrency: int = 4
    rate: float | None = None
    burst: int = 1

    def __post_init__(self) -> None:
        """Reject limits that would stall the key forever.

        Raises:
            ValueError: When a value is out of range.
        """
        if self.concurrency < 1:
            raise ValueError("KeyLimit.concurrency must be at least 1")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("KeyLimit.rate must be positive (or None for no limit)")
        if self.burst < 1:
            raise ValueError("KeyLimit.burst must be at least 1")


class TokenBucket:
    """A token bucket: ``burst`` tokens, refilled at ``rate`` per second of ``now``.

    Args:
        rate: Tokens added per second.
        burst: Most tokens held (requests allowed back to back).
        now: The clock time it starts full at.
    """

    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now

    def take(self, now: float) -> bool:
        """Take one token if there is one.

        Args:
            now: The current clock time.

        Returns:
            Whether a token was taken.
        """
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def ready_at(self, now: float) -> float:
        """Return when the next token will be there.

        Args:
            now: The current clock time.

        Returns:
            The clock time of the next token (``now`` if one is there).
        """
        self._refill(now)
        tokens, rate, last = self._tokens, self._rate, self._last
        if tokens >= 1.0:
            return now
        ready = last + (1.0 - tokens) / rate
        # Float rounding may leave the refill at ``ready`` a hair short of a token; a wake-up
        # then would find none and look again at the same instant for ever. Step up to the
        # first time at which the refill, computed as take() computes it, reaches the token.
        while tokens + (ready - last) * rate < 1.0:
            ready = math.nextafter(ready, math.inf)
        return max(ready, now)
