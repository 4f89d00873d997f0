"""The Markdown release notes: heading, grouping by issue type, one escaped line per issue."""

from __future__ import annotations

from jirabucket.models import Issue
from jirabucket.release import render_notes


def issue(key: str, summary: str, kind: str, status: str = "Done") -> Issue:
    return Issue(key, summary, status, "done", key.split("-", maxsplit=1)[0], kind)


def notes(*issues: Issue, from_ref: str = "v1.0", to_ref: str = "v1.1") -> str:
    return render_notes(
        issues, version="1.1", repo="acme/api", from_ref=from_ref, to_ref=to_ref, jira_url="https://acme.test/"
    )


def test_known_types_come_first_in_reading_order_then_the_rest_alphabetically() -> None:
    text = notes(
        issue("ABC-3", "Crash on start", "Bug"),
        issue("ABC-1", "Spike", "Research"),
        issue("ABC-2", "SSO", "Story"),
        issue("ABC-4", "Untyped", ""),
        issue("ABC-5", "Dark mode", "improvement"),
        issue("ABC-6", "Audit", "Chore"),
    )
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## Story", "## improvement", "## Bug", "## Chore", "## Other", "## Research"]


def test_issues_are_ordered_by_project_and_number_and_linked_to_jira() -> None:
    text = notes(
        issue("ABC-10", "Ten", "Task"), issue("ABC-9", "Nine", "Task", "In Progress"), issue("AB-99", "X", "Task")
    )
    assert text.splitlines()[-3:] == [
        "- [AB-99](https://acme.test/browse/AB-99): X (Done)",
        "- [ABC-9](https://acme.test/browse/ABC-9): Nine (In Progress)",
        "- [ABC-10](https://acme.test/browse/ABC-10): Ten (Done)",
    ]


def test_jira_text_cannot_break_the_markdown() -> None:
    text = notes(issue("ABC-1", "Use *bold* [link](x) <b>\n# not a heading", "Bug"), from_ref="rel_`1`")
    assert r"- [ABC-1](https://acme.test/browse/ABC-1): Use \*bold\* \[link\](x) \<b\> \# not a heading (Done)" in text
    assert text.splitlines()[0] == r"# Release 1.1: rel\_\`1\` → v1.1"
    assert "after `` rel_`1` `` up to `v1.1`." in text  # CommonMark strips one space each side
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_an_empty_release_says_so() -> None:
    assert notes().splitlines()[-1] == "No Jira issues in this range."
