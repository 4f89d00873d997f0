"""The durable journal: pending tasks and dead letters in SQLite.

A task is stored as data only: operation name, key, JSON arguments,
idempotency key, idempotent flag, sub-key and attempt count. Never a closure,
never a credential: handlers resolve their clients in memory at run time.

One connection, guarded by one lock, is shared by the queue and a writer
thread that commits the buffered changes every ``commit_interval`` seconds in
one transaction (group commit), so the journal does not dominate the cost of
a task. A task submitted less than ``commit_interval`` before a crash may be
lost; call :meth:`Journal.flush` to make everything so far durable.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DeadLetter", "Journal", "StoredTask"]

_log = logging.getLogger("jirabucket.queue")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY, operation TEXT NOT NULL, key TEXT NOT NULL,
    args TEXT NOT NULL, idempotency_key TEXT, idempotent INTEGER NOT NULL,
    subkey TEXT, attempts INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, operation TEXT NOT NULL, key TEXT NOT NULL,
    args TEXT NOT NULL, idempotency_key TEXT, idempotent INTEGER NOT NULL,
    subkey TEXT, attempts INTEGER NOT NULL, error TEXT NOT NULL, failed_at REAL NOT NULL
);
"""
_TASK_COLUMNS = "id, operation, key, args, idempotency_key, idempotent, subkey, attempts"
_DEAD_COLUMNS = (
    "id, operation, key, args, idempotency_key, idempotent, subkey, attempts, error, failed_at"
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A task that failed for good.

    Args:
        id: The dead letter's id (pass it to ``retry_dead_letters``).
        operation: The registered operation name.
        key: The task's key.
        args: The task's JSON arguments.
        attempts: Attempts made.
        error: ``"ExceptionType: message"`` of the last attempt.
        failed_at: When it failed, in epoch seconds.
    """

    id: int
    operation: str
    key: str
    args: dict[str, Any]
    attempts: int
    error: str
    failed_at: float


@dataclass(frozen=True, slots=True)
class StoredTask:
    """A task as the journal stores it (used to resume and to retry dead letters).

    Args:
        id: Row id (the task id of a pending task, the dead letter id otherwise).
        operation: The registered operation name.
        key: The task's key.
        args: The task's JSON arguments.
        idempotency_key: The task's idempotency key, if any.
        idempotent: Whether the task is safe to repeat.
        subkey: The task's sub-key, if any.
        attempts: Attempts made so far.
    """

    id: int
    operation: str
    key: str
    args: dict[str, Any]
    idempotency_key: str | None
    idempotent: bool
    subkey: str | None
    attempts: int


class Journal:
    """SQLite journal of pending tasks and dead letters (WAL, group commits).

    Args:
        path: The database file (e.g. in the state directory).
        commit_interval: Seconds between group commits.
        busy_timeout: Seconds a commit waits for another connection's write lock
            before it fails (and is tried again at the next interval).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, commit_interval: float = 0.05, busy_timeout: float = 5.0
    ) -> None:
        self.path = os.fspath(path)
        self._interval = commit_interval
        self._db_lock = threading.Lock()
        self._ops: deque[tuple[str, tuple[Any, ...]]] = deque()
        self._closed = False
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes
        self._conn.execute(f"PRAGMA busy_timeout={round(busy_timeout * 1000)}")
        self._conn.executescript(_SCHEMA)
        row = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM tasks").fetchone()
        # Tasks with ids up to here were left by an earlier process: resume() may take them.
        self.previous_max_id: int = int(row[0])
        self._ids = itertools.count(self.previous_max_id + 1)
        self._stop = threading.Event()
        self._writer = threading.Thread(
            target=self._write_loop, name="jirabucket-journal", daemon=True
        )
        self._writer.start()

    def next_id(self) -> int:
        """Return a fresh task id (thread-safe: ``itertools.count`` is atomic).

        Returns:
            An id no task in this journal has.
        """
        return next(self._ids)

    # The queue calls these on its hot path: they only append to a deque.
    def record_submit(self, row: tuple[Any, ...]) -> None:
        """Buffer a new pending task (``id, operation, key, args, idem, idempotent, subkey``).

        Args:
            row: The task's columns, the JSON arguments as text.
        """
        self._ops.append(("i", (*row, time.time())))

    def record_attempts(self, task_id: int, attempts: int) -> None:
        """Buffer the attempt count of a task that will be tried again.

        Args:
            task_id: The task's id.
            attempts: Attempts made so far.
        """
        self._ops.append(("u", (attempts, task_id)))

    def record_done(self, task_id: int) -> None:
        """Buffer the removal of a finished task.

        Args:
            task_id: The task's id.
        """
        self._ops.append(("d", (task_id,)))

    def record_dead(self, task_id: int, attempts: int, error: str) -> None:
        """Buffer the move of a failed task to the dead letters.

        Args:
            task_id: The task's id.
            attempts: Attempts made.
            error: ``"ExceptionType: message"`` of the last attempt.
        """
        self._ops.append(("x", (attempts, error, time.time(), task_id)))

    def flush(self) -> None:
        """Commit every buffered change now."""
        with self._db_lock:
            if not self._closed:
                self._commit_locked()

    def _write_loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except sqlite3.Error:
                _log.exception("journal commit failed; retrying at the next interval")

    def _commit_locked(self) -> None:
        ops = self._ops
        if not ops:
            return
        taken = [ops.popleft() for _ in range(len(ops))]
        batch: dict[str, list[tuple[Any, ...]]] = {"i": [], "u": [], "d": [], "x": []}
        for kind, row in taken:
            batch[kind].append(row)
        try:
            self._write_batch(batch)
        except BaseException:
            # Nothing of the batch was committed: put it back, ahead of newer changes, for the next try.
            ops.extendleft(reversed(taken))
            raise

    def _write_batch(self, batch: dict[str, list[tuple[Any, ...]]]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Inserts first: a task's update or removal is always buffered after its insert.
            conn.executemany(
                "INSERT OR REPLACE INTO tasks (id, operation, key, args, idempotency_key,"
                " idempotent, subkey, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                batch["i"],
            )
            conn.executemany("UPDATE tasks SET attempts = ? WHERE id = ?", batch["u"])
            conn.executemany(
                "INSERT INTO dead_letters (operation, key, args, idempotency_key, idempotent,"
                " subkey, attempts, error, failed_at) SELECT operation, key, args,"
                " idempotency_key, idempotent, subkey, ?, ?, ? FROM tasks WHERE id = ?",
                batch["x"],
            )
            removed = batch["d"] + [(row[-1],) for row in batch["x"]]
            conn.executemany("DELETE FROM tasks WHERE id = ?", removed)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def pending(self, *, max_id: int | None = None) -> list[StoredTask]:
        """Return the pending tasks, oldest first.

        Args:
            max_id: Only tasks with an id up to this one (``None``: all).

        Returns:
            The stored tasks.
        """
        rows = self._query(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE id <= ? ORDER BY id",  # noqa: S608
            (2**62 if max_id is None else max_id,),
        )
        return [_stored(row) for row in rows]

    def pending_count(self) -> int:
        """Return how many tasks are pending (buffered changes committed first).

        Returns:
            The number of pending tasks.
        """
        return int(self._query("SELECT COUNT(*) FROM tasks", ())[0][0])

    def dead_letters(self) -> list[DeadLetter]:
        """Return the dead letters, oldest first (usable without a queue).

        Returns:
            Every dead letter in the journal.
        """
        rows = self._query(f"SELECT {_DEAD_COLUMNS} FROM dead_letters ORDER BY id", ())  # noqa: S608
        return [
            DeadLetter(row[0], row[1], row[2], json.loads(row[3]), row[7], row[8], row[9])
            for row in rows
        ]

    def take_dead_letters(self, ids: Iterable[int]) -> list[StoredTask]:
        """Turn dead letters back into pending tasks, in one transaction, and return them.

        A dead letter is never only deleted: it becomes a pending task row (new id,
        attempts from zero) in the same commit, so if submitting it fails or the
        process dies, the next ``resume()`` still finds it.

        Args:
            ids: The dead letter ids to take; unknown ids are ignored.

        Returns:
            The new pending tasks.
        """
        wanted = sorted(set(ids))
        with self._db_lock:
            self._check_open()
            self._commit_locked()
            taken: list[StoredTask] = []
            self._conn.execute("BEGIN IMMEDIATE")
            for dead_id in wanted:
                row = self._conn.execute(
                    f"SELECT {_TASK_COLUMNS} FROM dead_letters WHERE id = ?",  # noqa: S608
                    (dead_id,),
                ).fetchone()
                if row is not None:
                    self._conn.execute("DELETE FROM dead_letters WHERE id = ?", (dead_id,))
                    task = _stored((self.next_id(), *row[1:7], 0))
                    self._conn.execute(
                        "INSERT INTO tasks (id, operation, key, args, idempotency_key, idempotent, subkey,"
                        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (task.id, *row[1:4], task.idempotency_key, task.idempotent, task.subkey, time.time()),
                    )
                    taken.append(task)
            self._conn.execute("COMMIT")
        return taken

    def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self._db_lock:
            self._check_open()
            self._commit_locked()
            return self._conn.execute(sql, params).fetchall()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"journal {self.path} is closed")

    def close(self) -> None:
        """Commit what is buffered, stop the writer thread and close the database."""
        self._stop.set()
        if self._writer.is_alive() and self._writer is not threading.current_thread():
            self._writer.join()
        with self._db_lock:
            if self._closed:
                return
            self._commit_locked()
            self._closed = True
            self._conn.close()


def _stored(row: Sequence[Any]) -> StoredTask:
    return StoredTask(
        id=row[0], operation=row[1], key=row[2], args=json.loads(row[3]),
        idempotency_key=row[4], idempotent=bool(row[5]), subkey=row[6], attempts=row[7],
    )
