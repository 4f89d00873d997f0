"""Tasks submitted with durable=False: never in the journal, never a dead letter (their caller has the error)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from jirabucket.errors import NotFound
from jirabucket.queue import Journal, TaskQueue


def _fail(args: Mapping[str, Any]) -> None:
    raise NotFound("GET /thing answered HTTP 404")


def test_a_non_durable_task_leaves_nothing_in_the_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "q.sqlite3")
    with TaskQueue(workers=2, journal=journal) as queue:
        queue.register("read", lambda args: args["n"] * 2, key="k")
        queue.register("broken", _fail, key="k")
        assert queue.submit("read", {"n": 21}, key="k", idempotent=True, durable=False).result() == 42
        with pytest.raises(NotFound):
            queue.submit("broken", {}, key="k", idempotent=True, durable=False).result()
        assert queue.dead_letters() == []
        durable = queue.submit("broken", {}, key="k", idempotent=True)  # the default keeps it, as before
        with pytest.raises(NotFound):
            durable.result()
        assert [d.operation for d in queue.dead_letters()] == ["broken"]
    journal.close()
    reopened = Journal(tmp_path / "q.sqlite3")
    assert list(reopened.pending()) == []  # nothing to resume either
    reopened.close()


def test_without_a_journal_a_non_durable_failure_is_no_dead_letter() -> None:
    with TaskQueue(workers=1) as queue:
        queue.register("broken", _fail, key="k")
        with pytest.raises(NotFound):
            queue.submit("broken", {}, key="k", idempotent=True, durable=False).result()
        assert queue.dead_letters() == []
