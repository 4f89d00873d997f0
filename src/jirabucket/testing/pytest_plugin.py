"""pytest fixtures for the simulators (registered as the ``jirabucket`` pytest11 plugin).

Each fixture is function-scoped: a started simulator on a free loopback port,
stopped after the test::

    def test_links(jira_cloud, bitbucket_cloud):
        jira_cloud.add_issue("ABC-1")
        ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported by the fixtures that use them: pytest loads this plugin in every run
    from jirabucket.testing.bitbucket.cloud import BitbucketCloudSimulator
    from jirabucket.testing.bitbucket.datacenter import BitbucketDataCenterSimulator
    from jirabucket.testing.jira.cloud import JiraCloudSimulator
    from jirabucket.testing.jira.datacenter import JiraDataCenterSimulator

__all__ = ["bitbucket_cloud", "bitbucket_datacenter", "jira_cloud", "jira_datacenter"]


@pytest.fixture
def jira_cloud() -> Iterator[JiraCloudSimulator]:
    """A running Jira Cloud simulator (Basic ``bot@example.com:jira-cloud-token``)."""
    from jirabucket.testing.jira.cloud import JiraCloudSimulator

    with JiraCloudSimulator() as sim:
        yield sim


@pytest.fixture
def jira_datacenter() -> Iterator[JiraDataCenterSimulator]:
    """A running Jira Data Center simulator (Bearer ``jira-dc-token``)."""
    from jirabucket.testing.jira.datacenter import JiraDataCenterSimulator

    with JiraDataCenterSimulator() as sim:
        yield sim


@pytest.fixture
def bitbucket_cloud() -> Iterator[BitbucketCloudSimulator]:
    """A running Bitbucket Cloud simulator (Bearer ``bb-cloud-token``)."""
    from jirabucket.testing.bitbucket.cloud import BitbucketCloudSimulator

    with BitbucketCloudSimulator() as sim:
        yield sim


@pytest.fixture
def bitbucket_datacenter() -> Iterator[BitbucketDataCenterSimulator]:
    """A running Bitbucket Data Center simulator (Bearer ``bb-dc-token``, user ``bot``)."""
    from jirabucket.testing.bitbucket.datacenter import BitbucketDataCenterSimulator

    with BitbucketDataCenterSimulator() as sim:
        yield sim
