"""One (issue, pull request) pair made true in Jira: link, comment, transition.

Each step runs inside a queue worker as its own operation (``sync.link``,
``sync.comment``, ``sync.transition``) from JSON arguments alone, so the journal
can hold it across a crash. Each step checks
the state store before writing and records what it wrote; a comment is marked
``pending`` before it is posted, and a pending (or never seen) comment is looked
for in the issue's comments before posting, so a lost answer never turns into
a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jirabucket.clients import JiraApi, no_transition_error
from jirabucket.config import Settings
from jirabucket.errors import PermanentError
from jirabucket.models import Comment, Issue, IssueState, PrState, PullRequest, Transition, pr_state
from jirabucket.queue import TaskQueue
from jirabucket.sync.report import SyncReport
from jirabucket.sync.state import StateStore
from jirabucket.sync.workflow import next_step, target_category

__all__ = [
    "COMMENT",
    "LINK",
    "STEPS",
    "TRANSITION",
    "PairApplier",
    "PairTask",
    "PrRef",
    "TransitionRules",
    "jira_says",
    "mentions_url",
    "transition_rules",
]

_RESOLVED_STATES = frozenset({"MERGED", "DECLINED", "SUPERSEDED"})
_TITLE_LIMIT = 250


def jira_says(exc: PermanentError) -> str:
    """Return Jira's own explanation from an error body (``errorMessages`` and ``errors``), else the error."""
    try:
        body = json.loads(exc.body)
    except ValueError:
        return str(exc)
    if not isinstance(body, dict):
        return str(exc)
    said = [str(m) for m in body.get("errorMessages") or []]
    said += [f"{text}" if str(text).lower().startswith(str(field).lower()) else f"{field}: {text}"
             for field, text in (body.get("errors") or {}).items()]
    return " ".join(said) or str(exc)


def mentions_url(text: str, url: str) -> bool:
    """Return whether ``text`` contains ``url`` as a whole URL.

    A plain substring test is wrong: ``.../pull-requests/1`` is inside ``.../pull-requests/16``.
    """
    return re.search(re.escape(url) + r"(?![\w/-])", text) is not None


@dataclass(frozen=True, slots=True)
class PrRef:
    """What a sync step needs to know of a pull request; stored in the journal as JSON.

    Args:
        repo: ``"workspace/slug"`` or ``"PROJECT/slug"``.
        id: The pull request's number.
        title: Its title.
        url: Its page in a browser (the remote link's ``globalId``).
        state: Its state.
    """

    repo: str
    id: int
    title: str
    url: str
    state: PrState

    @classmethod
    def of(cls, pr: PullRequest) -> PrRef:
        """Return the reference of a pull request read from Bitbucket."""
        return cls(pr.repo, pr.id, pr.title, pr.web_url, pr.state)

    @property
    def resolved(self) -> bool:
        """Whether the PR is finished (merged, declined, superseded)."""
        return self.state in _RESOLVED_STATES

    @property
    def name(self) -> str:
        """``repo#id``, for reports."""
        return f"{self.repo}#{self.id}"

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form kept in the journal."""
        return {"repo": self.repo, "id": self.id, "title": self.title, "url": self.url, "state": self.state}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PrRef:
        """Rebuild a reference from :meth:`to_json`'s output (also from journals of earlier versions)."""
        state = pr_state(str(data["state"]))
        return cls(str(data["repo"]), int(data["id"]), str(data["title"]), str(data["url"]), state)


#: The queued operations of one pair, in the order they are submitted.
LINK, COMMENT, TRANSITION = "sync.link", "sync.comment", "sync.transition"
STEPS = frozenset({LINK, COMMENT, TRANSITION})


