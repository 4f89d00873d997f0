"""Wiring: settings and tokens become one queue and both clients, once.

The services (sync and the commands to come) use :func:`open_runtime`, so
every outbound call goes through the same queue with the same per-host limits,
and the clients get plain values (URL, token, flavor, timeout), never settings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from jirabucket.clients import BitbucketClient, JiraClient
from jirabucket.config import Settings
from jirabucket.queue import AttemptHook, Journal, KeyLimit, RetryPolicy, TaskQueue, WaitHook
from jirabucket.queue.clock import Clock
from jirabucket.statedir import DB_NAME, STATE_FAILURES, ensure_state_dir, state_error
from jirabucket.tokens import BitbucketToken, JiraToken

__all__ = ["BITBUCKET_CLOUD_PER_HOUR", "Runtime", "build_queue", "open_journal", "open_runtime"]

#: Bitbucket Cloud's documented allowance on /2.0/repositories/*, per user and rolling hour.
BITBUCKET_CLOUD_PER_HOUR = 1000
_CLOSE_TIMEOUT = 30.0
_INTERRUPT_TIMEOUT = 0.0


@dataclass(frozen=True, slots=True)
class Runtime:
    """The parts every service runs on.

    Attributes:
        settings: What to sync.
        queue: The one queue every call goes through.
        jira: The Jira client.
        bitbucket: The Bitbucket client.
    """

    settings: Settings
    queue: TaskQueue
    jira: JiraClient
    bitbucket: BitbucketClient


def build_queue(
    settings: Settings, *, journal: Journal | None, hooks: Sequence[AttemptHook] = (),
    wait_hooks: Sequence[WaitHook] = (), clock: Clock | None = None,
) -> TaskQueue:
    """Build the queue with the settings' workers, attempts and per-host limits.

    Args:
        settings: The settings.
        journal: The durable journal, or ``None`` for an in-memory queue.
        hooks: Attempt hooks (progress, logging).
        wait_hooks: Called when a host starts waiting (rate limited), e.g. to tell the user.
        clock: The queue's clock (a benchmark's :class:`~jirabucket.queue.ManualClock`); real time when ``None``.

    Returns:
        A started queue.
    """
    q = settings.queue
    limits: dict[str, KeyLimit] = {}
    bb = settings.bitbucket
    bb_key = BitbucketClient.queue_key(bb.url)
    if bb.requests_per_hour:
        limits[bb_key] = KeyLimit(
            concurrency=q.per_host_concurrency, rate=bb.requests_per_hour / 3600.0, burst=q.per_host_concurrency
        )
    elif bb.flavor == "cloud":
        # Bitbucket Cloud allows 1,000 requests an hour per user on /repositories (rolling), and its 429s
        # carry no Retry-After. Unless told otherwise: the first thousand go at full speed (a cron run
        # needs a few dozen), then about one every 3.6 s, so a long first sync settles at the allowance.
        limits[bb_key] = KeyLimit(
            concurrency=q.per_host_concurrency, rate=BITBUCKET_CLOUD_PER_HOUR / 3600.0, burst=BITBUCKET_CLOUD_PER_HOUR
        )
    return TaskQueue(
        workers=q.workers,
        policy=RetryPolicy(
            max_attempts=q.max_attempts, max_delay=q.max_delay, rate_limit_max_wait=q.rate_limit_max_wait,
            rate_limit_base_delay=q.rate_limit_backoff,
        ),
        journal=journal,
        limits=limits,
        default_limit=KeyLimit(concurrency=q.per_host_concurrency),
        hooks=hooks,
        wait_hooks=wait_hooks,
        clock=clock,
    )


def open_journal(state_dir: Path) -> Journal:
    """Open the queue's journal in the state directory.

    Raises:
        StateError: The directory or the database is unusable (damaged, read-only, full).
    """
    path = ensure_state_dir(state_dir) / DB_NAME
    try:
        return Journal(path)
    except STATE_FAILURES as exc:
        raise state_error(_file_of(exc, path), exc) from None


def _close_journal(journal: Journal) -> None:
    """Close the journal; a failure of its last commit or of its done log becomes a StateError."""
    try:
        journal.close()
    except STATE_FAILURES as exc:
        raise state_error(_file_of(exc, Path(journal.path)), exc) from None


def _file_of(exc: BaseException, database: Path) -> Path:
    """The file a failure is about: the one the OS names (e.g. a done log beside it), else the database."""
    filename = exc.filename if isinstance(exc, OSError) else None
    return Path(filename) if isinstance(filename, str) else database


@contextlib.contextmanager
def open_runtime(
    settings: Settings,
    *,
    jira_token: JiraToken,
    bitbucket_token: BitbucketToken,
    durable: bool = True,
    hooks: Sequence[AttemptHook] = (),
    wait_hooks: Sequence[WaitHook] = (),
) -> Iterator[Runtime]:
    """Open the queue and the clients; close them all on exit.

    Args:
        settings: The settings.
        jira_token: The Jira credential.
        bitbucket_token: The Bitbucket credential.
        durable: Keep a journal in the state directory (off for dry runs).
        hooks: Attempt hooks.
        wait_hooks: Called when a host starts waiting (rate limited).

    Yields:
        The runtime.
    """
    journal = open_journal(settings.state_dir) if durable else None
    queue = build_queue(settings, journal=journal, hooks=hooks, wait_hooks=wait_hooks)
    jira = JiraClient(settings.jira.url, jira_token, flavor=settings.jira.flavor, queue=queue, timeout=settings.timeout)
    bb = settings.bitbucket
    bitbucket = BitbucketClient(bb.url, bitbucket_token, flavor=bb.flavor, queue=queue, timeout=settings.timeout)
    drain = _CLOSE_TIMEOUT
    try:
        yield Runtime(settings, queue, jira, bitbucket)
    except KeyboardInterrupt:
        drain = _INTERRUPT_TIMEOUT  # stop promptly: what is left stays in the journal
        raise
    finally:
        try:
            queue.close(timeout=drain)
        finally:
            jira.close()
            bitbucket.close()
            if journal is not None:
                _close_journal(journal)
