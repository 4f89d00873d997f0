"""The state API both Bitbucket simulators share."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime

from jirabucket.testing.bitbucket.state import (
    BitbucketState,
    PullRequestSnapshot,
    StoredPullRequest,
    StoredRepo,
    commit_hash,
)
from jirabucket.testing.http.server import SimulatorBase

__all__ = ["BitbucketSimulatorBase"]


class BitbucketSimulatorBase(SimulatorBase):
    """Repositories, pull requests and branches that tests seed and read.

    Args:
        states: The pull request states this flavor knows.
        port: TCP port; 0 picks a free one.
        seed: Seed of the fault generator.
    """

    def __init__(self, *, states: frozenset[str], port: int = 0, seed: int = 0) -> None:
        super().__init__(port=port, seed=seed)
        self._bb = BitbucketState(states=states)

    @abstractmethod
    def _normalize_repo(self, repo: str) -> str:
        """Return the canonical ``owner/slug`` of a repository name."""

    @abstractmethod
    def _web_url(self, pr: StoredPullRequest) -> str:
        """Return a pull request's web page URL."""

    def _check_repo_name(self, repo: str) -> str:
        owner, _, slug = repo.partition("/")
        if not owner or not slug or "/" in slug:
            raise ValueError(f"repository must be 'owner/slug', got {repo!r}")
        return self._normalize_repo(repo)

    def add_repository(self, repo: str) -> None:
        """Create an empty repository with a ``main`` branch (no-op if it exists).

        Args:
            repo: ``workspace/slug`` on Cloud, ``PROJECTKEY/slug`` on Data Center.

        Raises:
            ValueError: The name is not ``owner/slug``.
        """
        name = self._check_repo_name(repo)
        with self._lock:
            if name not in self._bb.repos:
                self._bb.repos[name] = _new_repo(name)

    def add_pull_request(
        self,
        repo: str,
        *,
        id: int | None = None,
        title: str,
        description: str = "",
        source_branch: str,
        destination_branch: str = "main",
        state: str = "OPEN",
        author: str = "Alice",
        updated: datetime | None = None,
        commits: Sequence[str] = (),
    ) -> int:
        """Add a pull request (and its source branch) to an existing repository.

        Args:
            repo: Repository name.
            id: Pull request id; the next free one when ``None``.
            title: Title.
            description: Description.
            source_branch: Source branch name.
            destination_branch: Destination branch name.
            state: ``OPEN``, ``MERGED``, ``DECLINED`` (Cloud also ``SUPERSEDED``).
            author: Author display name.
            updated: Timezone-aware last-change time; a deterministic clock
                that increases per pull request when ``None``.
            commits: Commit messages, oldest first (hashes are deterministic).

        Returns:
            The pull request id.

        Raises:
            ValueError: Unknown state, duplicate id or naive timestamp.
            KeyError: No such repository.
        """
        fields = {
            "title": title,
            "description": description,
            "source_branch": source_branch,
            "destination_branch": destination_branch,
            "state": state,
            "author": author,
        }
        with self._lock:
            name = self._require_repo(repo)
            pr = self._bb.add_pull_request(name, pr_id=id, fields=fields, updated=updated, commits=commits)
            return pr.id

    def update_pull_request(
        self,
        repo: str,
        pr_id: int,
        *,
        title: str | None = None,
        description: str | None = None,
        state: str | None = None,
        updated: datetime | None = None,
    ) -> None:
        """Change a pull request; ``updated`` becomes "now" unless given.

        Raises:
            KeyError: No such repository or pull request.
            ValueError: Unknown state or naive timestamp.
        """
        changes = {
            name: value
            for name, value in (("title", title), ("description", description), ("state", state))
            if value is not None
        }
        with self._lock:
            pr = self._require_pr(repo, pr_id)
            self._bb.update_pull_request(pr, changes=changes, updated=updated)

    def pull_request(self, repo: str, pr_id: int) -> PullRequestSnapshot:
        """Return a frozen snapshot of a pull request, its commits and comments.

        Raises:
            KeyError: No such repository or pull request.
        """
        with self._lock:
            pr = self._require_pr(repo, pr_id)
            return self._bb.snapshot(pr, self._web_url(pr))

    def pull_request_ids(self, repo: str) -> list[int]:
        """Return the ids of a repository's pull requests, ascending.

        Raises:
            KeyError: No such repository.
        """
        with self._lock:
            return sorted(self._bb.repos[self._require_repo(repo)].pull_requests)

    def add_branch(self, repo: str, name: str, *, target_hash: str | None = None) -> None:
        """Create (or move) a branch.

        Args:
            repo: Repository name.
            name: Branch name.
            target_hash: Commit the branch points at; a deterministic hash when ``None``.

        Raises:
            KeyError: No such repository.
        """
        with self._lock:
            stored = self._bb.repos[self._require_repo(repo)]
            stored.branches[name] = target_hash or commit_hash(stored.name, "branch", name)

    def branches(self, repo: str) -> dict[str, str]:
        """Return the repository's branches, name to commit hash.

        Raises:
            KeyError: No such repository.
        """
        with self._lock:
            return dict(self._bb.repos[self._require_repo(repo)].branches)

    def _require_repo(self, repo: str) -> str:
        name = self._check_repo_name(repo)
        if name not in self._bb.repos:
            raise KeyError(f"no repository {repo!r}; call add_repository() first")
        return name

    def _require_pr(self, repo: str, pr_id: int) -> StoredPullRequest:
        found = self._bb.repos[self._require_repo(repo)].pull_requests.get(pr_id)
        if found is None:
            raise KeyError(f"no pull request {pr_id} in {repo!r}")
        return found


def _new_repo(name: str) -> StoredRepo:
    repo = StoredRepo(name)
    repo.branches["main"] = commit_hash(name, "main")
    return repo