@dataclass(frozen=True, slots=True)
class TransitionRules:
    """How the transition step moves issues (from ``[sync]``).

    Args:
        fields: Per PR state (``open``, ``merged``, ``declined``), the fields to send
            with the transition into the target (what its screen requires).
        reopen: Whether an open or declined PR may move an issue out of the done category.
        max_transition_steps: The most transitions walked to reach a target.
    """

    fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    reopen: bool = False
    max_transition_steps: int = 4

    def fields_for(self, pr_state: str, step: Transition) -> dict[str, Any]:
        """The configured fields for this PR state that the transition's screen has (all, if unknown)."""
        wanted = dict(self.fields.get(pr_state.lower(), {}))
        if not step.screen_fields:
            return wanted
        return {name: value for name, value in wanted.items() if name in step.screen_fields}


def transition_rules(settings: Settings) -> TransitionRules:
    """The transition rules the settings' ``[sync]`` table asks for."""
    sync = settings.sync
    return TransitionRules(
        fields=sync.transition_fields, reopen=sync.reopen, max_transition_steps=sync.max_transition_steps
    )


@dataclass(frozen=True, slots=True)
class PairTask:
    """The arguments of the steps that apply one (issue, PR) pair."""

    issue: str
    pr: PrRef
    comment: bool
    transition: str | None

    def to_args(self) -> dict[str, Any]:
        """Return the task as JSON-able queue arguments."""
        return {"issue": self.issue, "pr": self.pr.to_json(), "comment": self.comment, "transition": self.transition}

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> PairTask:
        """Rebuild a task from queue arguments."""
        return cls(str(args["issue"]), PrRef.from_json(args["pr"]), bool(args["comment"]), args.get("transition"))

    def steps(self) -> tuple[str, ...]:
        """The operations this pair needs: always the link; the comment and transition when asked for."""
        return (LINK, *((COMMENT,) if self.comment else ()), *((TRANSITION,) if self.transition else ()))

    @property
    def link_title(self) -> str:
        """The remote link's title, e.g. ``acme/api PR #42: Fix login``."""
        title = f"{self.pr.repo} PR #{self.pr.id}: {self.pr.title}"
        return title if len(title) <= _TITLE_LIMIT else title[: _TITLE_LIMIT - 1] + "…"

    @property
    def fingerprint(self) -> str:
        """A digest of what the link shows; a change means the link must be written again."""
        raw = f"{self.pr.url}\n{self.link_title}\n{self.pr.resolved}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    @property
    def comment_text(self) -> str:
        """The comment posted once per (issue, PR); it contains the PR's URL, which is how we find it again."""
        return f"Pull request {self.pr.repo} #{self.pr.id} \u201c{self.pr.title}\u201d: {self.pr.url}"


