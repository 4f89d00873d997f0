"""The sync over real HTTP against the simulators: outcomes, idempotence, faults, dry runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jirabucket.sync import failed_work
from jirabucket.sync.steps import mentions_url
from jirabucket.testing import Faults
from syncworld import World, make_world


def run_sync(world: World, *args: str) -> tuple[int, dict[str, Any]]:
    return world.sync(dry_run="--dry-run" in args, full="--full" in args)


@pytest.fixture(params=["cloud", "datacenter"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    with make_world(tmp_path, flavor=request.param) as w:
        yield w


READ_POSTS = ("/bulkfetch", "/search/jql", "/search")


def writes(world: World) -> list[Any]:
    """Requests that change something (POSTs that only read, like bulkfetch, excluded)."""
    return [r for r in world.jira.requests + world.bitbucket.requests if r.is_write and not r.path.endswith(READ_POSTS)]


def test_sync_links_exactly_the_expected_pairs(world: World) -> None:
    code, doc = run_sync(world)
    assert code == 0, doc
    expected = world.scenario.expected_links()
    assert world.linked_pairs() == set(expected)
    assert doc["links_created"] == len(expected)
    assert doc["comments_added"] == len(expected)  # every new pair gets its comment, none is mistaken as present
    assert doc["failed"] == []
    assert doc["pull_requests"] == len(world.scenario.pull_requests)
    assert set(doc["skipped_keys"]) == set(world.scenario.missing_keys) & set(doc["skipped_keys"])
    assert set(world.scenario.missing_keys) <= set(doc["skipped_keys"])
    for issue in world.scenario.issues:
        snap = world.jira.issue(issue.key)
        urls = [link["globalId"] for link in snap.remote_links]
        assert len(urls) == len(set(urls))
        for url in urls:
            assert sum(c.text.endswith(url) for c in snap.comments) == 1, (issue.key, url)
    # every link says where it comes from
    some = next(iter(expected))
    link = world.jira.issue(some[0]).remote_links[0]
    assert " PR #" in link["object"]["title"]
    assert link["application"]["name"] == "Bitbucket"
    assert link["object"]["icon"]["title"] == "Bitbucket pull request"
    # auth: every request used the flavor's scheme and matched
    schemes = {r.auth_scheme for r in world.jira.requests}
    assert schemes == ({"basic"} if world.flavor == "cloud" else {"bearer"})
    assert all(r.auth_ok for r in world.jira.requests + world.bitbucket.requests)


def test_second_run_writes_nothing_and_reads_one_page(world: World) -> None:
    assert run_sync(world)[0] == 0
    before = world.final_state()
    world.jira.clear_requests()
    world.bitbucket.clear_requests()
    code, doc = run_sync(world)
    assert code == 0
    assert writes(world) == []
    # Credentials are proved every run (one cheap request each), then one page request per repository.
    assert [r.path.rsplit("/", 1)[-1] for r in world.jira.requests] == ["myself"]
    assert len(world.bitbucket.requests) <= 1 + 2
    assert doc["pull_requests"] == 0
    assert world.final_state() == before


def test_full_rerun_rewrites_nothing(world: World) -> None:
    assert run_sync(world)[0] == 0
    before = world.final_state()
    world.jira.clear_requests()
    code, doc = run_sync(world, "--full")
    assert code == 0
    assert doc["links_created"] == doc["links_updated"] == doc["comments_added"] == 0
    assert writes(world) == []
    assert world.final_state() == before


def test_updated_pr_updates_link_incrementally(tmp_path: Path) -> None:
    with make_world(tmp_path, flavor="cloud") as world:
        assert run_sync(world)[0] == 0
        issue, repo, pr_id = sorted(world.scenario.expected_links())[0]
        pr = next(p for p in world.scenario.pull_requests if (p.repo, p.id) == (repo, pr_id))
        world.bitbucket.update_pull_request(repo, pr_id, title=pr.title + " (v2)")
        world.jira.clear_requests()
        code, doc = run_sync(world)
        assert code == 0
        assert doc["pull_requests"] == 1
        assert doc["links_updated"] >= 1
        assert doc["links_created"] == doc["comments_added"] == 0
        titles = [link["object"]["title"] for link in world.jira.issue(issue).remote_links]
        assert any(t.endswith("(v2)") for t in titles)


def test_dry_run_sends_no_write(world: World) -> None:
    code, doc = run_sync(world, "--dry-run")
    assert code == 0
    assert writes(world) == []
    planned = {(p["issue"], p["action"]) for p in doc["plan"]}
    assert {(issue, "link") for issue, _, _ in world.scenario.expected_links()} <= planned
    # nothing was remembered either: a real run still does all the work
    code, doc = run_sync(world)
    assert doc["links_created"] == len(world.scenario.expected_links())


def test_comments_never_duplicated_when_answers_are_lost(tmp_path: Path) -> None:
    with make_world(tmp_path, flavor="cloud") as world:
        world.jira.set_faults(Faults(reset_after_write_rate=0.4, methods=frozenset({"POST"})))
        code, _ = run_sync(world)
        assert code == 0
        lost = [r for r in world.jira.requests if r.fault == "reset_after_write"]
        assert len(lost) > 5  # the fault really happened, many times
        for issue in world.scenario.issues:
            snap = world.jira.issue(issue.key)
            for link in snap.remote_links:
                assert sum(c.text.endswith(link["globalId"]) for c in snap.comments) == 1


def test_final_state_under_faults_equals_fault_free(tmp_path: Path) -> None:
    with make_world(tmp_path / "calm", flavor="cloud") as calm:
        assert run_sync(calm)[0] == 0
        expected = calm.final_state()
    with make_world(tmp_path / "storm", flavor="cloud") as storm:
        faults = Faults(error_rate=0.2, reset_rate=0.05, reset_after_write_rate=0.05)
        # A comment step reads, posts and reads again in one attempt: with a quarter of the requests
        # failing, an attempt succeeds about 4 times in 10, and 10 attempts left one step of ~60
        # failed in about 1 run in 15. The point here is where the state ends, not the budget.
        storm.configure("max_attempts = 10", "max_attempts = 40")
        storm.jira.set_faults(faults)
        storm.bitbucket.set_faults(faults)
        # Each product's 429 window opens with its first request, whenever the run gets there.
        storm.jira.rate_limit(1.0, retry_after=1, starting="next_request")
        storm.bitbucket.rate_limit(1.0, starting="next_request")
        code, doc = run_sync(storm)
        assert code == 0, doc["failed"]
        assert storm.final_state() == expected
        assert any(r.status == 429 for r in storm.jira.requests)
        assert any(r.status == 429 for r in storm.bitbucket.requests)
        assert any(r.status == 503 for r in storm.jira.requests)


def test_target_several_steps_away_is_walked_and_unreachable_one_is_a_warning(tmp_path: Path) -> None:
    with make_world(tmp_path, flavor="cloud", prs=0) as world:
        world.jira.add_issue("ABC-900", summary="x", status="To Do")
        world.jira.add_issue("ABC-901", summary="y", status="In Review")
        world.jira.add_issue("OPS-1", summary="z", status="To Do")
        world.bitbucket.add_repository("acme/api")
        world.bitbucket.add_repository("acme/web")
        world.bitbucket.add_pull_request("acme/api", title="ABC-900 done", source_branch="f/ABC-900", state="MERGED")
        world.bitbucket.add_pull_request("acme/api", title="ABC-901 done", source_branch="f/ABC-901", state="MERGED")
        world.bitbucket.add_pull_request("acme/web", title="UTF-8 and ZZZ-1 and ABC-999", source_branch="x")
        world.bitbucket.add_pull_request("acme/web", title="OPS-1 gone", source_branch="y", state="DECLINED")
        world.configure('merged = "Done"', 'merged = "Done"\ndeclined = "Archived"')  # no such status
        code, doc = run_sync(world)
        assert code == 0
        assert world.jira.issue("ABC-901").status == "Done"
        assert world.jira.issue("ABC-900").status == "Done"  # To Do -> In Progress -> Done
        assert world.jira.issue("ABC-900").transitions_applied == ("Start work", "Resolve")
        assert "ABC-900: To Do -> In Progress -> Done" in doc["moves"]
        assert doc["transitions"] == 2
        assert world.jira.issue("OPS-1").status == "To Do"
        assert [w for w in doc["warnings"] if "OPS-1" in w and "Archived" in w]
        assert doc["skipped_keys"] == ["ABC-999"]


def test_permanent_failure_exits_1_and_is_a_dead_letter(tmp_path: Path) -> None:
    # Data Center reads issues with GET, so failing every POST fails only the writes.
    with make_world(tmp_path, flavor="datacenter", prs=0) as world:
        world.jira.add_issue("ABC-1", summary="x")
        world.bitbucket.add_repository("ACME/api")
        world.bitbucket.add_repository("ACME/web")
        world.bitbucket.add_pull_request("ACME/api", title="ABC-1: first", source_branch="a")
        world.bitbucket.add_pull_request("ACME/api", title="[ABC-1] second " + "x" * 300, source_branch="b")
        world.jira.set_faults(Faults(error_rate=1.0, methods=frozenset({"POST"})))
        config = world.config.read_text().replace("max_attempts = 10", "max_attempts = 2")
        world.config.write_text(config)
        code, doc = run_sync(world)
        assert code == 1
        # two pairs: two links, two comments, one transition (the newest PR's), each failed for good
        ops = sorted(f["operation"] for f in doc["failed"])
        assert ops == ["sync.comment", "sync.comment", "sync.link", "sync.link", "sync.transition"]
        assert all("503" in f["error"] for f in doc["failed"])
        assert len(failed_work(world.state_dir)) == 5
        # the cursor did not advance: after the outage the next run finishes the work
        world.jira.set_faults(Faults())
        code, doc = run_sync(world)
        assert code == 0
        assert len(world.jira.issue("ABC-1").remote_links) == 2


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Pull request acme/api #16 “x”: https://b/acme/api/pull-requests/16", False),
        ("Pull request acme/api #1 “x”: https://b/acme/api/pull-requests/1", True),
        ("see https://b/acme/api/pull-requests/1.", True),
        ("see https://b/acme/api/pull-requests/1/diff", False),
        ("(https://b/acme/api/pull-requests/1)", True),
    ],
)
def test_comment_lookup_matches_whole_urls(text: str, found: bool) -> None:
    assert mentions_url(text, "https://b/acme/api/pull-requests/1") is found


def test_transition_by_name_survives_lost_answers(tmp_path: Path) -> None:
    with make_world(tmp_path, flavor="cloud", prs=0) as world:
        world.config.write_text(world.config.read_text().replace('open = "In Review"', 'open = "Submit for review"'))
        world.bitbucket.add_repository("acme/api")
        world.bitbucket.add_repository("acme/web")
        for n in range(1, 21):
            world.jira.add_issue(f"ABC-{n}", summary="x", status="To Do")
            world.bitbucket.add_pull_request("acme/api", title=f"ABC-{n} change", source_branch=f"b{n}")
        world.jira.set_faults(Faults(reset_after_write_rate=0.5, methods=frozenset({"POST"})))
        code, doc = run_sync(world)
        assert code == 0, doc
        lost = [r for r in world.jira.requests if r.path.endswith("/transitions") and r.fault == "reset_after_write"]
        assert lost  # some transitions happened without their answer
        assert doc["warnings"] == []
        assert {world.jira.issue(f"ABC-{n}").status for n in range(1, 21)} == {"In Review"}
        assert all(world.jira.issue(f"ABC-{n}").transitions_applied == ("Submit for review",) for n in range(1, 21))


def test_dead_letters_one_per_target_and_gone_once_the_work_succeeds(tmp_path: Path) -> None:
    with make_world(tmp_path, flavor="datacenter", prs=0) as world:
        world.jira.add_issue("ABC-1", summary="x")
        for repo in ("ACME/api", "ACME/web"):
            world.bitbucket.add_repository(repo)
        world.bitbucket.add_pull_request("ACME/api", title="ABC-1: first", source_branch="a")
        world.jira.set_faults(Faults(error_rate=1.0, methods=frozenset({"POST"})))  # every write fails
        world.configure("max_attempts = 10", "max_attempts = 2")
        for _ in range(3):
            assert run_sync(world)[0] == 1
        letters = failed_work(world.state_dir)
        assert sorted(d.operation for d in letters) == ["sync.comment", "sync.link", "sync.transition"]
        assert all(d.attempts >= 6 for d in letters)  # three runs' attempts, added up on one letter each
        world.jira.set_faults(Faults())
        code, doc = run_sync(world)
        assert code == 0, doc
        assert failed_work(world.state_dir) == []  # made moot by the success
