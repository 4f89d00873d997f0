"""The combining lock: hand-offs are drained by whoever can, never waited for, never stranded."""

from __future__ import annotations

import threading
import time
from collections import deque

from jirabucket.queue.combining import CombiningLock


class Drained:
    """A drain function that records each item and the thread that drained it, checking the lock is held."""

    def __init__(self) -> None:
        self.items: list[int] = []
        self.by: list[str] = []
        self.lock: CombiningLock[int] | None = None
        self.unlocked_drains = 0

    def __call__(self, items: deque[int]) -> None:
        if self.lock is not None and not self.lock.locked():
            self.unlocked_drains += 1
        while items:
            self.items.append(items.popleft())
            self.by.append(threading.current_thread().name)


def combining() -> tuple[CombiningLock[int], Drained]:
    drained = Drained()
    lock: CombiningLock[int] = CombiningLock(drained)
    drained.lock = lock
    return lock, drained


def test_a_hand_off_to_a_free_lock_is_drained_at_once_by_the_caller() -> None:
    lock, drained = combining()
    lock.hand_off(1)
    assert drained.items == [1] and drained.by == [threading.current_thread().name]
    assert not lock.locked() and drained.unlocked_drains == 0


def test_a_hand_off_to_a_held_lock_returns_at_once_and_the_holder_drains_it_on_release() -> None:
    lock, drained = combining()
    handed = threading.Event()

    def worker() -> None:
        lock.hand_off(7)  # must not block although the main thread holds the lock
        handed.set()

    with lock:
        thread = threading.Thread(target=worker, name="worker")
        thread.start()
        assert handed.wait(10)
        assert drained.items == []  # waiting for the holder, not lost
    assert drained.items == [7] and drained.by == ["MainThread"]
    thread.join(10)


def test_a_condition_wait_lets_go_of_the_lock_and_drains_what_was_handed_off() -> None:
    lock, drained = combining()
    condition = lock.condition()
    handed = threading.Event()

    def worker() -> None:
        lock.hand_off(3)  # finds the lock held, and touches it no more
        handed.set()

    with condition:
        thread = threading.Thread(target=worker, name="worker")
        thread.start()
        assert handed.wait(10)
        assert drained.items == []  # handed off while we hold the lock: it is ours to drain
        assert not condition.wait(0.05)  # nobody notifies: the wait's own release drains it
        assert drained.items == [3] and drained.by == ["MainThread"]
    thread.join(10)


def test_hand_offs_from_many_threads_are_each_drained_exactly_once_with_the_lock_held() -> None:
    lock, drained = combining()
    threads, per_thread = 8, 2_000
    start = threading.Barrier(threads)

    def worker(base: int) -> None:
        start.wait()
        for n in range(per_thread):
            lock.hand_off(base + n)
            if n % 50 == 49:
                with lock:  # holders come and go while others hand off...
                    time.sleep(0.0005)  # ...and keep the lock long enough to be found held

    pool = [threading.Thread(target=worker, args=(t * per_thread,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(60)
    assert sorted(drained.items) == list(range(threads * per_thread))
    assert drained.unlocked_drains == 0
