"""The simulators' answers validate against Atlassian's own OpenAPI specs.

Specs live outside the package, in ``../shared/specs`` next to the repository;
this module skips (with a message saying so) only when that folder is absent.

Where the spec itself is wrong or silent, it is noted next to the case:

* Jira Cloud formats timestamps as ``2026-01-05T09:00:00.000+0000`` (no colon in
  the offset), but the spec declares ``format: date-time`` (RFC 3339), which
  rejects that form; the spec's own examples use ``+0000``. We accept that form
  as a date-time and reject anything else.
* ``/rest/api/3/search/jql`` declares ``nextPageToken`` a string that is null on
  the last page; Jira omits it instead, which the schema allows.
* ``POST /rest/api/3/issue/bulkfetch``: the spec says issues that are not found
  are left out of ``issueErrors``; our contract (and the sync engine) list them
  there with an ``errorMessage``, which the schema still accepts.
* ``POST issue/{key}/transitions`` declares an ``application/json`` body for its
  204; a 204 has no body, so we check it is empty instead.
* Bitbucket DC marks every ``links`` property ``writeOnly``, yet the product
  returns links (clients read a PR's web URL from ``links.self[0].href``); the
  flag is dropped when loading that spec.
* Bitbucket Cloud declares ``content``/``summary`` and a PR endpoint's ``commit``
  without the ``type`` member the live API adds, and ``merge_commit``/``closed_by`` not nullable; the
  simulator leaves those out rather than send what the spec forbids.
* Jira v2 (``/rest/api/2``) and Jira Data Center have no vendored spec; their
  shapes are covered by the behaviour tests only.
* Bitbucket Cloud's ``GET /2.0/user`` declares no 403, which it answers access
  tokens, and its 429 (plain text) is declared nowhere: behaviour tests only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from jirabucket.testing import (
    RESOLUTION,
    BitbucketCloudSimulator,
    BitbucketDataCenterSimulator,
    JiraCloudSimulator,
    Workflow,
)

SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "specs"

if not SPECS.is_dir():
    pytest.skip(
        f"Atlassian OpenAPI specs not found at {SPECS.resolve()}; fidelity tests need them",
        allow_module_level=True,
    )

# openapi_core is imported where it is used: it takes ~0.9 s, and every xdist worker collects this module.
if TYPE_CHECKING:
    from openapi_core import OpenAPI

_JIRA_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d{4}|[+-]\d\d:\d\d|Z)$")


def _date_time(value: str) -> bool:
    return bool(_JIRA_TIME.match(value))


@cache
def _openapi(name: str) -> OpenAPI:
    """Load and cache one spec (1-2.5 MB); the vendored files fail strict spec checks."""
    spec = json.loads((SPECS / name).read_text(encoding="utf-8"))
    if name.startswith("bitbucket-datacenter"):
        _drop_write_only_links(spec)
    from openapi_core import Config, OpenAPI

    config = Config(spec_validator_cls=None, extra_format_validators={"date-time": _date_time})
    return OpenAPI.from_dict(spec, config=config)


def _drop_write_only_links(node: Any) -> None:
    """Remove ``writeOnly`` from every ``links`` property, wherever it is nested."""
    if isinstance(node, dict):
        links = (node.get("properties") or {}).get("links")
        if isinstance(links, dict):
            links.pop("writeOnly", None)
        for child in node.values():
            _drop_write_only_links(child)
    elif isinstance(node, list):
        for child in node:
            _drop_write_only_links(child)


@dataclass(frozen=True)
class Case:
    """One call: where to send it, and how the spec names its host and path."""

    product: str
    method: str
    path: str
    status: int
    body: Any = None


_JIRA_HOST = "https://your-domain.atlassian.net"
_BBC_HOST = "https://api.bitbucket.org"
_BBDC_HOST = "http://example.com:7990"
_SPEC = {
    "jira": ("jira-cloud-platform.v3.json", _JIRA_HOST),
    "bbc": ("bitbucket-cloud.v3.json", _BBC_HOST),
    "bbdc": ("bitbucket-datacenter-9.2.v3.json", _BBDC_HOST),
}
_REMOTE_LINK = {
    "globalId": "bitbucket:acme/api:1",
    "application": {"type": "com.atlassian.bitbucket", "name": "Bitbucket"},
    "relationship": "mentioned in",
    "object": {"url": "https://example.test/pr/1", "title": "PR #1", "status": {"resolved": False}},
}
_ADF = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}]}
_PR = "/2.0/repositories/acme/api/pullrequests"
_DC_REPO = "/rest/api/latest/projects/ACME/repos/api"
_COMMIT = "/2.0/repositories/acme/api/commit/{head}"
_STATUS = {
    "key": "jirabucket",
    "state": "FAILED",
    "name": "Jira issue",
    "url": "https://x.test/ABC-1",
    "description": "x",
}

CASES = [
    Case("jira", "GET", "/rest/api/3/myself", 200),
    Case("jira", "GET", "/rest/api/3/serverInfo", 200),
    Case("jira", "GET", "/rest/api/3/issue/ABC-1", 200),
    Case("jira", "GET", "/rest/api/3/issue/ABC-1?fields=summary,status,project", 200),
    Case("jira", "GET", "/rest/api/3/issue/ABC-1?fields=status&expand=transitions", 200),
    Case(
        "jira",
        "POST",
        "/rest/api/3/issue/bulkfetch",
        200,
        {"issueIdsOrKeys": ["ABC-1", "ABC-99"], "fields": ["summary"]},
    ),
    Case("jira", "GET", "/rest/api/3/search/jql?jql=project%20%3D%20ABC&maxResults=1&fields=summary", 200),
    Case("jira", "POST", "/rest/api/3/search/jql", 200, {"jql": "key in (ABC-1, ABC-2)", "fields": ["status"]}),
    Case("jira", "GET", "/rest/api/3/search/jql?jql=key%20%3D%20ABC-99", 400),
    Case("jira", "GET", "/rest/api/3/issue/ABC-1/remotelink", 200),
    Case("jira", "POST", "/rest/api/3/issue/ABC-2/remotelink", 201, _REMOTE_LINK),
    Case("jira", "POST", "/rest/api/3/issue/ABC-2/remotelink", 200, _REMOTE_LINK),
    Case("jira", "GET", "/rest/api/3/issue/ABC-1/comment", 200),
    Case("jira", "POST", "/rest/api/3/issue/ABC-1/comment", 201, {"body": _ADF}),
    Case("jira", "GET", "/rest/api/3/issue/ABC-1/transitions", 200),
    Case("jira", "POST", "/rest/api/3/issue/ABC-2/transitions", 204, {"transition": {"id": "11"}}),
    Case("bbc", "GET", "/2.0/user", 200),
    Case("bbc", "GET", "/2.0/repositories/acme/api", 200),
    Case("bbc", "GET", _PR + "?state=OPEN&state=MERGED&pagelen=2&sort=-updated_on", 200),
    Case("bbc", "GET", _PR + "/1", 200),
    Case("bbc", "GET", _PR + "/1/commits", 200),
    Case("bbc", "GET", _PR + "/1/comments", 200),
    Case("bbc", "POST", _PR + "/1/comments", 201, {"content": {"raw": "Linked ABC-1"}}),
    Case("bbc", "GET", "/2.0/repositories/acme/api/refs/branches", 200),
    Case("bbc", "POST", "/2.0/repositories/acme/api/refs/branches", 201, {"name": "x", "target": {"hash": "a" * 40}}),
    Case("bbc", "GET", "/2.0/repositories/acme/nope", 404),
    Case("bbdc", "GET", "/rest/api/latest/projects/ACME/repos", 200),
    Case("bbdc", "GET", _DC_REPO, 200),
    Case("bbdc", "GET", _DC_REPO + "/pull-requests?state=ALL&limit=2", 200),
    Case("bbdc", "GET", _DC_REPO + "/pull-requests/1", 200),
    Case("bbdc", "GET", _DC_REPO + "/pull-requests/1/commits", 200),
    Case("bbdc", "GET", _DC_REPO + "/pull-requests/1/activities", 200),
    Case("bbdc", "POST", _DC_REPO + "/pull-requests/1/comments", 201, {"text": "Linked ABC-1"}),
    Case("bbdc", "GET", _DC_REPO + "/branches", 200),
    Case("bbdc", "POST", _DC_REPO + "/branches", 200, {"name": "feature/x", "startPoint": "main"}),
    Case("bbdc", "GET", "/rest/api/latest/users/bot", 200),
    Case("bbdc", "GET", _DC_REPO + "/pull-requests/999", 404),
    # Transition screens, resolutions, broken pull requests (issue 11).
    Case("jira", "GET", "/rest/api/3/issue/ABC-4?expand=transitions.fields", 200),
    Case("jira", "GET", "/rest/api/3/issue/ABC-4/transitions?expand=transitions.fields", 200),
    Case("jira", "POST", "/rest/api/3/issue/ABC-4/transitions", 400, {"transition": {"id": "51"}}),
    Case(
        "jira",
        "POST",
        "/rest/api/3/issue/ABC-4/transitions",
        204,
        {"transition": {"id": "51"}, "fields": {"resolution": {"name": "Done"}}},
    ),
    Case("jira", "GET", "/rest/api/3/issue/ABC-4?fields=status,resolution", 200),
    Case("bbc", "GET", _PR + "/4/commits", 404),
    Case("bbdc", "GET", _DC_REPO + "/pull-requests/4/commits", 404),
    # Build statuses on a pull request's head commit (issue 12); {head} is PR 1's head hash.
    Case("bbc", "GET", _PR + "/1", 200),
    Case("bbc", "POST", _COMMIT + "/statuses/build", 201, _STATUS),
    Case("bbc", "POST", _COMMIT + "/statuses/build", 201, {**_STATUS, "state": "SUCCESSFUL"}),
    Case("bbc", "GET", _COMMIT + "/statuses", 200),
    Case("bbc", "GET", _COMMIT + "/statuses/build/jirabucket", 200),
    Case("bbc", "PUT", _COMMIT + "/statuses/build/jirabucket", 200, {"state": "STOPPED", "url": "https://x.test"}),
    Case("bbc", "GET", _PR + "/1/statuses", 200),
    Case("bbc", "POST", "/2.0/repositories/acme/api/commit/" + "f" * 40 + "/statuses/build", 404, _STATUS),
    Case("bbdc", "POST", _DC_REPO + "/commits/{head}/builds", 204, _STATUS),
    Case("bbdc", "GET", _DC_REPO + "/commits/{head}/builds?key=jirabucket", 200),
    Case("bbdc", "GET", _DC_REPO + "/commits/{head}/builds?key=nope", 404),
    # Commits between refs, tags, versions and fixVersions (issue 14); {main} is main's head.
    Case("bbc", "GET", "/2.0/repositories/acme/api/commits?include=v1.1&exclude=v1.0", 200),
    Case("bbc", "GET", "/2.0/repositories/acme/api/commits/main?pagelen=2", 200),
    Case("bbc", "GET", "/2.0/repositories/acme/api/commits?include=nope", 404),
    Case("bbc", "GET", "/2.0/repositories/acme/api/commit/{main}", 200),
    Case("bbc", "GET", "/2.0/repositories/acme/api/refs/tags", 200),
    Case("bbdc", "GET", _DC_REPO + "/commits?since=v1.0&until=v1.1", 200),
    Case("bbdc", "GET", _DC_REPO + "/commits?until=nope", 404),
    Case("bbdc", "GET", _DC_REPO + "/commits/{main}", 200),
    Case("bbdc", "GET", _DC_REPO + "/tags", 200),
    Case("jira", "GET", "/rest/api/3/project/ABC", 200),
    Case("jira", "GET", "/rest/api/3/project/NOPE", 404),
    Case("jira", "GET", "/rest/api/3/project/ABC/versions", 200),
    Case("jira", "POST", "/rest/api/3/version", 201, {"name": "2.0", "project": "ABC", "releaseDate": "2026-03-01"}),
    Case("jira", "POST", "/rest/api/3/version", 400, {"name": "2.0", "project": "ABC"}),
    Case("jira", "PUT", "/rest/api/3/version/10001", 200, {"released": True, "releaseDate": "2026-03-02"}),
    Case("jira", "GET", "/rest/api/3/version/10000", 200),
    Case("jira", "GET", "/rest/api/3/project/NOPE/versions", 404),
    Case("jira", "PUT", "/rest/api/3/issue/ABC-1", 204, {"update": {"fixVersions": [{"add": {"name": "2.0"}}]}}),
    Case("jira", "PUT", "/rest/api/3/issue/ABC-1", 400, {"update": {"fixVersions": [{"add": {"name": "9.9"}}]}}),
    Case("jira", "GET", "/rest/api/3/issue/ABC-1?fields=fixVersions,issuetype", 200),
    # A comment read and deleted by id (issue 15); the fixture seeds comment 10000.
    Case("jira", "GET", "/rest/api/3/issue/ABC-1/comment/10000", 200),
    Case("jira", "DELETE", "/rest/api/3/issue/ABC-1/comment/10000", 204),
    Case("jira", "DELETE", "/rest/api/3/issue/ABC-1/comment/10000", 404),
]


@dataclass(frozen=True)
class World:
    """Where to send each product's calls, and per product the hashes paths name as ``{head}`` and ``{main}``."""

    sessions: dict[str, tuple[str, requests.Session]]
    names: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with (
        JiraCloudSimulator() as jira,
        BitbucketCloudSimulator() as bbc,
        BitbucketDataCenterSimulator() as bbdc,
    ):
        jira.set_workflow(Workflow.default().with_screen("Done", RESOLUTION))
        for key in ("ABC-1", "ABC-2", "ABC-3"):
            jira.add_issue(key, summary=f"Issue {key}", description="Some text")
        jira.add_issue("ABC-4", status="In Review")
        jira.add_version("ABC", "1.0", released=True, release_date=date(2026, 1, 5))
        jira.add_issue("ABC-5", issue_type="Bug", fix_versions=["1.0"])
        jira.add_comment("ABC-1", "Seeded by a colleague")
        for sim, repo in ((bbc, "acme/api"), (bbdc, "ACME/api")):
            sim.add_repository(repo)
            for n in (1, 2, 3, 4):
                sim.add_pull_request(
                    repo,
                    title=f"ABC-{n}: change",
                    source_branch=f"feature/ABC-{n}",
                    commits=["ABC-1 fix"],
                    state="OPEN" if n < 3 else "MERGED",
                )
            sim.break_commits(repo, 4)
            sim.add_tag(repo, "v1.0", "main")
            sim.add_commit(repo, "ABC-1 first change")
            sim.merge(repo, "feature/ABC-2")
            sim.add_tag(repo, "v1.1", "main")
        jira_s, bbc_s, bbdc_s = requests.Session(), requests.Session(), requests.Session()
        jira_s.auth = (jira.email, jira.token)
        bbc_s.headers["Authorization"] = f"Bearer {bbc.token}"
        bbdc_s.headers["Authorization"] = f"Bearer {bbdc.token}"
        names = {
            product: {"head": sim.pull_request(repo, 1).source_commit, "main": sim.branches(repo)["main"]}
            for product, sim, repo in (("bbc", bbc, "acme/api"), ("bbdc", bbdc, "ACME/api"))
        }
        yield World(
            {"jira": (jira.url, jira_s), "bbc": (bbc.url, bbc_s), "bbdc": (bbdc.url, bbdc_s)},
            {**names, "jira": {}},
        )


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.product}-{c.method}-{c.path}-{c.status}")
def test_response_matches_spec(case: Case, world: World) -> None:
    from openapi_core.testing import MockRequest, MockResponse

    base, session = world.sessions[case.product]
    path_and_query = case.path.format(**world.names[case.product])
    answer = session.request(case.method, base + path_and_query, json=case.body, timeout=10)
    assert answer.status_code == case.status, answer.text
    if case.status == 204:
        assert answer.content == b""
        return
    spec_name, host = _SPEC[case.product]
    path, _, query = path_and_query.partition("?")
    request = MockRequest(
        host,
        case.method.lower(),
        path,
        args=_query(query),
        data=json.dumps(case.body) if case.body is not None else None,
        content_type="application/json",
    )
    content_type = answer.headers.get("Content-Type", "application/json").split(";")[0]
    response = MockResponse(answer.content, status_code=answer.status_code, content_type=content_type)
    _openapi(spec_name).validate_response(request, response)


def _query(query: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(query))


def test_the_validator_rejects_a_wrong_shape() -> None:
    """Guard against a validation that passes everything (e.g. an unmatched path)."""
    from openapi_core.testing import MockRequest, MockResponse

    request = MockRequest(_JIRA_HOST, "get", "/rest/api/3/myself")
    wrong = MockResponse(json.dumps({"accountId": 5, "active": "yes"}).encode(), status_code=200)
    with pytest.raises(Exception, match="not valid"):
        _openapi("jira-cloud-platform.v3.json").validate_response(request, wrong)
    bad_dc = MockResponse(json.dumps({"errors": "nope"}).encode(), status_code=404)
    dc_request = MockRequest(_BBDC_HOST, "get", "/rest/api/latest/projects/ACME/repos/api/pull-requests/9")
    with pytest.raises(Exception, match="not valid"):
        _openapi("bitbucket-datacenter-9.2.v3.json").validate_response(dc_request, bad_dc)
