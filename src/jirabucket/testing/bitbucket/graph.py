"""A repository's commit graph: commits with parents, refs resolution, and ``git log A ^B``.

Pure data and logic, no HTTP: both Bitbucket flavors serve their commit
endpoints from it. The log order is git's default for a DAG walk newest first:
a commit always comes before its parents, and among the commits ready to be
listed the one with the newest date goes first (ties: the one added last).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["CommitGraph", "CommitSnapshot", "GraphCommit"]


@dataclass(frozen=True, slots=True)
class GraphCommit:
    """A commit in a repository's graph.

    Attributes:
        hash: The 40-hex commit id.
        message: The commit message.
        parents: Parent hashes (two or more for a merge commit).
        author: Author display name.
        date: Author and committer date.
        seq: Order of addition (breaks date ties: later first).
    """

    hash: str
    message: str
    parents: tuple[str, ...]
    author: str
    date: datetime
    seq: int


@dataclass(frozen=True, slots=True)
class CommitSnapshot:
    """A commit as tests read it.

    Attributes:
        hash: The 40-hex commit id.
        message: The commit message.
        parents: Parent hashes.
        author: Author display name.
        date: Commit date.
    """

    hash: str
    message: str
    parents: tuple[str, ...]
    author: str
    date: datetime


@dataclass
class CommitGraph:
    """The commits of one repository (mutable; the simulator's lock guards it)."""

    commits: dict[str, GraphCommit] = field(default_factory=dict)

    def add(self, hash: str, message: str, parents: Iterable[str], author: str, date: datetime) -> GraphCommit:
        """Add a commit (replacing one with the same hash) and return it.

        Raises:
            ValueError: A parent is not in the graph.
        """
        parents = tuple(parents)
        missing = [p for p in parents if p not in self.commits]
        if missing:
            raise ValueError(f"unknown parent commits {missing}")
        commit = GraphCommit(hash, message, parents, author, date, len(self.commits))
        self.commits[hash] = commit
        return commit

    def resolve(self, ref: str, branches: Mapping[str, str], tags: Mapping[str, str]) -> str | None:
        """Return the commit a ref names, or ``None``.

        A ref is a branch or tag name (bare or as ``refs/heads/…`` / ``refs/tags/…``),
        a full hash, or an unambiguous hash prefix of at least 7 characters. Branches
        win over tags of the same name, as in Bitbucket.
        """
        if ref.startswith(("refs/heads/", "refs/tags/")):
            names = branches if ref.startswith("refs/heads/") else tags
            return names.get(ref.split("/", 2)[2])
        named = branches.get(ref, tags.get(ref))
        if named is not None or ref in self.commits:
            return named or ref
        candidates = [h for h in self.commits if h.startswith(ref.lower())] if len(ref) >= 7 else []
        return candidates[0] if len(candidates) == 1 and _is_hex(ref) else None

    def reachable(self, heads: Iterable[str]) -> set[str]:
        """Return every commit reachable from ``heads`` (themselves included)."""
        seen: set[str] = set()
        stack = [h for h in heads if h in self.commits]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(p for p in self.commits[current].parents if p not in seen)
        return seen

    def log(self, include: Iterable[str], exclude: Iterable[str] = ()) -> list[GraphCommit]:
        """Return the commits reachable from ``include`` but not from ``exclude``, newest first.

        Children always come before their parents (a merge commit is listed once).
        """
        wanted = self.reachable(include) - self.reachable(exclude)
        children = dict.fromkeys(wanted, 0)
        for sha in wanted:
            for parent in self.commits[sha].parents:
                if parent in children:
                    children[parent] += 1
        ready = [self._key(sha) for sha, count in children.items() if count == 0]
        heapq.heapify(ready)
        ordered: list[GraphCommit] = []
        while ready:
            commit = self.commits[heapq.heappop(ready)[2]]
            ordered.append(commit)
            for parent in commit.parents:
                if parent in children:
                    children[parent] -= 1
                    if children[parent] == 0:
                        heapq.heappush(ready, self._key(parent))
        return ordered

    def _key(self, sha: str) -> tuple[float, int, str]:
        commit = self.commits[sha]
        return (-commit.date.timestamp(), -commit.seq, sha)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text.lower())
