"""The one thread that syncs: pending pull requests as they fall due, and the reconcile on its timer.

The sync session runs one sync at a time, so every sync — a pull request a
delivery asked for, or the periodic incremental sync that heals missed
deliveries — goes through this thread. A sync that raises stays pending and
is tried again after :func:`retry_delay`; one whose pull request is gone (404)
or that cannot succeed (another 4xx) is dropped with an error line; steps that
fail for good are dead letters (``jirabucket failed``), as for ``sync``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from jirabucket.errors import JirabucketError, NotFound, PermanentError
from jirabucket.queue import lifecycle
from jirabucket.sync import SyncReport
from jirabucket.webhooks.inbox import Inbox, PendingSync

__all__ = ["Dispatcher", "DispatcherStatus", "PullRequestSyncer", "retry_delay"]

_log = logging.getLogger("jirabucket.webhooks")
_PRUNE_EVERY = 3600.0
_MAX_WAIT = 60.0  # wake at least this often, whatever the clock does


class PullRequestSyncer(Protocol):
    """What the dispatcher drives: :class:`jirabucket.sync.SyncSession` is one."""

    def sync(self) -> SyncReport:
        """Resume the journal's leftovers and sync every configured repository incrementally."""
        ...

    def sync_pull_request(self, repo: str, pr_id: int) -> SyncReport:
        """Sync one pull request, re-read from Bitbucket by id, cursor untouched."""
        ...


def retry_delay(attempts: int, *, base: float = 5.0, cap: float = 300.0) -> float:
    """Seconds before a pull request whose sync raised ``attempts + 1`` times is tried again.

    Doubles from ``base`` up to ``cap``: ``retry_delay(0) == 5``, ``retry_delay(3) == 40``, then 300 at most.
    """
    return min(cap, base * 2.0 ** min(attempts, 32))


@dataclass(frozen=True, slots=True)
class DispatcherStatus:
    """What the dispatcher has done, for ``/healthz``.

    Attributes:
        pull_request_syncs: Pull-request syncs finished (successfully or not) since start.
        reconciles: Reconciles finished since start.
        last_reconcile: When the last reconcile finished without raising (UTC), or ``None``.
        last_error: The last failure, one line, or ``None``.
        last_error_at: When it happened (UTC), or ``None``.
        running: Whether the thread is alive.
    """

    pull_request_syncs: int
    reconciles: int
    last_reconcile: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    running: bool


