"""Realistic, seeded data sets of issues and pull requests for tests, demos and benchmarks."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = [
    "KEY_PATTERN",
    "BitbucketSeedTarget",
    "JiraSeedTarget",
    "Scenario",
    "ScenarioIssue",
    "ScenarioPullRequest",
    "make_scenario",
]

KEY_PATTERN = re.compile(r"\b[A-Z][A-Z0-9_]+-[1-9][0-9]*\b")
"""What an issue key looks like in text (and what ``UTF-8`` also looks like)."""

FALSE_POSITIVES = ("ISO-8601", "SHA-256", "UTF-8")
_STATUSES = ("To Do", "In Progress", "In Review", "Done")
_PR_STATES = ("OPEN",) * 10 + ("MERGED",) * 7 + ("DECLINED",) * 3
_AUTHORS = ("Alice", "Bob", "Zoë Ørsted", "José Núñez", "Chen Wei", "Aiyana")
_TOPICS = (
    "login",
    "billing",
    "search",
    "cache",
    "export",
    "webhooks",
    "naïve dates",
    "Überprüfung",
    "日本語 labels",
    "emoji ✓ support",
    "rate limits",
    "retries",
)
_VERBS = ("Fix", "Add", "Refactor", "Speed up", "Document", "Harden", "Clean up")
_FALSE_SENTENCES = (
    "Files are now read as UTF-8.",
    "Timestamps follow ISO-8601.",
    "Checksums switched to SHA-256.",
)
_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class JiraSeedTarget(Protocol):
    """Anything issues can be seeded into (both Jira simulators)."""

    def add_issue(self, key: str, *, summary: str = ..., status: str = ..., description: str = ...) -> None:
        """Create an issue."""


class BitbucketSeedTarget(Protocol):
    """Anything pull requests can be seeded into (both Bitbucket simulators)."""

    def add_repository(self, repo: str) -> None:
        """Create a repository."""

    def add_pull_request(
        self,
        repo: str,
        *,
        id: int | None = ...,
        title: str,
        description: str = ...,
        source_branch: str,
        destination_branch: str = ...,
        state: str = ...,
        author: str = ...,
        updated: datetime | None = ...,
        commits: tuple[str, ...] = ...,
    ) -> int:
        """Create a pull request."""


@dataclass(frozen=True)
class ScenarioIssue:
    """An issue that exists in Jira.

    Attributes:
        key: Issue key.
        summary: Summary line.
        status: Workflow status name.
    """

    key: str
    summary: str
    status: str


@dataclass(frozen=True)
class ScenarioPullRequest:
    """A pull request and everything a sync reads from it.

    Attributes:
        repo: Repository name.
        id: Pull request id (per repository).
        title: Title.
        description: Description.
        source_branch: Source branch name.
        destination_branch: Destination branch name.
        state: ``OPEN``, ``MERGED`` or ``DECLINED``.
        author: Author display name.
        updated: Last-change time (aware).
        commits: Commit messages, oldest first.
    """

    repo: str
    id: int
    title: str
    description: str
    source_branch: str
    destination_branch: str
    state: str
    author: str
    updated: datetime
    commits: tuple[str, ...]

    def mentioned_keys(self) -> frozenset[str]:
        """Return every key-like token in the title, branch, description and commits."""
        texts = (self.title, self.source_branch, self.description, *self.commits)
        return frozenset(m for text in texts for m in KEY_PATTERN.findall(text))


@dataclass(frozen=True)
class Scenario:
    """A seeded data set: issues in Jira, pull requests in Bitbucket.

    Attributes:
        issues: Issues that exist.
        pull_requests: Pull requests, in creation order.
        projects: The configured Jira projects.
        missing_keys: Keys of configured projects mentioned in PRs but absent from Jira.
        unconfigured_keys: Keys of projects the sync is not configured for.
        false_positives: Key-like tokens that are not keys (``UTF-8``...).
    """

    issues: tuple[ScenarioIssue, ...]
    pull_requests: tuple[ScenarioPullRequest, ...]
    projects: tuple[str, ...]
    missing_keys: tuple[str, ...]
    unconfigured_keys: tuple[str, ...]
    false_positives: tuple[str, ...]

    def seed_jira(self, jira: JiraSeedTarget) -> None:
        """Create every issue in a Jira simulator (Cloud or Data Center)."""
        for issue in self.issues:
            jira.add_issue(issue.key, summary=issue.summary, status=issue.status)

    def seed_bitbucket(self, bitbucket: BitbucketSeedTarget) -> None:
        """Create every repository and pull request in a Bitbucket simulator."""
        for repo in dict.fromkeys(pr.repo for pr in self.pull_requests):
            bitbucket.add_repository(repo)
        for pr in self.pull_requests:
            bitbucket.add_pull_request(
                pr.repo,
                id=pr.id,
                title=pr.title,
                description=pr.description,
                source_branch=pr.source_branch,
                destination_branch=pr.destination_branch,
                state=pr.state,
                author=pr.author,
                updated=pr.updated,
                commits=pr.commits,
            )

    def expected_links(self) -> frozenset[tuple[str, str, int]]:
        """Return the (issue key, repo, PR id) triples a correct sync links.

        A key counts when it appears in the title, source branch, description
        or a commit message, belongs to a configured project and exists in Jira.
        """
        existing = {issue.key for issue in self.issues}
        return frozenset(
            (key, pr.repo, pr.id)
            for pr in self.pull_requests
            for key in pr.mentioned_keys()
            if key in existing and key.rsplit("-", 1)[0] in self.projects
        )


class _Builder:
    """Draws one pull request at a time from a seeded generator."""

    def __init__(self, rng: random.Random, existing: list[str], missing: list[str], other: list[str]):
        self.rng = rng
        self.existing = existing
        self.missing = missing
        self.other = other
        self.mentioned_missing: set[str] = set()
        self.mentioned_other: set[str] = set()

    def keys(self) -> list[str]:
        roll = self.rng.random()
        count = 0 if roll < 0.10 else 1 if roll < 0.68 else 2 if roll < 0.93 else 3
        keys = []
        for _ in range(count):
            if self.missing and self.rng.random() < 0.06:
                key = self.rng.choice(self.missing)
                self.mentioned_missing.add(key)
            else:
                key = self.rng.choice(self.existing)
            if key not in keys:
                keys.append(key)
        return keys

    def pull_request(self, repo: str, pr_id: int, updated: datetime) -> ScenarioPullRequest:
        rng = self.rng
        topic, verb = rng.choice(_TOPICS), rng.choice(_VERBS)
        slug = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-") or "change"
        places = {key: rng.choice(("title",) * 5 + ("branch",) * 2 + ("desc", "desc", "commit")) for key in self.keys()}
        branch_keys = [k for k, p in places.items() if p == "branch"][:1]
        title_keys = [k for k, p in places.items() if p == "title" or (p == "branch" and k not in branch_keys)]
        title = f"{', '.join(title_keys)}: {verb} {topic}" if title_keys else f"{verb} {topic}"
        prefix = rng.choice(("feature", "bugfix", "chore"))
        branch = f"{prefix}/{branch_keys[0]}-{slug}" if branch_keys else f"{prefix}/{slug}-{pr_id}"
        lines = [f"This change touches {topic}."]
        lines += [f"Fixes {k}." for k, p in places.items() if p == "desc"]
        if rng.random() < 0.3:
            lines.append(rng.choice(_FALSE_SENTENCES))
        if self.other and rng.random() < 0.1:
            other = rng.choice(self.other)
            self.mentioned_other.add(other)
            lines.append(f"Related upstream ticket {other}.")
        commits = [f"{verb} {topic}"] + [
            f"{k} {rng.choice(_VERBS).lower()} {topic}" for k, p in places.items() if p == "commit"
        ]
        return ScenarioPullRequest(
            repo=repo,
            id=pr_id,
            title=title,
            description="\n".join(lines),
            source_branch=branch,
            destination_branch="main",
            state=rng.choice(_PR_STATES),
            author=rng.choice(_AUTHORS),
            updated=updated,
            commits=tuple(commits),
        )


def make_scenario(
    n_prs: int,
    seed: int = 0,
    *,
    projects: tuple[str, ...] = ("ABC", "OPS"),
    repositories: tuple[str, ...] = ("acme/api", "acme/web"),
    unconfigured_projects: tuple[str, ...] = ("ZZZ",),
) -> Scenario:
    """Build a realistic, reproducible data set.

    About 1.3 keys per pull request on average, ~10% without keys, keys in
    titles, branch names (``feature/ABC-12-login``), descriptions and commit
    messages, false positives such as ``UTF-8``, keys of unconfigured projects,
    keys that do not exist, mixed states and unicode text.

    Args:
        n_prs: Number of pull requests, spread round-robin over ``repositories``.
        seed: Seed; the same arguments give the same scenario.
        projects: Configured Jira projects whose issues exist.
        repositories: Repository names (``ws/slug`` on Cloud, ``KEY/slug`` on DC).
        unconfigured_projects: Projects mentioned in text but not configured.

    Returns:
        The scenario.

    Raises:
        ValueError: ``n_prs`` is negative or no project or repository is given.
    """
    if n_prs < 0 or not projects or not repositories:
        raise ValueError("need n_prs >= 0 and at least one project and repository")
    rng = random.Random(seed)
    per_project = max(5, n_prs // 2)
    issues = tuple(
        ScenarioIssue(f"{p}-{n}", f"{rng.choice(_VERBS)} {rng.choice(_TOPICS)}", rng.choice(_STATUSES))
        for p in projects
        for n in range(1, per_project + 1)
    )
    missing = [f"{p}-{per_project + 100 + n}" for p in projects for n in range(1, 4)]
    other = [f"{p}-{n}" for p in unconfigured_projects for n in range(1, 6)]
    builder = _Builder(rng, [i.key for i in issues], missing, other)
    next_id = dict.fromkeys(repositories, 1)
    prs = []
    for index in range(n_prs):
        repo = repositories[index % len(repositories)]
        updated = _EPOCH + timedelta(minutes=3 * index + rng.randint(0, 2))
        prs.append(builder.pull_request(repo, next_id[repo], updated))
        next_id[repo] += 1
    return Scenario(
        issues=issues,
        pull_requests=tuple(prs),
        projects=tuple(projects),
        missing_keys=tuple(sorted(builder.mentioned_missing)),
        unconfigured_keys=tuple(sorted(builder.mentioned_other)),
        false_positives=FALSE_POSITIVES,
    )
