"""Several syncs with separate state, at once, against one Jira: exactly one link and one comment per pair."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from jirabucket.config import load_settings
from jirabucket.sync import SyncReport, sync
from jirabucket.testing import Faults
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
