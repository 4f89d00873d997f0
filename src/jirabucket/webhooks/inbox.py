"""The durable record of accepted deliveries: what to sync, when, and which deliveries were seen.

Two tables in the state database (``<state dir>/jirabucket.sqlite3``, beside the
queue's journal and the sync state), written through this module's own
connection:

- ``webhook_deliveries(delivery_id, received_at)``: the ids of deliveries taken
  in (Cloud ``X-Request-UUID``, Data Center ``X-Request-Id``), so a resent
  delivery makes no second sync. Kept for :data:`DEDUPE_HORIZON`.
- ``webhook_pending(repository, pull_request, event, due_at, deliveries, attempts)``:
  one row per pull request waiting for its sync. A delivery for a pull request
  that already has a row only adds to it, so a burst becomes one sync, due one
  window after the burst's first delivery (the window restarts for a delivery
  that comes once the row is due, e.g. while its sync runs, so that sync is
  followed by exactly one more). The row goes only when its sync is finished;
  one left by a killed process is due at once on the next start.

Both are committed (``synchronous=FULL``: on disk, not just in the OS cache)
before the delivery is answered 202.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from jirabucket.statedir import DB_NAME, STATE_FAILURES, ensure_state_dir, state_error
from jirabucket.webhooks.events import PullRequestEvent

__all__ = ["DEDUPE_HORIZON", "Inbox", "PendingSync"]

#: Seconds a delivery id is remembered (Bitbucket resends within minutes).
DEDUPE_HORIZON = 7 * 24 * 3600.0
_BUSY_TIMEOUT_MS = 10_000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS webhook_deliveries ("
    " delivery_id TEXT PRIMARY KEY, received_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_received ON webhook_deliveries (received_at)",
    "CREATE TABLE IF NOT EXISTS webhook_pending ("
    " repository TEXT NOT NULL, pull_request INTEGER NOT NULL, event TEXT NOT NULL,"
    " due_at REAL NOT NULL, deliveries INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (repository, pull_request))",
    "CREATE INDEX IF NOT EXISTS webhook_pending_due ON webhook_pending (due_at)",
)

# A burst adds to the row; a row already due (its sync may be running) gets a new window.
_UPSERT = (
    "INSERT INTO webhook_pending (repository, pull_request, event, due_at, deliveries, attempts)"
    " VALUES (:repo, :pr, :event, :due, 1, 0)"
    " ON CONFLICT (repository, pull_request) DO UPDATE SET"
    " event = excluded.event, deliveries = deliveries + 1,"
    " due_at = CASE WHEN due_at <= :now THEN excluded.due_at ELSE MIN(due_at, excluded.due_at) END"
)


@dataclass(frozen=True, slots=True)
class PendingSync:
    """A pull request waiting for its sync.

    Attributes:
        repository: The configured repository name.
        pull_request: The pull request's id.
        event: The last event that asked for it.
        due_at: When it is due (seconds since the epoch).
        deliveries: Deliveries coalesced into it.
        attempts: Syncs of it that failed so far.
    """

    repository: str
    pull_request: int
    event: str
    due_at: float
    deliveries: int
    attempts: int


class Inbox:
    """The webhook tables of the state database, behind one connection and one lock.

    Args:
        state_dir: The state directory.
        clock: Wall-clock seconds (rows outlive the process, so not monotonic); injectable for tests.

    Raises:
        StateError: The directory or the database cannot be used.
    """

    def __init__(self, state_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = ensure_state_dir(state_dir) / DB_NAME
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode=WAL")
            # An answer of 202 promises the work survives: FULL syncs the WAL at every commit.
            self._db.execute("PRAGMA synchronous=FULL")
            with self._transaction():
                for statement in _SCHEMA:
                    self._db.execute(statement)
        except STATE_FAILURES as exc:
            raise state_error(self.path, exc) from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE), committed on leaving."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def record(self, change: PullRequestEvent, *, delivery_id: str | None, window: float) -> bool:
        """Record a delivery and the sync it asks for, durably, in one transaction.

        Args:
            change: The pull request (its ``repository`` the configured spelling) and event.
            delivery_id: ``X-Request-UUID`` / ``X-Request-Id``; ``None`` when the request had none.
            window: Seconds to wait for more deliveries of the same pull request.

        Returns:
            ``False`` if this delivery was recorded before (nothing changed), else ``True``.

        Raises:
            StateError: The database cannot be written (e.g. a full disk).
        """
        now = self._clock()
        with self._locked(), self._transaction() as db:
            if delivery_id is not None:
                seen = db.execute(
                    "INSERT OR IGNORE INTO webhook_deliveries (delivery_id, received_at) VALUES (?, ?)",
                    (delivery_id, now),
                )
                if seen.rowcount == 0:
                    return False
            db.execute(
                _UPSERT,
                {"repo": change.repository, "pr": change.pull_request, "event": change.event,
                 "due": now + window, "now": now},
            )
        return True

    def next(self) -> PendingSync | None:
        """Return the pull request due first (due or not), or ``None`` when nothing is pending."""
        with self._locked():
            row = self._db.execute(
                "SELECT repository, pull_request, event, due_at, deliveries, attempts"
                " FROM webhook_pending ORDER BY due_at, rowid LIMIT 1"
            ).fetchone()
        return None if row is None else PendingSync(*row)

    def finish(self, item: PendingSync) -> None:
        """Remove a pull request whose sync finished — unless deliveries came for it meanwhile.

        Those keep the row (counting only themselves), due one window after they came.
        """
        key = (item.repository, item.pull_request)
        with self._locked(), self._transaction() as db:
            gone = db.execute(
                "DELETE FROM webhook_pending WHERE repository = ? AND pull_request = ? AND deliveries = ?",
                (*key, item.deliveries),
            )
            if gone.rowcount == 0:
                db.execute(
                    "UPDATE webhook_pending SET deliveries = MAX(1, deliveries - ?), attempts = 0"
                    " WHERE repository = ? AND pull_request = ?",
                    (item.deliveries, *key),
                )

    def postpone(self, item: PendingSync, delay: float) -> None:
        """Count a failed sync of ``item`` and make it due again in ``delay`` seconds (or later)."""
        with self._locked(), self._transaction() as db:
            db.execute(
                "UPDATE webhook_pending SET attempts = attempts + 1, due_at = MAX(due_at, ?)"
                " WHERE repository = ? AND pull_request = ?",
                (self._clock() + delay, item.repository, item.pull_request),
            )

    def replay(self) -> int:
        """Make every pending pull request due now (at start: what a stopped or killed process left).

        Returns:
            How many are pending.
        """
        now = self._clock()
        with self._locked(), self._transaction() as db:
            db.execute("UPDATE webhook_pending SET due_at = ? WHERE due_at > ?", (now, now))
            (count,) = db.execute("SELECT COUNT(*) FROM webhook_pending").fetchone()
        return int(count)

    def pending(self) -> int:
        """Return how many pull requests wait for their sync."""
        with self._locked():
            (count,) = self._db.execute("SELECT COUNT(*) FROM webhook_pending").fetchone()
        return int(count)

    def forget_deliveries(self, *, older_than: float = DEDUPE_HORIZON) -> int:
        """Drop delivery ids received more than ``older_than`` seconds ago.

        Returns:
            How many were dropped.
        """
        with self._locked(), self._transaction() as db:
            gone = db.execute("DELETE FROM webhook_deliveries WHERE received_at < ?", (self._clock() - older_than,))
        return gone.rowcount

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the connection's lock; SQLite and OS failures become one StateError naming the file."""
        with self._lock:
            try:
                yield
            except STATE_FAILURES as exc:
                raise state_error(self.path, exc) from None
