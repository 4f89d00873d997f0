"""Finding Jira issue keys in pull-request text.

A key is a project key (``[A-Z][A-Z0-9_]+``), a dash and a number without a
leading zero, standing as a word of its own. Branch names count: in
``feature/ABC-12-login`` the key is ``ABC-12``. Look-alikes such as ``UTF-8``
or ``SHA-256`` match the pattern, so keys are kept only for configured
projects, and the sync still asks Jira which of them exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from jirabucket.config import KeySource
from jirabucket.models import PullRequest

__all__ = ["KEY_PATTERN", "find_keys", "pr_keys"]

# Lookarounds instead of \b: "_" is a word character, and branch names such as
# "bug_ABC-1" or "ABC-1_fix" should still yield ABC-1.
KEY_PATTERN = re.compile(r"(?<![A-Za-z0-9])([A-Z][A-Z0-9_]+)-([1-9][0-9]*)(?![0-9A-Za-z])")


def find_keys(texts: Iterable[str | None], *, projects: Iterable[str]) -> list[str]:
    """Return the issue keys of ``projects`` named in ``texts``, de-duplicated, in first-seen order.

    Args:
        texts: Titles, branch names, descriptions, commit messages; ``None`` is skipped.
        projects: The project keys to keep (e.g. ``["ABC", "OPS"]``).

    Returns:
        Keys such as ``"ABC-12"``, each once.
    """
    wanted = frozenset(projects)
    seen: dict[str, None] = {}
    for text in texts:
        if not text:
            continue
        for match in KEY_PATTERN.finditer(text):
            if match.group(1) in wanted:
                seen.setdefault(f"{match.group(1)}-{match.group(2)}")
    return list(seen)


def pr_keys(
    pr: PullRequest,
    *,
    sources: Iterable[KeySource],
    projects: Iterable[str],
    commits: Sequence[str] = (),
    branch_ignore_case: bool = False,
) -> list[str]:
    """Return the keys a pull request names where ``sources`` say to look, in first-seen order.

    Args:
        pr: The pull request.
        sources: ``title``, ``branch``, ``description``, ``commits`` (in the order to read them).
        projects: The project keys to keep.
        commits: Its commit messages, when they were read (``commits`` finds nothing without them).
        branch_ignore_case: Also read lower-case keys in the branch name (``feature/abc-12``).
    """
    branch = pr.source_branch.upper() if branch_ignore_case else pr.source_branch
    texts: dict[KeySource, Sequence[str]] = {
        "title": [pr.title], "branch": [branch], "description": [pr.description], "commits": commits,
    }
    return find_keys([text for source in sources for text in texts[source]], projects=projects)
