"""The durable journal: pending tasks and dead letters in SQLite.

A task is stored as data only: operation name, key, JSON arguments,
idempotency key, idempotent flag, sub-key and attempt count. Never a closure,
never a credential: handlers resolve their clients in memory at run time.

One connection, guarded by one lock, is shared by the queue and a writer
thread. Changes are buffered and committed together in one transaction every
``commit_interval`` seconds (group commit), so the journal does not dominate
the cost of a task. The buffer takes no lock on the queue's hot path (a
submission, a completion): a lock there was found held by 10-18 % of them, and
under the GIL a held lock costs a round of thread switches. It relies instead
on single ``dict`` and ``deque`` operations being atomic, and on an order of
steps that :meth:`Journal._take_rows` and :meth:`Journal._commit_locked` describe:

- **Completions** must be durable before the worker that ran the task takes
  its next one, so that after a process crash (SIGKILL, OOM kill) only the
  tasks that were running, at most one per worker, run again. A task
  submitted and finished between two group commits was never written: nothing
  to do. Otherwise ``record_done(..., prompt=True)`` appends the task to the
  journal's *done log* (:mod:`jirabucket.queue.donelog`: 16 bytes copied
  into a mapped file, no SQLite commit) and the next group commit deletes its row
  and empties the log; a journal opened after a crash folds the logs the dead
  process left before it hands out any task id. Where the done log cannot be
  used (no ``fcntl``, ``done_log=False``, a log file that cannot be made, a full one)
  the completion is committed to SQLite before the worker moves on
  (:meth:`Journal.wait_committed`), as dead letters always are.
- **Submissions and attempt counts** are committed by the writer thread every
  ``commit_interval`` seconds: a task submitted less than that before a crash
  may be lost; call :meth:`Journal.flush` to make everything so far durable.

The database runs in WAL mode with ``synchronous=NORMAL`` and the done log is
never fsynced: a commit or a log record survives a process crash; on power loss
or an OS crash the last commits and records before it may be lost (finished
tasks may run again, recent submissions vanish), though the database stays
consistent and no record can delete another task's row (see the donelog module).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jirabucket.queue import donelog
from jirabucket.queue.donelog import DoneLog

__all__ = ["DeadLetter", "Journal", "StoredTask", "encode_args"]

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
CREATE INDEX IF NOT EXISTS dead_letters_by_idempotency_key ON dead_letters (idempotency_key);
"""
# Rows per multi-row INSERT (8 parameters each: under SQLite's oldest limit of 999) and ids per DELETE.
_INSERT_ROWS = 100
_DELETE_IDS = 900
# Argument values stored as they are until their row is written (encoding them is then certain to work).
_SCALARS = frozenset({str, int, float, bool, type(None)})
_TASK_COLUMNS = "id, operation, key, args, idempotency_key, idempotent, subkey, attempts"
_DEAD_COLUMNS = (
    "id, operation, key, args, idempotency_key, idempotent, subkey, attempts, error, failed_at"
)


