"""``jirabucket demo``: a real sync against the built-in simulators, in one command.

It starts the Jira Cloud and Bitbucket Cloud simulators on loopback, seeds them
with a generated scenario, turns on a little trouble (a 429 window and some
503s), and runs the same code path as ``jirabucket sync`` in a temporary state
directory — no tokens or configuration of the user's are read.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from jirabucket._output import print_summary
from jirabucket.runtime import open_runtime
from jirabucket.settings import Settings, load_settings
from jirabucket.testing import BitbucketCloudSimulator, Faults, JiraCloudSimulator, make_scenario
from jirabucket.tokens import BitbucketToken, JiraToken

__all__ = ["run_demo"]

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


def run_demo(*, prs: int, seed: int, as_json: bool, console: Console) -> int:
    """Run the demo and print what it did.

    Args:
        prs: Pull requests in the generated scenario.
        seed: Seed of the scenario and of the fault injection.
        as_json: Print one JSON object instead of tables.
        console: Where human output goes.

    Returns:
        The exit code (0 when everything was synced).
    """
    from jirabucket.cli import EXIT_FAILED, EXIT_OK, _emit_json, run_sync

    scenario = make_scenario(prs, seed, projects=_PROJECTS, repositories=_REPOS)
    with tempfile.TemporaryDirectory(prefix="jirabucket-demo-") as tmp, \
            JiraCloudSimulator(seed=seed) as jira, BitbucketCloudSimulator(seed=seed) as bb:
        scenario.seed_jira(jira)
        scenario.seed_bitbucket(bb)
        jira.set_faults(Faults(error_rate=0.05))  # the simulator's seeded draw decides which
        jira.rate_limit(1.0, retry_after=1)
        settings = _settings(Path(tmp), jira, bb)
        jira_token = JiraToken(jira.token, email=jira.email)
        bb_token = BitbucketToken(bb.token, username=bb.username)
        with open_runtime(settings, jira_token=jira_token, bitbucket_token=bb_token) as rt:
            report = run_sync(rt, dry_run=False, full=False)
        examples = _examples(jira, scenario.expected_links())
    if as_json:
        _emit_json({**report.to_json(), "examples": examples})
    else:
        repos = ", ".join(_REPOS)
        console.print(f"demo: {prs} pull requests in {repos}; Jira answers 5% 503s and one 429 window", soft_wrap=True)
        print_summary(console, report)
        for ex in examples:
            console.print(f"{ex['issue']} ({ex['status']}): link {ex['link']!r}", soft_wrap=True, markup=False)
            if ex["comment"]:
                console.print(f"    comment: {ex['comment']}", soft_wrap=True, markup=False)
    return EXIT_FAILED if report.failed else EXIT_OK


def _examples(jira: JiraCloudSimulator, expected: frozenset[tuple[str, str, int]]) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = []
    for key in sorted({issue for issue, _, _ in expected})[:3]:
        snap = jira.issue(key)
        link = snap.remote_links[0]["object"]["title"] if snap.remote_links else ""
        comment = snap.comments[0].text if snap.comments else ""
        shown.append({"issue": key, "status": snap.status, "link": link, "comment": comment})
    return shown

