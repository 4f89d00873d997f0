"""The worker pool: daemon threads that run what they are handed, one item at a time.

Workers take items from a ``queue.SimpleQueue`` (C-implemented, no Python-level
lock for the caller) and never sleep on their own: a retry waits in the
scheduler, not in a worker.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["WorkerPool"]

T = TypeVar("T")


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
        for _ in self._threads:
            self._items.put(None)  # one end-of-work sentinel per thread
        return left

    def _work(self) -> None:
        get, run = self._items.get, self._run
        while (item := get()) is not None:
            run(item)
