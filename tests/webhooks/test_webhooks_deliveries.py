"""Deliveries over real HTTP: what is synced, what is ignored, what is refused, and how each is logged."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from webhook_harness import Served, cloud_payload, dc_payload, empty_world, pr_reads, serving, sign, wait_for

from syncworld import World


@pytest.fixture(params=["cloud", "datacenter"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with empty_world(tmp_path, request.param) as w:
        yield w


@pytest.fixture
def served(world: World) -> Iterator[Served]:
    with serving(world) as s:
        yield s


def _api(world: World) -> str:
    return world.settings().bitbucket.repositories[0]  # acme/api or ACME/api


def test_pull_request_event_syncs_the_pull_request_as_bitbucket_has_it(world: World, served: Served) -> None:
    world.jira.add_issue("ABC-1", status="To Do")
    world.jira.add_issue("ABC-999", status="To Do")
    pr = world.bitbucket.add_pull_request(_api(world), title="ABC-1 fix login", source_branch="feature/ABC-1")
    answer = served.deliver.pull_request_event(_api(world), pr)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"outcome": "accepted", "repository": _api(world), "pull_request": pr}
    wait_for(lambda: served.deliver.health()["pending_pull_requests"] == 0 and world.jira.issue("ABC-1").comments)
    snap = world.jira.issue("ABC-1")
    assert len(snap.remote_links) == 1 and len(snap.comments) == 1
    assert snap.status == "In Review"  # [sync.transitions] open
    # The payload's title and branch name ABC-999 and ABC-998: never trusted, only the id is.
    assert not world.jira.issue("ABC-999").remote_links
    assert pr_reads(world, pr) == 1


@pytest.mark.parametrize(
    "event", ["pr:opened", "pr:modified", "pr:from_ref_updated", "pr:merged", "pr:declined"]
)
def test_every_data_center_pull_request_event_is_accepted(tmp_path: Path, event: str) -> None:
    with empty_world(tmp_path, "datacenter") as world, serving(world, window=60) as served:
        answer = served.deliver.post(event, dc_payload("ACME/api", 7, event))
        assert answer.status_code == 202, answer.text
        assert served.deliver.health()["pending_pull_requests"] == 1


@pytest.mark.parametrize(
    "event", ["pullrequest:created", "pullrequest:updated", "pullrequest:fulfilled", "pullrequest:rejected"]
)
def test_every_cloud_pull_request_event_is_accepted(tmp_path: Path, event: str) -> None:
    with empty_world(tmp_path, "cloud") as world, serving(world, window=60) as served:
        answer = served.deliver.post(event, cloud_payload("acme/api", 7))
        assert answer.status_code == 202, answer.text
        assert served.deliver.health()["pending_pull_requests"] == 1


def test_merged_pull_request_moves_its_issue_to_done(world: World, served: Served) -> None:
    world.jira.add_issue("ABC-2", status="In Review")
    pr = world.bitbucket.add_pull_request(_api(world), title="ABC-2 ship", source_branch="ABC-2", state="MERGED")
    event, payload = (
        ("pullrequest:fulfilled", {"repository": {"full_name": _api(world)}, "pullrequest": {"id": pr}})
        if world.flavor == "cloud" else ("pr:merged", dc_payload(_api(world), pr, "pr:merged"))
    )
    assert served.deliver.post(event, payload).status_code == 202
    wait_for(lambda: world.jira.issue("ABC-2").status == "Done")


def test_duplicate_delivery_makes_no_second_sync(world: World, served: Served) -> None:
    world.jira.add_issue("ABC-3")
    pr = world.bitbucket.add_pull_request(_api(world), title="ABC-3", source_branch="b")
    first = served.deliver.pull_request_event(_api(world), pr, delivery="d6c1b1a4-0b57-4e0e-9b1e-3f2a5c9d8e7f")
    assert first.status_code == 202
    wait_for(lambda: served.deliver.health()["pending_pull_requests"] == 0 and pr_reads(world, pr) == 1)
    again = served.deliver.pull_request_event(_api(world), pr, delivery="d6c1b1a4-0b57-4e0e-9b1e-3f2a5c9d8e7f")
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert served.deliver.health()["pending_pull_requests"] == 0  # recorded nothing: no sync to come
    assert served.deliver.health()["pull_request_syncs"] == 1


def test_repository_not_configured_is_ignored_and_logged(
    world: World, served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    other = "acme/secret-project" if world.flavor == "cloud" else "ACME/secret-project"
    world.bitbucket.add_repository(other)
    pr = world.bitbucket.add_pull_request(other, title="ABC-4", source_branch="b")
    world.bitbucket.clear_requests()
    with caplog.at_level(logging.INFO, logger="jirabucket.webhooks"):
        answer = served.deliver.pull_request_event(other, pr)
    assert answer.status_code == 200 and answer.json()["outcome"] == "ignored: repository not configured"
    assert served.deliver.health()["pending_pull_requests"] == 0
    assert world.bitbucket.requests == []
    assert any("repository not configured" in r.getMessage() and other in r.getMessage() for r in caplog.records)


def test_repository_names_match_without_regard_to_case(world: World, served: Served) -> None:
    world.jira.add_issue("ABC-5")
    pr = world.bitbucket.add_pull_request(_api(world), title="ABC-5", source_branch="b")
    shouted = _api(world).upper() if world.flavor == "cloud" else _api(world).lower()
    answer = served.deliver.pull_request_event(shouted, pr)
    assert answer.status_code == 202 and answer.json()["repository"] == _api(world)  # the configured spelling
    wait_for(lambda: world.jira.issue("ABC-5").remote_links)


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("diagnostics:ping", {"test": True}),  # Data Center's "Test connection" button
        ("repo:push", {"repository": {"full_name": "acme/api"}, "push": {"changes": []}}),
        ("pr:comment:added", {"pullRequest": {"id": 1}}),
        ("pullrequest:approved", {"repository": {"full_name": "acme/api"}, "pullrequest": {"id": 1}}),
    ],
)
def test_other_events_are_answered_2xx_and_ignored(
    world: World, served: Served, event: str, payload: dict[str, object]
) -> None:
    answer = served.deliver.post(event, payload)
    assert answer.status_code == 200
    assert answer.json() == {"outcome": "ignored: not a pull request event"}
    assert served.deliver.health()["pending_pull_requests"] == 0


def test_signed_body_that_is_not_json_is_400(served: Served) -> None:
    answer = served.deliver.post("pullrequest:updated", None, body=b"<xml>nope</xml>")
    assert answer.status_code == 400 and answer.json() == {"outcome": "not JSON"}


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("pullrequest:updated", {"repository": {"full_name": "acme/api"}, "pullrequest": {}}),
        ("pullrequest:updated", {"pullrequest": {"id": 3}}),
        ("pr:opened", {"pullRequest": {"id": 3, "toRef": {"repository": {"slug": "api"}}}}),
        ("pr:opened", {"pullRequest": {"id": "3", "toRef": {"repository": {"slug": "api", "project": {"key": "A"}}}}}),
        ("pr:opened", [1, 2, 3]),
    ],
)
def test_pull_request_event_without_its_identifiers_is_400(
    served: Served, event: str, payload: object
) -> None:
    answer = served.deliver.post(event, payload)
    assert answer.status_code == 400, answer.text
    assert served.deliver.health()["pending_pull_requests"] == 0


def test_body_over_one_mib_is_413_and_never_parsed(served: Served) -> None:
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    answer = served.deliver.post("pullrequest:updated", None, body=body)
    assert answer.status_code == 413
    assert answer.json() == {"outcome": "body too large"}


def test_huge_declared_body_is_refused_from_its_content_length(served: Served) -> None:
    body = b"x" * (5 * 1024 * 1024)  # far over: waitress itself refuses before buffering it
    answer = served.deliver.post("pullrequest:updated", None, body=body)
    assert answer.status_code == 413


def _event_of(world: World, pr_id: int) -> tuple[str, dict[str, object]]:
    if world.flavor == "cloud":
        return "pullrequest:updated", cloud_payload(_api(world), pr_id)
    return "pr:modified", dc_payload(_api(world), pr_id, "pr:modified")


def test_body_of_exactly_one_mib_is_taken(world: World, served: Served) -> None:
    event, payload = _event_of(world, 1)
    payload["pad"] = ""
    payload["pad"] = "x" * (1024 * 1024 - len(json.dumps(payload).encode()))
    body = json.dumps(payload).encode()
    assert len(body) == 1024 * 1024
    assert served.deliver.post(event, None, body=body).status_code == 202


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(served: Served, method: str) -> None:
    answer = requests.request(method, f"{served.deliver.url}/webhooks/bitbucket", timeout=10)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"


def test_unknown_path_is_404(served: Served) -> None:
    assert requests.post(f"{served.deliver.url}/webhooks/github", data=b"{}", timeout=10).status_code == 404


def test_healthz_reports_queue_pending_reconcile_and_errors(world: World, served: Served) -> None:
    answer = requests.get(f"{served.deliver.url}/healthz", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    doc = answer.json()
    assert doc["status"] == "ok"
    assert {"queue_depth", "pending_pull_requests", "last_reconcile", "last_error"} <= set(doc)
    assert doc["pending_pull_requests"] == 0 and doc["queue_depth"] == 0
    assert doc["last_reconcile"] is None and doc["last_error"] is None  # reconcile off in this test
    assert requests.post(f"{served.deliver.url}/healthz", timeout=10).status_code == 405


def test_a_pull_request_that_does_not_exist_is_dropped_with_an_error(world: World, served: Served) -> None:
    assert served.deliver.pull_request_event(_api(world), 404).status_code == 202
    wait_for(lambda: served.deliver.health()["pending_pull_requests"] == 0)
    error = served.deliver.health()["last_error"]
    assert error is not None and f"{_api(world)}#404" in error and "dropped" in error


def test_one_log_line_per_delivery_with_event_repository_pr_outcome_and_duration(
    world: World, served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    pr = world.bitbucket.add_pull_request(_api(world), title="ABC-6", source_branch="b")
    with caplog.at_level(logging.INFO, logger="jirabucket.webhooks"):
        served.deliver.pull_request_event(_api(world), pr, delivery="0f8fad5b-d9cb-469f-a165-70867728950e")
        served.deliver.post("pullrequest:updated", {"x": 1}, signature="sha256=" + "0" * 64)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("delivery ")]
    assert len(lines) == 2
    event = "pullrequest:updated" if world.flavor == "cloud" else "pr:modified"
    assert lines[0].startswith(f"delivery event={event} repository={_api(world)} pr={pr} outcome=\"accepted\"")
    assert "status=202 ms=" in lines[0] and "id=0f8fad5b-d9cb-469f-a165-70867728950e" in lines[0]
    assert 'outcome="signature mismatch" status=401' in lines[1]
    assert "whsec" not in caplog.text and "SECRET" not in caplog.text


def test_signature_is_checked_over_the_raw_bytes_with_hex_in_either_case(served: Served, world: World) -> None:
    event, payload = _event_of(world, 9)
    body = json.dumps(payload, indent=3).encode()  # not how the app would re-serialise it
    upper = "sha256=" + sign(body).removeprefix("sha256=").upper()
    assert served.deliver.post(event, None, body=body, signature=upper).status_code == 202
    reserialised = json.dumps(payload).encode()
    assert served.deliver.post(event, None, body=reserialised, signature=sign(body)).status_code == 401
