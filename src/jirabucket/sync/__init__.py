"""The sync service: make Jira reflect the pull requests that name its issues.

For scripts::

    from jirabucket.config import load_settings
    from jirabucket.sync import sync

    report = sync(load_settings(), dry_run=True)   # tokens from JIRA_TOKEN / BITBUCKET_TOKEN
    for action in report.plan:
        print(action.action, action.issue, action.pull_request, action.detail)
"""

from jirabucket.sync.engine import ProgressCallback, SyncEngine
from jirabucket.sync.report import Failure, PlannedAction, SyncReport
from jirabucket.sync.service import RetryReport, SyncSession, failed_work, retry_failed, sync, sync_pull_request

__all__ = [
    "Failure",
    "PlannedAction",
    "ProgressCallback",
    "RetryReport",
    "SyncEngine",
    "SyncReport",
    "SyncSession",
    "failed_work",
    "retry_failed",
    "sync",
    "sync_pull_request",
]
