"""Exit drain, hanging tasks at exit, SIGKILL recovery, Ctrl-C, fork (in subprocesses)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import CancelledError
from pathlib import Path

import pytest

from jirabucket.queue import Journal, TaskQueue
from jirabucket.queue.lifecycle import InterruptibleFuture

KEY = "jira:acme.atlassian.net"


def run_script(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def start_script(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_unclosed_queue_is_drained_at_exit(tmp_path: Path) -> None:
    out = tmp_path / "done.txt"
    result = run_script(
        """
        import sys, time
        from jirabucket.queue import TaskQueue
        out = open(sys.argv[1], "a")
        def handler(args):
            time.sleep(0.005)
            out.write(f"{args['n']}\\n")
            out.flush()
        q = TaskQueue(workers=2)
        q.register("op", handler, key="k")
        for n in range(100):
            q.submit("op", {"n": n}, key="k", idempotent=True)
        # falls off the end of main without close(): the exit drain must finish the work
        """,
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert sorted(int(line) for line in out.read_text().split()) == list(range(100))


def test_hanging_tasks_do_not_hang_the_exit() -> None:
    started = time.monotonic()
    result = run_script(
        """
        import time
        from jirabucket.queue import TaskQueue
        q = TaskQueue(workers=2, exit_timeout=0.2)
        q.register("hang", lambda args: time.sleep(1000), key="k")
        for _ in range(5):
            q.submit("hang", {}, key="k", idempotent=True)
        """,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
    assert "exit drain left 5 task(s) unfinished" in result.stderr


CRASH_SCRIPT = """
    import os, signal, sys, threading
    from jirabucket.queue import Journal, TaskQueue
    journal = Journal(sys.argv[1])
    out = open(sys.argv[2], "a", buffering=1)  # one line per finished task, written at once
    go = threading.Event()
    def upsert(args):
        go.wait()  # all 5000 are submitted and committed first
        out.write(args["marker"] + "\\n")
        if args["marker"] == sys.argv[3]:  # a crash while the other workers finish tasks
            os.kill(os.getpid(), signal.SIGKILL)
    q = TaskQueue(workers=8, journal=journal, max_pending=10_000)
    q.register("upsert", upsert, key="k")
    for n in range(5000):
        q.submit("upsert", {"marker": f"m{n:04d}"}, key="k", idempotent=True)
    journal.flush()
    print("ready", flush=True)
    go.set()
    q.join()
    """


def test_sigkill_reruns_only_the_tasks_in_flight_and_resume_finishes_the_rest(tmp_path: Path) -> None:
    db, out = tmp_path / "queue.sqlite3", tmp_path / "state.log"
    # The process kills itself in the task m0300 (a kill from outside could come only after the
    # 5000 tiny tasks are all done): SIGKILL mid-run, whatever the load of the machine.
    proc = start_script(CRASH_SCRIPT, str(db), str(out), "m0300")
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    assert proc.wait(timeout=60) == -signal.SIGKILL
    finished = out.read_text().split()
    assert "m0300" in finished and len(finished) < 5000  # killed mid-run
    assert len(set(finished)) == len(finished)

    assert list(tmp_path.glob("queue.sqlite3.done-*"))  # the completions not yet folded in
    journal = Journal(db)  # folds them, and removes the dead process's logs
    assert not list(tmp_path.glob("queue.sqlite3.done-*"))
    pending = {t.args["marker"] for t in journal.pending()}
    rerun = pending.intersection(finished)
    assert len(rerun) <= 8  # finished, yet to run again: at most one per worker, those in flight
    assert pending | set(finished) == {f"m{n:04d}" for n in range(5000)}  # nothing lost

    def upsert(args: dict[str, str]) -> None:
        with out.open("a") as f:
            f.write(args["marker"] + "\n")

    with TaskQueue(workers=4, journal=journal) as q:
        q.register("upsert", upsert, key="k")
        assert q.resume() == len(pending)
        assert q.join(timeout=30)
    assert journal.pending_count() == 0
    journal.close()
    lines = out.read_text().split()
    assert sorted(set(lines)) == [f"m{n:04d}" for n in range(5000)]  # every task ran
    assert len(lines) - 5000 == len(rerun)  # and only those in flight at the kill ran twice


def test_ctrl_c_during_drain_stops_and_keeps_work_in_journal(tmp_path: Path) -> None:
    db = tmp_path / "queue.sqlite3"
    proc = start_script(
        """
        import faulthandler, signal, sys, threading, time
        from jirabucket.queue import Journal, QueueClosed, TaskQueue
        faulthandler.register(signal.SIGUSR1)
        journal = Journal(sys.argv[1])
        q = TaskQueue(workers=2, journal=journal)
        q.register("hang", lambda args: time.sleep(1000), key="k")
        for n in range(10):
            q.submit("hang", {"n": n}, key="k", idempotent=True, idempotency_key=f"n{n}")
        journal.flush()

        def report_close():
            # A submit of a pending twin adds nothing; once close() has begun it is refused.
            while True:
                try:
                    q.submit("hang", {"n": 0}, key="k", idempotent=True, idempotency_key="n0")
                except QueueClosed:
                    print("draining", flush=True)
                    return
                time.sleep(0.001)

        threading.Thread(target=report_close, daemon=True).start()
        q.close(timeout=600)
        """,
        str(db),
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "draining"
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # seen once with both cores saturated: show where each thread was
        proc.send_signal(signal.SIGUSR1)
        time.sleep(1)  # for faulthandler to write the stacks
        proc.kill()
        pytest.fail(f"still running 30 s after Ctrl-C; its threads:\n{proc.communicate()[1]}")
    assert time.monotonic() - started < 20
    assert proc.returncode != 0 and "KeyboardInterrupt" in stderr
    journal = Journal(db)
    assert journal.pending_count() == 10
    journal.close()


def test_ctrl_c_that_the_kernel_gives_a_worker_thread_still_stops_close_at_once() -> None:
    # kill(pid, SIGINT) may land in any thread; Python runs the handler in the main thread only
    # when it next runs Python code. Before waits came in slices, this close waited out its 60 s.
    result = run_script(
        """
        import signal, threading, time
        from jirabucket.queue import QueueClosed, TaskQueue
        q = TaskQueue(workers=2)
        q.register("hang", lambda args: time.sleep(1000), key="k")
        for n in range(4):
            q.submit("hang", {"n": n}, key="k", idempotent=True, idempotency_key=f"n{n}")

        def ctrl_c_into_a_worker_once_close_waits():
            while True:
                try:  # a pending twin adds nothing; once close() has begun it is refused
                    q.submit("hang", {"n": 0}, key="k", idempotent=True, idempotency_key="n0")
                except QueueClosed:
                    break
                time.sleep(0.01)
            worker = next(t for t in threading.enumerate() if t.name.startswith("jirabucket-worker"))
            signal.pthread_kill(worker.ident, signal.SIGINT)

        started = time.monotonic()
        try:
            threading.Thread(target=ctrl_c_into_a_worker_once_close_waits, daemon=True).start()
            q.close(timeout=60)
        except KeyboardInterrupt:
            print(time.monotonic() - started)
        """,
    )
    assert result.stdout.strip(), result.stderr
    assert float(result.stdout) < 10, result.stdout


def test_an_interruptible_future_answers_as_a_future_does() -> None:
    later: InterruptibleFuture[int] = InterruptibleFuture()
    threading.Timer(0.3, later.set_result, [7]).start()  # more than one slice away
    assert later.result() == 7
    failed: InterruptibleFuture[int] = InterruptibleFuture()
    failed.set_exception(TimeoutError("the task's own"))  # not taken for the wait's own timeout
    assert isinstance(failed.exception(), TimeoutError)
    with pytest.raises(TimeoutError, match="the task's own"):
        failed.result()
    cancelled: InterruptibleFuture[int] = InterruptibleFuture()
    cancelled.cancel()
    with pytest.raises(CancelledError):
        cancelled.result()
    pending: InterruptibleFuture[int] = InterruptibleFuture()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        pending.result(timeout=0.6)  # more than two slices
    assert time.monotonic() - started >= 0.55
    with pytest.raises(TimeoutError):
        pending.exception(timeout=0)


def test_forked_child_gets_fresh_workers() -> None:
    q = TaskQueue(workers=2)
    q.register("pid", lambda args: os.getpid(), key=KEY)
    assert q.submit("pid", {}, key=KEY, idempotent=True).result(timeout=10) == os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            code = 0 if q.submit("pid", {}, key=KEY, idempotent=True).result(10) == os.getpid() else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert q.submit("pid", {}, key=KEY, idempotent=True).result(timeout=10) == os.getpid()
    q.close()
