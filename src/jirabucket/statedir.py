"""The state directory: where the journal, the sync state and the run lock live.

``<state dir>/jirabucket.sqlite3`` holds the queue's journal and the sync state
(separate tables); ``<state dir>/sync.lock`` keeps two runs on one directory
apart. The directory is created with mode 0700.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from jirabucket.errors import ConfigError, StateLocked

__all__ = ["DB_NAME", "StateLock", "ensure_state_dir"]

DB_NAME = "jirabucket.sqlite3"


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
