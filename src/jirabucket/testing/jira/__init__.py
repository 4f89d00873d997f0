"""The Jira simulators (Cloud and Data Center): state, workflow, rendering, JQL, and the two flavors."""

from __future__ import annotations

from jirabucket.testing.jira.cloud import JiraCloudSimulator
from jirabucket.testing.jira.datacenter import JiraDataCenterSimulator
from jirabucket.testing.jira.state import CommentSnapshot, IssueSnapshot, VersionSnapshot
from jirabucket.testing.jira.workflow import RESOLUTION, RESOLUTIONS, ScreenField, Workflow, WorkflowTransition

__all__ = [
    "RESOLUTION",
    "RESOLUTIONS",
    "CommentSnapshot",
    "IssueSnapshot",
    "JiraCloudSimulator",
    "JiraDataCenterSimulator",
    "ScreenField",
    "VersionSnapshot",
    "Workflow",
    "WorkflowTransition",
]
