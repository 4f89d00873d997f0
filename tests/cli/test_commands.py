"""The command line: exit codes, one-line errors, the lock, check, secrets, crash and interrupt recovery."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from jirabucket.cli import main
from jirabucket.statedir import StateLock
from jirabucket.testing import Faults
from syncworld import BB_SECRET, JIRA_SECRET, World, make_world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with make_world(tmp_path, flavor="cloud", prs=20) as w:
        for name, value in w.env.items():
            monkeypatch.setenv(name, value)
        yield w


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("jirabucket: ")
    return lines[0]


def test_bad_config_exits_2_and_sends_nothing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.config.write_text(world.config.read_text().replace("scan_commits", "scan_comits"))
    assert main(["sync"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "unknown key 'sync.scan_comits'" in line
    assert world.jira.requests == [] and world.bitbucket.requests == []


@pytest.mark.parametrize(
    ("var", "value", "fragment"),
    [
        ("JIRA_TOKEN", None, "JIRA_TOKEN is not set"),
        ("BITBUCKET_TOKEN", "two words", "BITBUCKET_TOKEN contains whitespace"),
        ("JIRA_URL", "http://jira.example.com", "plain http"),
        ("JIRA_FLAVOR", "server", "JIRA_FLAVOR must be"),
    ],
)
def test_bad_environment_exits_2(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    var: str,
    value: str | None,
    fragment: str,
) -> None:
    if value is None:
        monkeypatch.delenv(var)
    else:
        monkeypatch.setenv(var, value)
    assert main(["sync", "--json"]) == 2
    captured = capsys.readouterr()
    assert fragment in one_line_error(captured.err)
    assert captured.out == ""
    assert world.jira.requests == [] and world.bitbucket.requests == []


def test_wrong_token_is_an_auth_error(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BITBUCKET_TOKEN", "not-the-right-token-123")
    assert main(["sync"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "authentication failed" in line
    assert "not-the-right-token-123" not in line


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sync", "--no-such-flag"])
    assert info.value.code == 2


def test_second_sync_on_locked_state_exits_75(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    with StateLock(world.state_dir):
        assert main(["sync"]) == 75
        line = one_line_error(capsys.readouterr().err)
        assert "another jirabucket sync is running" in line
    assert world.jira.requests == []
    assert main(["sync", "--quiet"]) == 0


def test_concurrent_sync_processes(world: World) -> None:
    # Jira holds its answers until the second process has met the lock: the first sync is surely
    # under way (holding the lock) the whole time, however slowly either process starts.
    world.configure("timeout = 5.0", "timeout = 120")
    with world.jira.hold():
        first = _start_sync(world)
        _wait_for(lambda: world.jira.in_flight > 0 or first.poll() is not None)
        second = subprocess.run(
            [sys.executable, "-m", "jirabucket", "sync"],
            env=_env(world),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    out, _ = first.communicate(timeout=120)
    assert second.returncode == 75
    assert first.returncode == 0
    assert json.loads(out)["links_created"] == len(world.scenario.expected_links())


def test_check_reports_identity_and_problems(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["jira"]["flavor"] == "cloud" and doc["bitbucket"]["flavor"] == "cloud"
    assert doc["jira"]["user"] and doc["bitbucket"]["user"]
    assert doc["problems"] == []
    world.config.write_text(world.config.read_text().replace('"acme/web"', '"acme/nope"'))
    assert main(["check"]) == 2
    out = capsys.readouterr().out
    assert "acme/nope" in out
    assert JIRA_SECRET not in out and BB_SECRET not in out


def test_check_on_data_center(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with make_world(tmp_path, flavor="datacenter", prs=3) as dc:
        for name, value in dc.env.items():
            monkeypatch.setenv(name, value)
        assert main(["check", "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert (doc["jira"]["flavor"], doc["bitbucket"]["flavor"]) == ("datacenter", "datacenter")
        assert doc["bitbucket"]["user"]
        assert {r.auth_scheme for r in dc.jira.requests + dc.bitbucket.requests} == {"bearer"}


def test_progress_bar_follows_the_engine() -> None:
    from rich.console import Console

    from jirabucket.cli.output import progress_bar

    console = Console(force_terminal=True, file=io.StringIO())
    with progress_bar(console, enabled=True) as bar:
        bar(3, 10)
        assert bar._progress is not None
        task = bar._progress.tasks[0]
        assert (task.completed, task.total) == (3, 10)
    with progress_bar(Console(file=io.StringIO()), enabled=True) as quiet:
        assert quiet._progress is None  # not a terminal: no bar


def test_secrets_never_printed_logged_or_stored(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.jira.set_faults(Faults(error_rate=0.2))
    assert main(["sync", "-v"]) == 0
    assert main(["sync", "-v", "--full", "--json"]) == 0
    assert main(["failed", "-v"]) == 0
    assert main(["check", "-v"]) == 0
    captured = capsys.readouterr()
    for secret in (JIRA_SECRET, BB_SECRET):
        assert secret not in captured.out + captured.err
        for path in world.state_dir.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
    assert "jirabucket.queue" in captured.err  # -v really logged something


def test_failed_and_retry_failed(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["failed", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"failed": []}
    world.config.write_text(world.config.read_text().replace("max_attempts = 10", "max_attempts = 1"))
    # Once the run has proved its token (GET myself), every Jira GET fails: comments and transitions read first.
    # Bitbucket's latency keeps the reads going for long after that, so the switch is never late.
    world.bitbucket.set_faults(Faults(latency=0.05))
    switch = threading.Thread(target=_fail_jira_reads_after_myself, args=(world,), daemon=True)
    switch.start()
    assert main(["sync", "--json"]) == 1
    switch.join()
    capsys.readouterr()
    assert main(["failed", "--json"]) == 0
    failed = json.loads(capsys.readouterr().out)["failed"]
    assert failed and {f["operation"] for f in failed} <= {"sync.comment", "sync.transition"}
    world.jira.set_faults(Faults())
    assert main(["retry-failed", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"retried": len(failed), "still_failed": 0}
    for issue, _, _ in world.scenario.expected_links():
        snap = world.jira.issue(issue)
        assert len(snap.comments) == len(snap.remote_links)


def _fail_jira_reads_after_myself(world: World) -> None:
    _wait_for(lambda: any(r.path.endswith("/myself") and r.status == 200 for r in world.jira.requests))
    world.jira.set_faults(Faults(error_rate=1.0, methods=frozenset({"GET"})))


def test_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--prs", "12", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["links_created"] > 0
    assert doc["failed"] == []
    assert doc["examples"]


def _env(world: World) -> dict[str, str]:
    src = str(Path(__file__).parents[2] / "src")
    return {**os.environ, **world.env, "PYTHONPATH": src}


def _start_sync(world: World) -> subprocess.Popen[str]:
    """``jirabucket sync --json`` against the world, in a process of its own (stdout and stderr piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "jirabucket", "sync", "--json"],
        env=_env(world), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def calm_final_state(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Jira after an uninterrupted sync of the 30-PR world (the same for every signal below)."""
    with make_world(tmp_path_factory.mktemp("calm"), flavor="cloud", prs=30) as calm:
        code, _ = calm.sync()
        assert code == 0
        return calm.final_state()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_killed_or_interrupted_sync_converges_on_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calm_final_state: dict[str, Any], sig: int
) -> None:
    expected = calm_final_state
    with make_world(tmp_path / "crash", flavor="cloud", prs=30) as world:
        world.jira.set_faults(Faults(latency=0.03, reset_after_write_rate=0.1))
        proc = _start_sync(world)
        _wait_for(lambda: sum(r.is_write and "remotelink" in r.path for r in world.jira.requests) >= 10)
        # Jira takes nothing more in until the process is gone: the signal cuts the work short even when
        # this machine is slow to deliver it (the requests held then are applied afterwards, as a server would).
        with world.jira.hold():
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
        _wait_for(lambda: not world.jira.in_flight)  # the writes held are in before the rerun starts
        if sig == signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL
        else:  # Ctrl-C and SIGTERM (cron, systemd, CI runners) both stop cleanly, with the JSON saying why
            code, word = (130, "interrupted") if sig == signal.SIGINT else (143, "terminated")
            assert proc.returncode == code, err
            assert word in one_line_error(err)
            doc = json.loads(out)
            assert doc["exit_code"] == code and doc["error"].startswith(word)
            assert doc["links_created"] >= 0 and "failed" in doc
        partial = world.final_state()
        assert partial != expected  # the kill really cut the work short
        world.jira.set_faults(Faults())
        for name, value in world.env.items():
            monkeypatch.setenv(name, value)
        assert main(["sync", "--quiet"]) == 0
        assert world.final_state() == expected


def test_interrupt_while_reading_stops_promptly(world: World) -> None:
    world.bitbucket.set_faults(Faults(latency=0.4))
    proc = subprocess.Popen(
        [sys.executable, "-m", "jirabucket", "sync", "--quiet"],
        env=_env(world),
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(lambda: len(world.bitbucket.requests) >= 2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    # Without a prompt stop every page and commit list (22 reads) would still be fetched.
    assert len(world.bitbucket.requests) < 15


@pytest.mark.parametrize("terminate", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_while_a_read_hangs_exits_without_waiting_for_the_request_timeout(
    tmp_path: Path, terminate: signal.Signals
) -> None:
    with make_world(tmp_path, flavor="cloud", prs=5, timeout=60) as world:
        world.jira.set_faults(Faults(latency=120, methods=("POST",)))  # the issue lookup hangs (client timeout 60 s)
        proc = subprocess.Popen(
            [sys.executable, "-m", "jirabucket", "sync", "--quiet"], env=_env(world), stderr=subprocess.PIPE, text=True
        )
        # Bitbucket is read after Jira's token check and before the lookup, which a reader thread makes.
        _wait_for(lambda: world.bitbucket.requests and world.jira.in_flight)
        proc.send_signal(terminate)
        # The hung read dies with the process: waiting for it would take the 60 s client timeout.
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + terminate, err
    assert "unfinished work is kept in the journal" in err.splitlines()[-1]


def test_resumed_work_that_fails_makes_exit_1(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    from jirabucket.queue import Journal
    from jirabucket.statedir import DB_NAME

    assert main(["sync", "--quiet"]) == 0
    journal = Journal(world.state_dir / DB_NAME)  # a crashed run left a step for a since-deleted issue
    args = {
        "issue": "ABC-999",
        "pr": {"repo": "acme/api", "id": 1, "title": "t", "url": "https://b/1", "state": "OPEN"},
        "comment": False,
        "transition": None,
    }
    key = "jira:" + world.jira.url.split("//")[1]
    journal.record_submit((journal.next_id(), "sync.link", key, json.dumps(args), None, True, "ABC-999"))
    journal.close()
    assert main(["sync", "--json"]) == 1
    failed = json.loads(capsys.readouterr().out)["failed"]
    assert [(f["operation"], f["target"]) for f in failed] == [("sync.link", "ABC-999 <- acme/api#1")]
