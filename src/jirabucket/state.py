"""What a sync remembers between runs, and the lock that keeps runs apart.

The state lives in ``<state dir>/jirabucket.sqlite3``, the same file as the
queue's journal (separate tables): per-repository cursors, the fingerprint of
every remote link written, every comment posted (or being posted) and every
transition applied. Writes go through one connection behind a lock, so worker
threads can record outcomes as they happen.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal

from jirabucket.errors import ConfigError, StateLocked

__all__ = ["DB_NAME", "StateLock", "StateStore"]

DB_NAME = "jirabucket.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sync_cursors (repo TEXT PRIMARY KEY, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sync_links (
    issue TEXT NOT NULL, global_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
    PRIMARY KEY (issue, global_id));
CREATE TABLE IF NOT EXISTS sync_comments (
    issue TEXT NOT NULL, global_id TEXT NOT NULL, state TEXT NOT NULL,
    PRIMARY KEY (issue, global_id));
CREATE TABLE IF NOT EXISTS sync_transitions (
    issue TEXT NOT NULL, global_id TEXT NOT NULL, pr_state TEXT NOT NULL,
    PRIMARY KEY (issue, global_id, pr_state));
CREATE TABLE IF NOT EXISTS sync_transitions_pending (
    issue TEXT NOT NULL, global_id TEXT NOT NULL, pr_state TEXT NOT NULL, to_status TEXT NOT NULL,
    PRIMARY KEY (issue, global_id, pr_state));
"""

CommentState = Literal["pending", "done"]


def ensure_state_dir(path: Path) -> Path:
    """Create the state directory (mode 0700) if needed and return it.

    Raises:
        ConfigError: It cannot be created or is not a directory.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"state directory {path} cannot be created ({reason}): set JIRABUCKET_STATE_DIR") from None
    if not path.is_dir():
        raise ConfigError(f"state directory {path} is not a directory: set JIRABUCKET_STATE_DIR")
    return path


class StateLock:
    """An exclusive, non-blocking lock on a state directory (``flock`` on ``sync.lock``).

    The kernel drops it when the process dies, so a killed sync never leaves a
    stale lock behind.

    Args:
        state_dir: The directory to lock.
    """

    def __init__(self, state_dir: Path) -> None:
        self._path = ensure_state_dir(state_dir) / "sync.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            StateLocked: Another process holds it.
        """
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateLocked(
                f"another jirabucket sync is running on {self._path.parent}; wait for it or use another "
                "JIRABUCKET_STATE_DIR"
            ) from None
        self._fd = fd

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class StateStore:
    """Sync state in SQLite, safe to use from many threads.

    Args:
        state_dir: The state directory; the database is ``DB_NAME`` inside it.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = ensure_state_dir(state_dir) / DB_NAME
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, args: tuple[str, ...]) -> str | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return None if row is None else str(row[0])

    def cursor(self, repo: str) -> datetime | None:
        """Return when the last complete sync of ``repo`` had read up to, or ``None``."""
        value = self._one("SELECT updated FROM sync_cursors WHERE repo = ?", (repo,))
        return None if value is None else datetime.fromisoformat(value)

    def set_cursor(self, repo: str, updated: datetime) -> None:
        """Advance ``repo``'s cursor (never moves it back)."""
        current = self.cursor(repo)
        if current is not None and current >= updated:
            return
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO sync_cursors VALUES (?, ?)", (repo, updated.isoformat()))

    def link_fingerprint(self, issue: str, global_id: str) -> str | None:
        """Return the fingerprint of the link last written, or ``None``."""
        sql = "SELECT fingerprint FROM sync_links WHERE issue = ? AND global_id = ?"
        return self._one(sql, (issue, global_id))

    def record_link(self, issue: str, global_id: str, fingerprint: str) -> None:
        """Remember that the link with this fingerprint is in Jira."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO sync_links VALUES (?, ?, ?)", (issue, global_id, fingerprint))

    def comment_state(self, issue: str, global_id: str) -> CommentState | None:
        """Return ``"pending"`` (a post was attempted), ``"done"``, or ``None``."""
        value = self._one("SELECT state FROM sync_comments WHERE issue = ? AND global_id = ?", (issue, global_id))
        return "done" if value == "done" else "pending" if value == "pending" else None

    def set_comment_state(self, issue: str, global_id: str, state: CommentState) -> None:
        """Record a comment as about to be posted (``pending``) or posted (``done``)."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO sync_comments VALUES (?, ?, ?)", (issue, global_id, state))

    def transition_done(self, issue: str, global_id: str, pr_state: str) -> bool:
        """Return whether this PR state already moved this issue."""
        sql = "SELECT 1 FROM sync_transitions WHERE issue = ? AND global_id = ? AND pr_state = ?"
        return self._one(sql, (issue, global_id, pr_state)) is not None

    def record_transition(self, issue: str, global_id: str, pr_state: str) -> None:
        """Remember that this PR state has been applied to this issue."""
        key = (issue, global_id, pr_state)
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO sync_transitions VALUES (?, ?, ?)", key)
            db.execute("DELETE FROM sync_transitions_pending WHERE issue = ? AND global_id = ? AND pr_state = ?", key)

    def pending_transition(self, issue: str, global_id: str, pr_state: str) -> str | None:
        """Return the status a transition was about to move the issue to, if one was started."""
        sql = "SELECT to_status FROM sync_transitions_pending WHERE issue = ? AND global_id = ? AND pr_state = ?"
        return self._one(sql, (issue, global_id, pr_state))

    def set_pending_transition(self, issue: str, global_id: str, pr_state: str, to_status: str) -> None:
        """Record, before sending it, where a transition will move the issue (its answer may be lost)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO sync_transitions_pending VALUES (?, ?, ?, ?)",
                (issue, global_id, pr_state, to_status),
            )

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()
