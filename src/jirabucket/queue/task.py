"""One queued task: what to call, with what, and how far its attempts got.

A plain slotted class, not a dataclass: one is built per ``submit`` and touched
on every attempt, so it stays as small and cheap as a record can be.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from jirabucket.queue.lifecycle import InterruptibleFuture
from jirabucket.queue.policy import RetryPolicy

__all__ = ["Handler", "Task"]

Handler = Callable[[Mapping[str, Any]], object]


class Task:
    """A submitted task and its retry state.

    Mutated only under the queue's lock, or by the one worker running it.

    Args:
        operation: The registered operation name.
        key: The rate-limit key (e.g. ``"jira:acme.atlassian.net"``).
        args: The handler's JSON arguments.
        handler: What runs an attempt.
        idempotent: Whether the task is safe to repeat.
        idem_key: While this task is pending, submits with this key get its future.
        subkey: Tasks with the same ``(key, subkey)`` run one at a time.
        policy: The task's retry policy.
    """

    __slots__ = (
        "args",
        "attempts",
        "durable",
        "first_at",
        "future",
        "handler",
        "id",
        "idem_key",
        "idempotent",
        "key",
        "operation",
        "policy",
        "started",
        "subkey",
        "throttled",
        "waited",
    )

    def __init__(
        self, operation: str, key: str, args: Mapping[str, Any], handler: Handler, *,
        idempotent: bool, idem_key: str | None, subkey: str | None, policy: RetryPolicy,
        durable: bool = True,
    ) -> None:
        self.operation = operation
        self.durable = durable  # kept in the journal (if the queue has one) until done
        self.key = key
        self.args = args
        self.handler = handler
        self.idempotent = idempotent
        self.idem_key = idem_key
        self.subkey = subkey
        self.policy = policy
        self.future: Future[Any] = InterruptibleFuture()  # waits in slices: see queue.lifecycle
        self.id = 0  # the journal's row id (or a counter without a journal)
        self.attempts = 0
        self.first_at = 0.0  # clock time of the first attempt
        self.started = False
        self.throttled = 0  # attempts answered 429 (they do not count against max_attempts)
        self.waited = 0.0  # seconds waited for a rate-limited key (not against the deadline)

    def again(self) -> Task:
        """Return a fresh copy (new future, attempts from zero) to submit once more.

        Returns:
            The new task.
        """
        return Task(self.operation, self.key, self.args, self.handler, idempotent=self.idempotent,
                    idem_key=self.idem_key, subkey=self.subkey, policy=self.policy, durable=self.durable)

    def __repr__(self) -> str:
        """Name the task by its operation, key and id (never its arguments)."""
        return f"<Task {self.id} {self.operation} on {self.key}>"
