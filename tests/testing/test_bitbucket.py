"""Bitbucket Cloud and Data Center simulators: listing, paging, filters, writes, shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from jirabucket.testing import BitbucketCloudSimulator, BitbucketDataCenterSimulator

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


@pytest.fixture
def cloud(bitbucket_cloud: BitbucketCloudSimulator) -> BitbucketCloudSimulator:
    bitbucket_cloud.add_repository("acme/api")
    states = ["OPEN", "MERGED", "DECLINED", "OPEN", "MERGED", "OPEN", "SUPERSEDED"]
    for n, state in enumerate(states):
        bitbucket_cloud.add_pull_request(
            "acme/api",
            title=f"ABC-{n + 1}: change",
            source_branch=f"feature/ABC-{n + 1}",
            state=state,
            updated=T0 + timedelta(hours=n),
            commits=[f"ABC-{n + 1} first", "second"],
        )
    return bitbucket_cloud


def _all_pages(session: requests.Session, url: str, params: dict[str, object]) -> list[dict[str, object]]:
    values, next_url = [], None
    page = session.get(url, params=params).json()
    while True:
        values += page["values"]
        next_url = page.get("next")
        if not next_url:
            return values
        page = session.get(next_url).json()


def test_cloud_lists_open_by_default_and_repeatable_state(cloud: BitbucketCloudSimulator) -> None:
    session = _session(cloud.token)
    url = f"{cloud.url}/2.0/repositories/acme/api/pullrequests"
    assert [pr["id"] for pr in _all_pages(session, url, {})] == [1, 4, 6]
    both = _all_pages(session, url, {"state": ["MERGED", "DECLINED"], "pagelen": 1})
    assert [pr["id"] for pr in both] == [2, 3, 5]


def test_cloud_bbql_sort_and_next_links_keep_the_query(cloud: BitbucketCloudSimulator) -> None:
    session = _session(cloud.token)
    url = f"{cloud.url}/2.0/repositories/acme/api/pullrequests"
    since = (T0 + timedelta(hours=1)).isoformat()
    params = {
        "q": f'updated_on > "{since}" AND state != "SUPERSEDED"',
        "state": ["OPEN", "MERGED", "DECLINED"],
        "sort": "-updated_on",
        "pagelen": 2,
    }
    first = session.get(url, params=params).json()
    assert "q=" in first["next"] and "sort=-updated_on" in first["next"]
    prs = _all_pages(session, url, params)
    assert [pr["id"] for pr in prs] == [6, 5, 4, 3]
    merged = _all_pages(session, url, {"q": 'state = "MERGED"'})
    assert [pr["id"] for pr in merged] == [2, 5]
    bad = session.get(url, params={"q": "title ~ 'x'"})
    assert bad.status_code == 400 and bad.json()["type"] == "error"


def test_cloud_pagelen_is_capped_at_50(bitbucket_cloud: BitbucketCloudSimulator) -> None:
    bitbucket_cloud.add_repository("acme/web")
    for n in range(60):
        bitbucket_cloud.add_pull_request("acme/web", title=f"t{n}", source_branch=f"b{n}")
    page = (
        _session(bitbucket_cloud.token)
        .get(f"{bitbucket_cloud.url}/2.0/repositories/acme/web/pullrequests", params={"pagelen": 100})
        .json()
    )
    assert page["pagelen"] == 50 and len(page["values"]) == 50 and page["size"] == 60


def test_cloud_pr_shape_commits_comments_and_web_url(cloud: BitbucketCloudSimulator) -> None:
    session = _session(cloud.token)
    base = f"{cloud.url}/2.0/repositories/acme/api/pullrequests/2"
    pr = session.get(base).json()
    assert pr["links"]["html"]["href"] == f"{cloud.url}/acme/api/pull-requests/2"
    assert pr["links"]["html"]["href"] == cloud.pull_request("acme/api", 2).web_url
    assert pr["source"]["branch"]["name"] == "feature/ABC-2"
    assert pr["updated_on"] == "2026-03-01T01:00:00.000000+00:00"
    assert [c["message"] for c in session.get(base + "/commits").json()["values"]] == ["second", "ABC-2 first"]
    assert session.post(base + "/comments", json={"content": {"raw": "Linked to ABC-2"}}).status_code == 201
    assert session.get(base + "/comments").json()["values"][0]["content"]["raw"] == "Linked to ABC-2"
    snapshot = cloud.pull_request("acme/api", 2)
    assert snapshot.comments == ("Linked to ABC-2",)
    assert snapshot.updated > T0 + timedelta(hours=6)  # a comment bumps updated_on, as on Bitbucket


def test_cloud_auth_and_errors() -> None:
    with BitbucketCloudSimulator(username="bot") as sim:
        sim.add_repository("acme/api")
        url = f"{sim.url}/2.0/repositories/acme/api"
        assert requests.get(url, auth=("bot", "bb-cloud-token"), timeout=10).status_code == 200
        assert _session("bb-cloud-token").get(url).status_code == 200
        wrong = _session("nope").get(url)
        assert wrong.status_code == 401 and wrong.json()["type"] == "error"
        missing = _session("bb-cloud-token").get(f"{sim.url}/2.0/repositories/acme/zzz")
        assert missing.status_code == 404 and "message" in missing.json()["error"]
        assert [(r.auth_scheme, r.auth_ok) for r in sim.requests] == [
            ("basic", True),
            ("bearer", True),
            ("bearer", False),
            ("bearer", True),
        ]
    with BitbucketCloudSimulator() as no_basic:
        assert requests.get(f"{no_basic.url}/2.0/user", auth=("bot", "bb-cloud-token"), timeout=10).status_code == 401


def test_cloud_branches(cloud: BitbucketCloudSimulator) -> None:
    session = _session(cloud.token)
    url = f"{cloud.url}/2.0/repositories/acme/api/refs/branches"
    assert session.post(url, json={"name": "release", "target": {"hash": "a" * 40}}).status_code == 201
    assert session.post(url, json={"name": "release", "target": {"hash": "a" * 40}}).status_code == 400
    names = [b["name"] for b in _all_pages(session, url, {"pagelen": 50})]
    assert "release" in names and "main" in names and "feature/ABC-1" in names
    assert cloud.branches("acme/api")["release"] == "a" * 40


def test_update_pull_request_bumps_updated(cloud: BitbucketCloudSimulator) -> None:
    before = cloud.pull_request("acme/api", 1).updated
    cloud.update_pull_request("acme/api", 1, state="MERGED", title="new")
    after = cloud.pull_request("acme/api", 1)
    assert after.updated > before and after.state == "MERGED" and after.title == "new"
    with pytest.raises(ValueError):
        cloud.update_pull_request("acme/api", 1, state="WEIRD")
    with pytest.raises(KeyError):
        cloud.pull_request("acme/api", 99)


@pytest.fixture
def dc(bitbucket_datacenter: BitbucketDataCenterSimulator) -> BitbucketDataCenterSimulator:
    bitbucket_datacenter.add_repository("ACME/api")
    for n, state in enumerate(["OPEN", "MERGED", "DECLINED", "OPEN"]):
        bitbucket_datacenter.add_pull_request(
            "ACME/api",
            title=f"ABC-{n + 1}",
            source_branch=f"feature/ABC-{n + 1}",
            state=state,
            updated=T0 + timedelta(hours=n),
            commits=["one", "two"],
        )
    return bitbucket_datacenter


def test_dc_paging_state_and_order(dc: BitbucketDataCenterSimulator) -> None:
    session = _session(dc.token)
    url = f"{dc.url}/rest/api/1.0/projects/ACME/repos/api/pull-requests"
    answer = session.get(url)
    assert answer.headers["X-AUSERNAME"] == "bot"
    assert [pr["id"] for pr in answer.json()["values"]] == [4, 1]  # OPEN, newest first
    ids, start = [], 0
    while True:
        page = session.get(url, params={"state": "ALL", "order": "OLDEST", "limit": 3, "start": start}).json()
        ids += [pr["id"] for pr in page["values"]]
        if page["isLastPage"]:
            break
        start = page["nextPageStart"]
    assert ids == [1, 2, 3, 4]
    pr = session.get(f"{url}/2").json()
    assert pr["updatedDate"] == int((T0 + timedelta(hours=1)).timestamp() * 1000)
    assert pr["links"]["self"][0]["href"] == f"{dc.url}/projects/ACME/repos/api/pull-requests/2"
    assert pr["links"]["self"][0]["href"] == dc.pull_request("ACME/api", 2).web_url
    assert session.get(url, params={"state": "SUPERSEDED"}).status_code == 400


def test_dc_comments_activities_commits_branches(dc: BitbucketDataCenterSimulator) -> None:
    session = _session(dc.token)
    base = f"{dc.url}/rest/api/latest/projects/ACME/repos/api"
    assert session.post(f"{base}/pull-requests/1/comments", json={"text": "Linked ABC-1"}).status_code == 201
    activities = session.get(f"{base}/pull-requests/1/activities").json()["values"]
    assert [a["action"] for a in activities] == ["COMMENTED", "OPENED"]
    assert activities[0]["comment"]["text"] == "Linked ABC-1"
    assert dc.pull_request("ACME/api", 1).comments == ("Linked ABC-1",)
    commits = session.get(f"{base}/pull-requests/1/commits").json()["values"]
    assert [c["message"] for c in commits] == ["two", "one"]
    created = session.post(f"{base}/branches", json={"name": "release", "startPoint": "refs/heads/main"})
    assert created.status_code == 200 and created.json()["displayId"] == "release"
    assert dc.branches("ACME/api")["release"] == dc.branches("ACME/api")["main"]
    names = [b["displayId"] for b in session.get(f"{base}/branches").json()["values"]]
    assert "release" in names


def test_dc_identity_endpoints_and_errors(dc: BitbucketDataCenterSimulator) -> None:
    session = _session(dc.token)
    assert session.get(f"{dc.url}/plugins/servlet/applinks/whoami").text == "bot"
    assert session.get(f"{dc.url}/rest/api/1.0/users/bot").json()["slug"] == "bot"
    missing = session.get(f"{dc.url}/rest/api/1.0/projects/ACME/repos/api/pull-requests/99")
    assert missing.status_code == 404 and missing.json()["errors"][0]["message"]
    wrong = _session("nope").get(f"{dc.url}/rest/api/1.0/users/bot")
    assert wrong.status_code == 401 and "X-AUSERNAME" not in wrong.headers
    repos = session.get(f"{dc.url}/rest/api/1.0/projects/ACME/repos").json()
    assert [r["slug"] for r in repos["values"]] == ["api"]


def test_broken_commits_answer_404_in_each_products_shape_while_the_pr_reads(
    cloud: BitbucketCloudSimulator, dc: BitbucketDataCenterSimulator
) -> None:
    cloud.break_commits("acme/api", 2)
    dc.break_commits("ACME/api", 2)
    cloud_base = f"{cloud.url}/2.0/repositories/acme/api/pullrequests"
    dc_base = f"{dc.url}/rest/api/1.0/projects/ACME/repos/api/pull-requests"
    c = _session(cloud.token).get(f"{cloud_base}/2/commits")
    assert c.status_code == 404 and c.json() == {"type": "error", "error": {"message": "Commit not found"}}
    d = _session(dc.token).get(f"{dc_base}/2/commits")
    head = dc.pull_request("ACME/api", 2).source_commit
    assert d.status_code == 404
    assert d.json() == {
        "errors": [
            {
                "message": f"Commit '{head}' does not exist in repository 'api'.",
                "exceptionName": "com.atlassian.bitbucket.commit.NoSuchCommitException",
            }
        ]
    }
    assert _session(cloud.token).get(f"{cloud_base}/2").status_code == 200
    assert _session(dc.token).get(f"{dc_base}/2").status_code == 200
    assert _session(cloud.token).get(f"{cloud_base}/1/commits").status_code == 200  # only that PR
    cloud.break_commits("acme/api", 2, broken=False)
    assert _session(cloud.token).get(f"{cloud_base}/2/commits").status_code == 200


def test_access_tokens_are_refused_on_user_but_read_repositories() -> None:
    with BitbucketCloudSimulator(access_token=True, username="bot") as sim:
        sim.add_repository("acme/api")
        session = _session(sim.token)
        refused = session.get(f"{sim.url}/2.0/user")
        assert refused.status_code == 403
        assert refused.json() == {
            "type": "error",
            "error": {"message": "This API is not accessible by this authentication mechanism"},
        }
        assert session.get(f"{sim.url}/2.0/repositories/acme/api").status_code == 200
        assert session.get(f"{sim.url}/2.0/repositories/acme/api/pullrequests").status_code == 200
        # An API token (Basic, with an account) may read /2.0/user.
        assert requests.get(f"{sim.url}/2.0/user", auth=("bot", sim.token), timeout=10).status_code == 200


def test_single_pull_request_shows_its_head_commit_and_bot_authors_in_both_flavors() -> None:
    with BitbucketCloudSimulator() as cloud, BitbucketDataCenterSimulator() as dc:
        for sim, repo in ((cloud, "acme/api"), (dc, "ACME/api")):
            sim.add_repository(repo)
            sim.add_pull_request(
                repo, title="Bump x", source_branch="renovate/x", author="renovate[bot]", author_kind="app"
            )
            sim.add_pull_request(repo, title="ABC-1", source_branch="feature/ABC-1", commits=["one", "two"])
        c_bot, c_human = (
            _session(cloud.token).get(f"{cloud.url}/2.0/repositories/acme/api/pullrequests/{n}").json() for n in (1, 2)
        )
        d_bot, d_human = (
            _session(dc.token).get(f"{dc.url}/rest/api/1.0/projects/ACME/repos/api/pull-requests/{n}").json()
            for n in (1, 2)
        )
        assert (c_bot["author"]["type"], c_bot["author"]["nickname"]) == ("app_user", "renovate[bot]")
        assert (c_human["author"]["type"], c_human["author"]["display_name"]) == ("user", "Alice")
        assert (d_bot["author"]["user"]["type"], d_bot["author"]["user"]["name"]) == ("SERVICE", "renovate[bot]")
        assert d_human["author"]["user"]["type"] == "NORMAL"
        cloud_head = cloud.pull_request("acme/api", 2).source_commit
        dc_head = dc.pull_request("ACME/api", 2).source_commit
        assert c_human["source"]["commit"]["hash"] == cloud_head[:12]  # Cloud shows 12 characters
        assert d_human["fromRef"]["latestCommit"] == dc_head  # Data Center the full hash
        assert cloud.commit("acme/api", cloud_head).message == "two"
        assert dc.commit("ACME/api", dc_head).message == "two"
        assert cloud.pull_request("acme/api", 1).author_kind == "app"


@pytest.mark.parametrize("newest_first_by", ["updated", "created"])
def test_dc_newest_order_follows_the_configured_date_and_reports_updated_date(newest_first_by: str) -> None:
    with BitbucketDataCenterSimulator(newest_first_by=newest_first_by) as sim:
        sim.add_repository("ACME/api")
        for n in range(3):
            sim.add_pull_request("ACME/api", title=f"t{n}", source_branch=f"b{n}", updated=T0 + timedelta(hours=n))
        sim.update_pull_request("ACME/api", 1, title="touched", updated=T0 + timedelta(hours=5))
        page = _session(sim.token).get(f"{sim.url}/rest/api/1.0/projects/ACME/repos/api/pull-requests").json()
        ids = [pr["id"] for pr in page["values"]]
        dates = {pr["id"]: pr["updatedDate"] for pr in page["values"]}
    assert dates[1] == int((T0 + timedelta(hours=5)).timestamp() * 1000)
    assert ids == ([1, 3, 2] if newest_first_by == "updated" else [3, 2, 1])