class Dispatcher:
    """Run the syncs of an :class:`Inbox` and the periodic reconcile, one at a time, in one thread.

    Args:
        syncer: The open sync session.
        inbox: Where the pending pull requests are.
        reconcile_every: Seconds between incremental syncs of every repository; ``0`` for none.
            The first runs at start, after the pull requests left pending.
        clock: Wall-clock seconds, the inbox's clock.
        backoff: Seconds to wait before retrying a pull request after so many failed attempts.
    """

    def __init__(
        self,
        syncer: PullRequestSyncer,
        inbox: Inbox,
        *,
        reconcile_every: float,
        clock: Callable[[], float] = time.time,
        backoff: Callable[[int], float] = retry_delay,
    ) -> None:
        if reconcile_every < 0:
            raise ValueError("reconcile_every must be >= 0")
        self._syncer = syncer
        self._inbox = inbox
        self._every = reconcile_every
        self._clock = clock
        self._backoff = backoff
        self._cv = threading.Condition()
        self._woken = False
        self._stopping = False
        self._syncs = 0
        self._reconciles = 0
        self._last_reconcile: datetime | None = None
        self._error: tuple[str, datetime] | None = None
        self._thread = threading.Thread(target=self._run, name="jirabucket-webhooks", daemon=True)

    def start(self) -> None:
        """Make what an earlier process left pending due now, and start the thread."""
        left = self._inbox.replay()
        if left:
            _log.info("replaying %d pull request(s) left pending by the previous process", left)
        self._thread.start()

    def wake(self) -> None:
        """Look at the inbox again now (a delivery was recorded)."""
        with self._cv:
            self._woken = True
            self._cv.notify()

    def stop(self, timeout: float) -> bool:
        """Take no more work; wait up to ``timeout`` seconds for the sync in flight.

        Returns:
            Whether the thread has ended (if not, its sync is still running).
        """
        with self._cv:
            self._stopping = True
            self._cv.notify()
        return lifecycle.join(self._thread, timeout)  # in slices: a second SIGTERM stops at once

    def status(self) -> DispatcherStatus:
        """Return what the dispatcher has done so far."""
        with self._cv:
            error, at = self._error if self._error is not None else (None, None)
            return DispatcherStatus(
                self._syncs, self._reconciles, self._last_reconcile, error, at, self._thread.is_alive()
            )

    def _run(self) -> None:
        now = self._clock()
        next_reconcile = now if self._every > 0 else math.inf
        next_prune = now
        while not self._stopped():
            now = self._clock()
            item: PendingSync | None = None
            pause_until = math.inf
            try:
                if now >= next_prune:
                    self._inbox.forget_deliveries()
                    next_prune = now + _PRUNE_EVERY
                item = self._inbox.next()
                if item is not None and item.due_at <= now:
                    self._sync(item)
                    continue
                if now >= next_reconcile:
                    self._reconcile()
                    next_reconcile = self._clock() + self._every
                    continue
            except Exception as exc:  # the inbox failed (e.g. a full disk): say so, wait, try again
                self._fail(f"webhook inbox: {exc}", exc)
                item, pause_until = None, now + self._backoff(0)
            due = math.inf if item is None else item.due_at
            wake_at = pause_until if pause_until < math.inf else min(next_reconcile, next_prune, due)
            self._wait(wake_at - self._clock())

    def _stopped(self) -> bool:
        with self._cv:
            return self._stopping

    def _wait(self, seconds: float) -> None:
        with self._cv:
            if not (self._woken or self._stopping) and seconds > 0:
                self._cv.wait(min(seconds, _MAX_WAIT))
            self._woken = False

    def _sync(self, item: PendingSync) -> None:
        target = f"{item.repository}#{item.pull_request}"
        started = time.monotonic()
        try:
            report = self._syncer.sync_pull_request(item.repository, item.pull_request)
        except (NotFound, PermanentError) as exc:  # gone or refused: another try cannot help
            self._inbox.finish(item)
            self._fail(f"{target}: {exc} (dropped)", exc)
        except Exception as exc:  # transient, auth, state or a bug: keep it and try later
            if self._stopped():  # the shutdown closed the queue under it: not a failure
                _log.info("sync of %s interrupted by shutdown; pending for the next start", target)
                return
            delay = self._backoff(item.attempts)
            self._inbox.postpone(item, delay)
            self._fail(f"{target}: {exc} (retrying in {delay:.0f} s)", exc)
        else:
            seconds = time.monotonic() - started
            if report.failed and self._stopped():
                # Abandoned by the shutdown, not failed: the row stays for the next start.
                _log.info("sync of %s interrupted by shutdown; pending for the next start", target)
            else:
                self._inbox.finish(item)
                self._log_sync(target, item, report, seconds)
        with self._cv:
            self._syncs += 1

    def _log_sync(self, target: str, item: PendingSync, report: SyncReport, seconds: float) -> None:
        summary = (
            f"synced {target} ({item.deliveries} deliver{'y' if item.deliveries == 1 else 'ies'}): "
            f"{report.links_created + report.links_updated} link(s), {report.comments_added} comment(s), "
            f"{report.transitions} transition(s) in {seconds:.2f} s"
        )
        if report.failed:
            first = report.failed[0]
            self._fail(
                f"{summary}; {len(report.failed)} step(s) failed for good ({first.operation} {first.target}: "
                f"{first.error}), kept as dead letters (jirabucket failed)",
                None,
            )
        else:
            _log.info("%s", summary)
        for warning in report.warnings:
            _log.warning("%s: %s", target, warning)

    def _reconcile(self) -> None:
        started = time.monotonic()
        try:
            report = self._syncer.sync()
        except Exception as exc:  # the next reconcile tries again
            self._fail(f"reconcile: {exc}", exc)
        else:
            with self._cv:
                self._last_reconcile = datetime.now(UTC)
            message = (
                f"reconciled {report.pull_requests} pull request(s) in {time.monotonic() - started:.2f} s"
            )
            if report.failed:
                self._fail(f"{message}; {len(report.failed)} step(s) failed for good (jirabucket failed)", None)
            else:
                _log.info("%s", message)
        with self._cv:
            self._reconciles += 1

    def _fail(self, message: str, exc: BaseException | None) -> None:
        """Remember the failure for /healthz and log it (a traceback only for what is not ours: a bug)."""
        with self._cv:
            self._error = (message, datetime.now(UTC))
        if exc is None or isinstance(exc, JirabucketError):
            _log.error("%s", message)
        else:
            _log.error("%s", message, exc_info=exc)
