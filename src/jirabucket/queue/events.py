"""Values the queue reports: attempt events for hooks, counters, the close report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["AttemptEvent", "AttemptHook", "CloseReport", "Counters", "KeyStats", "QueueStats", "WaitEvent", "WaitHook"]


@dataclass(frozen=True, slots=True)
class AttemptEvent:
    """One finished attempt of a task, as reported to hooks.

    Args:
        operation: The registered operation name.
        key: The task's key (e.g. ``"jira:acme.atlassian.net"``).
        attempt: 1 for the first attempt, 2 for the first retry, and so on.
        outcome: ``"success"``, ``"retry"`` (another attempt is scheduled) or ``"failed"``.
        error: ``"ExceptionType: message"`` of a failed attempt, else ``None``.
        delay: Seconds until the next attempt when ``outcome == "retry"``.
        elapsed: Seconds since the task's first attempt started.
    """

    operation: str
    key: str
    attempt: int
    outcome: Literal["success", "retry", "failed"]
    error: str | None
    delay: float | None
    elapsed: float


class AttemptHook(Protocol):
    """Called in a worker thread after every attempt (logging, progress bars)."""

    def __call__(self, event: AttemptEvent) -> None:
        """Receive one attempt event; must be quick and must not raise.

        Args:
            event: What happened.
        """


@dataclass(frozen=True, slots=True)
class WaitEvent:
    """A key (a host) starts waiting, as reported to wait hooks.

    Args:
        key: The key, e.g. ``"bitbucket:api.bitbucket.org"``.
        seconds: How long it waits (computed; not waited in test mode).
        reason: ``"rate_limited"`` (429) or ``"unavailable"`` (a 5xx that said when to come back).
        server_said: The server gave the time (``Retry-After`` or the like); else it is a backoff.
        limited_for: Seconds this key's waits add up to since its first 429 in a row, this one
            included (compare with ``RetryPolicy.rate_limit_max_wait``).
    """

    key: str
    seconds: float
    reason: Literal["rate_limited", "unavailable"]
    server_said: bool
    limited_for: float


class WaitHook(Protocol):
    """Called (in a worker thread) when a key starts waiting, e.g. to tell the user."""

    def __call__(self, event: WaitEvent) -> None:
        """Receive one wait event; must be quick and must not raise.

        Args:
            event: Which key waits, how long, and why.
        """


@dataclass(frozen=True, slots=True)
class KeyStats:
    """Counters of one key.

    Args:
        submitted: Tasks accepted so far.
        succeeded: Tasks that ended with a result.
        retried: Attempts that were followed by another attempt.
        failed: Tasks that ended with an error.
        in_flight: Tasks running now.
        waiting: Tasks accepted, not finished, not running.
    """

    submitted: int
    succeeded: int
    retried: int
    failed: int
    in_flight: int
    waiting: int


@dataclass(slots=True)
class Counters:
    """Running totals of a queue or of one of its keys (changed under the queue's lock).

    Args:
        submitted: Tasks accepted so far.
        succeeded: Tasks that ended with a result.
        retried: Attempts that were followed by another attempt.
        failed: Tasks that ended with an error.
    """

    submitted: int = 0
    succeeded: int = 0
    retried: int = 0
    failed: int = 0

    def snapshot(self, *, in_flight: int, waiting: int) -> KeyStats:
        """Return the totals with the current load, as a frozen value.

        Args:
            in_flight: Tasks running now.
            waiting: Tasks accepted, not finished, not running.

        Returns:
            The counters of one key.
        """
        return KeyStats(self.submitted, self.succeeded, self.retried, self.failed, in_flight, waiting)


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A snapshot of the queue's counters.

    Args:
        submitted: Tasks accepted so far.
        succeeded: Tasks that ended with a result.
        retried: Attempts that were followed by another attempt.
        failed: Tasks that ended with an error (dead letters).
        in_flight: Tasks running now.
        waiting: Tasks accepted, not finished, not running.
        per_key: The same counters per key.
    """

    submitted: int
    succeeded: int
    retried: int
    failed: int
    in_flight: int
    waiting: int
    per_key: Mapping[str, KeyStats]


@dataclass(frozen=True, slots=True)
class CloseReport:
    """What :meth:`TaskQueue.close` achieved.

    Args:
        completed: Tasks that succeeded over the queue's life.
        remaining: Tasks not finished when the queue stopped (they stay in the journal).
        dead: Tasks that failed over the queue's life (dead letters).
    """

    completed: int
    remaining: int
    dead: int
