"""Benchmark of jirabucket.queue, side by side with ThreadPoolExecutor.

Run: ``.venv/bin/python bench/queue_bench.py`` (about 90 s on 2 cores).

1. 50,000 no-op tasks: TaskQueue (in memory) vs ThreadPoolExecutor, same workers; and with
   the durable SQLite journal in its three ways of recording a completion: the done log (the
   default), a SQLite commit per completion (``done_log=False``, the default before the done
   log), group commits only (``prompt_completions=False``). All interleaved in one run.
2. 1,000 tasks against a simulated server (20 ms latency, 10% transient 503s).
3. Peak RSS with 100,000 tasks queued (in a subprocess each).
4. SIGKILL mid-run of a journaled queue (20,000 short tasks submitted and committed first,
   8 workers, killed from outside after ~850 finished): finished tasks still pending in the
   journal, i.e. run again by the next ``resume()`` (5 trials per way of recording).
"""

from __future__ import annotations

import itertools
import json
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from jirabucket.errors import TransientError
from jirabucket.queue import Journal, KeyLimit, RetryPolicy, TaskQueue

WORKERS = 8
NOOP_TASKS = 50_000
ROUNDS = 5
KEY = "jira:bench.example"


def _noop(args: Mapping[str, Any]) -> None:
    return None


def bench_executor(n: int) -> float:
    """Return tasks/s of ThreadPoolExecutor for ``n`` no-op tasks."""
    with ThreadPoolExecutor(WORKERS) as pool:
        pool.submit(_noop, {}).result()  # start the threads outside the timing
        started = time.perf_counter()
        wait([pool.submit(_noop, {}) for _ in range(n)])
        return n / (time.perf_counter() - started)


def bench_queue(n: int, journal: Journal | None = None) -> float:
    """Return tasks/s of TaskQueue for ``n`` no-op tasks."""
    q = TaskQueue(workers=WORKERS, max_pending=n + 1, journal=journal,
                  default_limit=KeyLimit(concurrency=WORKERS))
    q.register("noop", _noop, key=KEY)
    started = time.perf_counter()
    for _ in range(n):
        q.submit("noop", {}, key=KEY, idempotent=True)
    q.join()
    if journal is not None:
        journal.flush()  # durable means committed: count the last group commit
    rate = n / (time.perf_counter() - started)
    q.close()
    if journal is not None:
        journal.close()
    return rate


def median_of(runs: list[Callable[[], float]]) -> list[float]:
    """Run the callables round-robin ROUNDS times; return each one's median."""
    results: list[list[float]] = [[] for _ in runs]
    for _ in range(ROUNDS):
        for slot, run in zip(results, runs, strict=True):
            slot.append(run())
    return [statistics.median(r) for r in results]


def bench_latency(tasks: int = 1000, latency: float = 0.02, failure_rate: float = 0.1) -> None:
    """Simulated server: wall time vs the ideal ``tasks * latency / workers``."""
    rng = random.Random(42)
    lock = threading.Lock()
    calls = [0]

    def call(args: Mapping[str, Any]) -> int:
        time.sleep(latency)
        with lock:
            calls[0] += 1
            failed = rng.random() < failure_rate
        if failed:
            raise TransientError("503 Service Unavailable", status=503)
        return int(args["n"])

    q = TaskQueue(workers=WORKERS, default_limit=KeyLimit(concurrency=WORKERS),
                  policy=RetryPolicy(base_delay=0.05, max_delay=1.0), seed=1)
    q.register("get", call, key=KEY)
    started = time.perf_counter()
    futures = [q.submit("get", {"n": n}, key=KEY, idempotent=True) for n in range(tasks)]
    results = [f.result(timeout=120) for f in futures]
    wall = time.perf_counter() - started
    q.close()
    ideal = tasks * latency / WORKERS
    lost = tasks - sum(1 for n, r in enumerate(results) if r == n)
    print(f"latency sim: {tasks} tasks, {calls[0]} calls ({calls[0] - tasks} retries), "
          f"wall {wall:.2f} s, ideal {ideal:.2f} s, ratio {wall / ideal:.2f}x, lost {lost}")


_RSS_SCRIPT = """
import resource, sys, threading
from concurrent.futures import ThreadPoolExecutor
from jirabucket.queue import TaskQueue
n, kind = int(sys.argv[1]), sys.argv[2]
gate = threading.Event()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if kind == "queue":
    q = TaskQueue(workers=8, max_pending=n + 1)
    q.register("op", lambda a: gate.wait(), key="k")
    futures = [q.submit("op", {"n": i}, key="k", idempotent=True) for i in range(n)]
else:
    pool = ThreadPoolExecutor(8)
    futures = [pool.submit(gate.wait) for i in range(n)]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
gate.set()
print(base, peak)
"""


