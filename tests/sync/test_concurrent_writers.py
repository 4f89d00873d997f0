"""Several syncs with separate state, at once, against one Jira: exactly one link and one comment per pair."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jirabucket.clients import JiraApi
from jirabucket.config import load_settings
from jirabucket.queue import ManualClock, RetryPolicy, TaskQueue
from jirabucket.sync import SyncReport, sync
from jirabucket.sync.state import StateStore
from jirabucket.sync.steps import COMMENT, PairApplier, PairTask, PrRef
from jirabucket.testing import Faults, JiraCloudSimulator
from jirabucket.tokens import JiraToken
from syncworld import World, make_world


def run_writers(world: World, writers: int, tmp_path: Path) -> list[SyncReport | BaseException]:
    """Start ``writers`` syncs together, each with its own state directory (a cron box, a CI job, serve ...)."""
    results: list[SyncReport | BaseException] = [RuntimeError("did not run")] * writers
    start = threading.Barrier(writers)

    def one(n: int) -> None:
        settings = load_settings(config_path=world.config, environ=world.env, state_dir=tmp_path / f"state-{n}")
        start.wait()
        try:
            results[n] = sync(settings, jira_token=world.jira_token(), bitbucket_token=world.bitbucket_token())
        except BaseException as exc:
            results[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def exactly_one_each(world: World) -> dict[str, Any]:
    links = comments = 0
    for issue in world.scenario.issues:
        snap = world.jira.issue(issue.key)
        urls = [link["globalId"] for link in snap.remote_links]
        assert len(urls) == len(set(urls)), issue.key
        for url in urls:
            assert sum(url in c.text for c in snap.comments) == 1, (issue.key, url)
        links += len(urls)
        comments += len(snap.comments)
    return {"links": links, "comments": comments}


@pytest.mark.parametrize(("writers", "faults"), [(2, None), (4, None), (4, Faults(reset_after_write_rate=0.1))])
def test_concurrent_syncs_with_separate_state_converge_to_one_comment_per_pair(
    tmp_path: Path, writers: int, faults: Faults | None
) -> None:
    with make_world(tmp_path, flavor="cloud", prs=30) as world:
        if faults is not None:
            world.jira.set_faults(faults)
        results = run_writers(world, writers, tmp_path)
        for result in results:
            assert isinstance(result, SyncReport), result
            assert result.failed == [], result.failed  # no dead letter from a lost race
        counts = exactly_one_each(world)
        assert counts["links"] == len(world.scenario.expected_links())
        assert world.linked_pairs() == set(world.scenario.expected_links())
        deletes = [r for r in world.jira.requests if r.method == "DELETE" and "/comment/" in r.path]
        assert deletes  # the writers really raced: extra posts were made, and taken back


def test_a_lost_delete_answer_while_settling_a_race_is_settled_again_on_the_retry(tmp_path: Path) -> None:
    """This writer posts, finds two earlier comments of other writers for the same PR, and the answer
    to its first delete is lost: the retried step settles the race again from a fresh read."""
    with JiraCloudSimulator(seed=1) as jira:
        jira.add_issue("ABC-1")
        api = JiraApi(jira.url, JiraToken(jira.token, email=jira.email))
        applier = PairApplier(jira=api, store=StateStore(tmp_path), report=SyncReport())
        clock = ManualClock()
        queue = TaskQueue(workers=1, clock=clock, policy=RetryPolicy(base_delay=1, max_delay=1))
        applier.register(queue, key="jira")
        other, this = (
            PairTask("ABC-1", PrRef("acme/api", n, "Login", f"https://bitbucket.org/acme/api/pull-requests/{n}",
                                    "OPEN"), comment=True, transition=None)
            for n in (6, 7)
        )
        try:
            # The comment of another PR of the issue makes this run read (and keep) the issue's comments...
            queue.submit(COMMENT, other.to_args(), key="jira", idempotent=True, subkey="ABC-1").result(timeout=30)
            # ... then two other writers post theirs for PR 7 (their answers lost, so both stayed).
            jira.add_comment("ABC-1", this.comment_text)
            jira.add_comment("ABC-1", this.comment_text)
            jira.set_faults(Faults(reset_after_write_rate=1.0, methods=("DELETE",)))
            done = queue.submit(COMMENT, this.to_args(), key="jira", idempotent=True, subkey="ABC-1")
            _until(lambda: queue.stats().retried == 1 and queue.stats().in_flight == 0)  # the lost answer
            assert [r.fault for r in jira.requests if r.method == "DELETE"] == ["reset_after_write"]
            jira.set_faults(Faults())
            clock.advance(5)  # the retry
            done.result(timeout=30)
        finally:
            queue.close()
        texts = [c.text for c in jira.issue("ABC-1").comments]
        assert texts.count(this.comment_text) == 1, texts
        assert texts.count(other.comment_text) == 1, texts


def _until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.002)
