"""The Jira simulators (Cloud and Data Center): state, rendering, JQL, and the two flavors."""

from __future__ import annotations

from jirabucket.testing.jira.cloud import JiraCloudSimulator
from jirabucket.testing.jira.datacenter import JiraDataCenterSimulator
from jirabucket.testing.jira.state import CommentSnapshot, IssueSnapshot

__all__ = ["CommentSnapshot", "IssueSnapshot", "JiraCloudSimulator", "JiraDataCenterSimulator"]
