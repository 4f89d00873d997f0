"""Commit build statuses: Cloud's statuses/build resource, Data Center 9.2's builds resource, read from Python."""

from __future__ import annotations

import pytest
import requests

from jirabucket.testing import BitbucketCloudSimulator, BitbucketDataCenterSimulator


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


@pytest.fixture
def cloud(bitbucket_cloud: BitbucketCloudSimulator) -> BitbucketCloudSimulator:
    bitbucket_cloud.add_repository("acme/api")
    bitbucket_cloud.add_pull_request("acme/api", title="ABC-1: x", source_branch="feature/ABC-1", commits=["a", "b"])
    return bitbucket_cloud


@pytest.fixture
def dc(bitbucket_datacenter: BitbucketDataCenterSimulator) -> BitbucketDataCenterSimulator:
    bitbucket_datacenter.add_repository("ACME/api")
    bitbucket_datacenter.add_pull_request("ACME/api", title="ABC-1: x", source_branch="feature/ABC-1", commits=["a"])
    return bitbucket_datacenter


def test_cloud_posts_on_the_short_hash_a_pr_shows_and_the_same_key_overwrites(cloud: BitbucketCloudSimulator) -> None:
    session = _session(cloud.token)
    api = f"{cloud.url}/2.0/repositories/acme/api"
    short = session.get(f"{api}/pullrequests/1").json()["source"]["commit"]["hash"]
    status = {
        "key": "jirabucket",
        "state": "FAILED",
        "name": "Jira issue",
        "url": "https://x.test/1",
        "description": "no key",
    }
    first = session.post(f"{api}/commit/{short}/statuses/build", json=status)
    assert first.status_code == 201
    body = first.json()
    assert (body["type"], body["key"], body["state"], body["description"]) == (
        "build",
        "jirabucket",
        "FAILED",
        "no key",
    )
    head = cloud.pull_request("acme/api", 1).source_commit
    assert body["links"]["commit"]["href"].endswith(f"/commit/{head}")
    again = session.post(
        f"{api}/commit/{short}/statuses/build", json={**status, "state": "SUCCESSFUL", "description": "ABC-1"}
    )
    assert again.status_code == 201
    statuses = cloud.build_statuses("acme/api", head)
    assert [(s.key, s.state, s.description, s.url) for s in statuses] == [
        ("jirabucket", "SUCCESSFUL", "ABC-1", "https://x.test/1")
    ]
    assert statuses[0].updated > statuses[0].created
    listed = session.get(f"{api}/commit/{head}/statuses").json()
    assert [(s["key"], s["state"]) for s in listed["values"]] == [("jirabucket", "SUCCESSFUL")]
    assert session.get(f"{api}/pullrequests/1/statuses").json()["values"] == listed["values"]
    one = session.get(f"{api}/commit/{head}/statuses/build/jirabucket").json()
    assert one["state"] == "SUCCESSFUL" and one["name"] == "Jira issue"
    put = session.put(f"{api}/commit/{head}/statuses/build/jirabucket", json={"state": "STOPPED"})
    assert put.status_code == 200
    stopped = cloud.build_statuses("acme/api", short)[0]
    assert (stopped.state, stopped.url, stopped.name) == (
        "STOPPED",
        "https://x.test/1",
        "Jira issue",
    )  # a PUT keeps the rest


def test_cloud_refuses_bad_statuses_and_unknown_commits(cloud: BitbucketCloudSimulator) -> None:
    session = _session(cloud.token)
    api = f"{cloud.url}/2.0/repositories/acme/api"
    head = cloud.pull_request("acme/api", 1).source_commit
    no_url = session.post(f"{api}/commit/{head}/statuses/build", json={"key": "k", "state": "SUCCESSFUL"})
    assert no_url.status_code == 400 and no_url.json()["type"] == "error"
    bad_state = session.post(f"{api}/commit/{head}/statuses/build", json={"key": "k", "state": "CANCELLED", "url": "u"})
    assert bad_state.status_code == 400
    unknown = session.post(f"{api}/commit/{'f' * 40}/statuses/build", json={"key": "k", "state": "FAILED", "url": "u"})
    assert unknown.status_code == 404 and unknown.json()["error"]["message"] == "Commit not found"
    assert session.get(f"{api}/commit/{head}/statuses/build/nope").status_code == 404
    assert (
        session.put(f"{api}/commit/{head}/statuses/build/nope", json={"state": "FAILED", "url": "u"}).status_code == 404
    )
    assert cloud.build_statuses("acme/api", head) == ()


