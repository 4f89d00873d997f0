"""The link between a client and the task queue: register handlers, submit, wait."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jirabucket.queue import TaskQueue

__all__ = ["QueueLink"]

_PRIVATE_WORKERS = 4


class QueueLink:
    """Runs a client's named operations as queue tasks under one key.

    Args:
        queue: A shared queue, or ``None`` to own a private one (closed by :meth:`close`).
        key: The queue key, e.g. ``"jira:example.atlassian.net"``.
    """

    def __init__(self, queue: TaskQueue | None, *, key: str) -> None:
        self._owned = queue is None
        self.queue = TaskQueue(workers=_PRIVATE_WORKERS) if queue is None else queue
        self.key = key

    def register(self, handlers: Mapping[str, Callable[[Mapping[str, Any]], object]]) -> None:
        """Register each named handler for this link's key.

        Args:
            handlers: Operation name (e.g. ``"jira.myself"``) to handler of its JSON arguments.
        """
        for operation, handler in handlers.items():
            self.queue.register(operation, handler, key=self.key)

    def run(
        self, operation: str, args: Mapping[str, Any], *, idempotent: bool,
        subkey: str | None = None,
    ) -> Any:
        """Submit an operation and wait for its result.

        Args:
            operation: The registered name.
            args: JSON-serialisable arguments (the journal keeps them).
            idempotent: Whether the queue may repeat it after an unclear failure.
            subkey: Serialises tasks on the same resource (e.g. one issue).

        Returns:
            The handler's result.

        Raises:
            JirabucketError: The task failed (after the queue's retries).
        """
        future = self.queue.submit(
            operation, args, key=self.key, idempotent=idempotent, subkey=subkey
        )
        return future.result()

    def close(self) -> None:
        """Close the queue if this link owns it."""
        if self._owned:
            self.queue.close()
