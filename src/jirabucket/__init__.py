"""jirabucket: keep Jira and Bitbucket in sync from scripts, cron jobs and CI."""

from __future__ import annotations

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
from jirabucket.tokens import BitbucketToken, JiraToken

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "AuthError",
    "BitbucketToken",
    "ConfigError",
    "JiraToken",
    "JirabucketError",
    "NotFound",
    "OutcomeUnknown",
    "PermanentError",
    "RateLimited",
    "StateLocked",
    "TransientError",
]
