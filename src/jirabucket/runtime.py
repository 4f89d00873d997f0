"""Wiring: one queue, both clients and the state store, built from settings and tokens.

The CLI, the demo and scripts use :func:`open_runtime` so that every outbound
call goes through the same queue with the same per-host limits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from jirabucket.clients import BitbucketClient, JiraClient
from jirabucket.queue import AttemptHook, Journal, KeyLimit, RetryPolicy, TaskQueue
from jirabucket.settings import Settings
from jirabucket.state import DB_NAME, StateStore, ensure_state_dir
from jirabucket.tokens import BitbucketToken, JiraToken

__all__ = ["Runtime", "build_queue", "open_runtime"]

_CLOSE_TIMEOUT = 30.0
_INTERRUPT_TIMEOUT = 0.0


@dataclass(frozen=True, slots=True)
class Runtime:
    """The parts of a running sync.

    Attributes:
        settings: What to sync.
        queue: The one queue every call goes through.
        jira: The Jira client.
        bitbucket: The Bitbucket client.
        store: The sync state (same SQLite file as the journal).
    """

    settings: Settings
    queue: TaskQueue
    jira: JiraClient
    bitbucket: BitbucketClient
    store: StateStore


def build_queue(settings: Settings, *, journal: Journal | None, hooks: Sequence[AttemptHook] = ()) -> TaskQueue:
    """Build the queue with the settings' workers, attempts and per-host limits.

    Args:
        settings: The settings.
        journal: The durable journal, or ``None`` for an in-memory queue.
        hooks: Attempt hooks (progress, logging).

    Returns:
        A started queue.
    """
    q = settings.queue
    limits: dict[str, KeyLimit] = {}
    rate = settings.bitbucket.requests_per_hour
    if rate:
        bb_key = BitbucketClient.queue_key(settings.bitbucket.url)
        limits[bb_key] = KeyLimit(concurrency=q.per_host_concurrency, rate=rate / 3600.0, burst=q.per_host_concurrency)
    return TaskQueue(
        workers=q.workers,
        policy=RetryPolicy(max_attempts=q.max_attempts, max_delay=q.max_delay),
        journal=journal,
        limits=limits,
        default_limit=KeyLimit(concurrency=q.per_host_concurrency),
        hooks=hooks,
    )


@contextlib.contextmanager
def open_runtime(
    settings: Settings,
    *,
    jira_token: JiraToken,
    bitbucket_token: BitbucketToken,
    durable: bool = True,
    hooks: Sequence[AttemptHook] = (),
) -> Iterator[Runtime]:
    """Open the queue, clients and state store; close them all on exit.

    Args:
        settings: The settings.
        jira_token: The Jira credential.
        bitbucket_token: The Bitbucket credential.
        durable: Keep a journal in the state directory (off for dry runs).
        hooks: Attempt hooks.

    Yields:
        The runtime.
    """
    state_dir = ensure_state_dir(settings.state_dir)
    journal = Journal(state_dir / DB_NAME) if durable else None
    store = StateStore(state_dir)
    queue = build_queue(settings, journal=journal, hooks=hooks)
    jira = JiraClient(settings.jira.url, jira_token, flavor=settings.jira.flavor, queue=queue, timeout=settings.timeout)
    bb = settings.bitbucket
    bitbucket = BitbucketClient(bb.url, bitbucket_token, flavor=bb.flavor, queue=queue, timeout=settings.timeout)
    drain = _CLOSE_TIMEOUT
    try:
        yield Runtime(settings, queue, jira, bitbucket, store)
    except KeyboardInterrupt:
        drain = _INTERRUPT_TIMEOUT  # stop promptly: what is left stays in the journal
        raise
    finally:
        try:
            queue.close(timeout=drain)
        finally:
            jira.close()
            bitbucket.close()
            store.close()
            if journal is not None:
                journal.close()
