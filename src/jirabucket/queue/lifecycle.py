"""Process lifecycle: drain open queues at interpreter exit, restart them after fork, keep waits interruptible.

Why ``threading._register_atexit`` and not ``atexit``: Python joins non-daemon
threads *before* ``atexit`` hooks run, so a drain from ``atexit`` with
non-daemon workers hangs, and daemon workers without a drain lose queued work.
Our workers are daemon threads, and the drain runs from the hook that CPython's
own ``ThreadPoolExecutor`` uses, which runs before that join, with a deadline.

Why waits come in slices (:data:`WAIT_SLICE`, :func:`wait_done`): the kernel
hands a signal sent to the process (Ctrl-C, SIGTERM) to any thread that does not
block it, and CPython runs the Python handler only when the main thread next
runs Python code. A main thread blocked on a lock for a whole wait notices such
a Ctrl-C only when the wait ends: a SIGINT given to a worker interrupted
``close(timeout=8)`` after 8.0 s, and a client call only once its answer came.
(Blocking the signals in our threads instead would also block them in every
subprocess a handler starts: children inherit the mask.)
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import Any

__all__ = ["WAIT_SLICE", "track", "untrack", "wait_done"]

WAIT_SLICE = 0.25
"""Seconds a wait blocks at a time: how long a signal that reached another thread may go unnoticed."""

_log = logging.getLogger("jirabucket.queue")


@dataclass(frozen=True, slots=True)
class _Managed:
    drain: Callable[[float], None]  # called with the clock time the exit drain started
    restart: Callable[[], None]  # called in a forked child


_live: dict[int, _Managed] = {}
_registered = False
_guard = threading.Lock()


def track(owner: object, *, drain: Callable[[float], None], restart: Callable[[], None]) -> None:
    """Call ``drain`` at interpreter exit (unless untracked first) and ``restart`` after fork.

    Args:
        owner: The object tracked (its identity is the handle for :func:`untrack`).
        drain: Called at exit with the ``time.monotonic()`` the exit drain started.
        restart: Called in a forked child.
    """
    global _registered  # noqa: PLW0603 - one registration per process
    with _guard:
        _live[id(owner)] = _Managed(drain, restart)
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


def untrack(owner: object) -> None:
    """Forget ``owner`` (it was closed).

    Args:
        owner: The object given to :func:`track`.
    """
    with _guard:
        _live.pop(id(owner), None)


def _drain_all() -> None:
    # One clock for all queues: their drains overlap in time, the exit waits for
    # the longest exit_timeout, not for their sum.
    started = time.monotonic()
    for managed in list(_live.values()):
        managed.drain(started)


def _restart_all() -> None:
    global _guard  # noqa: PLW0603 - the parent's lock may have been held at fork
    _guard = threading.Lock()
    for managed in list(_live.values()):
        managed.restart()


def wait_done(future: Future[Any]) -> None:
    """Return once ``future`` has ended (result, error or cancelled), waiting :data:`WAIT_SLICE` at a time.

    Args:
        future: The future to wait for.
    """
    while True:
        try:
            future.exception(timeout=WAIT_SLICE)
        except TimeoutError:  # not yet (concurrent.futures.TimeoutError is TimeoutError)
            continue
        except CancelledError:
            return
        return
