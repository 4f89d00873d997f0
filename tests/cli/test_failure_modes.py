"""How commands end when something outside the work goes wrong: damaged state, refused tokens, a held lock.

Each ends with one line on stderr, a distinct exit code, nothing sent where
nothing could be trusted, and (under --json) still one JSON object saying why.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from jirabucket.cli import main
from jirabucket.statedir import DB_NAME, StateLock
from syncworld import World, make_world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with make_world(tmp_path, flavor="cloud", prs=8) as w:
        for name, value in w.env.items():
            monkeypatch.setenv(name, value)
        yield w


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _random_bytes(db: Path) -> None:
    db.write_bytes(os.urandom(8192))


def _truncated(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])


def _header_overwritten(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[:100] = b"\xff" * 100
    db.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def synced_database(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The state database a first sync of the world leaves (made once: each test damages a copy)."""
    with make_world(tmp_path_factory.mktemp("synced"), flavor="cloud", prs=8) as w:
        code, _ = w.sync()
        assert code == 0
        return (w.state_dir / DB_NAME).read_bytes()


@pytest.mark.parametrize("damage", [_random_bytes, _truncated, _header_overwritten])
@pytest.mark.parametrize("command", [["sync"], ["failed"], ["retry-failed"], ["check"]])
def test_damaged_state_database_exits_74_and_sends_nothing(
    world: World, capsys: pytest.CaptureFixture[str], damage: Any, command: list[str], synced_database: bytes
) -> None:
    db = world.state_dir / DB_NAME
    world.state_dir.mkdir(parents=True, exist_ok=True)
    db.write_bytes(synced_database)
    damage(db)
    world.jira.clear_requests()
    world.bitbucket.clear_requests()
    capsys.readouterr()
    assert main(command) == 74
    line = one_line(capsys.readouterr().err)
    assert str(db) in line
    assert "damaged" in line or "cannot be used" in line
    assert world.jira.requests == [] and world.bitbucket.requests == []