def test_dc_stores_builds_per_repository_commit_and_key(dc: BitbucketDataCenterSimulator) -> None:
    session = _session(dc.token)
    head = session.get(f"{dc.url}/rest/api/1.0/projects/ACME/repos/api/pull-requests/1").json()["fromRef"][
        "latestCommit"
    ]
    builds = f"{dc.url}/rest/api/latest/projects/ACME/repos/api/commits/{head}/builds"
    status = {
        "key": "jirabucket",
        "state": "FAILED",
        "url": "https://x.test/1",
        "name": "Jira",
        "ref": "refs/heads/feature/ABC-1",
    }
    posted = session.post(builds, json=status)
    assert posted.status_code == 204 and posted.content == b""
    assert session.post(builds, json={**status, "state": "SUCCESSFUL"}).status_code == 204
    got = session.get(builds, params={"key": "jirabucket"}).json()
    assert (got["key"], got["state"], got["ref"], got["url"]) == (
        "jirabucket",
        "SUCCESSFUL",
        "refs/heads/feature/ABC-1",
        "https://x.test/1",
    )
    assert isinstance(got["createdDate"], int) and got["updatedDate"] >= got["createdDate"]
    assert [(s.key, s.state, s.ref) for s in dc.build_statuses("ACME/api", head)] == [
        ("jirabucket", "SUCCESSFUL", "refs/heads/feature/ABC-1")
    ]
    assert session.get(builds, params={"key": "other"}).status_code == 404
    assert session.delete(builds, params={"key": "jirabucket"}).status_code == 204
    assert dc.build_statuses("ACME/api", head) == ()


def test_dc_refuses_bad_builds(dc: BitbucketDataCenterSimulator) -> None:
    session = _session(dc.token)
    head = dc.pull_request("ACME/api", 1).source_commit
    builds = f"{dc.url}/rest/api/latest/projects/ACME/repos/api/commits/{head}/builds"
    missing = session.post(builds, json={"key": "k", "state": "SUCCESSFUL"})
    assert (
        missing.status_code == 400
        and {"context": "url", "message": "url must not be blank"} in missing.json()["errors"]
    )
    assert session.post(builds, json={"key": "k", "state": "STOPPED", "url": "u"}).status_code == 400  # a Cloud state
    unknown = session.post(builds.replace(head, "f" * 40), json={"key": "k", "state": "FAILED", "url": "u"})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["exceptionName"] == "com.atlassian.bitbucket.commit.NoSuchCommitException"
    assert session.get(builds).status_code == 400  # key is required
    other_repo = builds.replace("/repos/api/", "/repos/web/")
    assert session.post(other_repo, json={"key": "k", "state": "FAILED", "url": "u"}).status_code == 404


def test_statuses_can_be_seeded_and_are_checked_per_flavor(
    cloud: BitbucketCloudSimulator, dc: BitbucketDataCenterSimulator
) -> None:
    cloud.set_build_status("acme/api", "feature/ABC-1", key="ci", state="INPROGRESS")
    dc.set_build_status("ACME/api", "main", key="ci", state="CANCELLED")
    assert cloud.build_statuses("acme/api", cloud.pull_request("acme/api", 1).source_commit)[0].state == "INPROGRESS"
    assert dc.build_statuses("ACME/api", dc.branches("ACME/api")["main"])[0].state == "CANCELLED"
    with pytest.raises(ValueError):
        cloud.set_build_status("acme/api", "main", key="ci", state="CANCELLED")
    with pytest.raises(ValueError):
        dc.set_build_status("ACME/api", "no-such-ref", key="ci", state="FAILED")
