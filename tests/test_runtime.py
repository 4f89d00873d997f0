"""The wiring: settings become one queue and two clients with the settings' URL, flavor and timeout."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

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
