"""Process lifecycle: drain open queues at interpreter exit, restart them after fork, keep waits interruptible.

Why ``threading._register_atexit`` and not ``atexit``: Python joins non-daemon
threads *before* ``atexit`` hooks run, so a drain from ``atexit`` with
non-daemon workers hangs, and daemon workers without a drain lose queued work.
Our workers are daemon threads, and the drain runs from the hook that CPython's
own ``ThreadPoolExecutor`` uses, which runs before that join, with a deadline.

Why waits come in slices (:data:`WAIT_SLICE`, :class:`InterruptibleFuture`,
:func:`join`): the kernel
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
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["WAIT_SLICE", "InterruptibleFuture", "deadline_after", "join", "next_slice", "track", "untrack"]

T = TypeVar("T")

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



class InterruptibleFuture(Future[T]):
    """A ``concurrent.futures.Future`` whose ``result()`` and ``exception()`` wait in slices.

    The queue's tasks and the daemon executor's calls return these, so a script's
    ``future.result()`` stops at Ctrl-C within :data:`WAIT_SLICE`, whichever thread got it.
    """

    def result(self, timeout: float | None = None) -> T:
        """Return the call's result, as ``Future.result`` does."""
        self._settle(timeout)
        return super().result(0)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Return the call's exception, as ``Future.exception`` does."""
        self._settle(timeout)
        return super().exception(0)

    def _settle(self, timeout: float | None) -> None:
        """Wait until done or until ``timeout`` passed (then ``super()``'s zero wait says which)."""
        deadline = deadline_after(timeout)
        while not self.done():
            left = next_slice(deadline)
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError, CancelledError):  # not yet, or cancelled: the loop decides
                super().exception(left)


def join(thread: threading.Thread, timeout: float | None = None) -> bool:
    """Wait for ``thread`` to end, at most ``timeout`` seconds, :data:`WAIT_SLICE` at a time.

    Returns:
        Whether the thread has ended.
    """
    deadline = deadline_after(timeout)
    while thread.is_alive():
        left = next_slice(deadline)
        if left <= 0:
            break
        thread.join(left)
    return not thread.is_alive()


def deadline_after(timeout: float | None) -> float | None:
    """Return the ``time.monotonic()`` a wait of ``timeout`` seconds ends at (``None``: never)."""
    return None if timeout is None else time.monotonic() + timeout


def next_slice(deadline: float | None) -> float:
    """Return how long the next slice of a wait that ends at ``deadline`` may block (<= 0: it is over).

    Args:
        deadline: From :func:`deadline_after`.
    """
    return WAIT_SLICE if deadline is None else min(WAIT_SLICE, deadline - time.monotonic())
