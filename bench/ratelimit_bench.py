"""A first sync of 2,000 pull requests under Bitbucket Cloud's 1,000 requests an hour.

The Bitbucket Cloud simulator enforces a rolling budget of 1,000 requests an
hour on ``/2.0/repositories/*`` and answers 429 without ``Retry-After`` beyond
it, as Bitbucket does. Simulated time: the simulator and the queue share one
:class:`~jirabucket.queue.ManualClock`, which a driver thread moves one
simulated second per step (a simulated hour passes in a few real seconds), so
the queue's backoff, its token bucket and the simulator's window all run on
the same hours. The queue is built by the same ``runtime.build_queue`` the CLI
uses (default Bitbucket Cloud budget, default retry policy); the sync writes
links only (no comments, no transitions) so the figures are Bitbucket's.

Prints Bitbucket requests per PR, 429s, simulated hours to finish, and the
bound: successful requests / 1,000 per hour.

    python bench/ratelimit_bench.py [--prs 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from jirabucket.clients import BitbucketClient, JiraClient
from jirabucket.config import load_settings
from jirabucket.queue import ManualClock
from jirabucket.runtime import build_queue
from jirabucket.sync import SyncEngine
from jirabucket.sync.state import StateStore
from jirabucket.testing import BitbucketCloudSimulator, HourlyLimit, JiraCloudSimulator, make_scenario
from jirabucket.tokens import BitbucketToken, JiraToken

CONFIG = """
[jira]
projects = ["ABC", "OPS"]
[bitbucket]
repositories = ["acme/api", "acme/web"]
[sync]
scan_commits = true
comment = false
"""
_STEP = 1.0  # simulated seconds per driver step
_PAUSE = 0.0005  # real seconds between steps


def _drive(clock: ManualClock, stop: threading.Event) -> None:
    while not stop.is_set():
        clock.advance(_STEP)
        time.sleep(_PAUSE)


def main() -> None:
    """Run the sync and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prs", type=int, default=2000)
    prs = parser.parse_args().prs
    clock = ManualClock()
    scenario = make_scenario(prs, 11)
    with tempfile.TemporaryDirectory() as tmp, JiraCloudSimulator(seed=11) as jira, \
            BitbucketCloudSimulator(seed=11, clock=clock) as bb:
        scenario.seed_jira(jira)
        scenario.seed_bitbucket(bb)
        bb.set_hourly_limit(HourlyLimit(requests=1000, window_seconds=3600.0))
        folder = Path(tmp)
        (folder / "jirabucket.toml").write_text(CONFIG)
        settings = load_settings(
            config_path=folder / "jirabucket.toml", environ={}, jira_url=jira.url, jira_flavor="cloud",
            bitbucket_url=bb.url, bitbucket_flavor="cloud", state_dir=folder / "state",
        )
        waits: list[float] = []
        queue = build_queue(settings, journal=None, wait_hooks=(lambda event: waits.append(event.seconds),),
                            clock=clock)
        jira_client = JiraClient(jira.url, JiraToken(jira.token, email=jira.email), flavor="cloud", queue=queue)
        bb_client = BitbucketClient(bb.url, BitbucketToken(bb.token), flavor="cloud", queue=queue)
        store = StateStore(folder / "state")
        stop = threading.Event()
        driver = threading.Thread(target=_drive, args=(clock, stop), daemon=True)
        started, real = clock(), time.monotonic()
        driver.start()
        try:
            engine = SyncEngine(settings=settings, jira=jira_client, bitbucket=bb_client, queue=queue, store=store)
            report = engine.run()
            queue.join()
        finally:
            stop.set()
            driver.join()
            queue.close()
            store.close()
        hours = (clock() - started) / 3600
        requests = bb.requests
        refused = sum(r.status == 429 for r in requests)
        answered = len(requests) - refused
        bound = answered / 1000
        print(f"pull requests            {report.pull_requests}")
        print(f"links written            {report.links_created} (failed: {len(report.failed)})")
        print(f"Bitbucket requests       {len(requests)} ({answered} answered, {refused} refused with 429)")
        print(f"requests per PR          {len(requests) / max(1, prs):.3f} ({answered / max(1, prs):.3f} answered)")
        print(f"host waits announced     {len(waits)}")
        print(f"simulated hours          {hours:.2f}")
        print(f"bound (answered / 1000)  {bound:.2f} h")
        print(f"hours / bound            {hours / bound:.2f}x")
        print(f"real seconds             {time.monotonic() - real:.1f}")


if __name__ == "__main__":
    main()
