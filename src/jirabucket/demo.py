"""``jirabucket demo``: a real sync against the built-in simulators, in one command.

It starts the Jira Cloud and Bitbucket Cloud simulators on loopback, seeds them
with a generated scenario, turns on a little trouble (a 429 window and some
503s), and runs the same service as ``jirabucket sync`` in a temporary state
directory — no tokens or configuration of the user's are read.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jirabucket.config import Settings, load_settings
from jirabucket.sync import SyncReport, sync
from jirabucket.testing import BitbucketCloudSimulator, Faults, JiraCloudSimulator, make_scenario
from jirabucket.tokens import BitbucketToken, JiraToken

__all__ = ["DemoResult", "run_demo"]

_PROJECTS = ("ABC", "OPS")
_REPOS = ("acme/api", "acme/web")
_CONFIG = """
[jira]
projects = ["ABC", "OPS"]
[bitbucket]
repositories = ["acme/api", "acme/web"]
[sync]
scan_commits = true
comment = true
[sync.transitions]
open = "In Review"
merged = "Done"
"""


def _settings(folder: Path, jira: JiraCloudSimulator, bb: BitbucketCloudSimulator) -> Settings:
    config = folder / "jirabucket.toml"
    config.write_text(_CONFIG, encoding="utf-8")
    return load_settings(
        config_path=config, environ={}, jira_url=jira.url, jira_flavor="cloud",
        bitbucket_url=bb.url, bitbucket_flavor="cloud", state_dir=folder / "state",
    )


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo did.

    Attributes:
        prs: Pull requests in the generated scenario.
        repositories: The simulated repositories.
        report: The sync's report.
        examples: A few issues as Jira shows them afterwards (key, status, link title, comment).
    """

    prs: int
    repositories: tuple[str, ...]
    report: SyncReport
    examples: list[dict[str, Any]]


def run_demo(*, prs: int = 40, seed: int = 7) -> DemoResult:
    """Run a real sync against freshly started simulators.

    Args:
        prs: Pull requests in the generated scenario.
        seed: Seed of the scenario and of the fault injection.

    Returns:
        The report and a few examples.
    """
    scenario = make_scenario(prs, seed, projects=_PROJECTS, repositories=_REPOS)
    with tempfile.TemporaryDirectory(prefix="jirabucket-demo-") as tmp, \
            JiraCloudSimulator(seed=seed) as jira, BitbucketCloudSimulator(seed=seed) as bb:
        scenario.seed_jira(jira)
        scenario.seed_bitbucket(bb)
        jira.set_faults(Faults(error_rate=0.05))  # the simulator's seeded draw decides which
        jira.rate_limit(1.0, retry_after=1)
        report = sync(
            _settings(Path(tmp), jira, bb),
            jira_token=JiraToken(jira.token, email=jira.email),
            bitbucket_token=BitbucketToken(bb.token, username=bb.username),
        )
        examples = _examples(jira, scenario.expected_links())
    return DemoResult(prs, _REPOS, report, examples)


def _examples(jira: JiraCloudSimulator, expected: frozenset[tuple[str, str, int]]) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = []
    for key in sorted({issue for issue, _, _ in expected})[:3]:
        snap = jira.issue(key)
        link = snap.remote_links[0]["object"]["title"] if snap.remote_links else ""
        comment = snap.comments[0].text if snap.comments else ""
        shown.append({"issue": key, "status": snap.status, "link": link, "comment": comment})
    return shown

