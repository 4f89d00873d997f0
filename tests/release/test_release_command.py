"""``jirabucket release``: flags, where the notes go, the JSON document and the exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from release_history import IN_RANGE, SKIPPED, History, seed_history

from jirabucket.cli import main
from jirabucket.queue import set_testing
from jirabucket.testing import Faults
from syncworld import make_world


@pytest.fixture
def cli(history: History, monkeypatch: pytest.MonkeyPatch) -> Iterator[History]:
    """The history, with the environment a shell running the command would have."""
    for name, value in history.world.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BITBUCKET_REPO_FULL_NAME", raising=False)
    yield history


def release(history: History, *args: str) -> list[str]:
    return ["release", "--repo", history.repo, "--from", "v1.0", "--to", "v1.1", "--version", "1.1", *args]


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_json_has_the_documented_fields_and_the_notes(cli: History, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, release(cli, "--released", "--release-date", "2026-04-01"))
    assert code == 0, doc
    assert doc["version"] == "1.1" and doc["commits"] == 5
    assert doc["issues"] == list(IN_RANGE) and doc["skipped_keys"] == list(SKIPPED)
    assert doc["created_versions"] == ["ABC"] and doc["released_versions"] == ["OPS"]
    assert doc["updated_issues"] == list(IN_RANGE) and doc["failed"] == []
    assert [v["release_date"] for v in doc["versions"]] == ["2026-04-01", "2026-04-01"]
    assert doc["notes"].startswith("# Release 1.1: v1.0 → v1.1\n") and doc["dry_run"] is False
    assert (doc["repo"], doc["from"], doc["to"]) == (cli.repo, "v1.0", "v1.1")
    assert doc["requests"] == len(cli.world.jira.requests) + len(cli.world.bitbucket.requests)


def test_notes_go_to_stdout_and_the_summary_to_stderr(cli: History, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(release(cli)) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# Release 1.1: v1.0 → v1.1\n") and out.count("/browse/") == len(IN_RANGE)
    assert "version 1.1 in ABC: created" in err and "version 1.1 in OPS: exists" in err
    assert f"fixVersion 1.1 added to {len(IN_RANGE)} issues; 0 had it already" in err
    assert "skipped (not in Jira): ABC-999" in err
    assert main(release(cli)) == 0  # again: nothing to add
    assert f"added to 0 issues; {len(IN_RANGE)} had it already" in capsys.readouterr().err


def test_notes_to_a_file(cli: History, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    notes = tmp_path / "NOTES.md"
    assert main(release(cli, "--notes", str(notes))) == 0
    out = capsys.readouterr().out
    assert notes.read_text(encoding="utf-8").startswith("# Release 1.1") and f"notes written to {notes}" in out
    assert "/browse/" not in out
    notes.unlink()
    code, doc = run_json(capsys, release(cli, "--notes", str(notes)))  # --json: stdout is the JSON alone
    assert code == 0 and notes.read_text(encoding="utf-8") == doc["notes"]


def test_dry_run_prints_the_plan_and_writes_nothing(cli: History, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(release(cli, "--dry-run", "--released", "--release-date", "2026-04-01", "--project", "OPS")) == 0
    err = capsys.readouterr().err
    assert "dry run: 2 writes planned" in err
    assert "release version OPS: 1.1, released 2026-04-01" in err and "add fixVersion OPS-2: 1.1" in err
    assert cli.jira_writes() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "v9.9"], "release: --to 'v9.9' is not a tag, branch or commit of"),
        (["--release-date", "1 April"], "--release-date '1 April' is not a date (expected YYYY-MM-DD)"),
        (["--release-date", "2026-04-01"], "a release date goes with --released"),
        (["--notes", "/nonexistent/dir/NOTES.md"], "--notes /nonexistent/dir/NOTES.md: not a file in an existing"),
    ],
)
def test_usage_and_unknown_refs_exit_2_with_one_line(
    cli: History, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main([*release(cli), "--json", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err and err.count("\n") == 1
    assert cli.jira_writes() == []


def test_a_refused_jira_token_exits_2_naming_it(
    cli: History, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIRA_TOKEN", "not-the-token")
    assert main(release(cli)) == 2
    assert "Jira rejected JIRA_TOKEN (HTTP 401)" in capsys.readouterr().err


def test_failed_writes_exit_1_and_still_print_the_json(
    cli: History, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.world.jira.set_faults(Faults(error_rate=1.0, methods=frozenset({"PUT"})))
    set_testing(True)
    try:
        code, doc = run_json(capsys, release(cli))
    finally:
        set_testing(False)
    assert code == 1
    assert [f["target"] for f in doc["failed"]] == list(IN_RANGE) and doc["updated_issues"] == []
    assert doc["created_versions"] == ["ABC"]


def test_the_repository_comes_from_the_pipeline_else_must_be_given(
    cli: History, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["release", "--from", "v1.0", "--to", "v1.1", "--version", "1.1", "--dry-run"]
    assert main(argv) == 2  # two repositories are configured
    assert "release needs --repo" in capsys.readouterr().err
    monkeypatch.setenv("BITBUCKET_REPO_FULL_NAME", cli.repo)
    code, doc = run_json(capsys, argv)
    assert code == 0 and doc["repo"] == cli.repo and doc["issues"] == list(IN_RANGE)


def test_interrupt_while_writes_hang_exits_without_waiting_for_the_request_timeout(tmp_path: Path) -> None:
    with make_world(tmp_path, flavor="cloud", prs=0, timeout=60) as world:
        history = seed_history(world)
        world.jira.set_faults(Faults(latency=120, methods=("PUT",)))  # the fixVersion updates hang
        proc = subprocess.Popen(
            [sys.executable, "-m", "jirabucket", *release(history)],
            env={**os.environ, **world.env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 60
        while not (world.jira.in_flight and any(r.path.endswith("/version") for r in world.jira.requests)):
            assert time.monotonic() < deadline, "the fixVersion updates never started"
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        # The updates under way die with the process: waiting for them would take the 60 s client timeout.
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "unfinished work is kept in the journal" in err.splitlines()[-1]
