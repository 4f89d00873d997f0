"""What real Bitbucket servers do to a sync: unreadable PRs, listing order, tokens without an account."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jirabucket.cli import main
from syncworld import make_world


@pytest.mark.parametrize("flavor", ["cloud", "datacenter"])
def test_a_pr_whose_commits_cannot_be_read_is_synced_from_what_can_be(tmp_path: Path, flavor: str) -> None:
    with make_world(tmp_path, flavor=flavor, prs=0) as world:
        repo, other = ("acme/api", "acme/web") if flavor == "cloud" else ("ACME/api", "ACME/web")
        world.bitbucket.add_repository(repo)
        world.bitbucket.add_repository(other)
        world.jira.add_issue("ABC-1")
        world.jira.add_issue("ABC-2")
        gone = world.bitbucket.add_pull_request(repo, title="ABC-1 force-pushed", source_branch="f", commits=["x"])
        world.bitbucket.add_pull_request(repo, title="ABC-2 fine", source_branch="g")
        world.bitbucket.break_commits(repo, gone)  # its source branch was deleted or force-pushed
        code, doc = world.sync()
        assert code == 0, doc
        assert [w for w in doc["warnings"] if f"{repo}#{gone}" in w and "commits could not be read" in w]
        for key, pr_id in (("ABC-1", gone), ("ABC-2", gone + 1)):
            links = world.jira.issue(key).remote_links
            assert [link["globalId"] for link in links] == [world.bitbucket.pull_request(repo, pr_id).web_url]
        # The next run does not abort either (it has nothing new to read).
        assert world.sync()[0] == 0


def test_datacenter_listing_by_creation_does_not_hide_an_old_pr_updated_since(tmp_path: Path) -> None:
    with make_world(tmp_path, flavor="datacenter", prs=0, newest_first_by="created") as world:
        world.bitbucket.add_repository("ACME/api")
        world.bitbucket.add_repository("ACME/web")
        world.jira.add_issue("ABC-1")
        start = datetime.now(UTC) - timedelta(days=300)
        for n in range(1, 106):  # more than one page (100): the old PR lands on the second
            world.bitbucket.add_pull_request(
                "ACME/api", title=f"PR {n}" if n != 1 else "ABC-1 old one", source_branch=f"b{n}",
                updated=start + timedelta(days=n),
            )
        assert world.sync()[0] == 0
        # The oldest PR changes now; by creation it is last in the listing, behind PRs older than the cursor.
        world.bitbucket.update_pull_request("ACME/api", 1, title="ABC-1 old one, revised", updated=datetime.now(UTC))
        code, doc = world.sync()
        assert code == 0
        assert doc["pull_requests"] == 1 and doc["links_updated"] == 1


def test_check_works_with_a_repository_access_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with make_world(tmp_path, flavor="cloud", prs=2, access_token=True) as world:
        for name, value in world.env.items():
            monkeypatch.setenv(name, value)
        assert main(["check", "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["bitbucket"]["user"] == "an access token (no user account)"
        assert doc["problems"] == []
        assert main(["sync", "--quiet"]) == 0  # and a sync proves it with a repository read, not /2.0/user
        assert not [r for r in world.bitbucket.requests if r.path.endswith("/2.0/user") and r.status == 200]
