"""jirabucket: keep Jira and Bitbucket in sync from scripts, cron jobs and CI.

The public API, re-exported here: typed tokens, the clients, the retrying queue,
settings, the value models and the error tree. The simulators for tests live in
:mod:`jirabucket.testing`.
"""

from __future__ import annotations

from jirabucket.clients import BitbucketClient, JiraClient
from jirabucket.errors import (
    ApiError,
    AuthError,
    ConfigError,
    JirabucketError,
    NotFound,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    StateLocked,
    TransientError,
)
from jirabucket.models import Branch, Comment, Commit, Issue, IssueLookup, PullRequest, RemoteLink, Transition, User
from jirabucket.queue import Journal, KeyLimit, RetryPolicy, TaskQueue
from jirabucket.settings import Settings, load_settings
from jirabucket.tokens import BitbucketToken, JiraToken

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "AuthError",
    "BitbucketClient",
    "BitbucketToken",
    "Branch",
    "Comment",
    "Commit",
    "ConfigError",
    "Issue",
    "IssueLookup",
    "JiraClient",
    "JiraToken",
    "JirabucketError",
    "Journal",
    "KeyLimit",
    "NotFound",
    "OutcomeUnknown",
    "PermanentError",
    "PullRequest",
    "RateLimited",
    "RemoteLink",
    "RetryPolicy",
    "Settings",
    "StateLocked",
    "TaskQueue",
    "TransientError",
    "Transition",
    "User",
    "load_settings",
]
