"""The durable journal: pending rows, resume, dead letters, no secrets on disk."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from queue_helpers import wait_until

from jirabucket.errors import AuthError, NotFound, PermanentError
from jirabucket.queue import Journal, QueueFull, TaskQueue

KEY = "jira:acme.atlassian.net"


def journal_bytes(path: Path) -> bytes:
    """Every byte the journal has on disk (database, WAL and shared memory)."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_pending_tasks_survive_and_resume(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    gate = threading.Event()
    journal = Journal(path)
    q = TaskQueue(workers=1, journal=journal)
    q.register("jira.get_issue", lambda a: gate.wait(20), key=KEY)
    for n in range(3):
        q.submit("jira.get_issue", {"issue": f"ABC-{n}"}, key=KEY, idempotent=True,
                 idempotency_key=f"get:ABC-{n}", subkey=f"ABC-{n}")
    report = q.close(timeout=0.1)
    assert report.remaining == 3 and journal.pending_count() == 3
    gate.set()  # the running task ends and is removed in the next group commit
    wait_until(lambda: q.stats().succeeded == 1)
    journal.close()

    journal2 = Journal(path)
    assert journal2.pending_count() == 2
    assert [(t.args, t.idempotency_key, t.subkey, t.idempotent) for t in journal2.pending()] == [
        ({"issue": "ABC-1"}, "get:ABC-1", "ABC-1", True),
        ({"issue": "ABC-2"}, "get:ABC-2", "ABC-2", True),
    ]
    seen: list[str] = []
    with TaskQueue(workers=2, journal=journal2) as q2:
        q2.register("jira.get_issue", lambda a: seen.append(a["issue"]), key=KEY)
        assert q2.resume() == 2
        assert q2.resume() == 0  # already resumed
        assert q2.join(timeout=10)
    assert sorted(seen) == ["ABC-1", "ABC-2"]
    assert journal2.pending_count() == 0
    journal2.close()


