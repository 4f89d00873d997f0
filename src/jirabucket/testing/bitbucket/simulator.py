"""The state API both Bitbucket simulators share: repositories, pull requests, commits, statuses."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime

from jirabucket.testing.bitbucket.graph import CommitSnapshot, GraphCommit
from jirabucket.testing.bitbucket.state import (
    AuthorKind,
    BitbucketState,
    BuildStatusSnapshot,
    PullRequestSnapshot,
    StoredPullRequest,
    StoredRepo,
    commit_hash,
)
from jirabucket.testing.clock import Clock
from jirabucket.testing.http.server import SimulatorBase

__all__ = ["BitbucketSimulatorBase"]


class BitbucketSimulatorBase(SimulatorBase):
    """Repositories, pull requests, branches, tags, commits and build statuses that tests seed and read.

    Args:
        states: The pull request states this flavor knows.
        build_states: The build status states this flavor knows.
        port: TCP port; 0 picks a free one.
        seed: Seed of the fault generator.
        clock: The clock of 429 windows and request budgets.
    """

    def __init__(
        self,
        *,
        states: frozenset[str],
        build_states: frozenset[str],
        port: int = 0,
        seed: int = 0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(port=port, seed=seed, clock=clock)
        self._bb = BitbucketState(states=states)
        self._build_states = build_states

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

    # -- repositories and pull requests ------------------------------------------

    def add_repository(self, repo: str) -> None:
        """Create a repository whose ``main`` branch holds one root commit (no-op if it exists).

        Args:
            repo: ``workspace/slug`` on Cloud, ``PROJECTKEY/slug`` on Data Center.

        Raises:
            ValueError: The name is not ``owner/slug``.
        """
        name = self._check_repo_name(repo)
        with self._lock:
            self._bb.create_repo(name)

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
        author_kind: AuthorKind = "user",
    ) -> int:
        """Add a pull request (and its source branch) to an existing repository.

        Its commits go into the graph on top of the source branch (or the
        destination branch's head for a new branch), and the source branch moves
        to its head.

        Args:
            repo: Repository name.
            id: Pull request id; the next free one when ``None``.
            title: Title.
            description: Description.
            source_branch: Source branch name.
            destination_branch: Destination branch name.
            state: ``OPEN``, ``MERGED``, ``DECLINED`` (Cloud also ``SUPERSEDED``).
            author: Author display name (also their nickname / user slug, lower-cased
                without spaces: ``"renovate[bot]"`` shows as ``renovate[bot]``).
            updated: Timezone-aware last-change time; a deterministic clock
                that increases per pull request when ``None``.
            commits: Commit messages, oldest first (hashes are deterministic).
            author_kind: ``"app"`` for a bot account (Cloud shows ``type: app_user``,
                Data Center ``type: SERVICE``).

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
            pr = self._bb.add_pull_request(
                name, pr_id=id, fields=fields, updated=updated, commits=commits, author_kind=author_kind
            )
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

    def break_commits(self, repo: str, pr_id: int, *, broken: bool = True) -> None:
        """Make a pull request's commits endpoint answer 404, as when its source was deleted or force-pushed.

        Data Center answers with ``NoSuchCommitException``; Cloud with its
        "Commit not found" error. The pull request itself stays readable.

        Raises:
            KeyError: No such repository or pull request.
        """
        with self._lock:
            self._require_pr(repo, pr_id).commits_broken = broken

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

    # -- refs and the commit graph ---------------------------------------------

    def add_branch(self, repo: str, name: str, *, target_hash: str | None = None) -> None:
        """Create (or move) a branch.

        Args:
            repo: Repository name.
            name: Branch name.
            target_hash: Commit (or branch / tag name) the branch points at;
                ``main``'s head when ``None``. A hash outside the graph is kept as given.

        Raises:
            KeyError: No such repository.
        """
        with self._lock:
            stored = self._stored_repo(repo)
            target = target_hash or stored.branches["main"]
            stored.branches[name] = stored.resolve(target) or target

    def branches(self, repo: str) -> dict[str, str]:
        """Return the repository's branches, name to commit hash.

        Raises:
            KeyError: No such repository.
        """
        with self._lock:
            return dict(self._stored_repo(repo).branches)

    def add_commit(
        self,
        repo: str,
        message: str,
        *,
        branch: str | None = "main",
        parents: Sequence[str] | None = None,
        author: str = "Alice",
        date: datetime | None = None,
    ) -> str:
        """Add a commit to the graph and return its hash.

        Args:
            repo: Repository name.
            message: Commit message.
            branch: The branch it is committed on: its head is the parent (unless
                ``parents`` says otherwise) and the branch moves to the new commit
                (created if missing); ``None`` leaves every branch alone.
            parents: Parent commits (hashes, branch or tag names); two or more make
                a merge commit. Default: the branch's head (none for a new branch).
            author: Author display name.
            date: Timezone-aware commit date; a deterministic increasing clock when ``None``.

        Returns:
            The new commit's hash (deterministic).

        Raises:
            KeyError: No such repository.
            ValueError: An unknown parent, no branch and no parents, or a naive date.
        """
        with self._lock:
            stored = self._stored_repo(repo)
            if parents is None:
                if branch is None:
                    raise ValueError("give a branch or parents")
                heads = [stored.branches[branch]] if branch in stored.branches else []
            else:
                heads = [self._resolve_seeded(stored, ref) for ref in parents]
            when = self._bb.seen(date if date is not None else self._bb.tick())
            sha = commit_hash(stored.name, "commit", len(stored.graph.commits), message, *heads)
            stored.graph.add(sha, message, heads, author, when)
            if branch is not None:
                stored.branches[branch] = sha
            return sha

    def merge(
        self,
        repo: str,
        source: str,
        *,
        into: str = "main",
        message: str | None = None,
        author: str = "Alice",
        date: datetime | None = None,
    ) -> str:
        """Add a merge commit of ``source`` into branch ``into`` (which moves to it) and return its hash.

        Raises:
            KeyError: No such repository or branch ``into``.
            ValueError: ``source`` names no commit.
        """
        with self._lock:
            stored = self._stored_repo(repo)
            head = stored.branches[into]
            other = self._resolve_seeded(stored, source)
            text = message or f"Merge {source} into {into}"
            return self.add_commit(repo, text, branch=into, parents=[head, other], author=author, date=date)

    def add_tag(self, repo: str, name: str, target: str) -> str:
        """Create a tag on a commit (hash, branch or tag name) and return the commit's hash.

        Raises:
            KeyError: No such repository.
            ValueError: The tag exists or ``target`` names no commit.
        """
        with self._lock:
            stored = self._stored_repo(repo)
            if name in stored.tags:
                raise ValueError(f"tag {name!r} already exists in {repo}")
            sha = self._resolve_seeded(stored, target)
            stored.tags[name] = sha
            return sha

    def tags(self, repo: str) -> dict[str, str]:
        """Return the repository's tags, name to commit hash.

        Raises:
            KeyError: No such repository.
        """
        with self._lock:
            return dict(self._stored_repo(repo).tags)

    def commit(self, repo: str, ref: str) -> CommitSnapshot:
        """Return the commit a hash (or unambiguous prefix), branch or tag names.

        Raises:
            KeyError: No such repository.
            ValueError: ``ref`` names no commit.
        """
        with self._lock:
            stored = self._stored_repo(repo)
            return _snapshot(stored.graph.commits[self._resolve_seeded(stored, ref)])

    def log(self, repo: str, include: str, *, exclude: str | None = None) -> tuple[CommitSnapshot, ...]:
        """Return the commits reachable from ``include`` but not from ``exclude``, newest first (``git log``).

        Raises:
            KeyError: No such repository.
            ValueError: A ref names no commit.
        """
        with self._lock:
            stored = self._stored_repo(repo)
            excluded = [self._resolve_seeded(stored, exclude)] if exclude is not None else []
            return tuple(_snapshot(c) for c in stored.graph.log([self._resolve_seeded(stored, include)], excluded))

    # -- build statuses ----------------------------------------------------------

    def set_build_status(
        self,
        repo: str,
        commit: str,
        *,
        key: str,
        state: str,
        url: str = "https://ci.example.test/build",
        name: str = "",
        description: str = "",
    ) -> None:
        """Store a build status on a commit as a CI server would (the same key overwrites).

        Raises:
            KeyError: No such repository.
            ValueError: ``commit`` names no commit, or the state is not one this flavor knows.
        """
        if state not in self._build_states:
            raise ValueError(f"unknown build state {state!r}; use one of {sorted(self._build_states)}")
        with self._lock:
            stored = self._stored_repo(repo)
            sha = self._resolve_seeded(stored, commit)
            self._bb.set_build_status(
                stored, sha, key=key, state=state, url=url, name=name, description=description, ref=None
            )

    def build_statuses(self, repo: str, commit: str) -> tuple[BuildStatusSnapshot, ...]:
        """Return the build statuses of a commit (hash, unambiguous prefix, branch or tag), by first posting.

        Raises:
            KeyError: No such repository.
            ValueError: ``commit`` names no commit.
        """
        with self._lock:
            stored = self._stored_repo(repo)
            sha = self._resolve_seeded(stored, commit)
            return tuple(s.snapshot() for s in stored.statuses.get(sha, {}).values())

    # -- helpers -----------------------------------------------------------------

    def _require_repo(self, repo: str) -> str:
        name = self._check_repo_name(repo)
        if name not in self._bb.repos:
            raise KeyError(f"no repository {repo!r}; call add_repository() first")
        return name

    def _stored_repo(self, repo: str) -> StoredRepo:
        return self._bb.repos[self._require_repo(repo)]

    def _require_pr(self, repo: str, pr_id: int) -> StoredPullRequest:
        found = self._stored_repo(repo).pull_requests.get(pr_id)
        if found is None:
            raise KeyError(f"no pull request {pr_id} in {repo!r}")
        return found

    @staticmethod
    def _resolve_seeded(stored: StoredRepo, ref: str) -> str:
        sha = stored.resolve(ref)
        if sha is None:
            raise ValueError(f"{ref!r} names no commit in {stored.name}")
        return sha


def _snapshot(commit: GraphCommit) -> CommitSnapshot:
    return CommitSnapshot(commit.hash, commit.message, commit.parents, commit.author, commit.date)
