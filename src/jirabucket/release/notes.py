"""Release notes in Markdown: the version and the range in a heading, then the issues grouped by type.

One line per issue — its key linked to the issue in Jira, its summary and its
status::

    # Release 2.4.0: v2.3.0 → v2.4.0

    Jira issues named by the commits of acme/api after `v2.3.0` up to `v2.4.0`.

    ## Story

    - [ABC-12](https://acme.atlassian.net/browse/ABC-12): Log in with SSO (Done)

Well-known issue types come first, in the order readers expect (stories and
features before tasks and bugs); others follow alphabetically. Text from Jira is
escaped, so a summary cannot break the Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from jirabucket.models import Issue
from jirabucket.release.plan import key_order

__all__ = ["render_notes"]

# Types listed first, in this order (Jira's defaults across Cloud and Data Center templates).
_TYPE_ORDER = ("Epic", "Story", "New Feature", "Feature", "Improvement", "Task", "Sub-task", "Subtask", "Bug")
_UNTYPED = "Other"
_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def render_notes(
    issues: Iterable[Issue], *, version: str, repo: str, from_ref: str, to_ref: str, jira_url: str
) -> str:
    """Return the release notes for ``issues`` as Markdown (ending with one newline).

    Args:
        issues: The issues of the release, with their summary, status and type.
        version: The version's name.
        repo: The repository the commits were read from.
        from_ref: Where the range starts (excluded).
        to_ref: Where it ends (included).
        jira_url: Jira's base URL, for links to ``<jira_url>/browse/KEY``.
    """
    base = jira_url.rstrip("/")
    lines = [
        f"# Release {_escape(version)}: {_escape(from_ref)} → {_escape(to_ref)}",
        "",
        f"Jira issues named by the commits of {_escape(repo)} after {_code(from_ref)} up to {_code(to_ref)}.",
    ]
    groups: dict[str, list[Issue]] = {}
    for issue in sorted(issues, key=lambda issue: key_order(issue.key)):
        groups.setdefault(issue.issue_type.strip() or _UNTYPED, []).append(issue)
    if not groups:
        lines += ["", "No Jira issues in this range."]
    for kind in sorted(groups, key=_type_rank):
        lines += ["", f"## {_escape(kind)}", ""]
        lines += [
            f"- [{issue.key}]({base}/browse/{issue.key}): {_escape(issue.summary)} ({_escape(issue.status)})"
            for issue in groups[kind]
        ]
    return "\n".join(lines) + "\n"


def _type_rank(kind: str) -> tuple[int, str]:
    known = {name.casefold(): rank for rank, name in enumerate(_TYPE_ORDER)}
    return known.get(kind.casefold(), len(_TYPE_ORDER)), kind.casefold()


def _escape(text: str) -> str:
    """Return ``text`` on one line with Markdown's special characters backslash-escaped."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _code(text: str) -> str:
    """Return ``text`` as an inline code span (a fence longer than any backtick run inside)."""
    flat = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"
