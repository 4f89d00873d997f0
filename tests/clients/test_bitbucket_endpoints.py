"""Bitbucket endpoints for CI and releases: request and answer shapes per flavor, checked with ``responses``.

Each call goes through a queued :class:`BitbucketClient` on a recording queue, so
the tests also see the JSON arguments and the retry flags each declaration gives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from client_helpers import RecordingQueue

from jirabucket.clients import BitbucketClient
from jirabucket.errors import AuthError, ConfigError
from jirabucket.models import Commit, PullRequest
from jirabucket.tokens import BitbucketToken

SECRET = "bitbucket-endpoints-secret-01"
CLOUD_API = "https://api.bitbucket.org/2.0/repositories/acme/widgets"
DC_API = "https://git.example.com/rest/api/1.0/projects/PRJ/repos/widgets"
HEAD = "a" * 40
BASE = "b" * 40


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """Answers registered per test; every one of them must be asked for."""
    with responses.RequestsMock() as requests_mock:
        yield requests_mock


@pytest.fixture(params=["cloud", "datacenter"])
def bb(request: pytest.FixtureRequest, mock: responses.RequestsMock, recorder: RecordingQueue
       ) -> Iterator[BitbucketClient]:
    url = "https://bitbucket.org" if request.param == "cloud" else "https://git.example.com"
    with BitbucketClient(url, BitbucketToken(SECRET), queue=recorder) as client:
        yield client


def _cloud(bb: BitbucketClient) -> bool:
    return bb.flavor == "cloud"


def _repo(bb: BitbucketClient) -> str:
    return "acme/widgets" if _cloud(bb) else "PRJ/widgets"


def _query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def test_pull_request_reads_one_with_its_source_commit(
    bb: BitbucketClient, mock: responses.RequestsMock, recorder: RecordingQueue
) -> None:
    if _cloud(bb):
        mock.get(f"{CLOUD_API}/pullrequests/7", json={
            "id": 7, "title": "ABC-1 Login", "description": "", "state": "OPEN",
            "updated_on": "2026-03-01T10:00:00.000000+00:00", "author": {"display_name": "Alice"},
            "source": {"branch": {"name": "feature/ABC-1"}, "commit": {"hash": HEAD[:12]}},
            "destination": {"branch": {"name": "main"}, "commit": {"hash": BASE[:12]}},
            "links": {"html": {"href": "https://bitbucket.org/acme/widgets/pull-requests/7"}},
        })
        web, head = "https://bitbucket.org/acme/widgets/pull-requests/7", HEAD[:12]
    else:
        mock.get(f"{DC_API}/pull-requests/7", json={
            "id": 7, "title": "ABC-1 Login", "state": "OPEN", "updatedDate": 1772359200000,
            "author": {"user": {"displayName": "Alice"}},
            "fromRef": {"displayId": "feature/ABC-1", "latestCommit": HEAD},
            "toRef": {"displayId": "main", "latestCommit": BASE},
            "links": {"self": [{"href": "https://git.example.com/projects/PRJ/repos/widgets/pull-requests/7"}]},
        })
        web, head = "https://git.example.com/projects/PRJ/repos/widgets/pull-requests/7", HEAD
    assert bb.pull_request(_repo(bb), 7) == PullRequest(
        repo=_repo(bb), id=7, title="ABC-1 Login", description="", state="OPEN",
        source_branch="feature/ABC-1", destination_branch="main", web_url=web,
        updated=datetime(2026, 3, 1, 10, tzinfo=UTC), author="Alice", source_commit=head,
    )
    assert recorder.flags == [("bitbucket.pull_request", True, None)]


def test_set_build_status_posts_to_each_flavors_endpoint(
    bb: BitbucketClient, mock: responses.RequestsMock, recorder: RecordingQueue
) -> None:
    if _cloud(bb):
        url = f"{CLOUD_API}/commit/{HEAD}/statuses/build"
        mock.post(url, status=201, json={"key": "jirabucket", "state": "STOPPED"})
    else:
        url = f"https://git.example.com/rest/api/latest/projects/PRJ/repos/widgets/commits/{HEAD}/builds"
        mock.post(url, status=204)
    bb.set_build_status(_repo(bb), HEAD, key="jirabucket", state="STOPPED", name="Jira issue",
                        url="https://acme.atlassian.net/browse/ABC-1", description="ABC-1 exists",
                        ref="feature/ABC-1")
    sent = json.loads(mock.calls[0].request.body or b"")
    common = {"key": "jirabucket", "name": "Jira issue", "url": "https://acme.atlassian.net/browse/ABC-1",
              "description": "ABC-1 exists"}
    if _cloud(bb):
        assert sent == {**common, "state": "STOPPED", "refname": "feature/ABC-1"}
    else:  # Data Center has no STOPPED and wants a full ref
        assert sent == {**common, "state": "CANCELLED", "ref": "refs/heads/feature/ABC-1"}
    assert recorder.flags == [("bitbucket.set_build_status", True, f"{_repo(bb)}#{HEAD}")]
    with pytest.raises(ConfigError, match="not a commit hash"):
        bb.set_build_status(_repo(bb), "../../x", key="k", state="FAILED", name="n", url="https://x")
    assert len(mock.calls) == 1


def test_commits_between_pages_through_the_range_lazily(
    bb: BitbucketClient, mock: responses.RequestsMock, recorder: RecordingQueue
) -> None:
    def cloud_commit(n: int, parents: list[str]) -> dict[str, Any]:
        return {"hash": f"{n:040x}", "message": f"ABC-{n} change", "author": {"raw": "Alice <a@x>"},
                "parents": [{"hash": p} for p in parents]}

    def dc_commit(n: int, parents: list[str]) -> dict[str, Any]:
        return {"id": f"{n:040x}", "message": f"ABC-{n} change", "author": {"name": "alice", "displayName": "Alice"},
                "parents": [{"id": p, "displayId": p[:11]} for p in parents]}

    merge = [f"{2:040x}", f"{1:040x}"]
    next_page = ""
    if _cloud(bb):
        url = f"{CLOUD_API}/commits"
        first = {"include": "v2.0", "exclude": "v1.0", "pagelen": "100"}
        next_page = f"{url}?include=v2.0&page=2"  # as if the link dropped exclude
        mock.get(url, json={"values": [cloud_commit(3, merge)], "next": next_page},
                 match=[responses.matchers.query_param_matcher(first)])
        mock.get(url, json={"values": [cloud_commit(2, [f"{1:040x}"])]},
                 match=[responses.matchers.query_param_matcher({"page": "2"}, strict_match=False)])
    else:
        url = f"{DC_API}/commits"
        mock.get(url, json={"values": [dc_commit(3, merge)], "isLastPage": False, "nextPageStart": 1},
                 match=[responses.matchers.query_param_matcher(
                     {"since": "v1.0", "until": "v2.0", "start": "0", "limit": "100"})])
        mock.get(url, json={"values": [dc_commit(2, [f"{1:040x}"])], "isLastPage": True},
                 match=[responses.matchers.query_param_matcher({"start": "1"}, strict_match=False)])
    commits = bb.commits_between(_repo(bb), include="v2.0", exclude="v1.0")
    assert recorder.submitted == []  # nothing until iterated
    assert list(commits) == [
        Commit(f"{3:040x}", "ABC-3 change", "Alice", parents=tuple(merge)),
        Commit(f"{2:040x}", "ABC-2 change", "Alice", parents=(f"{1:040x}",)),
    ]
    assert [t.args["cursor"] for t in recorder.submitted] == [None, next_page if _cloud(bb) else 1]
    assert set(recorder.flags) == {("bitbucket.commits_between_page", True, None)}
    if _cloud(bb):  # the range survives on every page even if a next link dropped part of it
        assert _query(mock.calls[1])["exclude"] == ["v1.0"]


def test_verify_access_reads_the_repository_and_nothing_else(
    bb: BitbucketClient, mock: responses.RequestsMock
) -> None:
    url = CLOUD_API if _cloud(bb) else DC_API
    mock.get(url, json={"slug": "widgets"})
    mock.get(url, status=403, json={"type": "error", "error": {
        "message": "Your credentials lack one or more required privilege scopes."}})
    assert bb.verify_access(_repo(bb)) is None
    with pytest.raises(AuthError) as caught:
        bb.verify_access(_repo(bb))
    assert caught.value.status == 403
    assert [urlsplit(c.request.url).path for c in mock.calls] == [urlsplit(url).path] * 2
    if _cloud(bb):
        assert _query(mock.calls[0]) == {"fields": ["slug"]}
