"""A commit graph per repository: seeding, ``git log A ^B`` semantics, Cloud include/exclude, DC since/until."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from jirabucket.testing import BitbucketCloudSimulator, BitbucketDataCenterSimulator
from jirabucket.testing.bitbucket.graph import CommitGraph

T0 = datetime(2026, 4, 1, tzinfo=UTC)


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def test_graph_log_lists_children_before_parents_newest_first_and_merges_once() -> None:
    graph = CommitGraph()
    graph.add("a" * 40, "root", (), "A", T0)
    graph.add("b" * 40, "main 1", ("a" * 40,), "A", T0 + timedelta(hours=1))
    graph.add("c" * 40, "side 1", ("a" * 40,), "B", T0 + timedelta(hours=2))
    graph.add("d" * 40, "main 2", ("b" * 40,), "A", T0 + timedelta(hours=3))
    graph.add("e" * 40, "merge", ("d" * 40, "c" * 40), "A", T0 + timedelta(hours=4))
    assert [c.message for c in graph.log(["e" * 40])] == ["merge", "main 2", "side 1", "main 1", "root"]
    assert [c.message for c in graph.log(["e" * 40], ["b" * 40])] == ["merge", "main 2", "side 1"]
    assert graph.log(["b" * 40], ["e" * 40]) == []
    assert graph.resolve("cccccccc", {}, {}) == "c" * 40
    assert graph.resolve("ccccc", {}, {}) is None  # prefixes need 7 characters
    assert graph.resolve("refs/tags/x", {"x": "a" * 40}, {"x": "b" * 40}) == "b" * 40
    assert graph.resolve("x", {"x": "a" * 40}, {"x": "b" * 40}) == "a" * 40  # branches win
    with pytest.raises(ValueError):
        graph.add("f" * 40, "orphan", ("9" * 40,), "A", T0)


def _release_history(sim: BitbucketCloudSimulator | BitbucketDataCenterSimulator, repo: str) -> dict[str, str]:
    """main: root - ABC-1 - (tag v1.0) - ABC-2 - merge(feature: ABC-3, ABC-4) - ABC-5 (tag v1.1)."""
    sim.add_repository(repo)
    hashes = {"root": sim.branches(repo)["main"]}
    hashes["abc1"] = sim.add_commit(repo, "ABC-1 first", date=T0)
    sim.add_tag(repo, "v1.0", "main")
    sim.add_branch(repo, "feature/x")
    hashes["abc3"] = sim.add_commit(repo, "ABC-3 on a branch", branch="feature/x", date=T0 + timedelta(hours=1))
    hashes["abc2"] = sim.add_commit(repo, "ABC-2 on main", date=T0 + timedelta(hours=2))
    hashes["abc4"] = sim.add_commit(repo, "ABC-4 on a branch", branch="feature/x", date=T0 + timedelta(hours=3))
    hashes["merge"] = sim.merge(repo, "feature/x", message="Merge feature/x", date=T0 + timedelta(hours=4))
    hashes["abc5"] = sim.add_commit(repo, "ABC-5 last", date=T0 + timedelta(hours=5))
    sim.add_tag(repo, "v1.1", "main")
    return hashes


RANGE = ["ABC-5 last", "Merge feature/x", "ABC-4 on a branch", "ABC-2 on main", "ABC-3 on a branch"]


def test_seeding_from_python_and_reading_the_log(bitbucket_cloud: BitbucketCloudSimulator) -> None:
    hashes = _release_history(bitbucket_cloud, "acme/api")
    assert [c.message for c in bitbucket_cloud.log("acme/api", "v1.1", exclude="v1.0")] == RANGE
    merge = bitbucket_cloud.commit("acme/api", hashes["merge"][:10])
    assert merge.parents == (hashes["abc2"], hashes["abc4"])
    assert bitbucket_cloud.tags("acme/api") == {"v1.0": hashes["abc1"], "v1.1": hashes["abc5"]}
    assert bitbucket_cloud.branches("acme/api")["main"] == hashes["abc5"]
    with pytest.raises(ValueError):
        bitbucket_cloud.add_tag("acme/api", "v1.0", "main")  # tags do not move
    with pytest.raises(ValueError):
        bitbucket_cloud.add_commit("acme/api", "x", parents=["nope"])
    with pytest.raises(ValueError):
        bitbucket_cloud.commit("acme/api", "v9")


def _cloud_pages(session: requests.Session, url: str, params: dict[str, object]) -> list[dict[str, object]]:
    values: list[dict[str, object]] = []
    page = session.get(url, params=params).json()
    while True:
        values += page["values"]
        if "next" not in page:
            return values
        page = session.get(page["next"]).json()


def test_cloud_include_exclude_with_tags_branches_and_hashes_paged(bitbucket_cloud: BitbucketCloudSimulator) -> None:
    hashes = _release_history(bitbucket_cloud, "acme/api")
    session = _session(bitbucket_cloud.token)
    url = f"{bitbucket_cloud.url}/2.0/repositories/acme/api/commits"
    by_tags = _cloud_pages(session, url, {"include": "v1.1", "exclude": "v1.0", "pagelen": 2})
    assert [c["message"] for c in by_tags] == RANGE
    first = session.get(url, params={"include": "v1.1", "exclude": "v1.0", "pagelen": 2}).json()
    assert (
        "size" not in first and first["pagelen"] == 2 and "page=" in first["next"] and "include=v1.1" in first["next"]
    )
    by_hashes = _cloud_pages(session, url, {"include": hashes["abc5"], "exclude": hashes["abc1"][:12]})
    assert [c["hash"] for c in by_hashes] == [c["hash"] for c in by_tags]
    merge = next(c for c in by_tags if c["message"] == "Merge feature/x")
    assert [p["hash"] for p in merge["parents"]] == [hashes["abc2"], hashes["abc4"]]
    assert sum(c["hash"] == hashes["merge"] for c in by_tags) == 1
    since_branch = _cloud_pages(session, url, {"include": "main", "exclude": "feature/x"})
    assert [c["message"] for c in since_branch] == ["ABC-5 last", "Merge feature/x", "ABC-2 on main"]
    path_form = _cloud_pages(session, f"{url}/v1.0", {})
    assert [c["message"] for c in path_form] == ["ABC-1 first", "Initial commit"]
    everything = _cloud_pages(session, url, {})
    assert len(everything) == 7  # all refs, like git log --all
    one = session.get(f"{bitbucket_cloud.url}/2.0/repositories/acme/api/commit/{hashes['abc3'][:8]}").json()
    assert one["hash"] == hashes["abc3"] and one["message"] == "ABC-3 on a branch"


def test_cloud_unknown_ref_is_404(bitbucket_cloud: BitbucketCloudSimulator) -> None:
    _release_history(bitbucket_cloud, "acme/api")
    session = _session(bitbucket_cloud.token)
    url = f"{bitbucket_cloud.url}/2.0/repositories/acme/api/commits"
    for params in ({"include": "v9.9"}, {"include": "v1.1", "exclude": "nope"}):
        answer = session.get(url, params=params)
        assert answer.status_code == 404
        assert answer.json() == {"type": "error", "error": {"message": "Commit not found"}}
    assert session.get(f"{url}/v9.9").status_code == 404
    tags = session.get(f"{bitbucket_cloud.url}/2.0/repositories/acme/api/refs/tags").json()["values"]
    assert [(t["name"], t["target"]["message"]) for t in tags] == [("v1.0", "ABC-1 first"), ("v1.1", "ABC-5 last")]


def test_dc_since_until_paged_merges_filter_and_unknown_refs(
    bitbucket_datacenter: BitbucketDataCenterSimulator,
) -> None:
    hashes = _release_history(bitbucket_datacenter, "ACME/api")
    session = _session(bitbucket_datacenter.token)
    url = f"{bitbucket_datacenter.url}/rest/api/1.0/projects/ACME/repos/api/commits"
    messages, start = [], 0
    while True:
        page = session.get(url, params={"since": "v1.0", "until": "refs/tags/v1.1", "limit": 2, "start": start}).json()
        messages += [c["message"] for c in page["values"]]
        if page["isLastPage"]:
            break
        start = page["nextPageStart"]
    assert messages == RANGE
    default_until = session.get(url, params={"since": hashes["abc2"]}).json()["values"]
    assert [c["message"] for c in default_until] == [
        "ABC-5 last",
        "Merge feature/x",
        "ABC-4 on a branch",
        "ABC-3 on a branch",
    ]
    no_merges = session.get(url, params={"since": "v1.0", "until": "v1.1", "merges": "exclude"}).json()["values"]
    assert "Merge feature/x" not in [c["message"] for c in no_merges] and len(no_merges) == 4
    only = session.get(url, params={"until": "v1.1", "merges": "only"}).json()["values"]
    assert [(c["message"], len(c["parents"])) for c in only] == [("Merge feature/x", 2)]
    missing = session.get(url, params={"since": "v0.9", "until": "v1.1"})
    assert missing.status_code == 404
    assert missing.json()["errors"][0] == {
        "message": "Commit 'v0.9' does not exist in repository 'api'.",
        "exceptionName": "com.atlassian.bitbucket.commit.NoSuchCommitException",
    }
    one = session.get(f"{url}/{hashes['merge']}").json()
    assert one["parents"] == [
        {"id": hashes["abc2"], "displayId": hashes["abc2"][:11]},
        {"id": hashes["abc4"], "displayId": hashes["abc4"][:11]},
    ]
    tags = session.get(f"{bitbucket_datacenter.url}/rest/api/1.0/projects/ACME/repos/api/tags").json()["values"]
    assert [(t["displayId"], t["latestCommit"]) for t in tags] == [("v1.0", hashes["abc1"]), ("v1.1", hashes["abc5"])]


def test_pull_request_commits_live_in_the_graph(bitbucket_datacenter: BitbucketDataCenterSimulator) -> None:
    sim = bitbucket_datacenter
    sim.add_repository("ACME/api")
    sim.add_pull_request("ACME/api", title="ABC-7", source_branch="feature/ABC-7", commits=["ABC-7 one", "ABC-7 two"])
    sim.add_pull_request("ACME/api", title="ABC-7 again", source_branch="feature/ABC-7", commits=["ABC-7 three"])
    head = sim.pull_request("ACME/api", 2).source_commit
    assert [c.message for c in sim.log("ACME/api", head, exclude="main")] == ["ABC-7 three", "ABC-7 two", "ABC-7 one"]
    assert sim.branches("ACME/api")["feature/ABC-7"] == head
    merged = sim.merge("ACME/api", "feature/ABC-7")
    before = sim.commit("ACME/api", merged).parents[0]
    assert [c.message for c in sim.log("ACME/api", "main", exclude=before)][1:] == [
        "ABC-7 three",
        "ABC-7 two",
        "ABC-7 one",
    ]
