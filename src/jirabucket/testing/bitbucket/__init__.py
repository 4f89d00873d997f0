"""The Bitbucket simulators (Cloud and Data Center): repository state, BBQL, and the two flavors."""

from __future__ import annotations

from jirabucket.testing.bitbucket.cloud import BitbucketCloudSimulator
from jirabucket.testing.bitbucket.datacenter import BitbucketDataCenterSimulator
from jirabucket.testing.bitbucket.state import PullRequestSnapshot

__all__ = ["BitbucketCloudSimulator", "BitbucketDataCenterSimulator", "PullRequestSnapshot"]
