"""The outcome of a sync: counters, warnings, failures and (for ``--dry-run``) the plan."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Failure", "PlannedAction", "SyncReport", "describe_target"]


@dataclass(frozen=True, slots=True)
class Failure:
    """Work that failed for good (it is kept as a dead letter too).

    Attributes:
        operation: The queued operation, e.g. ``"sync.link"``.
        target: What it was about, e.g. ``"ABC-12 <- acme/api#42"``.
        error: The last error, one line.
    """

    operation: str
    target: str
    error: str


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """One write a dry run would make.

    Attributes:
        action: ``"link"``, ``"comment"`` or ``"transition"``.
        issue: The Jira issue key.
        pull_request: ``"<repo>#<id>"``.
        detail: What exactly, e.g. the target status.
    """

    action: str
    issue: str
    pull_request: str
    detail: str


@dataclass
class SyncReport:
    """Counters of one sync run; safe to update from worker threads via :meth:`add`."""

    pull_requests: int = 0
    issue_keys: set[str] = field(default_factory=set)
    links_created: int = 0
    links_updated: int = 0
    comments_added: int = 0
    transitions: int = 0
    skipped_keys: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    moves: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    plan: list[PlannedAction] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        """Add to integer counters atomically, e.g. ``report.add(links_created=1)``."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def warn(self, message: str) -> None:
        """Record a warning (thread-safe)."""
        with self._lock:
            self.warnings.append(message)

    def moved(self, path: str) -> None:
        """Record a transition walked, e.g. ``ABC-1: To Do -> In Progress -> In Review`` (thread-safe)."""
        with self._lock:
            self.moves.append(path)

    def fail(self, failure: Failure) -> None:
        """Record a failure (thread-safe)."""
        with self._lock:
            self.failed.append(failure)

    def to_json(self) -> dict[str, Any]:
        """Return the ``--json`` document.

        Returns:
            A JSON-serialisable dict with the keys the CLI documents.
        """
        doc: dict[str, Any] = {
            "pull_requests": self.pull_requests,
            "issue_keys": len(self.issue_keys),
            "links_created": self.links_created,
            "links_updated": self.links_updated,
            "comments_added": self.comments_added,
            "transitions": self.transitions,
            "skipped_keys": sorted(self.skipped_keys),
            "warnings": list(self.warnings),
            "moves": list(self.moves),
            "failed": [{"operation": f.operation, "target": f.target, "error": f.error} for f in self.failed],
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
        }
        if self.plan:
            doc["plan"] = [
                {"action": p.action, "issue": p.issue, "pull_request": p.pull_request, "detail": p.detail}
                for p in self.plan
            ]
        return doc


def describe_target(args: Mapping[str, object]) -> str:
    """Return a short description of a queued task's target, e.g. ``ABC-1 <- acme/api#42``.

    Args:
        args: The task's JSON arguments.

    Returns:
        One short line.
    """
    pr = args.get("pr")
    if isinstance(pr, Mapping):
        return f"{args.get('issue')} <- {pr.get('repo')}#{pr.get('id')}"
    return ", ".join(f"{k}={v}" for k, v in args.items())[:80]
