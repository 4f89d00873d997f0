"""The Bitbucket simulators (Cloud and Data Center): repository state, commit graph, BBQL, the two flavors."""

from __future__ import annotations

from jirabucket.testing.bitbucket.cloud import BitbucketCloudSimulator
from jirabucket.testing.bitbucket.datacenter import BitbucketDataCenterSimulator
from jirabucket.testing.bitbucket.graph import CommitSnapshot
from jirabucket.testing.bitbucket.state import BuildStatusSnapshot, PullRequestSnapshot

__all__ = [
    "BitbucketCloudSimulator",
    "BitbucketDataCenterSimulator",
    "BuildStatusSnapshot",
    "CommitSnapshot",
    "PullRequestSnapshot",
]
