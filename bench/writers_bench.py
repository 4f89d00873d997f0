"""Several syncs with separate state at once against one Jira: duplicates and the requests convergence costs.

For 1, 2 and 4 writers (threads, each its own state directory, as a cron box, a
CI job and ``serve`` would be), with and without write answers lost
(``reset_after_write_rate=0.1``), it prints the (issue, PR) pairs, duplicate
links and comments left in Jira, and Jira requests by kind, next to the single
writer's as the baseline.

    python bench/writers_bench.py [--prs 40]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from jirabucket.config import load_settings
from jirabucket.sync import SyncReport, sync
from jirabucket.sync.steps import mentions_url
from jirabucket.testing import Faults
from syncworld import World, make_world


def _race(world: World, writers: int, base: Path) -> list[SyncReport]:
    reports: list[SyncReport] = []
    barrier = threading.Barrier(writers)
    lock = threading.Lock()

    def one(n: int) -> None:
        settings = load_settings(config_path=world.config, environ=world.env, state_dir=base / f"state-{n}")
        barrier.wait()
        report = sync(settings, jira_token=world.jira_token(), bitbucket_token=world.bitbucket_token())
        with lock:
            reports.append(report)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return reports


def _duplicates(world: World) -> tuple[int, int]:
    links = comments = 0
    for issue in world.scenario.issues:
        snap = world.jira.issue(issue.key)
        urls = [link["globalId"] for link in snap.remote_links]
        links += len(urls) - len(set(urls))
        comments += sum(max(0, sum(mentions_url(c.text, url) for c in snap.comments) - 1) for url in set(urls))
    return links, comments


def main() -> None:
    """Run every case and print one row each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prs", type=int, default=40)
    prs = parser.parse_args().prs
    print(f"{'writers':>7} {'faults':>7} {'pairs':>6} {'dup links':>9} {'dup comments':>12} {'failed':>6} "
          f"{'jira reqs':>9} {'x 1 writer':>10} {'POST comment':>12} {'DELETE comment':>14} {'GET comment':>11}")
    baseline: dict[bool, int] = {}
    for lossy in (False, True):
        for writers in (1, 2, 4):
            with tempfile.TemporaryDirectory() as tmp, make_world(Path(tmp), flavor="cloud", prs=prs) as world:
                if lossy:
                    world.jira.set_faults(Faults(reset_after_write_rate=0.1))
                reports = _race(world, writers, Path(tmp))
                kinds = Counter(
                    (r.method, "comment") for r in world.jira.requests if "/comment" in r.path
                )
                total = len(world.jira.requests)
                baseline.setdefault(lossy, total)
                dup_links, dup_comments = _duplicates(world)
                failed = sum(len(r.failed) for r in reports)
                print(f"{writers:>7} {'lossy' if lossy else 'none':>7} {len(world.scenario.expected_links()):>6} "
                      f"{dup_links:>9} {dup_comments:>12} {failed:>6} {total:>9} {total / baseline[lossy]:>10.2f} "
                      f"{kinds[('POST', 'comment')]:>12} {kinds[('DELETE', 'comment')]:>14} "
                      f"{kinds[('GET', 'comment')]:>11}")


if __name__ == "__main__":
    main()
