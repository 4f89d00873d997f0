"""The done log: completions kept beside the database until the group commit folds them in."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from jirabucket.queue import Journal, TaskQueue, donelog
from jirabucket.queue import journal as journal_module
from jirabucket.queue.donelog import DoneLog, claim_orphans

KEY = "jira:acme.atlassian.net"
RECORD = struct.Struct("<qd")  # what a done-log record holds: task id, the row's created_at


def logs(db: Path) -> list[Path]:
    """The done-log files beside ``db``."""
    return sorted(db.parent.glob(db.name + ".done-*"))


def records(db: Path) -> list[tuple[int, float]]:
    """The done-log records beside ``db``, in file order (the all-zero rest of each file is unused)."""
    data = b"".join(p.read_bytes() for p in logs(db))
    return [record for record in RECORD.iter_unpack(data) if record != (0, 0.0)]


def rows(db: Path) -> dict[int, float]:
    """The task rows as committed on disk (id -> created_at), read past any journal."""
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT id, created_at FROM tasks ORDER BY id").fetchall())
    finally:
        conn.close()


def committed_tasks(journal: Journal, count: int) -> list[int]:
    """Submit ``count`` rows and commit them; return their ids."""
    ids = [journal.next_id() for _ in range(count)]
    for task_id in ids:
        journal.record_submit((task_id, "op", KEY, "{}", None, True, None))
    journal.flush()
    return ids


def orphan_log(db: Path) -> Path:
    """A done-log path of a process that is gone (no one holds its lock)."""
    return db.with_name(db.name + ".done-99999-0badc0de-0")


def reopened(db: Path) -> tuple[list[int], list[Path]]:
    """Open the journal again: its pending ids and the done logs beside it, as seen while it is open."""
    journal = Journal(db)
    try:
        return [t.id for t in journal.pending()], logs(db)
    finally:
        journal.close()


def done(journal: Journal, task_id: int) -> None:
    """Record a task as done, durably, as the queue does before its worker moves on."""
    journal.wait_committed(journal.record_done(task_id, prompt=True))


def test_a_completion_is_a_log_record_until_the_group_commit_folds_it_in(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    journal = Journal(db, commit_interval=3600.0)  # no timed commit: we commit by hand
    first, second = committed_tasks(journal, 2)
    assert logs(db) == []  # made at the first completion that needs one
    done(journal, first)
    assert first in rows(db)  # no SQLite commit on the way...
    assert records(db) == [(first, rows(db)[first])]  # ...a record
    journal.flush()
    assert list(rows(db)) == [second]
    assert records(db) == []  # emptied once its deletion is committed
    journal.close()
    assert logs(db) == []


def test_a_done_log_left_by_a_killed_process_is_folded_by_the_next_open(tmp_path: Path) -> None:
    db, out = tmp_path / "j.sqlite3", tmp_path / "ran.txt"
    script = """
        import os, signal, sys, threading
        from jirabucket.queue import Journal, TaskQueue
        journal = Journal(sys.argv[1], commit_interval=3600.0)  # no group commit after the flush below
        out = open(sys.argv[2], "a", buffering=1)
        go = threading.Event()
        def op(args):
            go.wait()
            out.write(f"{args['n']}\\n")
        q = TaskQueue(workers=4, journal=journal)
        q.register("op", op, key="k")
        for n in range(20):
            q.submit("op", {"n": n}, key="k", idempotent=True)
        journal.flush()  # the 20 rows are committed before any task ends
        go.set()
        q.join()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script), str(db), str(out)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert sorted(int(n) for n in out.read_text().split()) == list(range(20))  # all ran
    assert len(rows(db)) == 20 and logs(db)  # no deletion committed: the log is all there is
    journal = Journal(db)
    assert journal.pending() == []  # none runs again
    assert rows(db) == {} and logs(db) == []  # folded, then removed
    journal.close()


