"""Stateful Jira and Bitbucket simulators (Cloud and Data Center) with fault injection.

Four in-process HTTP servers on 127.0.0.1 that behave like the real products
where clients trip: auth schemes, paging, error shapes, timestamps, removed
endpoints, 400s for unknown issue keys, rate limits and flaky networks. Tests
seed and read their state from Python and assert outcomes, not calls::

    import requests
    from jirabucket.testing import BitbucketCloudSimulator, Faults, JiraCloudSimulator

    def test_link(jira_cloud: JiraCloudSimulator, bitbucket_cloud: BitbucketCloudSimulator):
        jira_cloud.add_issue("ABC-12", summary="Login")
        bitbucket_cloud.add_repository("acme/api")
        bitbucket_cloud.add_pull_request(
            "acme/api", title="ABC-12: fix login", source_branch="feature/ABC-12-login"
        )
        jira_cloud.set_faults(Faults(error_rate=0.2))   # every 5th call or so answers 503
        ...  # run your sync against jira_cloud.url and bitbucket_cloud.url
        links = jira_cloud.issue("ABC-12").remote_links
        assert [link["object"]["url"] for link in links] == [
            bitbucket_cloud.pull_request("acme/api", 1).web_url
        ]

Beyond the happy path they model what real servers do to a client: Jira
workflows with status categories, multi-step paths, transition screens with
required fields and failing validators (:class:`Workflow`,
``fail_transitions``), a server that drops ``expand=transitions``
(``drop_transitions_expand``); Bitbucket pull requests whose commits are gone
(``break_commits``), Cloud's rolling hourly budget (:class:`HourlyLimit`, on a
clock that may run fast: :class:`ScaledClock`, :class:`ManualClock`), access
tokens without an account; commit graphs with branches, tags and merges,
build statuses, Jira versions and fixVersions, comments deleted by id.

The fixtures ``jira_cloud``, ``jira_datacenter``, ``bitbucket_cloud`` and
``bitbucket_datacenter`` come from the ``jirabucket`` pytest plugin, installed
with the package. Outside pytest, use a simulator as a context manager
(``with JiraCloudSimulator() as jira: ...``). :func:`make_scenario` builds a
realistic data set to seed them with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jirabucket._lazy import lazy_exports

if TYPE_CHECKING:
    from jirabucket.testing.bitbucket.cloud import BitbucketCloudSimulator
    from jirabucket.testing.bitbucket.datacenter import BitbucketDataCenterSimulator
    from jirabucket.testing.bitbucket.graph import CommitSnapshot
    from jirabucket.testing.bitbucket.state import BuildStatusSnapshot, PullRequestSnapshot
    from jirabucket.testing.clock import Clock, ManualClock, ScaledClock
    from jirabucket.testing.faults import Faults, RequestRecord
    from jirabucket.testing.jira.cloud import JiraCloudSimulator
    from jirabucket.testing.jira.datacenter import JiraDataCenterSimulator
    from jirabucket.testing.jira.state import CommentSnapshot, IssueSnapshot, VersionSnapshot
    from jirabucket.testing.jira.workflow import RESOLUTION, RESOLUTIONS, ScreenField, Workflow, WorkflowTransition
    from jirabucket.testing.ratelimit import HourlyLimit
    from jirabucket.testing.scenario import (
        Scenario,
        ScenarioIssue,
        ScenarioPullRequest,
        make_scenario,
    )

# Public name -> the module that defines it (imported on first use: pytest loads the plugin,
# and with it this package, in every test session of a project that installs jirabucket).
_HOMES = {
    "BitbucketCloudSimulator": "bitbucket.cloud",
    "BitbucketDataCenterSimulator": "bitbucket.datacenter",
    "BuildStatusSnapshot": "bitbucket.state",
    "Clock": "clock",
    "CommentSnapshot": "jira.state",
    "CommitSnapshot": "bitbucket.graph",
    "Faults": "faults",
    "HourlyLimit": "ratelimit",
    "IssueSnapshot": "jira.state",
    "JiraCloudSimulator": "jira.cloud",
    "JiraDataCenterSimulator": "jira.datacenter",
    "ManualClock": "clock",
    "PullRequestSnapshot": "bitbucket.state",
    "RESOLUTION": "jira.workflow",
    "RESOLUTIONS": "jira.workflow",
    "RequestRecord": "faults",
    "ScaledClock": "clock",
    "Scenario": "scenario",
    "ScenarioIssue": "scenario",
    "ScenarioPullRequest": "scenario",
    "ScreenField": "jira.workflow",
    "VersionSnapshot": "jira.state",
    "Workflow": "jira.workflow",
    "WorkflowTransition": "jira.workflow",
    "make_scenario": "scenario",
}

__all__ = [
    "RESOLUTION",
    "RESOLUTIONS",
    "BitbucketCloudSimulator",
    "BitbucketDataCenterSimulator",
    "BuildStatusSnapshot",
    "Clock",
    "CommentSnapshot",
    "CommitSnapshot",
    "Faults",
    "HourlyLimit",
    "IssueSnapshot",
    "JiraCloudSimulator",
    "JiraDataCenterSimulator",
    "ManualClock",
    "PullRequestSnapshot",
    "RequestRecord",
    "ScaledClock",
    "Scenario",
    "ScenarioIssue",
    "ScenarioPullRequest",
    "ScreenField",
    "VersionSnapshot",
    "Workflow",
    "WorkflowTransition",
    "make_scenario",
]

__getattr__, __dir__ = lazy_exports(globals(), _HOMES)
