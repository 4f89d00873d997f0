"""A running pair of simulators seeded with a scenario, plus the env and config to sync against them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jirabucket.config import Settings, load_settings
from jirabucket.sync import sync
from jirabucket.testing import (
    BitbucketCloudSimulator,
    BitbucketDataCenterSimulator,
    JiraCloudSimulator,
    JiraDataCenterSimulator,
    Scenario,
    make_scenario,
)
from jirabucket.tokens import BitbucketToken, JiraToken

JIRA_SECRET = "jira-SECRET-7c1e9a4b2d"
BB_SECRET = "bb-SECRET-55f0c3e8a1"

CONFIG = """
[jira]
projects = ["ABC", "OPS"]
[bitbucket]
repositories = {repos}
[sync]
scan_commits = true
comment = {comment}
[sync.transitions]
open = "In Review"
merged = "Done"
[queue]
workers = 8
per_host_concurrency = 4
max_attempts = 10
max_delay = 0.2
rate_limit_backoff = 0.5
timeout = {timeout}
"""

Flavor = Literal["cloud", "datacenter"]


@dataclass
class World:
    """Simulators, scenario, config file and environment for one sync setup."""

    jira: JiraCloudSimulator | JiraDataCenterSimulator
    bitbucket: BitbucketCloudSimulator | BitbucketDataCenterSimulator
    scenario: Scenario
    config: Path
    state_dir: Path
    env: dict[str, str]
    flavor: Flavor

    def settings(self) -> Settings:
        """The settings a sync against this world runs with (config file and environment)."""
        return load_settings(config_path=self.config, environ=self.env)

    def jira_token(self) -> JiraToken:
        """The token the Jira simulator accepts (Basic with an email on Cloud)."""
        return JiraToken(JIRA_SECRET, email=self.env.get("JIRA_EMAIL"))

    def bitbucket_token(self) -> BitbucketToken:
        """The token the Bitbucket simulator accepts."""
        return BitbucketToken(BB_SECRET)

    def sync(self, *, dry_run: bool = False, full: bool = False) -> tuple[int, dict[str, Any]]:
        """Call the sync service as a script would; the code is the exit code the CLI would return."""
        report = sync(
            self.settings(), jira_token=self.jira_token(), bitbucket_token=self.bitbucket_token(),
            dry_run=dry_run, full=full,
        )
        return (1 if report.failed else 0), report.to_json()

    def configure(self, old: str, new: str) -> None:
        """Change the config file: replace ``old`` (which must be there) with ``new``."""
        text = self.config.read_text()
        assert old in text, old
        self.config.write_text(text.replace(old, new))

    def final_state(self) -> dict[str, Any]:
        """Links, comments and statuses of every issue, comparable across runs (URLs made port-free)."""
        state: dict[str, Any] = {}
        for issue in self.scenario.issues:
            snap = self.jira.issue(issue.key)
            links = sorted(
                (
                    _strip(link["globalId"], self.bitbucket.url),
                    link["object"]["title"],
                    bool(link["object"].get("status", {}).get("resolved")),
                )
                for link in snap.remote_links
            )
            comments = sorted(_strip(c.text, self.bitbucket.url) for c in snap.comments)
            state[issue.key] = {"links": links, "comments": comments, "status": snap.status}
        return state

    def linked_pairs(self) -> set[tuple[str, str, int]]:
        """(issue, repo, pr id) of every remote link in Jira."""
        by_url = {
            self.bitbucket.pull_request(pr.repo, pr.id).web_url: (pr.repo, pr.id) for pr in self.scenario.pull_requests
        }
        pairs = set()
        for issue in self.scenario.issues:
            for link in self.jira.issue(issue.key).remote_links:
                repo, pr_id = by_url[link["globalId"]]
                pairs.add((issue.key, repo, pr_id))
        return pairs


def _strip(text: str, base: str) -> str:
    return text.replace(base, "<bb>")


@contextlib.contextmanager
def make_world(
    tmp_path: Path,
    *,
    flavor: Flavor = "cloud",
    prs: int = 30,
    seed: int = 3,
    comment: bool = True,
    timeout: float = 5.0,
    access_token: bool = False,
    newest_first_by: Literal["updated", "created"] = "updated",
) -> Iterator[World]:
    """Start both simulators of ``flavor``, seed a scenario, write a config; stop them afterwards."""
    repos = ("acme/api", "acme/web") if flavor == "cloud" else ("ACME/api", "ACME/web")
    scenario = make_scenario(prs, seed, projects=("ABC", "OPS"), repositories=repos)
    jira: JiraCloudSimulator | JiraDataCenterSimulator
    bb: BitbucketCloudSimulator | BitbucketDataCenterSimulator
    if flavor == "cloud":
        jira = JiraCloudSimulator(email="bot@example.com", token=JIRA_SECRET, seed=seed)
        bb = BitbucketCloudSimulator(token=BB_SECRET, seed=seed, access_token=access_token)
    else:
        jira = JiraDataCenterSimulator(token=JIRA_SECRET, seed=seed)
        bb = BitbucketDataCenterSimulator(token=BB_SECRET, seed=seed, newest_first_by=newest_first_by)
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "jirabucket.toml"
    config.write_text(CONFIG.format(repos=list(repos), comment=str(comment).lower(), timeout=timeout).replace("'", '"'))
    with jira, bb:
        scenario.seed_jira(jira)
        scenario.seed_bitbucket(bb)
        env = {
            "JIRA_URL": jira.url,
            "JIRA_FLAVOR": flavor,
            "JIRA_TOKEN": JIRA_SECRET,
            "BITBUCKET_URL": bb.url,
            "BITBUCKET_FLAVOR": flavor,
            "BITBUCKET_TOKEN": BB_SECRET,
            "JIRABUCKET_CONFIG": str(config),
            "JIRABUCKET_STATE_DIR": str(tmp_path / "state"),
        }
        if flavor == "cloud":
            env["JIRA_EMAIL"] = "bot@example.com"
        yield World(jira, bb, scenario, config, tmp_path / "state", env, flavor)
