"""make_scenario: realistic, reproducible, and seedable into every simulator."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from jirabucket.testing import (
    BitbucketCloudSimulator,
    BitbucketDataCenterSimulator,
    JiraCloudSimulator,
    JiraDataCenterSimulator,
    make_scenario,
)
from jirabucket.testing.scenario import KEY_PATTERN


def test_same_seed_same_scenario_other_seed_differs() -> None:
    assert make_scenario(50, 3) == make_scenario(50, 3)
    assert make_scenario(50, 3) != make_scenario(50, 4)


def test_realistic_mix() -> None:
    scenario = make_scenario(1000, 0)
    prs = scenario.pull_requests
    projects = set(scenario.projects)
    configured = [{k for k in pr.mentioned_keys() if k.rsplit("-", 1)[0] in projects} for pr in prs]
    per_pr = sum(len(keys) for keys in configured) / len(prs)
    assert 1.1 < per_pr < 1.5
    assert 0.05 < sum(not keys for keys in configured) / len(prs) < 0.15
    texts = Counter()
    for pr in prs:
        for key in pr.mentioned_keys():
            if key.rsplit("-", 1)[0] not in projects:
                continue
            in_title = key in pr.title
            in_branch = key in pr.source_branch
            in_desc = key in pr.description
            in_commits = any(key in c for c in pr.commits)
            if in_branch and not (in_title or in_desc or in_commits):
                texts["branch only"] += 1
            if in_commits and not (in_title or in_branch or in_desc):
                texts["commit only"] += 1
    assert texts["branch only"] > 20 and texts["commit only"] > 20
    assert {pr.state for pr in prs} == {"OPEN", "MERGED", "DECLINED"}
    assert any(any(ord(ch) > 127 for ch in pr.title) for pr in prs)
    joined = "\n".join(pr.description for pr in prs)
    assert all(fp in joined for fp in scenario.false_positives)
    assert set(scenario.false_positives) >= {"UTF-8", "ISO-8601", "SHA-256"}
    assert scenario.missing_keys and scenario.unconfigured_keys
    assert any(pr.source_branch.startswith("feature/ABC-") for pr in prs)


def test_expected_links_only_existing_configured_keys() -> None:
    scenario = make_scenario(300, 1)
    existing = {i.key for i in scenario.issues}
    links = scenario.expected_links()
    assert links
    assert all(key in existing for key, _, _ in links)
    keys = {key for key, _, _ in links}
    assert not keys & set(scenario.missing_keys)
    assert not keys & set(scenario.unconfigured_keys)
    assert not keys & set(scenario.false_positives)
    for key, repo, pr_id in links:
        pr = next(p for p in scenario.pull_requests if (p.repo, p.id) == (repo, pr_id))
        assert key in KEY_PATTERN.findall(" ".join((pr.title, pr.source_branch, pr.description, *pr.commits)))


@pytest.mark.parametrize(
    ("jira_cls", "bb_cls", "repos"),
    [
        (JiraCloudSimulator, BitbucketCloudSimulator, ("acme/api", "acme/web")),
        (JiraDataCenterSimulator, BitbucketDataCenterSimulator, ("ACME/api", "ACME/web")),
    ],
)
def test_seeds_both_flavors(jira_cls: type, bb_cls: type, repos: tuple[str, ...]) -> None:
    scenario = make_scenario(40, 2, repositories=repos)
    with jira_cls() as jira, bb_cls() as bb:
        scenario.seed_jira(jira)
        scenario.seed_bitbucket(bb)
        assert len(jira.issue_keys()) == len(scenario.issues)
        for pr in scenario.pull_requests:
            snapshot = bb.pull_request(pr.repo, pr.id)
            assert (snapshot.title, snapshot.state, snapshot.commits) == (pr.title, pr.state, pr.commits)
        assert sum(len(bb.pull_request_ids(r)) for r in repos) == 40
        if bb_cls is BitbucketDataCenterSimulator:
            answer = requests.get(
                f"{bb.url}/rest/api/1.0/projects/ACME/repos/api/pull-requests",
                params={"state": "ALL", "limit": 1000},
                headers={"Authorization": f"Bearer {bb.token}"},
                timeout=10,
            )
            assert len(answer.json()["values"]) == 20