def encode_args(args: Mapping[str, Any]) -> str | dict[str, Any]:
    """Check a task's arguments and return what the journal stores for them.

    A flat ``dict`` of string keys and scalar values (str, int, float, bool,
    None) cannot fail to encode: it is returned as a copy, encoded to JSON only
    if its row is ever written (a task submitted and finished between two group
    commits never is). Anything else is encoded now.

    Args:
        args: The task's arguments.

    Returns:
        The JSON text, or a copy of a flat dict to encode later.

    Raises:
        TypeError: ``args`` is not JSON-serialisable.
        ValueError: ``args`` is circular.
    """
    if type(args) is dict:
        for name, value in args.items():
            if type(name) is not str or type(value) not in _SCALARS:
                return json.dumps(args)
        return args.copy()
    return json.dumps(args)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A task that failed for good.

    Args:
        id: The dead letter's id (pass it to ``retry_dead_letters``).
        operation: The registered operation name.
        key: The task's key.
        args: The task's JSON arguments.
        attempts: Attempts made (over every failure of its idempotency key, see below).
        error: ``"ExceptionType: message"`` of the last attempt.
        failed_at: When it last failed, in epoch seconds.
        idempotency_key: The task's idempotency key, if any. A journal keeps one
            dead letter per idempotency key: a task with the same key that fails
            again updates it (attempts added up, last error, last failure time,
            latest arguments) instead of adding another.
    """

    id: int
    operation: str
    key: str
    args: dict[str, Any]
    attempts: int
    error: str
    failed_at: float
    idempotency_key: str | None = None


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
        prompt_completions: Make each completion durable before its worker moves on
            (a crash re-runs at most one task per worker). ``False`` is the lazy mode:
            completions wait for the group commit, and a crash re-runs the tasks
            finished in the last ``commit_interval``.
        done_log: Make prompt completions durable by appending them to a done log
            beside the database (``<path>.done-*`` files, POSIX only), folded in at
            each group commit. ``False`` commits each one to SQLite before its worker
            moves on instead: no extra files, same promise, a fraction of the
            throughput on tiny tasks (what happens anyway where ``fcntl`` is missing).

    Raises:
        sqlite3.Error: The database cannot be opened or is damaged.
        OSError: A done log left by a journal that is gone cannot be read or removed.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, commit_interval: float = 0.05, busy_timeout: float = 5.0,
        prompt_completions: bool = True, done_log: bool = True,
    ) -> None:
        self.path = os.fspath(path)
        self._interval = commit_interval
        self._prompt = prompt_completions
        self._db_lock = threading.Lock()  # the connection; held through a whole commit
        # The buffer: new rows by id, and the other changes in order (attempts "u", removals
        # "d", deaths "x"). A removal of a row still buffered cancels both: nothing to write.
        # Neither takes a lock (see the module docstring); _buffer_lock guards the tickets,
        # the commit counts and _closed.
        self._buffer_lock = threading.Lock()
        self._inserts: dict[int, tuple[Any, ...]] = {}
        self._ops: deque[tuple[str, tuple[Any, ...]]] = deque()
        # A done-log record names a row by id and created_at: the stamps of the rows taken
        # for a commit (and of those read back), until the task is done.
        self._stamps: dict[int, float] = {}
        self._done_log: DoneLog | None = None  # made at the first completion that needs it
        # Guards the done log's files (made, sealed, emptied, closed), after _buffer_lock when
        # both are needed. Records are written under no lock at all (see the donelog module).
        self._log_lock = threading.Lock()
        self._log_usable = prompt_completions and done_log and donelog.SUPPORTED
        # Completions that must be committed promptly are counted ("tickets"); a commit takes
        # the buffer under _buffer_lock, so it knows which tickets it holds.
        self._committed_cv = threading.Condition(self._buffer_lock)  # waiters for a commit
        self._tickets = 0  # prompt completions buffered so far
        self._committed = 0  # prompt completions committed so far
        self._rounds = 0  # commits tried so far (a failed one too)
        self._closed = False
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes
            self._conn.execute(f"PRAGMA busy_timeout={round(busy_timeout * 1000)}")
            self._conn.executescript(_SCHEMA)
            self._fold_orphans()  # before the first id: see _fold_orphans
            row = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM tasks").fetchone()
        except BaseException:
            self._conn.close()
            raise
        # Tasks with ids up to here were left by an earlier process: resume() may take them.
        self.previous_max_id: int = int(row[0])
        self._ids = itertools.count(self.previous_max_id + 1)
        self._stop = threading.Event()
        self._writer = threading.Thread(
            target=self._write_loop, name="jirabucket-journal", daemon=True
        )
        self._writer.start()

    def _fold_orphans(self) -> None:
        """Delete the tasks that the done logs of journals now gone record as done; remove the logs.

        Runs before this journal computes its first task id, so that what those
        logs name is settled before any new task exists; and since a record names
        its row by id *and* ``created_at``, even a record that escaped (a log that
        reappeared after a power loss) cannot delete a task that reused its id.
        """
        if not donelog.SUPPORTED:
            return
        orphans = donelog.claim_orphans(self.path)
        if not orphans.files:
            return
        try:
            if orphans.records:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.executemany("DELETE FROM tasks WHERE id = ? AND created_at = ?", orphans.records)
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
        except BaseException:
            orphans.release()
            raise
        orphans.remove()
        _log.debug("folded %d completion(s) from %d done log(s) left by a journal that is gone",
                   len(orphans.records), len(orphans.files))

    def next_id(self) -> int:
        """Return a fresh task id (thread-safe: ``itertools.count`` is atomic).

        Returns:
            An id no task in this journal has.
        """
        return next(self._ids)

    # The queue calls these on its hot path: they only touch the in-memory buffer.
    def record_submit(self, row: tuple[Any, ...]) -> None:
        """Buffer a new pending task (``id, operation, key, args, idem, idempotent, subkey``).

        Args:
            row: The task's columns, the arguments as :func:`encode_args` returned them.
        """
        self._inserts[row[0]] = (*row, time.time())

    def record_attempts(self, task_id: int, attempts: int) -> None:
        """Buffer the attempt count of a task that will be tried again.

        Args:
            task_id: The task's id.
            attempts: Attempts made so far.
        """
        self._ops.append(("u", (attempts, task_id)))

    def record_done(self, task_id: int, *, prompt: bool = False) -> int:
        """Record the removal of a finished task.

        Args:
            task_id: The task's id.
            prompt: Make it durable before returning, by a record in the done log, or
                else by a commit: pass the receipt to :meth:`wait_committed` before
                anything must rely on it (unless the journal was made with
                ``prompt_completions=False``: then it waits for the group commit).

        Returns:
            A receipt for :meth:`wait_committed`; 0 when there is nothing to wait for
            (not ``prompt``, the task's row was never written, or the done log has it).
        """
        if self._inserts.pop(task_id, None) is not None:  # won against a commit's _take_rows
            self._stamps.pop(task_id, None)  # left by a commit that took the row, if any
            return 0  # submitted and done between two commits: nothing was ever written
        # Lost, or long taken: the row is written, or being written, and its stamp is known.
        stamp = self._stamps.pop(task_id, None)
        # The deletion goes into the buffer before the record into the log, and a commit seals
        # the log before it takes the buffer: whichever file the record lands in, the commit
        # that seals it holds the deletion too (or one before it did), so no file is emptied
        # while its record is still needed.
        self._ops.append(("d", (task_id,)))
        if not (prompt and self._prompt) or self._closed:
            return 0
        if stamp is not None and self._log_usable and self._logged(task_id, stamp):
            return 0
        with self._buffer_lock:
            return self._ticket()

    def _logged(self, task_id: int, stamp: float) -> bool:
        """Append a completion to the done log; ``False`` if it cannot be."""
        log = self._done_log
        if log is None:
            with self._log_lock:
                if not self._log_usable or self._closed:
                    return False
                try:
                    log = self._done_log = self._done_log or DoneLog(self.path)
                except OSError as exc:
                    self._abandon_log(exc)
                    return False
        return log.append(task_id, stamp)  # False: its file is full until the next group commit

    def _abandon_log(self, exc: OSError) -> None:
        """Stop recording in the done log (``_log_lock`` held): completions are committed instead,
        and their failures (the same full disk, say) reported as every commit's are."""
        if self._log_usable:
            self._log_usable = False
            _log.warning("journal done log unusable (%s); committing completions one by one", exc)

    def record_dead(self, task_id: int, attempts: int, error: str, *, prompt: bool = False) -> int:
        """Record the move of a failed task to the dead letters.

        A dead letter with the task's idempotency key is updated instead of
        adding another (see :class:`DeadLetter`).

        Args:
            task_id: The task's id.
            attempts: Attempts made.
            error: ``"ExceptionType: message"`` of the last attempt.
            prompt: As for :meth:`record_done`.

        Returns:
            A receipt for :meth:`wait_committed` (0 when not ``prompt``).
        """
        self._stamps.pop(task_id, None)
        self._ops.append(("x", (attempts, error, time.time(), task_id)))
        if not (prompt and self._prompt):
            return 0
        with self._buffer_lock:
            return self._ticket()

    def _ticket(self) -> int:
        """A receipt for a change already in the buffer (``_buffer_lock`` held)."""
        self._tickets += 1
        return self._tickets

    def wait_committed(self, receipt: int) -> None:
        """Return once the change with this receipt is committed, committing it if need be.

        When no commit is under way the caller commits the buffered completions
        itself (with the rows they need); otherwise it waits for that commit,
        which often took its change along. If a commit fails, the change stays
        buffered (the writer thread retries) and this returns.

        Args:
            receipt: What :meth:`record_done` or :meth:`record_dead` returned.
        """
        while self._committed < receipt and not self._closed:
            time.sleep(0)  # let the workers woken by the last commit add their completions first
            if self._committed >= receipt:
                return
            if self._db_lock.acquire(blocking=False):
                try:
                    if self._committed < receipt and not self._closed:
                        self._commit_locked(everything=False)
                except (sqlite3.Error, OSError) as exc:
                    _log.debug("journal commit failed (the writer thread retries): %s", exc)
                finally:
                    self._db_lock.release()
                return
            with self._buffer_lock:  # a commit is under way: wait for its end, then look again
                rounds = self._rounds
                while self._rounds == rounds and self._committed < receipt and not self._closed:
                    self._committed_cv.wait(self._interval)

    def flush(self) -> None:
        """Commit every buffered change now."""
        with self._db_lock:
            if not self._closed:
                self._commit_locked()

    def _write_loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except Exception:  # a disk error, a locked or damaged database: the buffer is kept
                _log.exception("journal commit failed; retrying at the next interval")

    def _commit_locked(self, *, everything: bool = True) -> None:
        """Commit the buffer (``db_lock`` held): all of it, or only the completions and
        the rows they need (a prompt commit; new rows wait for the writer thread).

        The hot paths take no lock, so the order of the steps is what makes it right:
        the tickets are counted and the done log sealed *before* the changes are
        taken, because a ticket is issued, and a record written, only after its
        change is in the buffer: so every ticket counted, and every record in a
        sealed file, has its change among those taken (or in an earlier commit).
        """
        with self._buffer_lock:
            through = self._tickets
        with self._log_lock:
            sealed = self._done_log.seal() if self._done_log is not None else ()
        ops = [self._ops.popleft() for _ in range(len(self._ops))]
        # All rows, or those the changes name (each change's last column is its task's id).
        inserts = self._take_rows(list(self._inserts) if everything else [row[-1] for _, row in ops])
        committed = False
        cancelled: list[int] = []
        try:
            if inserts or ops:
                cancelled = self._write_batch(list(inserts.values()), ops)
            committed = True
        finally:
            with self._buffer_lock:
                if committed:
                    self._committed = max(self._committed, through)
                    for task_id in cancelled:
                        self._stamps.pop(task_id, None)
                else:  # nothing was committed: put it back, ahead of newer changes, for the next try
                    for task_id, row in inserts.items():
                        self._inserts.setdefault(task_id, row)
                    self._ops.extendleft(reversed(ops))
                self._rounds += 1
                self._committed_cv.notify_all()
                if committed and sealed:
                    with self._log_lock:
                        if self._done_log is not None:  # only now: a crash before leaves the records to fold
                            self._done_log.committed(sealed)

    def _take_rows(self, ids: Iterable[int]) -> dict[int, tuple[Any, ...]]:
        """Take these tasks' buffered rows (those still there) for a commit.

        :meth:`record_done` may pop the same row at the same time: whoever pops it
        wins. The row's stamp is set *before* the pop, so a completion that lost
        finds it and records the task in the done log; one that won removes it.
        """
        buffered, stamps = self._inserts, self._stamps
        taken: dict[int, tuple[Any, ...]] = {}
        for task_id in ids:
            row = buffered.get(task_id)
            if row is None:
                continue
            stamps[task_id] = row[-1]  # its created_at: what a done-log record will name
            if buffered.pop(task_id, None) is None:  # done meanwhile: never written
                stamps.pop(task_id, None)
            else:
                taken[task_id] = row
        return taken

    def _write_batch(self, inserts: list[tuple[Any, ...]], ops: list[tuple[str, tuple[Any, ...]]]) -> list[int]:
        """Write a batch; return the ids of the tasks inserted and removed in it (not written)."""
        updates = [row for kind, row in ops if kind == "u"]
        deaths = [row for kind, row in ops if kind == "x"]
        removed = [row[0] for kind, row in ops if kind == "d"]
        both: set[int] = set()
        if inserts and removed:  # submitted and done within one batch: neither needs writing
            both = {row[0] for row in inserts}.intersection(removed)
            if both:
                inserts = [row for row in inserts if row[0] not in both]
                updates = [row for row in updates if row[1] not in both]
                removed = [task_id for task_id in removed if task_id not in both]
        conn = self._conn
        # One transaction: a commit that fails leaves nothing of its batch on disk, so the
        # batch can go back into the buffer as it was (a row written by a failed commit and
        # then put back as unwritten would never be deleted: its task would run again).
        # Few statements, each over many rows: every statement releases and takes back the
        # GIL, and taking it back can wait for a busy thread's switch interval.
        conn.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(inserts), _INSERT_ROWS):
                chunk = inserts[start:start + _INSERT_ROWS]
                params: list[Any] = []
                for row in chunk:
                    if type(row[3]) is not str:  # a flat dict from encode_args: encoded only now
                        row = (*row[:3], json.dumps(row[3]), *row[4:])  # noqa: PLW2901
                    params.extend(row)
                conn.execute(_insert_sql(len(chunk)), params)
            if updates:
                conn.executemany("UPDATE tasks SET attempts = ? WHERE id = ?", updates)
            for attempts, error, failed_at, task_id in deaths:
                self._bury(attempts, error, failed_at, task_id)  # a dead letter and its row's removal
            if deaths:
                conn.executemany("DELETE FROM tasks WHERE id = ?", [(row[-1],) for row in deaths])
            for start in range(0, len(removed), _DELETE_IDS):
                chunk = removed[start:start + _DELETE_IDS]
                conn.execute(_delete_sql(len(chunk)), chunk)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return list(both)

    def _bury(self, attempts: int, error: str, failed_at: float, task_id: int) -> None:
        """Turn a task row into a dead letter, or update the one with its idempotency key."""
        params = {"attempts": attempts, "error": error, "at": failed_at, "id": task_id}
        updated = self._conn.execute(
            "UPDATE dead_letters SET attempts = attempts + :attempts, error = :error, failed_at = :at,"
            " (operation, key, args, idempotent, subkey) ="
            " (SELECT operation, key, args, idempotent, subkey FROM tasks WHERE id = :id)"
            " WHERE idempotency_key = (SELECT idempotency_key FROM tasks WHERE id = :id)",
            params,
        ).rowcount
        if not updated:
            self._conn.execute(
                "INSERT INTO dead_letters (operation, key, args, idempotency_key, idempotent,"
                " subkey, attempts, error, failed_at) SELECT operation, key, args,"
                " idempotency_key, idempotent, subkey, :attempts, :error, :at FROM tasks WHERE id = :id",
                params,
            )

    def pending(self, *, max_id: int | None = None) -> list[StoredTask]:
        """Return the pending tasks, oldest first.

        This journal's buffered changes are committed first; tasks that another
        journal on the same database finished but has not folded in yet are left out.

        Args:
            max_id: Only tasks with an id up to this one (``None``: all).

        Returns:
            The stored tasks.
        """
        done = self._done_elsewhere()  # read before the rows: a record seen then stays true
        rows = self._query(
            f"SELECT {_TASK_COLUMNS}, created_at FROM tasks WHERE id <= ? ORDER BY id",  # noqa: S608
            (2**62 if max_id is None else max_id,),
        )
        rows = [row for row in rows if (row[0], row[-1]) not in done]
        with self._buffer_lock:  # what a done-log record of these tasks will name
            self._stamps.update((row[0], row[-1]) for row in rows)
        return [_stored(row) for row in rows]

    def pending_count(self) -> int:
        """Return how many tasks are pending (counted as :meth:`pending` lists them).

        Returns:
            The number of pending tasks.
        """
        done = self._done_elsewhere()
        if not done:
            return int(self._query("SELECT COUNT(*) FROM tasks", ())[0][0])
        return sum((row[0], row[1]) not in done for row in self._query("SELECT id, created_at FROM tasks", ()))

    def _done_elsewhere(self) -> set[tuple[int, float]]:
        """Records in the done logs of the other journals on this database (live or not)."""
        if not donelog.SUPPORTED:
            return set()
        with self._log_lock:
            own = self._done_log.paths() if self._done_log is not None else frozenset()
        return donelog.done_elsewhere(self.path, own=own)

    def dead_letters(self) -> list[DeadLetter]:
        """Return the dead letters, oldest first (usable without a queue).

        Returns:
            Every dead letter in the journal.
        """
        rows = self._query(f"SELECT {_DEAD_COLUMNS} FROM dead_letters ORDER BY id", ())  # noqa: S608
        return [
            DeadLetter(row[0], row[1], row[2], json.loads(row[3]), row[7], row[8], row[9], row[4])
            for row in rows
        ]

    def discard_dead_letters(self, idempotency_keys: Iterable[str]) -> int:
        """Delete the dead letters with these idempotency keys, at once.

        For dead letters made moot: the target they failed on was reached by a
        later run (e.g. a later task with the same idempotency key succeeded).

        Args:
            idempotency_keys: The keys; unknown ones are ignored.

        Returns:
            How many dead letters were deleted.
        """
        keys = [(key,) for key in set(idempotency_keys)]
        with self._db_lock:
            self._check_open()
            self._commit_locked()
            before = self._conn.total_changes
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("DELETE FROM dead_letters WHERE idempotency_key = ?", keys)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return self._conn.total_changes - before

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
            stamps: dict[int, float] = {}
            self._conn.execute("BEGIN IMMEDIATE")
            for dead_id in wanted:
                row = self._conn.execute(
                    f"SELECT {_TASK_COLUMNS} FROM dead_letters WHERE id = ?",  # noqa: S608
                    (dead_id,),
                ).fetchone()
                if row is not None:
                    self._conn.execute("DELETE FROM dead_letters WHERE id = ?", (dead_id,))
                    task = _stored((self.next_id(), *row[1:7], 0))
                    now = time.time()
                    self._conn.execute(
                        "INSERT INTO tasks (id, operation, key, args, idempotency_key, idempotent, subkey,"
                        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (task.id, *row[1:4], task.idempotency_key, task.idempotent, task.subkey, now),
                    )
                    taken.append(task)
                    stamps[task.id] = now
            self._conn.execute("COMMIT")
        with self._buffer_lock:
            self._stamps.update(stamps)
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
        """Commit what is buffered, stop the writer thread, close the database and the done log.

        The done log's files are removed once the last commit went through; if it
        failed, they are left for the next journal opened on the database to fold.
        """
        self._stop.set()
        if self._writer.is_alive() and self._writer is not threading.current_thread():
            self._writer.join()
        with self._db_lock:
            if self._closed:
                return
            committed = False
            try:
                self._commit_locked()
                committed = True
            finally:
                with self._buffer_lock:
                    self._closed = True
                    self._committed_cv.notify_all()
                with self._log_lock:
                    log, self._done_log = self._done_log, None
                try:
                    if log is not None:
                        log.close(remove=committed)
                finally:
                    self._conn.close()


@functools.cache
def _insert_sql(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    return ("INSERT OR REPLACE INTO tasks (id, operation, key, args, idempotency_key, idempotent,"  # noqa: S608
            f" subkey, created_at) VALUES {values}")  # placeholders only


@functools.cache
def _delete_sql(ids: int) -> str:
    return f"DELETE FROM tasks WHERE id IN ({', '.join(['?'] * ids)})"  # noqa: S608 - placeholders only


def _stored(row: Sequence[Any]) -> StoredTask:
    return StoredTask(
        id=row[0], operation=row[1], key=row[2], args=json.loads(row[3]),
        idempotency_key=row[4], idempotent=bool(row[5]), subkey=row[6], attempts=row[7],
    )