def test_resume_skips_unregistered_operations(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    journal = Journal(path)
    q = TaskQueue(workers=1, journal=journal)
    gate = threading.Event()
    q.register("a", lambda a: gate.wait(20), key=KEY)
    q.register("b", lambda a: gate.wait(20), key=KEY)
    q.submit("a", {}, key=KEY, idempotent=True)
    q.submit("b", {}, key=KEY, idempotent=True)
    q.submit("b", {}, key=KEY, idempotent=True)
    q.close(timeout=0.05)
    journal.close()
    gate.set()
    journal2 = Journal(path)
    with TaskQueue(workers=1, journal=journal2) as q2:
        q2.register("b", lambda a: None, key=KEY)
        assert q2.resume() == 2  # only "b"; "a" is left pending
    assert [t.operation for t in journal2.pending()] == ["a"]
    journal2.close()


def test_dead_letters_recorded_and_retried(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    journal = Journal(path)
    healthy = threading.Event()

    def get(args: Mapping[str, Any]) -> str:
        if not healthy.is_set():
            raise NotFound(f"issue {args['issue']} does not exist", status=404)
        return "ok"

    with TaskQueue(workers=2, journal=journal) as q:
        q.register("jira.get_issue", get, key=KEY)
        for issue in ("ABC-1", "ABC-2"):
            with pytest.raises(NotFound):
                q.submit("jira.get_issue", {"issue": issue}, key=KEY,
                         idempotent=True).result(timeout=10)
        letters = q.dead_letters()
        assert [(d.operation, d.key, d.args, d.attempts) for d in letters] == [
            ("jira.get_issue", KEY, {"issue": "ABC-1"}, 1),
            ("jira.get_issue", KEY, {"issue": "ABC-2"}, 1),
        ]
        assert letters[0].error == "NotFound: issue ABC-1 does not exist"
        assert letters[0].failed_at > 1_600_000_000
        assert journal.pending_count() == 0

        standalone = Journal(path)  # what `jirabucket failed` does
        assert [d.id for d in standalone.dead_letters()] == [d.id for d in letters]
        standalone.close()

        healthy.set()
        assert q.retry_dead_letters([letters[1].id]) == 1
        assert q.join(timeout=10)
        assert [d.args for d in q.dead_letters()] == [{"issue": "ABC-1"}]
        assert q.retry_dead_letters() == 1
        assert q.join(timeout=10)
        assert q.dead_letters() == []
        assert q.stats().succeeded == 2
    journal.close()


def test_in_memory_dead_letters(tmp_path: Path) -> None:
    calls: list[int] = []

    def deny(args: Mapping[str, Any]) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise AuthError("401 from Jira: check the API token", status=401)

    with TaskQueue(workers=1) as q:
        q.register("op", deny, key=KEY)
        with pytest.raises(AuthError):
            q.submit("op", {"x": 1}, key=KEY, idempotent=True).result(timeout=10)
        [letter] = q.dead_letters()
        assert letter.error.startswith("AuthError: 401") and letter.args == {"x": 1}
        assert q.retry_dead_letters([letter.id, 999]) == 1
        assert q.join(timeout=10) and q.dead_letters() == [] and len(calls) == 2


def test_args_must_be_json_with_a_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "queue.sqlite3")
    with TaskQueue(workers=1, journal=journal) as q:
        q.register("op", lambda a: None, key=KEY)
        with pytest.raises(TypeError, match="not JSON-serialisable"):
            q.submit("op", {"when": object()}, key=KEY, idempotent=True)
        assert q.stats().submitted == 0
    journal.close()


def test_journal_never_contains_the_token(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    token = "ATATT3xFfGF0-very-secret-token-value"
    journal = Journal(path, commit_interval=0.01)

    class Client:
        """Holds the credential in memory, as the real clients do."""

        def __init__(self, secret: str) -> None:
            self.secret = secret

        def call(self, args: Mapping[str, Any]) -> str:
            if args["issue"] == "ABC-404":
                raise NotFound("issue ABC-404 does not exist", status=404)
            return f"{args['issue']} fetched with {len(self.secret)}-char token"

    client = Client(token)
    gate = threading.Event()
    q = TaskQueue(workers=2, journal=journal)
    q.register("jira.get_issue", client.call, key=KEY)
    q.register("jira.slow", lambda a: gate.wait(20) and client.call(a), key=KEY)
    for issue in ("ABC-1", "ABC-404"):
        q.submit("jira.get_issue", {"issue": issue}, key=KEY, idempotent=True)
    q.submit("jira.slow", {"issue": "ABC-7"}, key=KEY, idempotent=True)
    wait_until(lambda: q.stats().succeeded + q.stats().failed == 2)  # the slow one stays pending
    journal.flush()
    on_disk = journal_bytes(path)
    assert b"jira.slow" in on_disk and b"ABC-404" in on_disk  # the grep can see rows
    assert token.encode() not in on_disk
    gate.set()
    q.close(timeout=10)
    journal.close()
    assert token.encode() not in journal_bytes(path)


def _reject(_args: object) -> None:
    raise PermanentError("nope", status=400)


def test_dead_letters_that_do_not_fit_the_queue_stay_pending_for_resume(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    with TaskQueue(workers=1, journal=journal) as q:
        q.register("op", _reject, key="k")
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


def test_a_commit_refused_by_a_locked_database_keeps_its_changes(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path, commit_interval=3600.0, busy_timeout=0.01)  # we commit by hand
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock past our busy timeout
    journal.record_submit((journal.next_id(), "op", "k", "{}", None, True, None))
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        journal.flush()
    other.execute("COMMIT")
    other.close()
    assert journal.pending_count() == 1  # the buffered row was kept and committed now
    journal.close()


def test_duplicate_stored_rows_run_once_and_are_retired(tmp_path: Path) -> None:
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


def _run_once(path: Path, submits: list[tuple[str, str | None]]) -> None:
    """One "run": a fresh queue on the journal, each task failing for good."""
    journal = Journal(path)
    with TaskQueue(workers=1, journal=journal) as q:
        q.register("jira.transition", _reject, key=KEY)
        for issue, idem in submits:
            q.submit("jira.transition", {"issue": issue}, key=KEY, idempotent=True,
                     idempotency_key=idem).exception(timeout=10)
    journal.close()


def test_a_dead_letter_per_idempotency_key_is_updated_by_each_repeat(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    _run_once(path, [("ABC-1", "transition:ABC-1"), ("ABC-9", None)])
    journal = Journal(path)
    [first, _keyless] = journal.dead_letters()
    journal.close()
    _run_once(path, [("ABC-1", "transition:ABC-1"), ("ABC-9", None)])
    _run_once(path, [("ABC-1", "transition:ABC-1")])
    journal = Journal(path)
    letters = journal.dead_letters()
    journal.close()
    by_key = [d for d in letters if d.idempotency_key == "transition:ABC-1"]
    assert len(by_key) == 1  # one per target, however many runs failed on it
    [updated] = by_key
    assert (updated.id, updated.attempts, updated.error) == (first.id, 3, "PermanentError: nope")
    assert updated.failed_at >= first.failed_at
    assert [d.args for d in letters if d.idempotency_key is None] == [{"issue": "ABC-9"}] * 2  # no key: no merge


def test_dead_letters_made_moot_are_discarded_by_idempotency_key(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    _run_once(path, [("ABC-1", "transition:ABC-1"), ("ABC-2", "transition:ABC-2"), ("ABC-3", None)])
    journal = Journal(path)
    with TaskQueue(workers=1, journal=journal) as q:
        assert q.discard_dead_letters(["transition:ABC-1", "transition:ABC-404"]) == 1
    assert [d.args["issue"] for d in journal.dead_letters()] == ["ABC-2", "ABC-3"]
    assert journal.discard_dead_letters(["transition:ABC-2"]) == 1  # usable without a queue
    assert [d.args["issue"] for d in journal.dead_letters()] == ["ABC-3"]
    journal.close()


def test_in_memory_dead_letters_are_one_per_idempotency_key_too() -> None:
    with TaskQueue(workers=1) as q:
        q.register("op", _reject, key=KEY)
        for n in range(3):
            q.submit("op", {"n": n}, key=KEY, idempotent=True, idempotency_key="same").exception(timeout=10)
        [letter] = q.dead_letters()
        assert (letter.args, letter.attempts, letter.idempotency_key) == ({"n": 2}, 3, "same")
        assert q.discard_dead_letters(["same"]) == 1 and q.dead_letters() == []


@pytest.mark.parametrize(("options", "expected_pending"), [
    ({}, 0),  # the done log has it
    ({"done_log": False}, 0),  # committed before its worker moves on
    ({"prompt_completions": False}, 1),  # waits for the group commit
])
def test_only_grouped_completions_leave_finished_tasks_pending_until_the_group_commit(
    tmp_path: Path, options: dict[str, bool], expected_pending: int
) -> None:
    path = tmp_path / "queue.sqlite3"
    journal = Journal(path, commit_interval=3600.0, **options)  # no timed commit
    journal.record_submit((journal.next_id(), "op", KEY, "{}", None, True, None))
    journal.flush()
    task_id = journal.pending()[0].id
    receipt = journal.record_done(task_id, prompt=True)
    journal.wait_committed(receipt)
    other = Journal(path)  # another journal on the database sees what the next run would resume
    assert other.pending_count() == expected_pending
    other.close()
    journal.close()  # commits the rest
