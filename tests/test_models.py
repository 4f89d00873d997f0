"""The value models: frozen, validated, and the ADF conversion the Jira client relies on."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from jirabucket.clients.jira_json import adf_to_text, text_to_adf
from jirabucket.models import Issue, IssueLookup, PullRequest, User

_PR = dict(repo="ws/r", id=1, title="t", description="", state="OPEN", source_branch="f",
           destination_branch="main", web_url="https://x", author="A")


def test_models_are_frozen_and_slotted() -> None:
    issue = Issue("ABC-1", "s", "To Do", "new", "ABC")
    with pytest.raises(dataclasses.FrozenInstanceError):
        issue.status = "Done"  # type: ignore[misc]
    assert not hasattr(issue, "__dict__")
    assert User("bot", "Bot").email is None


def test_issue_rejects_unknown_status_category() -> None:
    with pytest.raises(ValueError, match="status category"):
        Issue("ABC-1", "s", "To Do", "todo", "ABC")


def test_pull_request_needs_an_aware_time_and_a_known_state() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        PullRequest(updated=datetime(2026, 1, 1), **_PR)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="state"):
        PullRequest(updated=datetime(2026, 1, 1, tzinfo=UTC), **{**_PR, "state": "open"})  # type: ignore[arg-type]
    ok = PullRequest(updated=datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))), **_PR)  # type: ignore[arg-type]
    assert ok.updated == datetime(2026, 1, 1, tzinfo=UTC)


def test_issue_lookup_found_is_read_only() -> None:
    source = {"ABC-1": Issue("ABC-1", "s", "To Do", "new", "ABC")}
    lookup = IssueLookup(source, frozenset({"ABC-2"}))
    source.clear()
    assert set(lookup.found) == {"ABC-1"}
    with pytest.raises(TypeError):
        lookup.found["X-1"] = source  # type: ignore[index]


@pytest.mark.parametrize(
    "text",
    ["one line", "two\nlines", "para one\n\npara two\nwith break", "ünïcødé ✓ 🚀", "a\n"],
)
def test_adf_round_trip(text: str) -> None:
    doc = text_to_adf(text)
    assert doc["type"] == "doc" and doc["version"] == 1
    assert all(n["type"] == "paragraph" for n in doc["content"])
    # ADF forbids empty text nodes.
    for paragraph in doc["content"]:
        assert all(c.get("text") != "" for c in paragraph["content"])
    assert adf_to_text(doc) == text


def test_adf_flattens_rich_nodes() -> None:
    doc = {
        "type": "doc", "version": 1,
        "content": [
            {"type": "heading", "attrs": {"level": 1}, "content": [{"type": "text", "text": "Title"}]},
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [
                    {"type": "text", "text": "see "},
                    {"type": "inlineCard", "attrs": {"url": "https://x/1"}},
                ]}]},
                {"type": "listItem", "content": [{"type": "paragraph", "content": [
                    {"type": "mention", "attrs": {"id": "1", "text": "@Zoë"}},
                ]}]},
            ]},
        ],
    }
    assert adf_to_text(doc) == "Title\n\nsee https://x/1\n@Zoë"
