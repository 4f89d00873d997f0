"""The daemon executor: futures as ``concurrent.futures`` gives them, threads the exit does not wait for."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import CancelledError

import pytest

from jirabucket.queue.workers import DaemonExecutor


def test_results_and_errors_reach_the_caller_and_map_keeps_the_order() -> None:
    with DaemonExecutor(3, name="t") as pool:
        assert list(pool.map(lambda n: n * n, range(10))) == [n * n for n in range(10)]
        failing = pool.submit(int, "not a number")
        with pytest.raises(ValueError, match="not a number"):
            failing.result(timeout=10)


def test_shutdown_with_cancel_cancels_what_no_thread_started_and_lets_the_running_call_finish() -> None:
    pool = DaemonExecutor(1, name="t")
    started, release = threading.Event(), threading.Event()

    def block() -> str:
        started.set()
        release.wait(10)
        return "finished"

    running = pool.submit(block)
    assert started.wait(10)
    waiting = [pool.submit(str, n) for n in range(5)]
    pool.shutdown(wait=False, cancel_futures=True)
    assert all(future.cancelled() for future in waiting)
    with pytest.raises(CancelledError):
        waiting[0].result(timeout=0)
    release.set()
    assert running.result(timeout=10) == "finished"


def test_shutdown_without_cancel_runs_everything_handed_over_and_refuses_more() -> None:
    pool = DaemonExecutor(2, name="t")
    done: list[int] = []
    lock = threading.Lock()

    def note(n: int) -> None:
        time.sleep(0.001)  # let calls pile up behind the two threads
        with lock:
            done.append(n)

    for n in range(50):
        pool.submit(note, n)
    pool.shutdown(wait=True)
    assert sorted(done) == list(range(50))
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(note, 50)


def test_the_interpreter_exits_without_waiting_for_a_blocked_call() -> None:
    # ThreadPoolExecutor's threads are joined at exit: this program would never end with one.
    program = (
        "import threading\n"
        "from jirabucket.queue.workers import DaemonExecutor\n"
        "pool = DaemonExecutor(2, name='t')\n"
        "pool.submit(threading.Event().wait)\n"
        "pool.shutdown(wait=False, cancel_futures=True)\n"
        "print('bye')\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (0, "bye\n"), done.stderr
