"""jirabucket: keep Jira and Bitbucket in sync from scripts, cron jobs and CI.

The public API, re-exported here: typed tokens, the clients, the retrying queue,
settings, the sync service, the value models and the error tree. The
simulators for tests live in :mod:`jirabucket.testing`.

Names are imported on first use (PEP 562), so ``import jirabucket`` — and the
``jirabucket --help`` that runs it — does not pay for atlassian-python-api,
requests and rich until a client, a queue or a sync is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jirabucket._lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from jirabucket.clients import BitbucketClient, JiraClient
    from jirabucket.config import Settings, load_settings
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
    from jirabucket.models import (
        Branch,
        Comment,
        Commit,
        Issue,
        IssueLookup,
        PullRequest,
        RemoteLink,
        Transition,
        User,
    )
    from jirabucket.queue import Journal, KeyLimit, RetryPolicy, TaskQueue
    from jirabucket.sync import SyncReport
    from jirabucket.tokens import BitbucketToken, JiraToken

# Public name -> the module that defines it.
_HOMES = {
    "ApiError": "errors",
    "AuthError": "errors",
    "BitbucketClient": "clients",
    "BitbucketToken": "tokens",
    "Branch": "models",
    "Comment": "models",
    "Commit": "models",
    "ConfigError": "errors",
    "Issue": "models",
    "IssueLookup": "models",
    "JiraClient": "clients",
    "JiraToken": "tokens",
    "JirabucketError": "errors",
    "Journal": "queue",
    "KeyLimit": "queue",
    "NotFound": "errors",
    "OutcomeUnknown": "errors",
    "PermanentError": "errors",
    "PullRequest": "models",
    "RateLimited": "errors",
    "RemoteLink": "models",
    "RetryPolicy": "queue",
    "Settings": "config",
    "StateLocked": "errors",
    "SyncReport": "sync",
    "TaskQueue": "queue",
    "TransientError": "errors",
    "Transition": "models",
    "User": "models",
    "load_settings": "config",
}

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
    "SyncReport",
    "TaskQueue",
    "TransientError",
    "Transition",
    "User",
    "load_settings",
]


__getattr__, __dir__ = lazy_exports(globals(), _HOMES, extra=["__version__"])