def test_read_only_state_directory_exits_74(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() == 0:
        # root ignores permission bits: make the directory read-only the way root cannot ignore,
        # by putting a file where the directory should be (the sync cannot create it).
        world.state_dir.parent.mkdir(parents=True, exist_ok=True)
        world.state_dir.write_text("not a directory")
    else:
        world.state_dir.mkdir(parents=True, exist_ok=True)
        world.state_dir.chmod(0o500)
    assert main(["sync", "--json"]) == 74
    captured = capsys.readouterr()
    assert "JIRABUCKET_STATE_DIR" in one_line(captured.err)
    assert json.loads(captured.out)["exit_code"] == 74
    assert world.jira.requests == [] and world.bitbucket.requests == []


def test_full_disk_mid_run_stops_with_74_and_the_next_run_finishes(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from jirabucket.sync.state import StateStore

    real = StateStore.record_link
    calls = {"n": 0}

    def full_after_three(self: StateStore, issue: str, global_id: str, fingerprint: str) -> None:
        calls["n"] += 1
        if calls["n"] > 3:  # what SQLite raises when the disk fills under it
            raise sqlite3.OperationalError("database or disk is full") from None
        real(self, issue, global_id, fingerprint)

    monkeypatch.setattr(StateStore, "record_link", _translated(full_after_three))
    assert main(["sync", "--json"]) == 74
    captured = capsys.readouterr()
    assert "disk is full" in one_line(captured.err)
    doc = json.loads(captured.out)
    assert doc["exit_code"] == 74 and "disk is full" in doc["error"]
    monkeypatch.setattr(StateStore, "record_link", real)
    assert main(["sync", "--json"]) == 0  # the cursor had not moved: the rest is done now, no duplicates
    capsys.readouterr()
    for issue, _, _ in world.scenario.expected_links():
        snap = world.jira.issue(issue)
        urls = [link["globalId"] for link in snap.remote_links]
        assert len(urls) == len(set(urls))
        assert len(snap.comments) == len(snap.remote_links)
    assert world.linked_pairs() == set(world.scenario.expected_links())


def _translated(record: Any) -> Any:
    """Wrap ``record`` so its SQLite error goes through the store's own translation, as a real write's would."""
    from jirabucket.statedir import STATE_FAILURES, state_error

    def wrapper(self: Any, *args: Any) -> None:
        try:
            record(self, *args)
        except STATE_FAILURES as exc:
            raise state_error(self.path, exc) from None

    return wrapper


def test_lock_held_exits_75_with_json(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    with StateLock(world.state_dir):
        assert main(["sync", "--json"]) == 75
    captured = capsys.readouterr()
    assert "another jirabucket sync is running" in one_line(captured.err)
    doc = json.loads(captured.out)
    assert doc["exit_code"] == 75 and doc["failed"] == [] and "another jirabucket sync" in doc["error"]


def test_jira_cloud_without_email_exits_2_before_any_request(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("JIRA_EMAIL")
    assert main(["sync"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "JIRA_EMAIL" in line and "Jira Cloud" in line
    assert world.jira.requests == [] and world.bitbucket.requests == []


@pytest.mark.parametrize(
    ("product", "variable"), [("Jira", "JIRA_TOKEN"), ("Bitbucket", "BITBUCKET_TOKEN")]
)
def test_refused_token_names_product_variable_and_fix_even_with_nothing_new(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], product: str, variable: str
) -> None:
    assert main(["sync", "--quiet"]) == 0  # the next run has nothing new to do
    monkeypatch.setenv(variable, "expired-token-value-123")
    assert main(["sync"]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"{product} rejected {variable} (HTTP 401)" in line
    assert "expired" in line
    assert "expired-token-value-123" not in line


def test_failed_reads_the_journal_without_urls_or_tokens(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("JIRA_URL", "JIRA_TOKEN", "BITBUCKET_TOKEN", "BITBUCKET_URL", "JIRA_EMAIL"):
        monkeypatch.delenv(name)
    assert main(["failed", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"failed": []}


def test_check_says_where_url_and_token_came_from(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JIRA_BASE_URL", world.env["JIRA_URL"])
    monkeypatch.delenv("JIRA_URL")
    monkeypatch.setenv("JIRA_API_TOKEN", world.env["JIRA_TOKEN"])
    monkeypatch.delenv("JIRA_TOKEN")
    assert main(["check", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["jira"]["url_source"], doc["jira"]["token_source"]) == ("JIRA_BASE_URL", "JIRA_API_TOKEN")
    assert doc["bitbucket"]["token_source"] == "BITBUCKET_TOKEN"


def test_verbose_logs_each_attempt_without_query_or_secret(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "-v", "--json"]) == 0
    err = capsys.readouterr().err
    attempts = [line for line in err.splitlines() if "jirabucket.http" in line]
    assert any("GET http://127.0.0.1:" in line and "/myself -> 200 in" in line for line in attempts), err[:2000]
    assert any("POST " in line and "/remotelink -> 20" in line for line in attempts)
    assert len(attempts) >= len(world.jira.requests) + len(world.bitbucket.requests) - 1
    assert not [line for line in attempts if "?" in line]
    assert world.env["JIRA_TOKEN"] not in err and world.env["BITBUCKET_TOKEN"] not in err


def test_unreachable_host_names_host_and_cause(world: World, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("JIRA_URL", f"http://127.0.0.1:{port}")
    world.configure("max_attempts = 10", "max_attempts = 2")
    assert main(["sync"]) == 1
    line = one_line(capsys.readouterr().err)
    assert f"connection to 127.0.0.1:{port} refused" in line


def test_a_rate_limited_host_is_announced_once_per_wait(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    # Jira's burst limit: 429 with Retry-After for a moment, from the sync's first request on (a window
    # opened now could close before a slow machine has started the sync: no wait to announce).
    world.jira.rate_limit(0.3, retry_after=1, starting="next_request")
    assert main(["sync"]) == 0
    out = capsys.readouterr().out
    waits = [line for line in out.splitlines() if "rate limit: waiting" in line]
    assert waits and waits[0].startswith("Jira rate limit: waiting 1 s (as it asked")


def test_a_refused_token_leaves_no_failed_work_behind(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JIRA_TOKEN", "expired-token-value-123")
    assert main(["sync"]) == 2
    monkeypatch.setenv("JIRA_TOKEN", world.env["JIRA_TOKEN"])
    assert main(["sync", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["failed", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"failed": []}  # the refused read was never failed work
