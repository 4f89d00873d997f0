"""The sync engine: make Jira reflect the pull requests that name its issues.

For each configured repository the engine reads the pull requests updated since
the repository's cursor, finds the issue keys they name (:mod:`.keys`), asks
Jira which exist, and queues the steps of each (issue, PR) pair as tasks of
their own (:mod:`.steps`): upsert the remote link, post the comment once, move
the issue. Reads go through the clients' queued methods like any script's;
the steps are queue operations of their own, so the journal can hold them
across a crash, and each checks :class:`~.state.StateStore` before it writes.
The cursor advances only when all of a repository's work is done.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from jirabucket.clients import BitbucketClient, JiraClient
from jirabucket.config import KEY_SOURCES, Settings
from jirabucket.errors import ApiError, JirabucketError, StateError
from jirabucket.models import DEFAULT_PR_STATES, Issue, PullRequest
from jirabucket.queue import TaskQueue
from jirabucket.queue.workers import DaemonExecutor
from jirabucket.sync.keys import pr_keys
from jirabucket.sync.report import Failure, PlannedAction, SyncReport, describe_target
from jirabucket.sync.state import StateStore
from jirabucket.sync.steps import PairApplier, PairTask, PrRef, transition_rules

__all__ = ["ProgressCallback", "SyncEngine"]

_LOOKUP_BATCH = 100

#: Called with (steps done, steps queued) as work completes.
ProgressCallback = Callable[[int, int], None]
# A repository, its pull requests read this run, and the commit messages being read for each.
_Read = tuple[str, list[PullRequest], dict[int, Future[list[str]]]]


class SyncEngine:
    """Runs one sync over the configured repositories.

    Constructing it registers the step operations on ``queue``, so a journal's
    leftover steps can be resumed afterwards.

    Args:
        settings: What to sync.
        jira: The Jira client (its queue must be ``queue``).
        bitbucket: The Bitbucket client (its queue must be ``queue``).
        queue: The queue every call goes through.
        store: The sync state.
        dry_run: Plan only: read, but write nothing to Jira or the state.
        full: Ignore the cursors and read every pull request.
        on_progress: Called with (steps done, steps queued) as work completes.
        report: The report to fill (a new one when ``None``); passing one lets a caller
            read the counts so far when the run is interrupted.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        jira: JiraClient,
        bitbucket: BitbucketClient,
        queue: TaskQueue,
        store: StateStore,
        dry_run: bool = False,
        full: bool = False,
        on_progress: ProgressCallback | None = None,
        report: SyncReport | None = None,
    ) -> None:
        self._settings = settings
        self._jira, self._bb, self._queue, self._store = jira, bitbucket, queue, store
        self._dry_run, self._full = dry_run, full
        self._on_progress = on_progress
        self._issues: dict[str, Issue | None] = {}
        self._queued = self._done = 0
        self._state_error: StateError | None = None
        #: Target keys (``operation:issue:PR URL``) of the steps that succeeded in this run.
        self.settled: set[str] = set()
        self.report = SyncReport() if report is None else report
        self._applier = PairApplier(jira=jira.api, store=store, report=self.report, rules=transition_rules(settings))
        self._applier.register(queue, key=jira.key)

    def run(self, *, repositories: Sequence[str] | None = None) -> SyncReport:
        """Sync the pull requests updated since each repository's cursor, then move the cursors.

        Args:
            repositories: The repositories to sync; ``None`` for every configured one.

        Returns:
            The report; ``report.failed`` lists work that failed for good.

        Raises:
            JirabucketError: Reading pull requests or issues failed for good
                (e.g. :class:`~jirabucket.errors.AuthError`).
        """
        repos = self._settings.bitbucket.repositories if repositories is None else repositories
        return self._run([(repo, functools.partial(self._pull_requests, repo)) for repo in repos], move_cursors=True)

    def run_pull_request(self, repo: str, pr_id: int) -> SyncReport:
        """Sync exactly one pull request, whatever the repository's cursor, and leave the cursor as it was.

        A later incremental run still does everything else, and finds this PR's work done.

        Raises:
            NotFound: No such repository or pull request.
            JirabucketError: Reading it or its issues failed for good.
        """
        return self._run([(repo, lambda: [self._bb.pull_request(repo, pr_id)])], move_cursors=False)

    def _run(self, sources: Sequence[tuple[str, Callable[[], list[PullRequest]]]], *, move_cursors: bool) -> SyncReport:
        start = time.monotonic()
        before = self._requests()
        # Reader threads only wait on queue futures; the queue's limits still govern every request.
        readers = DaemonExecutor(self._settings.queue.workers, name="jirabucket-read")
        try:
            batches = [self._keys_by_pr(read) for read in self._read_in_parallel(sources, readers)]
            self._lookup({k for batch in batches for keys in batch.keys.values() for k in keys}, readers)
        finally:
            # Not `with`: on Ctrl-C it would wait for every read. Daemon threads: the exit does not wait either.
            readers.shutdown(wait=False, cancel_futures=True)
        # The most recently updated PR whose own work an issue is decides its transition, across repositories.
        latest = _latest_pr_per_issue((pr, batch.movable[pr.id]) for batch in batches for pr in batch.prs)
        if not self._dry_run:
            self._store.record_pr_states(
                (pr.web_url, pr.state, batch.movable[pr.id]) for batch in batches for pr in batch.prs
            )
        submitted = [(batch, self._submit_pairs(batch, latest)) for batch in batches]
        for batch, futures in submitted:
            failed = self._collect(futures)
            if move_cursors and batch.prs and not failed and not self._dry_run:
                self._store.set_cursor(batch.repo, max(pr.updated for pr in batch.prs))
        self.report.requests = self._requests() - before
        self.report.seconds = time.monotonic() - start
        if self._state_error is not None:
            raise self._state_error  # the state cannot be trusted to record more: stop (CLI exit 74)
        return self.report

    def _requests(self) -> int:
        return self._jira.api.request_count + self._bb.api.request_count

    def _read_in_parallel(
        self, sources: Sequence[tuple[str, Callable[[], list[PullRequest]]]], readers: DaemonExecutor
    ) -> list[_Read]:
        """Read every source's pull requests, and start reading their commit messages."""
        listed = [(repo, readers.submit(read)) for repo, read in sources]
        result = []
        for repo, future in listed:
            prs = future.result()
            self.report.add(pull_requests=len(prs))
            commits: dict[int, Future[list[str]]] = {}
            if self._settings.sync.scan_commits:
                commits = {pr.id: readers.submit(self._commit_messages, repo, pr.id) for pr in prs}
            result.append((repo, prs, commits))
        return result

    def _pull_requests(self, repo: str) -> list[PullRequest]:
        since = None if self._full else self._store.cursor(repo)
        prs = list(self._bb.pull_requests(repo, states=DEFAULT_PR_STATES, updated_since=since))
        if since is not None:
            prs = [pr for pr in prs if pr.updated > since]
        return prs

    def _commit_messages(self, repo: str, pr_id: int) -> list[str]:
        try:
            return [commit.message for commit in self._bb.pull_request_commits(repo, pr_id)]
        except ApiError as exc:
            # One unreadable PR (say its source branch was deleted: DC answers 404 NoSuchCommitException)
            # must not stop the repository, this run or the next: sync it from what could be read.
            self.report.warn(
                f"{repo}#{pr_id}: its commits could not be read ({exc}); synced from its title, branch "
                "and description"
            )
            return []

    def _keys_by_pr(self, read: _Read) -> _RepoBatch:
        repo, prs, commits = read
        projects, sync = self._settings.jira.projects, self._settings.sync
        keys: dict[int, list[str]] = {}
        movable: dict[int, frozenset[str]] = {}
        for pr in prs:
            messages = commits[pr.id].result() if pr.id in commits else []
            lower = sync.branch_keys_ignore_case
            keys[pr.id] = pr_keys(
                pr, sources=KEY_SOURCES, projects=projects, commits=messages, branch_ignore_case=lower
            )
            # Only keys that stand where the PR names its own work may move the issue.
            movable[pr.id] = frozenset(pr_keys(
                pr, sources=sync.transition_keys_from, projects=projects, commits=messages, branch_ignore_case=lower
            ))
        return _RepoBatch(repo, prs, keys, movable)

    def _lookup(self, keys: set[str], readers: DaemonExecutor) -> None:
        todo = sorted(k for k in keys if k not in self._issues)
        batches = [todo[start : start + _LOOKUP_BATCH] for start in range(0, len(todo), _LOOKUP_BATCH)]
        # The batches are independent reads: sent together, they cost one round trip, not one each.
        for batch, lookup in zip(batches, readers.map(self._jira.get_issues, batches), strict=True):
            for key in batch:
                self._issues[key] = lookup.found.get(key)
        self.report.issue_keys.update(k for k in keys if self._issues.get(k))
        self.report.skipped_keys.update(k for k in keys if self._issues.get(k) is None)

    def _submit_pairs(
        self, batch: _RepoBatch, latest: Mapping[str, PullRequest]
    ) -> dict[Future[Any], _Step]:
        futures: dict[Future[Any], _Step] = {}
        for pr in batch.prs:
            for key in batch.keys[pr.id]:
                issue = self._issues.get(key)
                if issue is None:
                    continue
                target = self._transition_target(pr, issue) if latest.get(key) is pr else None
                task = PairTask(issue=key, pr=PrRef.of(pr), comment=self._settings.sync.comment, transition=target)
                if self._dry_run:
                    self._plan(task, issue)
                    continue
                futures.update(self._submit_pair(task))
        self._queued += len(futures)
        self._progress()
        return futures

    def _submit_pair(self, task: PairTask) -> dict[Future[Any], _Step]:
        args = task.to_args()
        digest = hashlib.sha256(repr(sorted(args.items())).encode()).hexdigest()[:16]
        target = describe_target(args)  # the same words a dead letter gets
        steps = [_Step(operation, target, f"{operation}:{task.issue}:{task.pr.url}") for operation in task.steps()]
        return {
            self._queue.submit(
                step.operation,
                args,
                key=self._jira.key,
                idempotent=True,  # every step checks the state (and Jira) before it writes
                # The digest: a PR that changed is new work, not the pending task's twin.
                idempotency_key=f"{step.target_key}:{digest}",
                subkey=task.issue,  # writes to one issue run one at a time
            ): step
            for step in steps
        }

    def _transition_target(self, pr: PullRequest, issue: Issue) -> str | None:
        """Where this PR moves the issue, if anywhere: the configured status, within the rules below."""
        sync = self._settings.sync
        name = sync.transitions.get(pr.state.lower(), "")
        if not name:
            return None
        if issue.status_category == "done" and pr.state != "MERGED" and not sync.reopen:
            return None  # an opened, updated or declined PR never moves finished work backwards
        if pr.state == "DECLINED" and self._store.other_active_pr(issue.key, pr.web_url):
            return None  # another PR is still open (or merged) for this issue: it stays where that one put it
        return name

    def _plan(self, task: PairTask, issue: Issue) -> None:
        for action, detail in self._applier.plan(task, issue):
            self.report.plan.append(PlannedAction(action, task.issue, task.pr.name, detail))

    def _collect(self, futures: dict[Future[Any], _Step]) -> bool:
        failed = False
        for future, step in futures.items():
            error = future.exception()
            if isinstance(error, StateError):
                self._state_error = self._state_error or error
            if error is not None:
                failed = True
                message = str(error) if isinstance(error, JirabucketError) else f"{type(error).__name__}: {error}"
                self.report.fail(Failure(step.operation, step.target, message))
            else:
                self.settled.add(step.target_key)
            self._done += 1
            self._progress()
        return failed

    def _progress(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self._done, self._queued)


@dataclass(frozen=True, slots=True)
class _Step:
    """One queued step: its operation, the words reports use for it, and its target's key.

    ``target_key`` (``operation:issue:PR URL``) starts the step's idempotency key; a
    dead letter whose key starts with it is moot once the step has succeeded.
    """

    operation: str
    target: str
    target_key: str


@dataclass(frozen=True, slots=True)
class _RepoBatch:
    """One repository's pull requests read in this run, and the keys each names."""

    repo: str
    prs: list[PullRequest]
    keys: dict[int, list[str]]
    movable: dict[int, frozenset[str]]


def _latest_pr_per_issue(prs_with_keys: Iterable[tuple[PullRequest, Iterable[str]]]) -> dict[str, PullRequest]:
    """For each issue, the most recently updated PR naming it: its state decides the transition."""
    latest: dict[str, PullRequest] = {}
    for pr, keys in prs_with_keys:
        for key in keys:
            if key not in latest or pr.updated > latest[key].updated:
                latest[key] = pr
    return latest
