"""Errors the queue itself raises (the API errors live in :mod:`jirabucket.errors`)."""

from __future__ import annotations

from jirabucket.errors import ConfigError, JirabucketError

__all__ = ["QueueClosed", "QueueFull", "UnknownOperation"]


class QueueFull(JirabucketError):
    """The queue holds ``max_pending`` tasks and ``submit`` may not wait longer."""


class QueueClosed(JirabucketError):
    """The queue was closed: it takes no new task, and unstarted tasks end with this."""


class UnknownOperation(ConfigError):
    """No handler is registered for this ``(key, operation)`` pair."""
