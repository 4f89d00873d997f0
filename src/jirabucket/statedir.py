"""The state directory: where the journal, the sync state and the run lock live.

``<state dir>/jirabucket.sqlite3`` holds the queue's journal and the sync state
(separate tables); ``<state dir>/sync.lock`` keeps two runs on one directory
apart; while a journal is open, its done log (``jirabucket.sqlite3.done-*``,
see :mod:`jirabucket.queue.donelog`) sits beside the database. The directory
is created with mode 0700.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
from pathlib import Path

from jirabucket.errors import StateError, StateLocked

__all__ = ["DB_NAME", "STATE_FAILURES", "StateLock", "ensure_state_dir", "inspect_database", "state_error"]

DB_NAME = "jirabucket.sqlite3"


def ensure_state_dir(path: Path) -> Path:
    """Create the state directory (mode 0700) if needed and return it.

    Raises:
        StateError: It cannot be created or is not a directory.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StateError(f"state directory {path} cannot be created ({reason}): set JIRABUCKET_STATE_DIR") from None
    if not path.is_dir():
        raise StateError(f"state directory {path} is not a directory: set JIRABUCKET_STATE_DIR")
    return path


def state_error(path: Path, exc: BaseException) -> StateError:
    """Translate an SQLite or OS failure on a state file into one line naming the file and the fix.

    Args:
        path: The file (the state database, the lock).
        exc: What SQLite or the OS raised.

    Returns:
        The error to raise (exit code 74 in the CLI).
    """
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return StateError(
            f"state database {path} is damaged ({text}): move it aside; "
            "the next sync rebuilds it without duplicates"
        )
    what = "state database" if path.name == DB_NAME else "state file"  # or the journal's done log beside it
    if "disk is full" in lowered or getattr(exc, "errno", None) == errno.ENOSPC:
        return StateError(
            f"{what} {path} cannot be written: the disk is full ({text}); "
            "free space and run again (nothing is lost, the cursor has not moved)"
        )
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered or isinstance(
        exc, PermissionError
    ):
        return StateError(
            f"state file {path} cannot be written ({text}): make {path.parent} writable "
            "or set JIRABUCKET_STATE_DIR"
        )
    return StateError(f"{what} {path} cannot be used ({text}): move it aside or set JIRABUCKET_STATE_DIR")


def inspect_database(state_dir: Path) -> None:
    """Check, without writing, that the state database (if there is one yet) is a sound SQLite file.

    Raises:
        StateError: It is damaged or cannot be read.
    """
    path = state_dir / DB_NAME
    if not path.exists():
        return
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = db.execute("PRAGMA quick_check").fetchone()
        finally:
            db.close()
    except STATE_FAILURES as exc:
        raise state_error(path, exc) from None
    if verdict is None or verdict[0] != "ok":
        raise state_error(path, sqlite3.DatabaseError(f"database disk image is malformed ({verdict and verdict[0]})"))


#: What SQLite and the file system raise on a damaged, unwritable or full state directory.
STATE_FAILURES: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)


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
            StateError: The lock file cannot be created (e.g. a read-only directory).
        """
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise state_error(self._path, exc) from None
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
