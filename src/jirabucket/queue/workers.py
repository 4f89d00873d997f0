"""The worker pool: daemon threads that run what they are handed, one item at a time.

Workers take items from a ``queue.SimpleQueue`` (C-implemented, no Python-level
lock for the caller) and never sleep on their own: a retry waits in the
scheduler, not in a worker.

:class:`DaemonExecutor` is the same pool behind the ``concurrent.futures``
interface, for threads that call blocking client methods (whose requests the
queue runs) in parallel. Why not ``ThreadPoolExecutor``: the interpreter's exit
joins its threads, so after Ctrl-C or SIGTERM the process would wait for every
request still in flight, up to the client timeout; daemon threads die with it,
and the queue's journal keeps what was unfinished.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, Generic, ParamSpec, TypeVar

from jirabucket.queue.lifecycle import InterruptibleFuture, join

__all__ = ["DaemonExecutor", "WorkerPool"]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


class WorkerPool(Generic[T]):
    """``size`` daemon threads calling ``run(item)`` for each item put.

    Args:
        size: Number of threads.
        run: Called in a worker thread with each item; must not raise.
        name: Prefix of the thread names.
    """

    def __init__(self, size: int, run: Callable[[T], None], *, name: str) -> None:
        self._run = run
        self._items: queue.SimpleQueue[T | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True) for n in range(size)
        ]
        self.put = self._items.put
        """Hand an item to the next free worker (thread-safe, never blocks)."""

    def start(self) -> None:
        """Start the threads."""
        for thread in self._threads:
            thread.start()

    def stop(self) -> list[T]:
        """Take back the items no worker has started, and let each thread end.

        Threads running an item finish it first; this does not wait for them.

        Returns:
            The items that were handed over but not started.
        """
        left: list[T] = []
        while True:
            try:
                item = self._items.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                left.append(item)
        self.finish()
        return left

    def finish(self) -> None:
        """Let each thread end once the items handed over so far are done (does not wait)."""
        for _ in self._threads:
            self._items.put(None)  # one end-of-work sentinel per thread

    def join(self) -> None:
        """Wait for every thread to end (after :meth:`stop` or :meth:`finish`), interruptibly."""
        for thread in self._threads:
            join(thread)

    def _work(self) -> None:
        get, run = self._items.get, self._run
        while (item := get()) is not None:
            run(item)


_Call = tuple["Future[Any]", Callable[[], Any]]


class DaemonExecutor(Executor):
    """A ``concurrent.futures`` executor on daemon threads, which the interpreter's exit does not wait for.

    Args:
        size: Number of threads (started at once).
        name: Prefix of the thread names.
    """

    def __init__(self, size: int, *, name: str) -> None:
        self._pool: WorkerPool[_Call] = WorkerPool(size, self._call, name=name)
        self._shutdown = False
        self._lock = threading.Lock()
        self._pool.start()

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        """Run ``fn(*args, **kwargs)`` on a pool thread.

        Raises:
            RuntimeError: The executor was shut down.
        """
        future: Future[R] = InterruptibleFuture()
        with self._lock:  # no item may follow the end-of-work sentinels
            if self._shutdown:
                raise RuntimeError("cannot submit to a DaemonExecutor after shutdown")
            self._pool.put((future, lambda: fn(*args, **kwargs)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more calls; the threads end once the calls handed over are done.

        Args:
            wait: Wait for the calls under way (and, unless cancelled, those not yet started).
            cancel_futures: Cancel the calls no thread has started, instead of running them.
        """
        with self._lock:
            if not self._shutdown:
                self._shutdown = True
                if cancel_futures:
                    for future, _ in self._pool.stop():
                        future.cancel()
                else:
                    self._pool.finish()
        if wait:
            self._pool.join()

    @staticmethod
    def _call(item: _Call) -> None:
        future, call = item
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = call()
        except BaseException as exc:  # handed to the waiter, as ThreadPoolExecutor does
            future.set_exception(exc)
        else:
            future.set_result(result)