def bench_memory(n: int = 100_000) -> None:
    """Peak RSS (KiB, Linux) with ``n`` tasks queued, in a fresh subprocess each."""
    for kind in ("queue", "executor"):
        out = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(n), kind],
                             capture_output=True, text=True, check=True, timeout=120)
        base, peak = (int(v) for v in out.stdout.split())
        print(f"memory {kind:8}: {n} queued tasks, peak RSS {peak / 1024:.0f} MiB "
              f"(+{(peak - base) / 1024:.0f} MiB, {(peak - base) * 1024 / n:.0f} B/task)")


_CRASH_SCRIPT = """
import json, sys, threading
from jirabucket.queue import Journal, TaskQueue
journal = Journal(sys.argv[1], **json.loads(sys.argv[4]))
out = open(sys.argv[2], "a", buffering=1)
go = threading.Event()
def work(args):
    go.wait()
    out.write(f"{args['n']}\\n")
q = TaskQueue(workers=8, journal=journal, max_pending=int(sys.argv[3]) + 1)
q.register("work", work, key="k")
for n in range(int(sys.argv[3])):
    q.submit("work", {"n": n}, key="k", idempotent=True)
journal.flush()
print("ready", flush=True)
go.set()
q.join()
"""
# The ways a journal can record a completion, as Journal options.
_WAYS = {
    "done log (default)": {},
    "done_log=False": {"done_log": False},
    "prompt_completions=False": {"prompt_completions": False},
}


def bench_crash(trials: int = 5, tasks: int = 20_000, kill_after: int = 850) -> None:
    """SIGKILL after ``kill_after`` finished tasks; count the finished ones still pending."""
    for way, options in _WAYS.items():
        _crash_trials(way, options, trials, tasks, kill_after)


def _crash_trials(way: str, options: dict[str, bool], trials: int, tasks: int, kill_after: int) -> None:
    """Run the SIGKILL trials of one way of recording completions and print them."""
    reruns: list[int] = []
    finished: list[int] = []
    for _ in range(trials):
        with tempfile.TemporaryDirectory() as tmp:
            db, out = Path(tmp) / "j.sqlite3", Path(tmp) / "out.log"
            proc = subprocess.Popen([sys.executable, "-c", _CRASH_SCRIPT, str(db), str(out), str(tasks),
                                     json.dumps(options)], stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            while not out.exists() or len(out.read_bytes().splitlines()) < kill_after:
                time.sleep(0.0005)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            done = {int(n) for n in out.read_text().split()}
            journal = Journal(db)
            pending = {t.args["n"] for t in journal.pending()}
            journal.close()
            finished.append(len(done))
            reruns.append(len(done & pending))
    print(f"crash (SIGKILL, 8 workers), {way}: finished before the kill {min(finished)}-{max(finished)}, "
          f"of them to run again {reruns}")


def main() -> None:
    """Run every benchmark and print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        made = itertools.count()

        def durable(options: dict[str, bool]) -> Callable[[], float]:
            return lambda: bench_queue(NOOP_TASKS, Journal(Path(tmp) / f"{next(made)}.sqlite3", **options))

        tpe, mem, *journaled = median_of([lambda: bench_executor(NOOP_TASKS), lambda: bench_queue(NOOP_TASKS),
                                          *(durable(options) for options in _WAYS.values())])
    print(f"no-op x{NOOP_TASKS}, {WORKERS} workers (median of {ROUNDS}, interleaved):")
    print(f"  ThreadPoolExecutor  {tpe:9,.0f} tasks/s")
    print(f"  TaskQueue (memory)  {mem:9,.0f} tasks/s  = {mem / tpe:.2f}x executor")
    promises = ("a crash re-runs at most one task per worker", "the same promise",
                "a crash re-runs what finished in the last 50 ms")
    for way, rate, promise in zip(_WAYS, journaled, promises, strict=True):
        print(f"  TaskQueue (journal) {rate:9,.0f} tasks/s  = {rate / mem:.2f}x in-memory, "
              f"{rate / tpe:.2f}x executor  ({way}: {promise})")
    bench_latency()
    bench_memory()
    bench_crash()


if __name__ == "__main__":
    main()
