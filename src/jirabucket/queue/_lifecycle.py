"""Process lifecycle: drain open queues at interpreter exit, restart them after fork.

Why ``threading._register_atexit`` and not ``atexit``: Python joins non-daemon
threads *before* ``atexit`` hooks run, so a drain from ``atexit`` with
non-daemon workers hangs, and daemon workers without a drain lose queued work.
Our workers are daemon threads, and the drain runs from the hook that CPython's
own ``ThreadPoolExecutor`` uses, which runs before that join, with a deadline.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from typing import Protocol

_log = logging.getLogger("jirabucket.queue")


class _Managed(Protocol):
    def _drain_at_exit(self, started: float) -> None: ...

    def _after_fork_in_child(self) -> None: ...


_live: dict[int, _Managed] = {}
_registered = False
_guard = threading.Lock()


def track(managed: _Managed) -> None:
    """Drain ``managed`` at exit (unless untracked first) and restart it after fork."""
    global _registered  # noqa: PLW0603 - one registration per process
    with _guard:
        _live[id(managed)] = managed
        if _registered:
            return
        _registered = True
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is not None:
            register(_drain_all)
        else:  # pragma: no cover - non-CPython fallback
            atexit.register(_drain_all)
    except RuntimeError:  # interpreter already shutting down
        _log.debug("interpreter is shutting down; no exit drain registered")
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_restart_all)


def untrack(managed: _Managed) -> None:
    """Forget ``managed`` (it was closed)."""
    with _guard:
        _live.pop(id(managed), None)


def _drain_all() -> None:
    # One clock for all queues: their drains overlap in time, the exit waits for
    # the longest exit_timeout, not for their sum.
    started = time.monotonic()
    for managed in list(_live.values()):
        managed._drain_at_exit(started)


def _restart_all() -> None:
    global _guard  # noqa: PLW0603 - the parent's lock may have been held at fork
    _guard = threading.Lock()
    for managed in list(_live.values()):
        managed._after_fork_in_child()