class PairApplier:
    """Applies pair tasks against Jira, recording outcomes in the store and the report.

    Args:
        jira: The synchronous Jira API (we are already inside a queue task).
        store: The sync state.
        report: Where counts and warnings go.
        rules: How transitions are made (fields, reopening, steps).
    """

    def __init__(
        self, *, jira: JiraApi, store: StateStore, report: SyncReport, rules: TransitionRules | None = None
    ) -> None:
        self._jira, self._store, self._report = jira, store, report
        self._rules = TransitionRules() if rules is None else rules
        self._categories: dict[str, str] = {}
        # Comments read this run, per issue. Steps of one issue run one at a time (the queue's
        # subkey); a post is followed by a fresh read, so the next pair of the issue sees it.
        self._seen: dict[str, list[Comment]] = {}
        self._posted: dict[tuple[str, str], str] = {}  # (issue, PR URL) -> id of the comment this run posted
        self._seen_lock = threading.Lock()

    def register(self, queue: TaskQueue, *, key: str) -> None:
        """Register the step operations (link, comment, transition) on ``queue`` under the Jira key.

        Each step of a pair is its own task, so a failure in one step retries
        that step alone, and completed steps are never repeated.
        """
        steps: dict[str, Callable[[PairTask], None]] = {
            LINK: self._link, COMMENT: self._comment, TRANSITION: self._transition,
        }
        for operation, step in steps.items():
            queue.register(operation, _from_args(step), key=key)

    def _link(self, task: PairTask) -> None:
        url = task.pr.url
        previous = self._store.link_fingerprint(task.issue, url)
        if previous == task.fingerprint:
            return
        self._jira.upsert_remote_link(
            task.issue, global_id=url, url=url, title=task.link_title, resolved=task.pr.resolved
        )
        self._store.record_link(task.issue, url, task.fingerprint)
        self._report.add(**{"links_created" if previous is None else "links_updated": 1})

    def _comment(self, task: PairTask) -> None:
        url = task.pr.url
        state = self._store.comment_state(task.issue, url)
        if state == "done":
            return
        # Never seen, or a post whose outcome is unknown (or whose race was not settled): Jira is the truth.
        comments = self._comments(task.issue, fresh=state == "pending")
        if any(mentions_url(c.text, url) for c in comments):
            kept = self._keep_first(task, comments)  # two lost answers (ours, another writer's) leave two
            self._store.set_comment_state(task.issue, url, "done")
            with self._seen_lock:
                posted_id = self._posted.pop((task.issue, url), None)
            if kept is not None and kept.id == posted_id:  # this run's post, settled on a retry
                self._report.add(comments_added=1)
            return
        self._store.set_comment_state(task.issue, url, "pending")
        posted = self._jira.add_comment(task.issue, task.comment_text)
        with self._seen_lock:
            self._posted[(task.issue, url)] = posted.id
        # Another sync with its own state (a cron box, a CI job, serve) may have posted at the same time.
        # "done" only once that race is settled: when a delete below fails, the step stays "pending"
        # and its retry settles it from a fresh read (else an extra comment would stay for good).
        kept = self._keep_first(task, self._comments(task.issue, fresh=True))
        self._store.set_comment_state(task.issue, url, "done")
        with self._seen_lock:
            self._posted.pop((task.issue, url), None)
        if kept is None or kept.id == posted.id:
            self._report.add(comments_added=1)

    def _keep_first(self, task: PairTask, comments: list[Comment]) -> Comment | None:
        """Make racing writers end with exactly one comment of ours for the PR: the lowest id wins.

        Jira numbers comments in the order they were made, and a later writer's read
        after its post sees the earlier post; every writer deletes all of jirabucket's
        comments for this PR but the first (a delete of one already gone is harmless), so
        any number of writers converge on one. A person's comment that merely mentions
        the PR is never touched: only comments in jirabucket's own words count.

        Returns:
            The comment that stays, or ``None`` when none of ours is visible.
        """
        ours = sorted((c for c in comments if _is_ours(c.text, task)), key=_comment_order)
        for extra in ours[1:]:
            self._jira.delete_comment(task.issue, extra.id)
        if len(ours) > 1:
            gone = {c.id for c in ours[1:]}
            with self._seen_lock:
                self._seen[task.issue] = [c for c in comments if c.id not in gone]
        return ours[0] if ours else None

    def _comments(self, issue: str, *, fresh: bool) -> list[Comment]:
        with self._seen_lock:
            cached = None if fresh else self._seen.get(issue)
        if cached is not None:
            return list(cached)
        comments = self._jira.comments(issue)
        with self._seen_lock:
            self._seen[issue] = comments
        return list(comments)

    def _transition(self, task: PairTask) -> None:
        url, state, target = task.pr.url, task.pr.state, str(task.transition)
        if self._store.transition_done(task.issue, url, state):
            return
        now = self._jira.issue_state(task.issue)
        self._learn(now)
        # A transition sent before whose answer was lost: if the issue is where it led, it happened.
        arrived = {target.casefold(), (self._store.pending_transition(task.issue, url, state) or "").casefold()}
        if now.status.casefold() in arrived:
            self._store.record_transition(task.issue, url, state)
            return
        if now.category == "done" and state != "MERGED" and not self._rules.reopen:
            return  # finished work is not moved back by an open or declined PR ([sync] reopen)
        path = self._walk(task, now)
        if path:
            self._store.record_transition(task.issue, url, state)
            self._report.add(transitions=1)
            self._report.moved(f"{task.issue}: {' -> '.join(path)}")

    def _walk(self, task: PairTask, start: IssueState) -> list[str] | None:
        """Take transitions until the issue is in the target status; return the statuses passed, or warn.

        Re-reads the issue after each step: another writer may move it too, and a
        retried task starts again from wherever the issue is.
        """
        target, url, state = str(task.transition), task.pr.url, task.pr.state
        goal = target_category(target, known=self._categories_seen(), pr_state=state)
        now, path, visited = start, [start.status], {start.status.casefold()}
        for _ in range(self._rules.max_transition_steps):
            step = next_step(now.transitions, target, current_category=now.category, goal_category=goal,
                             visited=visited)
            if step is None:
                break
            final = step is Transition.pick(now.transitions, target)
            fields = self._rules.fields_for(state, step) if final else {}
            # Recorded before sending: if the answer is lost, a retry recognises the arrival.
            self._store.set_pending_transition(task.issue, url, state, step.to_status if final else target)
            try:
                self._jira.apply_transition(task.issue, step.id, fields=fields or None)
            except PermanentError as exc:  # 400/409: a required field, a validator, or another writer
                return self._refused(task, step, exc)
            path.append(step.to_status)
            if final:
                return path
            visited.add(step.to_status.casefold())
            now = self._jira.issue_state(task.issue)
            self._learn(now)
            if now.status.casefold() == target.casefold():
                return path
        error = no_transition_error(task.issue, now.status, target, now.transitions)
        self._report.warn(f"{task.issue}: cannot move to {target!r} ({error})")
        return None

    def _refused(self, task: PairTask, step: Transition, exc: PermanentError) -> list[str] | None:
        """Jira refused a transition: look again, and report, never fail the run.

        Another writer (a second sync, a person) may have moved the issue first; then
        it is where we wanted it, which is success. Otherwise Jira's own words say why
        (``Resolution is required.``), and the next PR update tries again.
        """
        now = self._jira.issue_state(task.issue)
        if now.status.casefold() in {str(task.transition).casefold(), step.to_status.casefold()}:
            self._store.record_transition(task.issue, task.pr.url, task.pr.state)
            return None
        self._report.warn(
            f"{task.issue}: Jira refused to move it from {now.status!r} to {task.transition!r} "
            f"({step.name}): {jira_says(exc)}"
        )
        return None

    def _learn(self, state: IssueState) -> None:
        """Remember the categories of statuses seen, to judge which way an unseen target lies."""
        with self._seen_lock:
            self._categories[state.status.casefold()] = state.category
            for t in state.transitions:
                if t.to_category:
                    self._categories[t.to_status.casefold()] = t.to_category

    def _categories_seen(self) -> dict[str, str]:
        with self._seen_lock:
            return dict(self._categories)

    def plan(self, task: PairTask, issue: Issue) -> Iterator[tuple[str, str]]:
        """Say what the handlers would write for a task, without writing or asking Jira.

        Args:
            task: The pair task.
            issue: The issue as Jira reported it.

        Yields:
            ``(action, detail)`` pairs.
        """
        url = task.pr.url
        previous = self._store.link_fingerprint(task.issue, url)
        if previous != task.fingerprint:
            yield "link", ("create " if previous is None else "update ") + task.link_title
        if task.comment and self._store.comment_state(task.issue, url) != "done":
            yield "comment", url
        target = task.transition
        moves = target and target.casefold() != issue.status.casefold()
        if moves and not self._store.transition_done(task.issue, url, task.pr.state):
            yield "transition", f"{issue.status} -> {target}"


def _from_args(step: Callable[[PairTask], None]) -> Callable[[Mapping[str, Any]], None]:
    """Return the queue handler that rebuilds a pair task from its JSON arguments and runs ``step``."""
    return lambda args: step(PairTask.from_args(args))


def _comment_order(comment: Comment) -> tuple[int, str]:
    """Jira's comment ids grow with time: compare them as numbers (a string id sorts after, as text)."""
    return (int(comment.id), "") if comment.id.isdigit() else (1 << 62, comment.id)


def _is_ours(text: str, task: PairTask) -> bool:
    """Whether a comment is jirabucket's own for this PR (its words, with the PR's URL)."""
    return text.startswith(f"Pull request {task.pr.repo} #{task.pr.id} ") and mentions_url(text, task.pr.url)