def test_logs_kept_by_a_close_that_could_not_commit_are_folded_on_reopen(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    journal = Journal(db, commit_interval=3600.0, busy_timeout=0.01)
    first, second, third = committed_tasks(journal, 3)
    done(journal, first)
    done(journal, third)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock: the last commit fails
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        journal.close()
    other.execute("COMMIT")
    other.close()
    assert logs(db) and set(rows(db)) == {first, second, third}
    assert reopened(db) == ([second], [])


def test_a_trailing_partial_record_and_zero_records_are_ignored(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    journal = Journal(db)
    first, second, third = committed_tasks(journal, 3)
    journal.close()
    stamps = rows(db)
    # A log whose process died (no one holds its lock): a whole record, a zeroed one, another
    # whole one, and the first 7 bytes of a third (a power loss cut the file mid-record).
    orphan_log(db).write_bytes(RECORD.pack(first, stamps[first]) + bytes(RECORD.size)
                               + RECORD.pack(third, stamps[third]) + RECORD.pack(second, stamps[second])[:7])
    assert reopened(db) == ([second], [])  # the orphan log folded and removed


def test_a_stale_record_never_deletes_a_task_that_reused_its_id(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    journal = Journal(db, commit_interval=3600.0)
    [task_id] = committed_tasks(journal, 1)
    done(journal, task_id)
    stale = b"".join(p.read_bytes() for p in logs(db))  # the record, as it was on disk
    journal.close()  # the deletion is committed, the log removed
    assert rows(db) == {}

    later = Journal(db)  # the table is empty again: the id is handed out anew
    [reused] = committed_tasks(later, 1)
    assert reused == task_id
    later.close()
    # The record comes back as if the process had died between its commit and emptying the log
    # (or a power loss had undone the emptying): it names the id, but not this row.
    orphan_log(db).write_bytes(stale)
    assert reopened(db) == ([reused], [])


def test_two_journals_on_one_database_keep_their_own_logs(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    first = Journal(db, commit_interval=3600.0)
    one, two, three = committed_tasks(first, 3)
    done(first, one)
    done(first, two)
    first_logs = logs(db)

    second = Journal(db, commit_interval=3600.0)  # e.g. `jirabucket failed` while a sync runs
    assert logs(db) == first_logs and set(rows(db)) == {one, two, three}  # not taken for a dead one's
    assert [t.id for t in second.pending()] == [three]  # what the first did is not shown as pending
    assert second.pending_count() == 1
    done(second, three)
    second.close()  # commits its own and removes its own logs only
    assert logs(db) == first_logs and set(rows(db)) == {one, two}

    first.flush()
    assert rows(db) == {}
    first.close()
    assert logs(db) == []


def test_a_done_log_that_cannot_be_made_falls_back_to_a_commit_per_completion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_space(database: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_module, "DoneLog", no_space)
    db = tmp_path / "j.sqlite3"
    journal = Journal(db, commit_interval=3600.0)
    first, second = committed_tasks(journal, 2)
    with caplog.at_level(logging.WARNING, logger="jirabucket.queue"):
        receipt = journal.record_done(first, prompt=True)
    assert receipt  # to wait for: a commit
    assert "No space left on device" in caplog.text
    journal.wait_committed(receipt)
    assert list(rows(db)) == [second]  # committed, as it would be without a done log
    journal.close()


def test_a_full_log_file_hands_the_completion_to_a_commit_and_is_emptied_by_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(donelog, "_FILE_SIZE", 4 * RECORD.size)  # four records per file
    db = tmp_path / "j.sqlite3"
    journal = Journal(db, commit_interval=3600.0)
    ids = committed_tasks(journal, 10)
    for task_id in ids[:4]:
        done(journal, task_id)
    assert [task_id for task_id, _ in records(db)] == ids[:4] and list(rows(db)) == ids  # all in the log
    receipt = journal.record_done(ids[4], prompt=True)
    assert receipt  # the file is full: this one waits for a commit...
    journal.wait_committed(receipt)
    assert list(rows(db)) == ids[5:] and records(db) == []  # ...which takes the logged ones along
    for task_id in ids[5:9]:
        done(journal, task_id)  # room again
    assert [task_id for task_id, _ in records(db)] == ids[5:9] and list(rows(db)) == ids[5:]
    journal.close()
    assert list(rows(db)) == ids[9:] and logs(db) == []


def test_a_log_file_the_disk_has_no_room_for_is_not_made_and_not_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its blocks are allocated up front: a full disk fails here, not at a later store into the mapping.
    def no_space(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    db = tmp_path / "j.sqlite3"
    with pytest.raises(OSError, match="No space left"):
        DoneLog(str(db))
    assert logs(db) == []


def test_an_orphan_log_that_cannot_be_read_fails_the_open(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    Journal(db).close()
    orphan_log(db).mkdir()  # not a file: cannot be opened for writing
    with pytest.raises(IsADirectoryError):
        Journal(db)


def test_the_queue_records_each_completion_of_a_written_row_in_the_log(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    journal = Journal(db, commit_interval=3600.0)
    go = threading.Event()

    def op(args: Mapping[str, Any]) -> int:
        go.wait(10)
        return int(args["n"])

    with TaskQueue(workers=4, journal=journal) as q:
        q.register("op", op, key=KEY)
        futures = [q.submit("op", {"n": n}, key=KEY, idempotent=True) for n in range(50)]
        journal.flush()  # every row written before any task ends: each completion needs a record
        go.set()
        assert [f.result(timeout=10) for f in futures] == list(range(50))
        assert q.join(timeout=10)
        assert sorted(task_id for task_id, _ in records(db)) == sorted(rows(db))
        assert len(rows(db)) == 50  # and no commit on the way
    journal.close()
    assert rows(db) == {} and logs(db) == []


def test_a_new_log_file_removed_before_it_was_locked_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A journal opening at that very moment may lock a log file created but not yet locked,
    # find it empty, take it for a dead journal's and remove it: the new file must not be used.
    created: list[str] = []
    removed: list[str] = []
    real_open, real_flock = os.open, fcntl.flock

    def spy_open(path: str, flags: int, mode: int = 0o777) -> int:
        fd = real_open(path, flags, mode)
        if flags & os.O_CREAT:
            created.append(path)
        return fd

    def racing_flock(fd: int, operation: int) -> None:
        if operation == fcntl.LOCK_EX and not removed:  # the first log file, before its lock
            removed.append(created[-1])
            os.unlink(created[-1])
        real_flock(fd, operation)

    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(fcntl, "flock", racing_flock)
    db = tmp_path / "j.sqlite3"
    journal = Journal(db, commit_interval=3600.0)
    [task_id] = committed_tasks(journal, 1)
    done(journal, task_id)
    monkeypatch.undo()
    assert removed and not Path(removed[0]).exists()
    assert len(logs(db)) == 2 and Path(removed[0]) not in logs(db)  # made again: the active one, a spare
    assert records(db) == [(task_id, rows(db)[task_id])]
    journal.close()
    assert logs(db) == [] and rows(db) == {}


def test_a_writer_still_holding_a_closed_done_log_never_writes_into_another_file(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    log = DoneLog(str(db))
    log.append(7, 1.5)
    log.close(remove=False)  # its files are released at once, though a worker still holds it
    claimed = claim_orphans(str(db))  # their locks are free: the next journal may fold them
    assert claimed.records == [(7, 1.5)]
    claimed.remove()
    del claimed
    others = [tmp_path / f"other-{n}" for n in range(4)]
    with contextlib.ExitStack() as stack:
        for path in others:  # files opened now take the lowest free descriptor numbers
            stack.enter_context(path.open("wb"))
        log.append(8, 2.5)  # e.g. a worker that finished its task just as the journal closed
    assert [path.read_bytes() for path in others] == [b""] * 4 and logs(db) == []


class _RacingRows(dict[int, tuple[Any, ...]]):
    """The journal's buffered rows, running ``race`` in the commit thread just before or just after its pop."""

    def __init__(self, rows: Mapping[int, tuple[Any, ...]], commit_thread: threading.Thread) -> None:
        super().__init__(rows)
        self.commit_thread = commit_thread
        self.race: dict[str, Callable[[], None]] = {}

    def pop(self, key: int, default: Any = None) -> Any:
        mine = threading.current_thread() is self.commit_thread
        if mine and "before" in self.race:
            self.race.pop("before")()
        row = super().pop(key, default)
        if mine and "after" in self.race:
            self.race.pop("after")()
        return row


def _race(tmp_path: Path, when: str) -> tuple[Journal, Path, int, int]:
    """A commit takes a buffered row while its task completes (``when``: just before or just after
    the commit pops the row); return the journal, its path, the task id and the completion's receipt."""
    db = tmp_path / "j.sqlite3"
    journal = Journal(db, commit_interval=3600.0)
    task_id = journal.next_id()
    journal.record_submit((task_id, "op", KEY, "{}", None, True, None))
    receipts: list[int] = []
    committer = threading.Thread(target=journal.flush)
    racing = _RacingRows(journal._inserts, committer)
    journal._inserts = racing
    racing.race[when] = lambda: receipts.append(journal.record_done(task_id, prompt=True))
    committer.start()
    committer.join(10)
    assert not racing.race  # the race was run
    return journal, db, task_id, receipts[0]


def test_a_completion_that_wins_the_race_for_its_buffered_row_is_never_written(tmp_path: Path) -> None:
    journal, db, task_id, receipt = _race(tmp_path, "before")
    assert receipt == 0  # nothing to wait for
    assert rows(db) == {} and records(db) == []  # the row was not written, so no record is needed
    assert task_id not in journal._stamps
    journal.close()


def test_a_completion_that_loses_the_race_for_its_row_is_recorded_in_the_log(tmp_path: Path) -> None:
    journal, db, task_id, receipt = _race(tmp_path, "after")
    assert receipt == 0  # it found the row's stamp, set before the pop: the done log has it, durable at once
    assert list(rows(db)) == [task_id] and records(db) == [(task_id, rows(db)[task_id])]
    assert reopened_after_kill(db) == []  # a crash now would not run it again
    journal.flush()
    assert rows(db) == {} and records(db) == []
    journal.close()


def with_a_done_log(tmp_path: Path) -> tuple[Journal, Path, DoneLog, int]:
    """A journal (no timed commits) whose done log exists, and the id of a committed task not done yet."""
    db = tmp_path / "j.sqlite3"
    journal = Journal(db, commit_interval=3600.0)
    first, second = committed_tasks(journal, 2)
    done(journal, first)  # makes the done log
    assert journal._done_log is not None
    return journal, db, journal._done_log, second


def test_a_completion_just_before_the_log_is_sealed_has_its_deletion_in_that_commit(tmp_path: Path) -> None:
    # The commit seals the log before it takes the buffered changes: a record in the sealed file
    # (emptied once the commit is through) always has its deletion in that commit.
    journal, db, log, task_id = with_a_done_log(tmp_path)
    seal = log.seal

    def seal_after_a_completion() -> Any:
        log.seal = seal  # type: ignore[method-assign]  # once
        assert journal.record_done(task_id, prompt=True) == 0  # a record in the file about to be sealed
        return seal()

    log.seal = seal_after_a_completion  # type: ignore[method-assign]
    journal.flush()
    assert rows(db) == {} and records(db) == []  # deleted in the commit that emptied its record
    journal.close()


def test_a_commit_right_after_a_record_is_written_already_holds_its_deletion(tmp_path: Path) -> None:
    # A completion buffers its deletion before it writes the record: a commit that seals and
    # empties the record's file at that very moment deletes the row too.
    journal, db, log, second = with_a_done_log(tmp_path)
    append = log.append

    def append_then_commit(task_id: int, created_at: float) -> bool:
        log.append = append  # type: ignore[method-assign]  # once
        written = append(task_id, created_at)
        journal.flush()
        return written

    log.append = append_then_commit  # type: ignore[method-assign]
    assert journal.record_done(second, prompt=True) == 0
    assert reopened_after_kill(db) == []  # a crash now would not run it again
    journal.close()


def reopened_after_kill(db: Path) -> list[int]:
    """The pending ids a journal opened now would see, had this process died (its logs folded as orphans)."""
    copy = db.with_name("copy-" + db.name)
    source = sqlite3.connect(db)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    for log in logs(db):
        copy.with_name(copy.name + log.name[len(db.name):]).write_bytes(log.read_bytes())
    journal = Journal(copy)
    try:
        return [task.id for task in journal.pending()]
    finally:
        journal.close()


def test_submissions_and_completions_racing_group_commits_keep_the_promise_across_a_kill(tmp_path: Path) -> None:
    # Four threads submit and complete rows while the writer thread commits every millisecond;
    # the process then dies. A completion that returned must never come back, and a submission
    # flushed and not completed must never be lost, whatever the interleaving.
    db, done_out, kept_out = tmp_path / "j.sqlite3", tmp_path / "done.txt", tmp_path / "kept.txt"
    script = """
        import os, signal, sys, threading
        from jirabucket.queue import Journal
        journal = Journal(sys.argv[1], commit_interval=0.001)
        done_out = open(sys.argv[2], "a", buffering=1)
        kept_out = open(sys.argv[3], "a", buffering=1)
        start = threading.Barrier(4)
        def work():
            start.wait()
            for _ in range(300):
                ids = [journal.next_id() for _ in range(6)]
                for task_id in ids:
                    journal.record_submit((task_id, "op", "k", {"n": task_id}, None, True, None))
                for task_id in ids[:4]:
                    journal.wait_committed(journal.record_done(task_id, prompt=True))
                    done_out.write(f"{task_id}\\n")
                journal.flush()
                kept_out.write(f"{ids[4]}\\n{ids[5]}\\n")
        threads = [threading.Thread(target=work, daemon=True) for _ in range(4)]
        for thread in threads:
            thread.start()
        threading.Event().wait(float(sys.argv[4]))  # then die mid-work (or after it, on a slow machine)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script), str(db), str(done_out), str(kept_out),
                             "0.4"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr
    finished = {int(n) for n in done_out.read_text().split()}
    kept = {int(n) for n in kept_out.read_text().split()}
    assert finished and kept
    journal = Journal(db)
    pending = {task.id for task in journal.pending()}
    journal.close()
    assert not pending & finished  # none finished comes back
    assert kept <= pending  # none flushed is lost


class _DeletesFailOnce:
    """The journal's connection, failing its first multi-row DELETE of tasks (after the batch's INSERT)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.failed = False

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        if not self.failed and sql.startswith("DELETE FROM tasks WHERE id IN"):
            self.failed = True
            raise sqlite3.OperationalError("disk I/O error")
        return self.conn.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def test_a_commit_that_fails_midway_leaves_nothing_of_its_batch_and_keeps_all_of_it(tmp_path: Path) -> None:
    # Its INSERT of a new row went through, then a DELETE failed. Had the INSERT stayed on disk,
    # the row, put back into the buffer as unwritten, would never be deleted once its task ended:
    # a later resume() would run a finished task again.
    db = tmp_path / "j.sqlite3"
    journal = Journal(db, commit_interval=3600.0)
    first, kept = committed_tasks(journal, 2)
    journal.record_done(first, prompt=True)  # a deletion for the next commit
    late = journal.next_id()
    journal.record_submit((late, "op", KEY, "{}", None, True, None))
    failing = _DeletesFailOnce(journal._conn)
    journal._conn = failing  # type: ignore[assignment]
    with pytest.raises(sqlite3.OperationalError):
        journal.flush()
    assert failing.failed and list(rows(db)) == [first, kept]  # rolled back: the deletion, the new row
    done(journal, late)
    assert late not in reopened_after_kill(db)  # a crash now would not run it again
    journal.flush()
    assert list(rows(db)) == [kept]
    journal.close()
    assert reopened(db) == ([kept], [])
