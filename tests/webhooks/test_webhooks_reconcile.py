"""The reconcile: an incremental sync on a timer heals what no delivery announced."""

from __future__ import annotations

from pathlib import Path

import pytest
from webhook_harness import empty_world, pr_reads, serving, wait_for

from jirabucket.cli.serve import parse_duration
from jirabucket.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("30s", 30), ("15m", 900), ("1h", 3600), ("90", 90), ("1.5h", 5400), (" 2M ", 120), ("168h", 604800)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "15 minutes", "-5m", "1d", "0.5s", "169h", "1h30m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError, match="--reconcile-every"):
        parse_duration(text)


def test_a_missed_delivery_is_healed_by_the_reconcile(tmp_path: Path) -> None:
    with empty_world(tmp_path) as world, serving(world, reconcile_every=0.3) as served:
        wait_for(lambda: served.deliver.health()["last_reconcile"] is not None, what="the reconcile at start")
        world.jira.add_issue("ABC-7")
        world.bitbucket.add_pull_request("acme/web", title="ABC-7 never announced", source_branch="b")
        wait_for(lambda: world.jira.issue("ABC-7").comments, what="the reconcile syncing the PR")
        wait_for(lambda: served.deliver.health()["reconciles"] >= 2)
        health = served.deliver.health()
        assert health["last_error"] is None
        assert health["pull_request_syncs"] == 0 and pr_reads(world) == 0  # the listing, not a per-PR read
        assert len(world.jira.issue("ABC-7").remote_links) == 1


def test_no_reconcile_when_off(tmp_path: Path) -> None:
    with empty_world(tmp_path) as world, serving(world, reconcile_every=0) as served:
        pr = world.bitbucket.add_pull_request("acme/api", title="ABC-1", source_branch="b")
        assert served.deliver.pull_request_event("acme/api", pr).status_code == 202
        wait_for(lambda: served.deliver.health()["pull_request_syncs"] == 1)
        health = served.deliver.health()
        assert (health["reconciles"], health["last_reconcile"]) == (0, None)
        listings = [r for r in world.bitbucket.requests if r.path.endswith("/pullrequests")]
        assert listings == []
