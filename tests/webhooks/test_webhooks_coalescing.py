"""Bursts become one sync per pull request; the pending record decides what is synced, when, and again."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from webhook_harness import Deliverer, empty_world, pr_reads, serving, wait_for

from jirabucket.errors import NotFound, TransientError
from jirabucket.sync import Failure, SyncReport
from jirabucket.webhooks import Dispatcher, Inbox, PullRequestEvent, retry_delay

WINDOW = 2.0


class Clock:
    """Wall-clock seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Syncer:
    """Records the syncs asked of it; each answer comes from ``outcome`` (a report, or an error to raise)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.order: list[str] = []
        self.outcome: Callable[[str, int], SyncReport] = lambda repo, pr: SyncReport()
        self._lock = threading.Lock()

    def sync(self) -> SyncReport:
        with self._lock:
            self.order.append("reconcile")
        return SyncReport()

    def sync_pull_request(self, repo: str, pr_id: int) -> SyncReport:
        with self._lock:
            self.calls.append((repo, pr_id))
            self.order.append(f"{repo}#{pr_id}")
        return self.outcome(repo, pr_id)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def inbox(tmp_path: Path, clock: Clock) -> Iterator[Inbox]:
    box = Inbox(tmp_path / "state", clock=clock)
    yield box
    box.close()


def _event(pr: int, repo: str = "acme/api", event: str = "pullrequest:updated") -> PullRequestEvent:
    return PullRequestEvent(event, repo, pr)


# -- the inbox, with numbers ---------------------------------------------------------------------------------------


def test_a_burst_for_one_pull_request_is_one_row_due_one_window_after_its_first_delivery(
    inbox: Inbox, clock: Clock
) -> None:
    start = clock.now
    for n in range(20):
        assert inbox.record(_event(7), delivery_id=f"d{n}", window=WINDOW)
        clock.advance(0.05)
    item = inbox.next()
    assert item is not None
    assert (item.repository, item.pull_request, item.deliveries, item.attempts) == ("acme/api", 7, 20, 0)
    assert item.due_at == start + WINDOW  # later deliveries do not push it back: no starvation
    assert inbox.pending() == 1


def test_a_delivery_seen_before_changes_nothing(inbox: Inbox) -> None:
    assert inbox.record(_event(1), delivery_id="same", window=WINDOW)
    assert not inbox.record(_event(1), delivery_id="same", window=WINDOW)
    assert not inbox.record(_event(2), delivery_id="same", window=WINDOW)  # an id is one delivery, whatever it says
    item = inbox.next()
    assert item is not None and item.deliveries == 1 and inbox.pending() == 1
    assert inbox.record(_event(1), delivery_id=None, window=WINDOW)  # without an id: no dedupe
    assert inbox.record(_event(1), delivery_id=None, window=WINDOW)


def test_finishing_removes_the_row_unless_deliveries_came_during_the_sync(inbox: Inbox, clock: Clock) -> None:
    inbox.record(_event(1), delivery_id="a", window=WINDOW)
    inbox.record(_event(1), delivery_id="b", window=WINDOW)
    clock.advance(WINDOW)
    taken = inbox.next()
    assert taken is not None and taken.deliveries == 2
    clock.advance(0.5)  # the sync runs; the PR changes again meanwhile
    inbox.record(_event(1, event="pullrequest:fulfilled"), delivery_id="c", window=WINDOW)
    inbox.finish(taken)
    again = inbox.next()
    assert again is not None
    assert (again.deliveries, again.event) == (1, "pullrequest:fulfilled")
    assert again.due_at == clock.now + WINDOW  # a new window from that delivery
    inbox.finish(again)
    assert inbox.next() is None and inbox.pending() == 0


def test_a_failed_sync_is_postponed_and_a_new_delivery_brings_it_forward(inbox: Inbox, clock: Clock) -> None:
    inbox.record(_event(1), delivery_id="a", window=WINDOW)
    clock.advance(WINDOW)
    item = inbox.next()
    assert item is not None
    inbox.postpone(item, 300)
    later = inbox.next()
    assert later is not None and (later.attempts, later.due_at) == (1, clock.now + 300)
    inbox.record(_event(1), delivery_id="b", window=WINDOW)
    sooner = inbox.next()
    assert sooner is not None and sooner.due_at == clock.now + WINDOW and sooner.attempts == 1


def test_pending_rows_survive_and_replay_makes_them_due_at_once(tmp_path: Path, clock: Clock) -> None:
    first = Inbox(tmp_path / "state", clock=clock)
    first.record(_event(1), delivery_id="a", window=60)
    first.record(_event(2), delivery_id="b", window=60)
    first.close()
    second = Inbox(tmp_path / "state", clock=clock)
    try:
        assert second.replay() == 2
        item = second.next()
        assert item is not None and item.due_at == clock.now
        assert not second.record(_event(1), delivery_id="a", window=60)  # dedupe survives too
    finally:
        second.close()


def test_delivery_ids_are_forgotten_after_the_horizon(inbox: Inbox, clock: Clock) -> None:
    inbox.record(_event(1), delivery_id="old", window=WINDOW)
    clock.advance(100)
    inbox.record(_event(1), delivery_id="new", window=WINDOW)
    assert inbox.forget_deliveries(older_than=50) == 1
    assert inbox.record(_event(1), delivery_id="old", window=WINDOW)
    assert not inbox.record(_event(1), delivery_id="new", window=WINDOW)


def test_retry_delay_doubles_up_to_its_cap() -> None:
    assert [retry_delay(n) for n in range(8)] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert retry_delay(10_000) == 300


# -- the dispatcher, on a clock that moves when told ---------------------------------------------------------------


@pytest.fixture
def syncer() -> Syncer:
    return Syncer()


@pytest.fixture
def running(inbox: Inbox, clock: Clock, syncer: Syncer) -> Iterator[Dispatcher]:
    backoff = lambda attempts: 10.0 * (attempts + 1)  # noqa: E731
    dispatcher = Dispatcher(syncer, inbox, reconcile_every=0, clock=clock, backoff=backoff)
    dispatcher.start()
    yield dispatcher
    assert dispatcher.stop(10)


def test_one_hundred_deliveries_for_ten_pull_requests_make_ten_syncs(
    running: Dispatcher, inbox: Inbox, clock: Clock, syncer: Syncer
) -> None:
    for n in range(100):
        inbox.record(_event(n % 10 + 1), delivery_id=f"d{n}", window=WINDOW)
        running.wake()
    assert inbox.pending() == 10
    clock.advance(WINDOW)
    running.wake()
    wait_for(lambda: inbox.pending() == 0, what="pending syncs done")
    assert sorted(syncer.calls) == [("acme/api", pr) for pr in range(1, 11)]
    assert running.status().pull_request_syncs == 10


def test_a_delivery_during_a_sync_makes_exactly_one_more_sync(
    running: Dispatcher, inbox: Inbox, clock: Clock, syncer: Syncer
) -> None:
    in_sync, release = threading.Event(), threading.Event()

    def slow(repo: str, pr: int) -> SyncReport:
        in_sync.set()
        assert release.wait(10)
        return SyncReport()

    syncer.outcome = slow
    inbox.record(_event(1), delivery_id="a", window=WINDOW)
    clock.advance(WINDOW)
    running.wake()
    assert in_sync.wait(10)
    for n in range(5):  # the PR changes while its sync reads it: the sync may have missed that
        inbox.record(_event(1), delivery_id=f"during{n}", window=WINDOW)
    release.set()
    wait_for(lambda: running.status().pull_request_syncs == 1)
    assert inbox.pending() == 1
    syncer.outcome = lambda repo, pr: SyncReport()
    clock.advance(WINDOW)
    running.wake()
    wait_for(lambda: inbox.pending() == 0)
    assert syncer.calls == [("acme/api", 1), ("acme/api", 1)]


def test_a_sync_that_raises_is_retried_after_its_backoff(
    running: Dispatcher, inbox: Inbox, clock: Clock, syncer: Syncer
) -> None:
    failures = iter([TransientError("Bitbucket answered 503", status=503), TransientError("again", status=503)])

    def flaky(repo: str, pr: int) -> SyncReport:
        error = next(failures, None)
        if error is not None:
            raise error
        return SyncReport()

    syncer.outcome = flaky
    inbox.record(_event(3), delivery_id="a", window=0)
    running.wake()
    wait_for(lambda: running.status().pull_request_syncs == 1)
    item = inbox.next()
    assert item is not None and item.attempts == 1 and item.due_at == clock.now + 10  # backoff(0)
    status = running.status()
    assert status.last_error is not None and "acme/api#3" in status.last_error and "retrying" in status.last_error
    clock.advance(10)
    running.wake()
    wait_for(lambda: running.status().pull_request_syncs == 2)
    item = inbox.next()
    assert item is not None and item.attempts == 2 and item.due_at == clock.now + 20  # backoff(1)
    clock.advance(20)
    running.wake()
    wait_for(lambda: inbox.pending() == 0)
    assert len(syncer.calls) == 3


def test_a_gone_pull_request_is_dropped(running: Dispatcher, inbox: Inbox, syncer: Syncer) -> None:
    def gone(repo: str, pr: int) -> SyncReport:
        raise NotFound("GET .../pullrequests/9 answered HTTP 404", status=404)

    syncer.outcome = gone
    inbox.record(_event(9), delivery_id="a", window=0)
    running.wake()
    wait_for(lambda: inbox.pending() == 0)
    error = running.status().last_error
    assert error is not None and "acme/api#9" in error and "dropped" in error


def test_steps_that_fail_for_good_are_dead_letters_not_pending(
    running: Dispatcher, inbox: Inbox, syncer: Syncer
) -> None:
    def half(repo: str, pr: int) -> SyncReport:
        report = SyncReport()
        report.fail(Failure("sync.comment", "ABC-1 <- acme/api#4", "HTTP 400"))
        return report

    syncer.outcome = half
    inbox.record(_event(4), delivery_id="a", window=0)
    running.wake()
    wait_for(lambda: inbox.pending() == 0)
    error = running.status().last_error
    assert error is not None and "dead letters" in error and "ABC-1 <- acme/api#4" in error


def test_reconcile_runs_at_start_after_what_was_pending_and_then_on_its_timer(
    inbox: Inbox, clock: Clock, syncer: Syncer
) -> None:
    inbox.record(_event(1), delivery_id="left", window=60)  # left by an earlier process
    dispatcher = Dispatcher(syncer, inbox, reconcile_every=900, clock=clock)
    dispatcher.start()
    try:
        wait_for(lambda: dispatcher.status().reconciles == 1)
        assert syncer.order == ["acme/api#1", "reconcile"]
        assert dispatcher.status().last_reconcile is not None
        clock.advance(899)
        dispatcher.wake()
        clock.advance(1)
        dispatcher.wake()
        wait_for(lambda: dispatcher.status().reconciles == 2)
    finally:
        assert dispatcher.stop(10)


def test_stop_waits_for_the_sync_in_flight_and_starts_no_other(
    inbox: Inbox, clock: Clock, syncer: Syncer
) -> None:
    in_sync, release = threading.Event(), threading.Event()

    def slow(repo: str, pr: int) -> SyncReport:
        in_sync.set()
        assert release.wait(10)
        return SyncReport()

    syncer.outcome = slow
    for pr in (1, 2, 3):
        inbox.record(_event(pr), delivery_id=f"d{pr}", window=0)
    dispatcher = Dispatcher(syncer, inbox, reconcile_every=0, clock=clock)
    dispatcher.start()
    assert in_sync.wait(10)
    assert not dispatcher.stop(0.05)  # still syncing
    release.set()
    assert dispatcher.stop(10)
    assert len(syncer.calls) == 1 and inbox.pending() == 2  # the others wait for the next start


# -- over HTTP, with the real sync -----------------------------------------------------------------------------------


def test_burst_of_100_deliveries_for_10_prs_is_10_syncs_over_http(tmp_path: Path) -> None:
    with empty_world(tmp_path) as world:
        prs = []
        for n in range(1, 11):
            world.jira.add_issue(f"ABC-{n}")
            prs.append(world.bitbucket.add_pull_request("acme/api", title=f"ABC-{n} change", source_branch=f"b{n}"))
        with serving(world, window=60) as served:
            local = threading.local()

            def deliver(n: int) -> int:
                if not hasattr(local, "deliverer"):
                    local.deliverer = Deliverer(served.deliver.url)
                return local.deliverer.pull_request_event("acme/api", prs[n % 10]).status_code

            with ThreadPoolExecutor(max_workers=8) as pool:
                codes = list(pool.map(deliver, range(100)))
            assert codes == [202] * 100
            health = served.deliver.health()
            assert (health["pending_pull_requests"], health["pull_request_syncs"]) == (10, 0)
            assert pr_reads(world) == 0
        # Stopped inside the window: the next start syncs what was pending at once, each PR once.
        with serving(world, window=60) as served:
            wait_for(lambda: served.deliver.health()["pending_pull_requests"] == 0, what="replayed syncs")
            assert served.deliver.health()["pull_request_syncs"] == 10
        assert pr_reads(world) == 10
        assert all(pr_reads(world, pr) == 1 for pr in prs)
        for n in range(1, 11):
            snap = world.jira.issue(f"ABC-{n}")
            assert (len(snap.remote_links), len(snap.comments)) == (1, 1)
