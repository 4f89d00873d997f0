"""What a sync remembers between runs.

The state lives in ``<state dir>/jirabucket.sqlite3``, the same file as the
queue's journal (separate tables): per-repository cursors, the fingerprint of
every remote link written, every comment posted (or being posted) and every
transition applied. Writes go through one connection behind a lock, so worker
threads can record outcomes as they happen.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal

from jirabucket.statedir import DB_NAME, STATE_FAILURES, ensure_state_dir, state_error

__all__ = ["StateStore"]

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
CREATE TABLE IF NOT EXISTS sync_pr_states (
    issue TEXT NOT NULL, global_id TEXT NOT NULL, pr_state TEXT NOT NULL,
    PRIMARY KEY (issue, global_id));
CREATE TABLE IF NOT EXISTS sync_transitions_pending (
    issue TEXT NOT NULL, global_id TEXT NOT NULL, pr_state TEXT NOT NULL, to_status TEXT NOT NULL,
    PRIMARY KEY (issue, global_id, pr_state));
"""

CommentState = Literal["pending", "done"]


class StateStore:
    """Sync state in SQLite, safe to use from many threads.

    Args:
        state_dir: The state directory; the database is ``DB_NAME`` inside it.
        busy_timeout: Seconds to wait for another connection's write lock (the journal's).

    Raises:
        StateError: The database is damaged or cannot be opened or written.
    """

    def __init__(self, state_dir: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = ensure_state_dir(state_dir) / DB_NAME
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=busy_timeout, isolation_level=None)
            # A damaged file must stop the run here, before any request is sent.
            verdict = self._db.execute("PRAGMA quick_check").fetchone()
            if verdict is None or verdict[0] != "ok":
                raise sqlite3.DatabaseError(f"database disk image is malformed: {verdict and verdict[0]}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except STATE_FAILURES as exc:
            raise state_error(self.path, exc) from None

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except STATE_FAILURES as exc:
                raise state_error(self.path, exc) from None

    def _one(self, sql: str, args: tuple[str, ...]) -> str | None:
        with self._lock:
            try:
                row = self._db.execute(sql, args).fetchone()
            except STATE_FAILURES as exc:
                raise state_error(self.path, exc) from None
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

    def record_pr_states(self, prs: Iterable[tuple[str, str, Iterable[str]]]) -> None:
        """Remember the state of PRs for each issue whose work they are (to weigh them against the issues' other PRs).

        Args:
            prs: ``(global_id, pr_state, issues)`` per PR; written in one transaction.
        """
        rows = [(issue, global_id, pr_state) for global_id, pr_state, issues in prs for issue in issues]
        if rows:
            with self._tx() as db:
                db.executemany("INSERT OR REPLACE INTO sync_pr_states VALUES (?, ?, ?)", rows)

    def other_active_pr(self, issue: str, global_id: str) -> bool:
        """Return whether another PR of ``issue`` is open or merged, as last read."""
        sql = (
            "SELECT 1 FROM sync_pr_states WHERE issue = ? AND global_id != ? AND pr_state IN ('OPEN', 'MERGED')"
            " LIMIT 1"
        )
        return self._one(sql, (issue, global_id)) is not None

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()
