"""The sync as functions for scripts and the CLI: :func:`sync`, :func:`retry_failed`, :func:`failed_work`.

Each opens what it needs (the state-directory lock, the queue with its
journal, both clients, the state store), runs, closes everything, and returns
a typed report. Tokens default to the environment (``JIRA_TOKEN`` …), like
the settings do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from jirabucket.config import Settings
from jirabucket.credentials import check_fit, verify
from jirabucket.queue import DeadLetter, WaitHook
from jirabucket.runtime import Runtime, open_journal, open_runtime
from jirabucket.statedir import DB_NAME, STATE_FAILURES, StateLock, state_error
from jirabucket.sync.engine import ProgressCallback, SyncEngine
from jirabucket.sync.report import Failure, SyncReport, describe_target
from jirabucket.sync.state import StateStore
from jirabucket.sync.steps import STEPS, PairApplier, transition_rules
from jirabucket.tokens import BitbucketToken, JiraToken

__all__ = ["RetryReport", "SyncSession", "failed_work", "retry_failed", "sync", "sync_pull_request"]


@dataclass(frozen=True, slots=True)
class RetryReport:
    """The outcome of :func:`retry_failed`.

    Attributes:
        retried: Dead letters submitted again.
        still_failed: Dead letters left afterwards.
    """

    retried: int
    still_failed: int


class SyncSession:
    """An open sync — lock, queue with journal, clients, state, credentials proved — for many runs.

    :func:`sync` and :func:`sync_pull_request` open one for a single run; a long-lived
    process (``jirabucket serve``) opens one and calls :meth:`sync` and
    :meth:`sync_pull_request` as events and timers ask, one at a time.

    Args:
        settings: What to sync.
        jira_token: The Jira credential; from the environment when ``None``.
        bitbucket_token: The Bitbucket credential; from the environment when ``None``.
        durable: Keep the queue's journal (off for dry runs).
        wait_hooks: Called when a host starts waiting (rate limited), e.g. to tell the user.

    Raises:
        ConfigError, StateError, StateLocked, AuthError: On entering, as for :func:`sync`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        jira_token: JiraToken | None = None,
        bitbucket_token: BitbucketToken | None = None,
        durable: bool = True,
        wait_hooks: Sequence[WaitHook] = (),
    ) -> None:
        self.settings = settings
        self._tokens = (jira_token, bitbucket_token)
        self._durable = durable
        self._wait_hooks = tuple(wait_hooks)
        self._stack = contextlib.ExitStack()
        self._parts: tuple[Runtime, StateStore] | None = None

    def __enter__(self) -> Self:
        jira_token, bitbucket_token = self._tokens
        self._parts = self._stack.enter_context(
            _session(self.settings, jira_token, bitbucket_token, durable=self._durable, wait_hooks=self._wait_hooks)
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._parts = None
        self._stack.__exit__(exc_type, exc, tb)

    @property
    def runtime(self) -> Runtime:
        """The open queue and clients.

        Raises:
            RuntimeError: The session is not open.
        """
        return self._open()[0]

    def _open(self) -> tuple[Runtime, StateStore]:
        if self._parts is None:
            raise RuntimeError("the sync session is not open: use it as a context manager")
        return self._parts

    def _engine(
        self, *, report: SyncReport | None, full: bool = False, progress: ProgressCallback | None = None
    ) -> SyncEngine:
        rt, store = self._open()
        return SyncEngine(
            settings=self.settings, jira=rt.jira, bitbucket=rt.bitbucket, queue=rt.queue, store=store,
            dry_run=not self._durable, full=full, on_progress=progress, report=report,
        )

    def sync(
        self,
        *,
        full: bool = False,
        repositories: Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
        report: SyncReport | None = None,
    ) -> SyncReport:
        """Resume the journal's leftovers, then sync the repositories (see :func:`sync`)."""
        rt, _ = self._open()
        engine = self._engine(full=full, progress=progress, report=report)
        known_dead = {d.id for d in rt.queue.dead_letters()}
        if self._durable:
            rt.queue.resume()
        result = engine.run(repositories=repositories)
        rt.queue.join()
        self._discard_moot(engine)
        # Steps resumed from an earlier run have no future here: their failures show as new dead letters.
        # (A read that failed for good was already met by whoever waited on it.)
        listed = {(f.operation, f.target) for f in result.failed}
        for dead in rt.queue.dead_letters():
            failure = Failure(dead.operation, describe_target(dead.args), dead.error)
            resumed = dead.id not in known_dead and dead.operation in STEPS
            if resumed and (failure.operation, failure.target) not in listed:
                result.fail(failure)
        return result

    def sync_pull_request(self, repo: str, pr_id: int, *, report: SyncReport | None = None) -> SyncReport:
        """Sync one pull request, cursor untouched (see :func:`sync_pull_request`)."""
        rt, _ = self._open()
        engine = self._engine(report=report)
        result = engine.run_pull_request(repo, pr_id)
        rt.queue.join()
        self._discard_moot(engine)
        return result

    def _discard_moot(self, engine: SyncEngine) -> None:
        """Forget the dead letters of steps that have since succeeded: they are no longer failed work."""
        rt, _ = self._open()
        moot = [
            dead.idempotency_key for dead in rt.queue.dead_letters()
            if dead.idempotency_key and dead.idempotency_key.rsplit(":", 1)[0] in engine.settled
        ]
        if moot:
            rt.queue.discard_dead_letters(moot)


def sync(
    settings: Settings,
    *,
    jira_token: JiraToken | None = None,
    bitbucket_token: BitbucketToken | None = None,
    dry_run: bool = False,
    full: bool = False,
    repositories: Sequence[str] | None = None,
    progress: ProgressCallback | None = None,
    report: SyncReport | None = None,
    wait_hooks: Sequence[WaitHook] = (),
) -> SyncReport:
    """Sync every configured repository once: resume the journal's leftovers, then read and write.

    Args:
        settings: What to sync (:func:`jirabucket.config.load_settings`).
        jira_token: The Jira credential; ``JiraToken.from_env()`` when ``None``.
        bitbucket_token: The Bitbucket credential; ``BitbucketToken.from_env()`` when ``None``.
        dry_run: Read, plan, write nothing (not even state); the plan is in ``report.plan``.
        full: Ignore the cursors and read every pull request.
        repositories: Sync only these (configured or not); ``None`` for all configured ones.
        progress: Called with (steps done, steps queued) as work completes.
        report: The report to fill; pass one to read the counts so far if the sync
            raises or is interrupted (the CLI does, for ``--json``).
        wait_hooks: Called when a host starts waiting (rate limited), e.g. to tell the user.

    Returns:
        The report; ``report.failed`` lists work that failed for good (kept as dead letters).

    Raises:
        ConfigError: A token is missing or malformed.
        StateError: The state directory or database is damaged, unwritable or full.
        StateLocked: Another sync runs on the same state directory.
        AuthError: A token was refused.
        JirabucketError: Reading pull requests or issues failed for good.
    """
    session = SyncSession(
        settings, jira_token=jira_token, bitbucket_token=bitbucket_token, durable=not dry_run, wait_hooks=wait_hooks
    )
    with session:
        return session.sync(full=full, repositories=repositories, progress=progress, report=report)


def sync_pull_request(
    settings: Settings,
    *,
    repo: str,
    pr_id: int,
    jira_token: JiraToken | None = None,
    bitbucket_token: BitbucketToken | None = None,
    dry_run: bool = False,
    report: SyncReport | None = None,
    wait_hooks: Sequence[WaitHook] = (),
) -> SyncReport:
    """Sync exactly one pull request (links, comment, transition) and leave the repository's cursor alone.

    For CI pipelines and webhooks: Jira is updated the moment a PR changes, and a
    later :func:`sync` still does everything else, with no duplicates.

    Args:
        settings: What to sync.
        repo: ``workspace/slug`` (Cloud) or ``PROJECTKEY/slug`` (Data Center).
        pr_id: The pull request's number.
        jira_token: The Jira credential; from the environment when ``None``.
        bitbucket_token: The Bitbucket credential; from the environment when ``None``.
        dry_run: Read and plan; write nothing.
        report: The report to fill (see :func:`sync`).
        wait_hooks: Called when a host starts waiting (see :func:`sync`).

    Returns:
        The report.

    Raises:
        NotFound: No such repository or pull request.
        ConfigError, StateError, StateLocked, AuthError: As for :func:`sync`.
    """
    session = SyncSession(
        settings, jira_token=jira_token, bitbucket_token=bitbucket_token, durable=not dry_run, wait_hooks=wait_hooks
    )
    with session:
        return session.sync_pull_request(repo, pr_id, report=report)


def retry_failed(
    settings: Settings, *, jira_token: JiraToken | None = None, bitbucket_token: BitbucketToken | None = None
) -> RetryReport:
    """Run the dead letters again and wait for them.

    Args:
        settings: The settings of the sync that left them.
        jira_token: The Jira credential; from the environment when ``None``.
        bitbucket_token: The Bitbucket credential; from the environment when ``None``.

    Returns:
        How many were retried and how many are still failed.
    """
    with _session(settings, jira_token, bitbucket_token, durable=True) as (rt, store):
        applier = PairApplier(jira=rt.jira.api, store=store, report=SyncReport(), rules=transition_rules(settings))
        applier.register(rt.queue, key=rt.jira.key)
        count = rt.queue.retry_dead_letters()
        rt.queue.join()
        return RetryReport(count, len(rt.queue.dead_letters()))


def failed_work(state_dir: Path) -> list[DeadLetter]:
    """Return the dead letters kept in ``state_dir``, without tokens or requests.

    Args:
        state_dir: The state directory (``settings.state_dir``).

    Returns:
        The dead letters, oldest first (none when there is no journal yet).
    """
    if not (state_dir / DB_NAME).exists():
        return []
    journal = open_journal(state_dir)
    try:
        return journal.dead_letters()
    except STATE_FAILURES as exc:
        raise state_error(state_dir / DB_NAME, exc) from None
    finally:
        journal.close()


@contextlib.contextmanager
def _session(
    settings: Settings, jira_token: JiraToken | None, bitbucket_token: BitbucketToken | None, *, durable: bool,
    wait_hooks: Sequence[WaitHook] = (),
) -> Iterator[tuple[Runtime, StateStore]]:
    """Tokens checked first, then the lock, the runtime, the state store and the credentials; all closed on exit."""
    jira_token = JiraToken.from_env() if jira_token is None else jira_token
    bitbucket_token = BitbucketToken.from_env() if bitbucket_token is None else bitbucket_token
    check_fit(settings, jira_token=jira_token, bitbucket_token=bitbucket_token)
    with (
        StateLock(settings.state_dir),
        open_runtime(
            settings, jira_token=jira_token, bitbucket_token=bitbucket_token, durable=durable, wait_hooks=wait_hooks
        ) as rt,
        contextlib.closing(StateStore(settings.state_dir)) as store,
    ):
        # Every run proves both tokens first: a run with nothing new must not look green with a dead token.
        verify(rt, jira_token=jira_token, bitbucket_token=bitbucket_token)
        yield rt, store
