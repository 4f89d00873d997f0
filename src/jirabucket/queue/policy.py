"""Retry policy as data, and the parsing of server-requested waits.

The policy decides, for an exception a task raised, whether the task is tried
again (``"retry"``), failed at once (``"fail"``), or failed as
:class:`~jirabucket.errors.OutcomeUnknown` (``"unknown"``): a write that is not
safe to repeat broke mid-flight, so it may have happened.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

from jirabucket.errors import OutcomeUnknown, RateLimited, TransientError

__all__ = ["Decision", "Outcome", "RetryPolicy", "retry_after_from_headers"]

Outcome = Literal["retry", "fail", "unknown"]

# Epoch values below this are not timestamps but small "seconds" counts.
_EPOCH_FLOOR = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do after a failed attempt (see :meth:`RetryPolicy.decide`).

    Args:
        outcome: ``"retry"``, ``"fail"`` or ``"unknown"``.
        wait: Seconds until the next attempt (a server's wait, else the backoff).
        hold_key: The server asked for a wait: hold every task of the key, not only this one.
    """

    outcome: Outcome
    wait: float
    hold_key: bool


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often, how long and on which errors a task is tried again.

    :meth:`classify` is the one place that decides which errors are retried;
    everything it reads is a field here. The defaults fit Atlassian Cloud:

    - :class:`~jirabucket.errors.RateLimited` (429): retried, for every task;
    - :class:`~jirabucket.errors.TransientError` with a status in
      ``retry_statuses`` (502, 503, 504): retried; a 500 only for idempotent tasks;
    - a network failure: a ``TransientError`` without a status (what the clients
      raise), or any exception of ``retry_exceptions`` (by default the builtins
      ``ConnectionError`` -- with ``ConnectionResetError``, ``ConnectionRefusedError``,
      ``BrokenPipeError`` ... -- and ``TimeoutError``, which a bare handler may
      raise): retried for idempotent tasks; for the others it fails as
      :class:`~jirabucket.errors.OutcomeUnknown`, since the call may have happened;
    - anything else (other 4xx, ``OutcomeUnknown``, bugs): fails at once.

    Args:
        max_attempts: Attempts in all, the first one included.
        deadline: Seconds since the first attempt; no attempt is scheduled past it.
        base_delay: Seconds of the first backoff step.
        max_delay: Cap of the exponential backoff, in seconds.
        max_retry_after: Cap applied to waits the server asks for, in seconds.
        retry_statuses: HTTP statuses retried for every task.
        retry_500_if_idempotent: Retry a 500 when the task is idempotent.
        retry_exceptions: Exception types a handler may raise that count as a
            network failure (add e.g. ``requests.ConnectionError`` for a handler
            that calls ``requests`` itself).
        rate_limit_base_delay: First wait, in seconds, of a host that answers 429
            without saying how long (Bitbucket Cloud's hourly limit does that).
        rate_limit_max_delay: Cap of those waits: the host is probed again, by one
            task, at least this often.
        rate_limit_max_wait: Seconds a host may stay rate limited, all its waits
            added up, before its tasks fail. Attempts answered with 429 count
            neither against ``max_attempts`` nor against the ``deadline``.

    A rate-limited host is handled as a whole (see
    :meth:`~jirabucket.queue.scheduler.Scheduler.throttle`): with ``Retry-After``
    every task of the host waits that long; without it the host waits
    ``uniform(d / 2, d)`` with ``d = min(rate_limit_max_delay, rate_limit_base_delay * 2**n)``
    after the n-th 429 in a row, then one task probes it before the others follow.
    """

    max_attempts: int = 8
    deadline: float = 300.0
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 900.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    retry_500_if_idempotent: bool = True
    retry_exceptions: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)
    rate_limit_base_delay: float = 15.0
    rate_limit_max_delay: float = 300.0
    rate_limit_max_wait: float = 3600.0

    def __post_init__(self) -> None:
        """Reject settings that cannot work.

        Raises:
            ValueError: When a count or duration is out of range.
        """
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        durations = (self.deadline, self.base_delay, self.max_delay, self.max_retry_after,
                     self.rate_limit_base_delay, self.rate_limit_max_delay, self.rate_limit_max_wait)
        if min(durations) < 0:
            raise ValueError("RetryPolicy durations must not be negative")

    def delay(self, attempt: int, *, rng: random.Random) -> float:
        """Return the backoff before retry number ``attempt`` (full jitter).

        Args:
            attempt: 0 for the first retry, 1 for the second, and so on.
            rng: The random source (seeded in tests for deterministic jitter).

        Returns:
            ``rng.uniform(0, min(max_delay, base_delay * 2**attempt))`` seconds.
        """
        # Clamp the exponent so a huge attempt number cannot overflow a float.
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(attempt, 64))
        return rng.uniform(0.0, ceiling)

    def rate_limit_delay(self, step: int, *, rng: random.Random) -> float:
        """Return the wait of a host after its ``step``-th 429 in a row without ``Retry-After``.

        Equal jitter rather than full jitter: every step waits at least half its
        ceiling, so a long limit is not probed again after a few seconds.

        Args:
            step: 0 after the first 429, 1 after the second, and so on.
            rng: The random source.

        Returns:
            ``rng.uniform(d / 2, d)`` seconds, ``d = min(rate_limit_max_delay, rate_limit_base_delay * 2**step)``.
        """
        ceiling = min(self.rate_limit_max_delay, self.rate_limit_base_delay * 2.0 ** min(step, 64))
        return rng.uniform(ceiling / 2.0, ceiling)

    def classify(self, exc: BaseException, *, idempotent: bool) -> Outcome:
        """Decide what to do with the exception an attempt raised.

        Args:
            exc: The exception raised by the task's handler.
            idempotent: Whether the task is safe to repeat (GET/PUT/DELETE, upserts).

        Returns:
            ``"retry"``, ``"fail"``, or ``"unknown"`` (a non-idempotent write
            broke mid-flight and may have happened).
        """
        if isinstance(exc, RateLimited):
            return "retry"  # a 429 was refused before any work was done
        if isinstance(exc, OutcomeUnknown):
            return "fail"  # the handler already decided the write may have happened
        if isinstance(exc, TransientError):
            status = exc.status
        elif isinstance(exc, self.retry_exceptions):
            status = None  # a network failure raised by a bare handler
        else:
            return "fail"
        if status is None:
            return "retry" if idempotent else "unknown"
        retry = status in self.retry_statuses or (
            status == 500 and idempotent and self.retry_500_if_idempotent
        )
        return "retry" if retry else "fail"

    def decide(
        self, exc: BaseException, *, idempotent: bool, attempts: int, elapsed: float,
        rng: random.Random,
    ) -> Decision:
        """Decide the fate of a task whose attempt raised ``exc``.

        A wait the server asked for (``Retry-After`` and friends, on a 429 or a
        transient error) replaces the backoff, capped at ``max_retry_after``,
        and holds the whole key. A 4xx that will never succeed holds nothing,
        even when it carries such a header. A retry that would go past
        ``max_attempts`` or the ``deadline`` becomes a failure, except after a
        429: a rate-limited host is governed by ``rate_limit_max_wait`` (the
        queue's scheduler counts it, per host).

        Args:
            exc: The exception the handler raised.
            idempotent: Whether the task is safe to repeat.
            attempts: Attempts made so far, the failed one included (those answered
                with 429 left out).
            elapsed: Seconds since the task's first attempt started (waits for a
                rate-limited host left out).
            rng: The random source of the jitter.

        Returns:
            The outcome, the wait and whether the key is held.
        """
        outcome = self.classify(exc, idempotent=idempotent)
        server_wait = exc.retry_after if isinstance(exc, RateLimited | TransientError) else None
        hold_key = server_wait is not None or isinstance(exc, RateLimited)
        backoff = self.delay(attempts - 1, rng=rng)
        wait = backoff if server_wait is None else min(server_wait, self.max_retry_after)
        exhausted = attempts >= self.max_attempts or elapsed + wait > self.deadline
        if outcome == "retry" and exhausted and not isinstance(exc, RateLimited):
            outcome = "fail"  # exhausted: the last error ends the task
        return Decision(outcome, wait, hold_key)


def retry_after_from_headers(
    headers: Mapping[str, str], *, now: float | None = None
) -> float | None:
    """Return how many seconds the server asked the client to wait.

    Looks, case-insensitively, at ``Retry-After`` (seconds or HTTP-date), then
    ``Beta-Retry-After``, then ``X-RateLimit-Reset`` (an ISO 8601 timestamp;
    epoch seconds are accepted too).

    Args:
        headers: The response headers.
        now: The current epoch time; ``time.time()`` when omitted.

    Returns:
        Seconds from ``now``, never negative; ``None`` when no header is
        present or none can be parsed.
    """
    if now is None:
        import time

        now = time.time()
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in ("retry-after", "beta-retry-after"):
        value = lowered.get(name)
        if value is not None:
            wait = _parse_retry_after(value.strip(), now)
            if wait is not None:
                return wait
    reset = lowered.get("x-ratelimit-reset")
    if reset is not None:
        return _parse_reset(reset.strip(), now)
    return None


def _parse_retry_after(value: str, now: float) -> float | None:
    """Parse a ``Retry-After`` value: delta seconds or an HTTP-date."""
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # RFC 9110: HTTP-dates are always GMT
    return max(0.0, when.timestamp() - now)


def _parse_reset(value: str, now: float) -> float | None:
    """Parse ``X-RateLimit-Reset``: ISO 8601 (Jira Cloud) or epoch seconds."""
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None:
        # Large numbers are epoch timestamps; small ones are seconds to wait.
        return max(0.0, number - now if number >= _EPOCH_FLOOR else number)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
