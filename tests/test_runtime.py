"""The wiring: settings become one queue and two clients with the settings' URL, flavor and timeout."""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import Any, Literal, cast

import pytest
import responses

from jirabucket.config import BitbucketSettings, JiraSettings, QueueSettings, Settings, SyncSettings
from jirabucket.runtime import open_runtime
from jirabucket.tokens import BitbucketToken, JiraToken

SECRET = "s3cr3t-value-0123456789"


def test_clients_get_url_flavor_and_timeout_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        jira=JiraSettings(url="https://jira.corp.example", flavor="cloud", projects=("ABC",)),
        bitbucket=BitbucketSettings(url="https://git.corp.example", flavor="datacenter", repositories=("PRJ/repo",)),
        sync=SyncSettings(), queue=QueueSettings(timeout=7.5),
        state_dir=tmp_path, config_path=tmp_path / "jirabucket.toml",
    )
    tokens = {"jira_token": JiraToken(SECRET, email="a@b.c"), "bitbucket_token": BitbucketToken(SECRET)}
    with open_runtime(settings, durable=False, **tokens) as rt, responses.RequestsMock() as mock:
        assert (rt.jira.flavor, rt.jira.key) == ("cloud", "jira:jira.corp.example")
        assert (rt.bitbucket.flavor, rt.bitbucket.key) == ("datacenter", "bitbucket:git.corp.example")
        mock.get("https://git.corp.example/rest/api/1.0/projects/PRJ/repos/repo", json={"slug": "repo"})
        assert rt.bitbucket.repository("PRJ/repo") == {"slug": "repo"}
        assert cast(Any, mock.calls[0].request).req_kwargs["timeout"] == 7.5


def test_bitbucket_cloud_gets_its_hourly_allowance_unless_told_otherwise(tmp_path: Path) -> None:
    from jirabucket.runtime import BITBUCKET_CLOUD_PER_HOUR, build_queue

    def settings(url: str, flavor: Literal["cloud", "datacenter"], per_hour: float | None) -> Settings:
        bb = BitbucketSettings(url=url, flavor=flavor, repositories=("a/b",), requests_per_hour=per_hour)
        jira = JiraSettings(url="https://jira.corp.example", flavor="datacenter", projects=("ABC",))
        return Settings(jira, bb, SyncSettings(), QueueSettings(), tmp_path, tmp_path / "x.toml")

    cloud = build_queue(settings("https://api.bitbucket.org", "cloud", None), journal=None)
    limit = cloud.limit_of("bitbucket:api.bitbucket.org")
    assert (limit.rate * 3600, limit.burst) == (BITBUCKET_CLOUD_PER_HOUR, BITBUCKET_CLOUD_PER_HOUR)
    told = build_queue(settings("https://api.bitbucket.org", "cloud", 5000), journal=None)
    assert told.limit_of("bitbucket:api.bitbucket.org").rate * 3600 == 5000
    server = build_queue(settings("https://git.corp.example", "datacenter", None), journal=None)
    assert server.limit_of("bitbucket:git.corp.example").rate is None
    for queue in (cloud, told, server):
        queue.close()


def test_rate_limit_settings_reach_the_queue_policy(tmp_path: Path) -> None:
    from jirabucket.runtime import build_queue

    bb = BitbucketSettings(url="https://git.corp.example", flavor="datacenter", repositories=("A/b",))
    jira = JiraSettings(url="https://jira.corp.example", flavor="datacenter", projects=("ABC",))
    queue_settings = QueueSettings(rate_limit_backoff=2.0, rate_limit_max_wait=120.0)
    settings = Settings(jira, bb, SyncSettings(), queue_settings, tmp_path, tmp_path / "x.toml")
    queue = build_queue(settings, journal=None)
    policy = queue.policy
    assert (policy.rate_limit_base_delay, policy.rate_limit_max_wait) == (2.0, 120.0)
    queue.close()


def _settings(state_dir: Path) -> Settings:
    return Settings(
        jira=JiraSettings(url="https://jira.corp.example", flavor="cloud", projects=("ABC",)),
        bitbucket=BitbucketSettings(url="https://git.corp.example", flavor="cloud", repositories=("a/b",)),
        sync=SyncSettings(), queue=QueueSettings(), state_dir=state_dir, config_path=state_dir / "x.toml",
    )


def test_a_done_log_that_cannot_be_read_is_a_state_error_naming_it(tmp_path: Path) -> None:
    from jirabucket.errors import StateError
    from jirabucket.runtime import open_journal

    open_journal(tmp_path).close()
    orphan = tmp_path / "jirabucket.sqlite3.done-99999-0badc0de-0"
    orphan.mkdir()  # left by a dead process, and not a file: the journal cannot fold it
    with pytest.raises(StateError, match=re.escape(f"state file {orphan} cannot be used")):
        open_journal(tmp_path)


def test_a_journal_that_fails_to_close_is_a_state_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jirabucket.errors import StateError
    from jirabucket.queue import Journal

    real_close = Journal.close
    log_file = tmp_path / "jirabucket.sqlite3.done-1-0badc0de-0"

    def close_on_a_full_disk(self: Journal) -> None:
        real_close(self)
        raise OSError(errno.ENOSPC, "No space left on device", str(log_file))

    monkeypatch.setattr(Journal, "close", close_on_a_full_disk)
    tokens = {"jira_token": JiraToken(SECRET, email="a@b.c"), "bitbucket_token": BitbucketToken(SECRET)}
    expected = re.escape(f"state file {log_file} cannot be written: the disk is full")
    with pytest.raises(StateError, match=expected), open_runtime(_settings(tmp_path), durable=True, **tokens):
        pass
