"""Regressions found in review: dead letters kept on a failed retry, failed group commits kept,
duplicate resumed rows retired, 4xx answers never pausing a host."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from jirabucket.errors import NotFound, PermanentError
from jirabucket.queue import Journal, QueueFull, TaskQueue


def _fail(_args: object) -> None:
    raise PermanentError("nope", status=400)


def test_retry_dead_letters_that_cannot_be_queued_stay_in_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    with TaskQueue(workers=1, journal=journal) as q:
        q.register("op", _fail, key="k")
        for f in [q.submit("op", {"n": i}, key="k", idempotent=True) for i in range(3)]:
            f.exception()
    journal.close()
    journal = Journal(path)
    gate = threading.Event()
    q = TaskQueue(workers=1, journal=journal, max_pending=1, when_full="raise")
    q.register("op", lambda _a: gate.wait(), key="k")
    with pytest.raises(QueueFull):
        q.retry_dead_letters()
    gate.set()
    q.join()
    q.close()
    assert journal.dead_letters() == []
    assert journal.pending_count() == 2  # the two that did not fit wait for the next resume()
    journal.close()


def test_failed_group_commit_keeps_its_changes(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path, commit_interval=0.05)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock past busy_timeout (5 s)
    journal.record_submit((journal.next_id(), "op", "k", "{}", None, True, None))
    time.sleep(5.4)
    other.execute("COMMIT")
    other.close()
    assert journal.pending_count() == 1
    journal.close()


def test_duplicate_resumed_row_is_retired(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    for _ in range(2):
        journal.record_submit((journal.next_id(), "op", "k", "{}", "same-key", True, None))
    journal.close()
    calls: list[int] = []
    for _ in range(2):
        journal = Journal(path)
        with TaskQueue(workers=1, journal=journal) as q:
            q.register("op", lambda _a: calls.append(1), key="k")
            q.resume()
            q.join()
        assert journal.pending_count() == 0
        journal.close()
    assert calls == [1]


def test_a_404_with_rate_limit_headers_does_not_pause_the_host() -> None:
    seen: list[float] = []

    def handler(args: object) -> None:
        seen.append(time.monotonic())
        if len(seen) == 1:
            raise NotFound("gone", status=404, retry_after=30.0)

    with TaskQueue(workers=1) as q:
        q.register("op", handler, key="k")
        first = q.submit("op", {}, key="k", idempotent=True)
        assert isinstance(first.exception(timeout=5), NotFound)
        q.submit("op", {}, key="k", idempotent=True).result(timeout=5)
    assert seen[1] - seen[0] < 5
