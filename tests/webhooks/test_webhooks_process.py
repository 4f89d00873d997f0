"""``jirabucket serve`` as a process: refused before listening, killed after a 202, terminated while syncing."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from webhook_harness import SECRET, ServeProcess, empty_world, pr_reads, wait_for

from jirabucket.cli import main
from jirabucket.testing import Faults
from syncworld import BB_SECRET, JIRA_SECRET, World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with empty_world(tmp_path) as w:
        w.jira.add_issue("ABC-1", status="To Do")
        yield w


def _window(world: World, seconds: float, *, shutdown_grace: float = 10) -> None:
    world.configure("[queue]", f"[serve]\ncoalesce_window = {seconds}\nshutdown_grace = {shutdown_grace}\n[queue]")


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_without_a_secret_it_exits_2_before_listening_saying_how_to_set_it(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JIRABUCKET_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("JIRABUCKET_WEBHOOK_SECRET_FILE", raising=False)
    world.bitbucket.clear_requests()
    world.jira.clear_requests()
    assert main(["serve", "--port", "0"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "JIRABUCKET_WEBHOOK_SECRET is not set" in line and "JIRABUCKET_WEBHOOK_SECRET_FILE" in line
    assert world.bitbucket.requests == [] and world.jira.requests == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reconcile-every", "soon"], "--reconcile-every must be a duration such as 30s, 15m or 1h"),
        (["--reconcile-every", "0.5s"], "from 1s to 168h"),
        (["--port", "70000"], "--port must be from 0 to 65535"),
    ],
)
def test_bad_options_exit_2(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JIRABUCKET_WEBHOOK_SECRET", SECRET)
    assert main(["serve", *args]) == 2
    assert message in _one_line(capsys.readouterr().err)


def test_a_port_in_use_exits_2_and_releases_the_state_directory(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JIRABUCKET_WEBHOOK_SECRET", SECRET)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--reconcile-every", "0"]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err.splitlines()[-1]
    assert main(["sync", "--quiet"]) == 0  # the lock was released


def test_killed_after_a_202_the_next_start_syncs_the_pull_request(world: World) -> None:
    _window(world, 30)  # the sync cannot be due before the kill
    pr = world.bitbucket.add_pull_request("acme/api", title="ABC-1 login", source_branch="feature/ABC-1")
    first = ServeProcess(world, "--reconcile-every", "0")
    try:
        answer = first.deliverer().pull_request_event("acme/api", pr)
        assert answer.status_code == 202
    finally:
        first.proc.send_signal(signal.SIGKILL)
        assert first.wait() == -signal.SIGKILL
    assert pr_reads(world) == 0 and not world.jira.issue("ABC-1").remote_links
    second = ServeProcess(world, "--reconcile-every", "0")
    try:
        deliver = second.deliverer()
        wait_for(lambda: deliver.health()["pending_pull_requests"] == 0 and world.jira.issue("ABC-1").comments)
        assert "replaying 1 pull request(s)" in second.stderr
    finally:
        second.proc.send_signal(signal.SIGTERM)
        assert second.wait() == 0, second.stderr
    snap = world.jira.issue("ABC-1")
    assert (len(snap.remote_links), len(snap.comments), snap.status) == (1, 1, "In Review")
    assert pr_reads(world, pr) == 1


def test_sigterm_lets_the_sync_in_flight_finish_and_exits_0(world: World) -> None:
    _window(world, 0.05)
    pr = world.bitbucket.add_pull_request("acme/api", title="ABC-1 login", source_branch="feature/ABC-1")
    proc = ServeProcess(world, "--reconcile-every", "0")
    try:
        deliver = proc.deliverer()
        world.bitbucket.set_faults(Faults(latency=0.5))
        assert deliver.pull_request_event("acme/api", pr).status_code == 202
        wait_for(lambda: pr_reads(world, pr) == 1, what="the sync under way")  # its commits are read next
    finally:
        proc.proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "stopped accepting" in proc.stderr and "synced acme/api#" in proc.stderr
    snap = world.jira.issue("ABC-1")
    assert (len(snap.remote_links), len(snap.comments)) == (1, 1)
    with pytest.raises(OSError):  # the port is closed
        socket.create_connection(("127.0.0.1", int(deliver.url.rsplit(":", 1)[1])), timeout=2).close()


def test_sigterm_leaves_a_stuck_sync_for_the_next_start(world: World) -> None:
    _window(world, 0.05, shutdown_grace=1)  # [serve] shutdown_grace: 10 s unless set
    pr = world.bitbucket.add_pull_request("acme/api", title="ABC-1 login", source_branch="feature/ABC-1")
    proc = ServeProcess(world, "--reconcile-every", "0")
    try:
        proc.deliverer()
        world.jira.set_faults(Faults(latency=30, methods=("POST",)))  # Jira stops answering writes and lookups
        assert proc.deliverer().pull_request_event("acme/api", pr).status_code == 202
        wait_for(lambda: pr_reads(world, pr) == 1, what="the sync under way")
    finally:
        proc.proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 0, proc.stderr
    assert "did not finish within 1 s" in proc.stderr
    assert not world.jira.issue("ABC-1").remote_links
    world.jira.set_faults(Faults())
    again = ServeProcess(world, "--reconcile-every", "0")
    try:
        deliver = again.deliverer()
        wait_for(lambda: deliver.health()["pending_pull_requests"] == 0 and world.jira.issue("ABC-1").comments)
    finally:
        again.proc.send_signal(signal.SIGTERM)
        assert again.wait() == 0, again.stderr
    snap = world.jira.issue("ABC-1")
    assert (len(snap.remote_links), len(snap.comments)) == (1, 1)


def test_ctrl_c_stops_it_too_and_a_log_line_per_delivery_never_shows_a_secret(world: World) -> None:
    pr = world.bitbucket.add_pull_request("acme/api", title="ABC-1 login", source_branch="feature/ABC-1")
    proc = ServeProcess(world, "--reconcile-every", "0")
    try:
        deliver = proc.deliverer()
        assert deliver.pull_request_event("acme/api", pr).status_code == 202
        bad = deliver.post("pullrequest:updated", {"pullrequest": {"id": pr}}, signature="sha256=" + "a" * 64)
        assert bad.status_code == 401
        assert deliver.post("diagnostics:ping", {"test": True}).status_code == 200
        wait_for(lambda: world.jira.issue("ABC-1").comments)
    finally:
        proc.proc.send_signal(signal.SIGINT)
        code = proc.wait()
    assert code == 0, proc.stderr
    deliveries = [line for line in proc.stderr.splitlines() if " delivery event=" in line]
    assert len(deliveries) == 3, proc.stderr
    assert 'outcome="accepted" status=202' in deliveries[0]
    assert 'outcome="signature mismatch" status=401' in deliveries[1]
    assert "event=diagnostics:ping" in deliveries[2] and "status=200" in deliveries[2]
    for secret in (SECRET, JIRA_SECRET, BB_SECRET):
        assert secret not in proc.stderr


def test_a_second_sigterm_stops_at_once_and_the_pull_request_stays_pending(world: World) -> None:
    _window(world, 0.05)
    pr = world.bitbucket.add_pull_request("acme/api", title="ABC-1 login", source_branch="feature/ABC-1")
    proc = ServeProcess(world, "--reconcile-every", "0")
    try:
        proc.deliverer()
        world.jira.set_faults(Faults(latency=30, methods=("POST",)))
        assert proc.deliverer().pull_request_event("acme/api", pr).status_code == 202
        wait_for(lambda: pr_reads(world, pr) == 1, what="the sync under way")
        proc.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "stopped accepting" in proc.stderr)
    finally:
        proc.proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 143, proc.stderr
    assert "terminated (SIGTERM)" in proc.stderr.splitlines()[-1]
    world.jira.set_faults(Faults())
    again = ServeProcess(world, "--reconcile-every", "0")
    try:
        deliver = again.deliverer()
        wait_for(lambda: deliver.health()["pending_pull_requests"] == 0 and world.jira.issue("ABC-1").comments)
    finally:
        again.proc.send_signal(signal.SIGTERM)
        assert again.wait() == 0, again.stderr
