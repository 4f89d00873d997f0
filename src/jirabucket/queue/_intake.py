"""Intake: accepting tasks (new, resumed, dead letters retried) with backpressure."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, Literal

from jirabucket.queue._runner import _Runner
from jirabucket.queue._task import Handler, _Task
from jirabucket.queue.exceptions import QueueClosed, QueueFull
from jirabucket.queue.journal import DeadLetter, StoredTask
from jirabucket.queue.policy import RetryPolicy

_log = logging.getLogger("jirabucket.queue")


class _Intake(_Runner):
    """Accepting tasks: submit's core, resume, dead letters."""

    _closed: bool
    _max_pending: int
    _when_full: Literal["block", "raise"]
    _submit_timeout: float | None
    _handlers: dict[tuple[str, str], Handler]
    _policy: RetryPolicy
    _resumed: set[int]
    _ids: Any

    def _enqueue(self, task: _Task, payload: str | None, task_id: int | None) -> Future[Any]:
        """Accept a task (new when ``payload`` is set, resumed when ``task_id`` is)."""
        with self._lock:
            if self._closed:
                raise QueueClosed("the queue is closed and takes no new task")
            if task.idem_key is not None and (known := self._idem.get(task.idem_key)):
                return self._merged(known, task_id)
            if self._pending >= self._max_pending:
                self._wait_for_room()
                if task.idem_key is not None and (known := self._idem.get(task.idem_key)):
                    self._not_full.notify()  # we were woken for a slot we do not take: pass it on
                    return self._merged(known, task_id)
            if task.idem_key is not None:
                self._idem[task.idem_key] = task
            journal = self._journal
            if task_id is not None:
                task.id = task_id
            else:
                task.id = journal.next_id() if journal is not None else next(self._ids)
                if payload is not None and journal is not None:
                    journal.record_submit((task.id, task.operation, task.key, payload,
                                           task.idem_key, task.idempotent, task.subkey))
            ks = self._keys.get(task.key) or self._key_state(task.key)
            task.ks = ks
            self._pending += 1
            ks.pending += 1
            ks.submitted += 1
            self._counts[0] += 1
            self._admit(task, ks)
        return task.future

    def _merged(self, known: _Task, task_id: int | None) -> Future[Any]:
        """Return the future of the pending twin; a stored duplicate row is retired, as the twin runs."""
        if task_id is not None and self._journal is not None:
            self._journal.record_done(task_id)
        return known.future

    def _wait_for_room(self) -> None:
        """Block until the queue has room (lock held), or raise."""
        if self._when_full == "raise" or self._submit_timeout == 0:
            raise QueueFull(f"the queue holds {self._max_pending} pending tasks")
        limit = self._submit_timeout
        deadline = None if limit is None else time.monotonic() + limit
        self._full_waiters += 1
        try:
            while self._pending >= self._max_pending and not self._closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise QueueFull(f"the queue stayed full ({self._max_pending} pending tasks)"
                                    f" for {limit} s")
                self._not_full.wait(remaining)
        finally:
            self._full_waiters -= 1
        if self._closed:
            raise QueueClosed("the queue was closed while submit waited for room")

    def resume(self) -> int:
        """Submit again the pending journal tasks a previous process left behind.

        Only tasks whose ``(key, operation)`` is registered are resumed; the
        others stay in the journal. Delivery is at-least-once: a task that
        succeeded just before a crash runs again, so handlers must be idempotent.

        Returns:
            How many tasks were resumed.
        """
        journal = self._journal
        if journal is None:
            return 0
        count = 0
        for stored in journal.pending(max_id=journal.previous_max_id):
            if stored.id in self._resumed or self._resubmit(stored, stored.id) is None:
                continue
            self._resumed.add(stored.id)
            count += 1
        return count

    def _resubmit(self, stored: StoredTask, task_id: int | None) -> Future[Any] | None:
        handler = self._handlers.get((stored.key, stored.operation))
        if handler is None:
            _log.info("not resuming %s on %s: operation not registered",
                      stored.operation, stored.key)
            return None
        task = _Task(stored.operation, stored.key, stored.args, handler, stored.idempotent,
                     stored.idempotency_key, stored.subkey, self._policy)
        task.attempts = stored.attempts if task_id is not None else 0
        payload = json.dumps(stored.args) if task_id is None else None
        return self._enqueue(task, payload, task_id)

    def dead_letters(self) -> list[DeadLetter]:
        """Return the tasks that failed for good (from the journal if there is one).

        Returns:
            The dead letters, oldest first.
        """
        if self._journal is not None:
            return self._journal.dead_letters()
        with self._lock:
            return [letter for letter, _ in self._dead.values()]

    def retry_dead_letters(self, ids: Sequence[int] | None = None) -> int:
        """Submit dead letters again as new tasks (attempts start over).

        Args:
            ids: The dead letter ids to retry; ``None`` for all.

        Returns:
            How many were submitted.
        """
        if self._journal is not None:
            wanted = None if ids is None else set(ids)
            # Unregistered operations stay dead: nothing here could run them.
            chosen = [d.id for d in self._journal.dead_letters()
                      if (wanted is None or d.id in wanted)
                      and (d.key, d.operation) in self._handlers]
            # Already pending rows in the journal: a failure below leaves them for resume().
            taken = self._journal.take_dead_letters(chosen)
            return sum(self._resubmit(stored, stored.id) is not None for stored in taken)
        with self._lock:
            chosen = list(self._dead) if ids is None else [i for i in ids if i in self._dead]
        for dead_id in chosen:
            old = self._dead[dead_id][1]
            self._enqueue(_Task(old.operation, old.key, old.args, old.handler, old.idempotent,
                                old.idem_key, old.subkey, old.policy), None, None)
            with self._lock:
                del self._dead[dead_id]  # only once it is queued again
        return len(chosen)

