"""The queue's internal records: one per task, one per key. Plain slotted classes
(not dataclasses) because they are created and touched on the hot path."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from jirabucket.queue.limits import KeyLimit, _TokenBucket
from jirabucket.queue.policy import RetryPolicy

Handler = Callable[[Mapping[str, Any]], object]


class _Task:
    """One submitted task and its retry state (mutated only under the queue's lock
    or by the one worker that runs it)."""

    __slots__ = (
        "args", "attempts", "first_at", "future", "handler", "holding", "id", "idem_key",
        "idempotent", "key", "ks", "operation", "policy", "reserved", "started", "subkey",
    )

    def __init__(  # noqa: PLR0917 - positional: built once per submit, on the hot path
        self, operation: str, key: str, args: Mapping[str, Any], handler: Handler,
        idempotent: bool, idem_key: str | None, subkey: str | None, policy: RetryPolicy,
    ) -> None:
        self.operation = operation
        self.key = key
        self.args = args
        self.handler = handler
        self.idempotent = idempotent
        self.idem_key = idem_key
        self.subkey = subkey
        self.policy = policy
        self.future: Future[Any] = Future()
        self.id = 0
        self.attempts = 0
        self.first_at = 0.0
        self.started = False
        self.holding = False  # holds its sub-key (from first start until it ends)
        self.reserved = False  # released from a cool-down, waiting out its stagger
        self.ks: _KeyState | None = None


class _KeyState:
    """Limits, cool-down, waiting tasks and counters of one key."""

    __slots__ = (
        "bucket",
        "busy",
        "failed",
        "free",
        "in_flight",
        "key",
        "limit",
        "paused_until",
        "pending",
        "reserved",
        "retried",
        "sub_waiting",
        "submitted",
        "succeeded",
        "waiting",
        "wake_at",
    )

    def __init__(self, key: str, limit: KeyLimit, now: float) -> None:
        self.key = key
        self.limit = limit.concurrency
        self.bucket = None if limit.rate is None else _TokenBucket(limit.rate, limit.burst, now)
        # free: no bucket and no cool-down, so admission needs no clock read.
        self.free = self.bucket is None
        self.paused_until = 0.0
        self.wake_at: float | None = None
        self.in_flight = 0
        self.reserved = 0
        self.pending = 0
        self.waiting: deque[_Task] = deque()
        self.busy: set[str] = set()
        self.sub_waiting: dict[str, deque[_Task]] = {}
        self.submitted = 0
        self.succeeded = 0
        self.retried = 0
        self.failed = 0
