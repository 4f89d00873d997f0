"""The retrying in-process background queue.

Worker threads run tasks; a task that fails with a transient error is scheduled
again for a later time and the worker moves on. Per-key concurrency, token
buckets and shared cool-downs (``Retry-After``) keep the servers happy; an
optional SQLite journal makes pending tasks survive a crash; tasks that fail
for good become dead letters.

Example::

    with TaskQueue(journal=Journal(state_dir / "queue.sqlite3")) as q:
        q.register("jira.add_comment", add_comment, key="jira:acme.atlassian.net")
        q.resume()
        future = q.submit("jira.add_comment", {"issue": "ABC-1", "body": "hi"},
                          key="jira:acme.atlassian.net", idempotent=False)
"""

from jirabucket.queue.clock import ManualClock
from jirabucket.queue.events import (
    AttemptEvent,
    AttemptHook,
    CloseReport,
    KeyStats,
    QueueStats,
    WaitEvent,
    WaitHook,
)
from jirabucket.queue.exceptions import QueueClosed, QueueFull, UnknownOperation
from jirabucket.queue.journal import DeadLetter, Journal, StoredTask
from jirabucket.queue.limits import KeyLimit
from jirabucket.queue.policy import RetryPolicy, retry_after_from_headers
from jirabucket.queue.taskqueue import TaskQueue
from jirabucket.queue.testing import set_testing

__all__ = [
    "AttemptEvent",
    "AttemptHook",
    "CloseReport",
    "DeadLetter",
    "Journal",
    "KeyLimit",
    "KeyStats",
    "ManualClock",
    "QueueClosed",
    "QueueFull",
    "QueueStats",
    "RetryPolicy",
    "StoredTask",
    "TaskQueue",
    "UnknownOperation",
    "WaitEvent",
    "WaitHook",
    "retry_after_from_headers",
    "set_testing",
]
