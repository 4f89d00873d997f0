"""The pure scheduler, driven with plain numbers for the clock: no threads, no waiting."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from jirabucket.queue import KeyLimit, RetryPolicy
from jirabucket.queue.scheduler import Scheduler

JIRA = "jira:acme.atlassian.net"
BB = "bitbucket:api.bitbucket.org"


@dataclass(eq=False)
class Job:
    """The least a task needs to be scheduled: a name for the assertions, a key, a sub-key."""

    name: str
    key: str = JIRA
    subkey: str | None = None

    def __repr__(self) -> str:
        return self.name


def make(limit: KeyLimit | None = None, seed: int = 0, **limits: KeyLimit) -> Scheduler[Job]:
    return Scheduler(limits={JIRA: limit or KeyLimit(), **limits}, rng=random.Random(seed))


def jobs(names: str, **fields: str) -> list[Job]:
    return [Job(name, **fields) for name in names.split()]


def names(tasks: list[Job]) -> str:
    return " ".join(t.name for t in tasks)


def run_to_end(s: Scheduler[Job], now: float) -> list[tuple[str, float]]:
    """Finish every task as soon as it starts, moving the clock to each wake-up; return the starts."""
    starts: list[tuple[str, float]] = []
    while True:
        ready = s.due(now)
        for job in ready:
            starts.append((job.name, now))
            s.done(job, now=now)
        if ready:
            continue
        wake = s.next_wake()
        if wake is None:
            return starts
        now = wake


def test_a_key_starts_tasks_up_to_its_concurrency_then_one_per_finished_task() -> None:
    s = make(KeyLimit(concurrency=2))
    a, b, c, d = jobs("a b c d")
    for job in (a, b, c, d):
        s.add(job, now=0.0)
    assert names(s.due(0.0)) == "a b"
    assert (s.in_flight, s.pending) == (2, 4)
    assert s.due(100.0) == []  # time alone frees nothing
    s.done(a, now=1.0)
    assert names(s.due(1.0)) == "c"
    s.done(b, now=1.0)
    s.done(c, now=1.0)
    assert names(s.due(1.0)) == "d"
    s.done(d, now=1.0)
    assert (s.in_flight, s.pending) == (0, 0)


def test_keys_do_not_share_their_limits() -> None:
    s = make(KeyLimit(concurrency=1), **{BB: KeyLimit(concurrency=3)})
    for job in [*jobs("j1 j2"), *jobs("b1 b2 b3 b4", key=BB)]:
        s.add(job, now=0.0)
    assert names(s.due(0.0)) == "j1 b1 b2 b3"
    assert {key: (load.in_flight, load.pending) for key, load in s.load()} == {JIRA: (1, 2), BB: (3, 4)}


def test_unlisted_keys_get_the_default_limit() -> None:
    s: Scheduler[Job] = Scheduler(default_limit=KeyLimit(concurrency=2), rng=random.Random(0))
    for job in jobs("a b c", key="other"):
        s.add(job, now=0.0)
    assert names(s.due(0.0)) == "a b"


def test_tasks_of_one_subkey_run_one_at_a_time_in_submission_order() -> None:
    s = make(KeyLimit(concurrency=4))
    a1, b1, c2, d1 = Job("a1", subkey="ABC-1"), Job("b1", subkey="ABC-1"), Job("c2", subkey="ABC-2"), \
        Job("d1", subkey="ABC-1")
    for job in (a1, b1, c2, d1):
        s.add(job, now=0.0)
    assert names(s.due(0.0)) == "a1 c2"  # a free slot does not let b1 past a1
    s.done(c2, now=0.0)
    assert s.due(0.0) == []
    s.done(a1, now=0.0)
    assert names(s.due(0.0)) == "b1"
    s.done(b1, now=0.0)
    assert names(s.due(0.0)) == "d1"


def test_a_retry_keeps_its_subkey_until_it_ends() -> None:
    s = make()
    first, second = Job("first", subkey="ABC-1"), Job("second", subkey="ABC-1")
    s.add(first, now=0.0)
    s.add(second, now=0.0)
    assert names(s.due(0.0)) == "first"
    s.retry(first, at=5.0, now=1.0)
    assert s.due(4.9) == []  # the second write waits for the first one's retry
    assert names(s.due(5.0)) == "first"
    s.done(first, now=6.0)
    assert names(s.due(6.0)) == "second"


def test_retries_come_due_in_time_order() -> None:
    s = make()
    a, b, c = jobs("a b c")
    for job in (a, b, c):
        s.add(job, now=0.0)
    assert names(s.due(0.0)) == "a b c"
    s.retry(a, at=7.0, now=1.0)
    s.retry(b, at=3.0, now=1.0)
    assert s.next_wake() == 3.0
    assert s.due(2.9) == []
    assert names(s.due(3.0)) == "b"
    assert s.next_wake() == 7.0
    s.retry(c, at=5.0, now=4.0)
    assert s.next_wake() == 5.0
    assert names(s.due(10.0)) == "c a"  # both overdue: by due time
    assert s.next_wake() is None


def test_a_due_retry_goes_ahead_of_the_tasks_waiting_for_its_key() -> None:
    s = make(KeyLimit(concurrency=1))
    a, b, c = jobs("a b c")
    for job in (a, b, c):
        s.add(job, now=0.0)
    assert names(s.due(0.0)) == "a"
    s.retry(a, at=2.0, now=1.0)
    assert names(s.due(1.0)) == "b"  # a's slot is free while it waits
    assert s.due(2.0) == []  # a is due, but b holds the only slot
    s.done(b, now=3.0)
    assert names(s.due(3.0)) == "a"  # a has waited already: it goes before c


def test_token_bucket_spaces_the_starts() -> None:
    s = make(KeyLimit(concurrency=4, rate=1.0, burst=2))
    for job in jobs("a b c d e"):
        s.add(job, now=0.0)
    assert run_to_end(s, 0.0) == [("a", 0.0), ("b", 0.0), ("c", 1.0), ("d", 2.0), ("e", 3.0)]


def test_token_bucket_refills_up_to_its_burst_while_idle() -> None:
    s = make(KeyLimit(concurrency=8, rate=1.0, burst=2))
    s.add(Job("a"), now=0.0)
    assert names(s.due(0.0)) == "a"
    for job in jobs("b c d"):
        s.add(job, now=100.0)  # long idle: the bucket is full again, but holds only 2
    assert names(s.due(100.0)) == "b c"
    assert s.next_wake() == 101.0
    assert names(s.due(101.0)) == "d"


def test_a_hold_stops_every_task_of_the_key_and_no_other_key() -> None:
    s = make()
    limited, other = Job("limited"), Job("other", key=BB)
    s.add(limited, now=0.0)
    assert names(s.due(0.0)) == "limited"
    s.hold(JIRA, until=30.0, stagger=0.0, now=0.0)
    s.retry(limited, at=30.0, now=0.0)
    later = jobs("b c d")
    for job in later:
        s.add(job, now=1.0)
    s.add(other, now=1.0)
    assert names(s.due(1.0)) == "other"
    assert s.due(29.9) == []
    assert s.next_wake() == 30.0
    assert names(s.due(30.0)) == "limited b c d"  # the held retry first


def test_a_retry_due_inside_a_hold_waits_for_the_end_of_the_hold() -> None:
    s = make(KeyLimit(concurrency=1))
    a, b = jobs("a b")
    s.add(a, now=0.0)
    s.add(b, now=0.0)
    assert names(s.due(0.0)) == "a"
    s.hold(JIRA, until=20.0, stagger=0.0, now=0.0)
    s.retry(a, at=5.0, now=0.0)  # its own backoff is shorter than the hold
    assert s.due(5.0) == []
    assert names(s.due(20.0)) == "a"


def test_a_later_hold_end_wins_over_an_earlier_one() -> None:
    s = make()
    s.hold(JIRA, until=30.0, stagger=0.0, now=0.0)
    s.hold(JIRA, until=10.0, stagger=0.0, now=0.0)  # a shorter wait asked later does not shorten it
    s.add(Job("a"), now=1.0)
    assert s.due(10.0) == []
    assert names(s.due(30.0)) == "a"


def test_the_release_after_a_hold_is_staggered_within_the_window() -> None:
    s = make(KeyLimit(concurrency=4), seed=5)
    s.hold(JIRA, until=20.0, stagger=8.0, now=0.0)
    for job in jobs("a b c d e"):
        s.add(job, now=1.0)
    starts: dict[str, float] = {}
    now = 1.0
    while (wake := s.next_wake()) is not None:
        now = wake
        for job in s.due(now):
            starts[job.name] = now
    assert sorted(starts) == ["a", "b", "c", "d"]  # at most `concurrency` are released
    assert all(20.0 <= t <= 28.0 for t in starts.values())
    assert len(set(starts.values())) == 4  # each at its own instant
    assert s.pending == 5 and s.in_flight == 4


def test_the_release_stagger_is_reproducible_from_the_seed() -> None:
    def release_times(seed: int) -> list[float]:
        s = make(KeyLimit(concurrency=3), seed=seed)
        s.hold(JIRA, until=10.0, stagger=4.0, now=0.0)
        for job in jobs("a b c"):
            s.add(job, now=0.0)
        times = []
        while (wake := s.next_wake()) is not None:
            times.extend(wake for _ in s.due(wake))
        return times

    assert release_times(1) == release_times(1)
    assert release_times(1) != release_times(2)


def test_drain_returns_every_task_not_in_flight() -> None:
    s = make(KeyLimit(concurrency=2))
    a, b, c, d = Job("a", subkey="x"), Job("b"), Job("c", subkey="x"), Job("d")
    for job in (a, b, c, d):
        s.add(job, now=0.0)
    assert names(s.due(0.0)) == "a b"
    s.retry(b, at=9.0, now=0.0)
    assert sorted(names(s.drain()).split()) == ["b", "c", "d"]
    assert s.due(100.0) == [] and s.next_wake() is None
    assert (s.in_flight, s.pending) == (1, 4)  # nothing finished: the drained are still pending


@pytest.mark.parametrize("concurrency", [1, 3])
def test_many_retries_and_finishes_never_exceed_the_limit(concurrency: int) -> None:
    s = make(KeyLimit(concurrency=concurrency))
    pending = jobs(" ".join(f"t{n}" for n in range(20)))
    for job in pending:
        s.add(job, now=0.0)
    running: list[Job] = []
    finished: list[str] = []
    now = 0.0
    rng = random.Random(3)
    while len(finished) < 20:
        running.extend(s.due(now))
        assert len(running) <= concurrency
        if running:
            job = running.pop(rng.randrange(len(running)))
            if rng.random() < 0.3:
                s.retry(job, at=now + rng.uniform(0, 2), now=now)
            else:
                s.done(job, now=now)
                finished.append(job.name)
        now += 0.5
    assert sorted(finished) == sorted(j.name for j in pending) and s.pending == 0


def test_a_task_released_from_a_hold_is_not_overtaken_by_a_later_task_of_its_subkey() -> None:
    s = make(KeyLimit(concurrency=3, rate=100.0, burst=5))
    s.hold(JIRA, until=0.0, stagger=1.0, now=0.0)
    first, second = Job("first", subkey="ABC-1"), Job("second", subkey="ABC-1")
    s.add(first, now=0.0)  # the hold is over: first is released after a random stagger
    s.add(second, now=0.0)  # tokens and slots are free, but first has ABC-1
    assert s.due(0.0) == []
    assert [name for name, _ in run_to_end(s, 0.0)] == ["first", "second"]


LIMITED = RetryPolicy(rate_limit_base_delay=10.0, rate_limit_max_delay=40.0, rate_limit_max_wait=200.0)


def test_a_429_holds_the_key_and_later_429s_of_running_tasks_join_that_wait() -> None:
    s = make()
    a, b, c = jobs("a b c")
    for job in (a, b, c):
        s.add(job, now=0.0)
    assert names(s.due(0.0)) == "a b c"
    first = s.throttle(a, now=1.0, server_wait=None, policy=LIMITED)
    assert first.started and 5.0 <= first.wait <= 10.0 and first.limited_for == first.wait
    until = 1.0 + first.wait
    joined = s.throttle(b, now=2.0, server_wait=None, policy=LIMITED)  # b was already running
    assert not joined.started and joined.wait == pytest.approx(until - 2.0)
    s.done(c, now=2.0)  # c got through before the limit: it does not end the wait
    s.add(Job("d"), now=3.0)
    assert s.due(until - 0.001) == []
    assert s.next_wake() == until
    assert names(s.due(until)) == "b"  # one probe (the head of the line), the others wait for it
    assert s.due(until + 100.0) == []
    s.done(b, now=until + 1.0)  # answered without 429: the key is open again
    assert names(s.due(until + 1.0)) == "a d"


def test_each_429_of_the_probe_lengthens_the_wait_up_to_the_cap() -> None:
    s = make(KeyLimit(concurrency=1))
    probe = Job("probe")
    s.add(probe, now=0.0)
    now = 0.0
    waits = []
    for _ in range(6):
        assert s.due(now) == [probe]
        verdict = s.throttle(probe, now=now, server_wait=None, policy=LIMITED)
        waits.append(verdict.wait)
        now = s.next_wake() or now
    ceilings = [10.0, 20.0, 40.0, 40.0, 40.0, 40.0]
    assert all(c / 2 <= w <= c for w, c in zip(waits, ceilings, strict=True))
    assert s.due(now) == [probe]
    s.done(probe, now=now)  # answered at last
    s.add(Job("next"), now=now)  # the limit is over: a new 429 starts from the first step again
    [job] = s.due(now)
    assert s.throttle(job, now=now, server_wait=None, policy=LIMITED).limited_for <= 10.0


def test_a_key_limited_past_rate_limit_max_wait_gives_up_and_hands_over_its_tasks() -> None:
    s = make(KeyLimit(concurrency=1))
    probe, x1, x2 = Job("probe", subkey="x"), Job("x1", subkey="x"), Job("other")
    for job in (probe, x1, x2):
        s.add(job, now=0.0)
    now = 0.0
    total = 0.0
    while True:
        assert s.due(now) == [probe]
        verdict = s.throttle(probe, now=now, server_wait=None, policy=LIMITED)
        if verdict.given_up:
            break
        total += verdict.wait
        now = s.next_wake() or now
    assert verdict.limited_for == pytest.approx(total) and total <= 200.0 < total + 40.0
    assert sorted(names(s.evict(JIRA)).split()) == ["other", "x1"]
    assert (s.in_flight, s.pending) == (1, 1)  # the probe, still the caller's to end
    s.done(probe, now=now)
    assert (s.in_flight, s.pending) == (0, 0)
    s.add(Job("later", subkey="x"), now=now)  # the key starts afresh
    assert names(s.due(now)) == "later"


def test_a_429_with_retry_after_holds_for_that_long_then_releases_everyone() -> None:
    s = make(KeyLimit(concurrency=3))
    a, b = jobs("a b")
    s.add(a, now=0.0)
    s.add(b, now=0.0)
    assert names(s.due(0.0)) == "a b"
    verdict = s.throttle(a, now=0.0, server_wait=30.0, policy=RetryPolicy(base_delay=0.0))
    assert (verdict.wait, verdict.started) == (30.0, True)
    s.done(b, now=1.0)
    s.add(Job("c"), now=1.0)
    assert s.due(29.0) == []
    assert names(s.due(30.0)) == "a c"  # the server said when: no probe needed


def test_in_test_mode_a_429_is_reported_but_not_waited() -> None:
    s = make()
    a, b = jobs("a b")
    s.add(a, now=0.0)
    assert names(s.due(0.0)) == "a"
    s.add(b, now=0.0)
    assert names(s.due(0.0)) == "b"
    verdict = s.throttle(a, now=0.0, server_wait=None, policy=LIMITED, instant=True)
    assert verdict.started and verdict.wait >= 5.0
    assert names(s.due(0.0)) == "a"  # the probe goes at once; b was running already


def test_a_probe_answered_with_another_pause_keeps_the_key_held() -> None:
    s = make()
    a, b = jobs("a b")
    s.add(a, now=0.0)
    assert names(s.due(0.0)) == "a"
    s.throttle(a, now=0.0, server_wait=None, policy=LIMITED)
    s.add(b, now=1.0)
    end = s.next_wake()
    assert end is not None and names(s.due(end)) == "a"  # the probe
    s.hold(JIRA, until=end + 50.0, stagger=0.0, now=end)  # it got a 503 asking for 50 s
    s.retry(a, at=end + 50.0, now=end)
    s.add(Job("c"), now=end + 1.0)
    assert s.due(end + 1.0) == []  # not a 429, yet still no way through
    assert names(s.due(end + 50.0)) == "a b c"
