"""Client adapters for Jira and Bitbucket, Cloud and Data Center.

Each product's endpoints are declared once (:mod:`jirabucket.clients.operations`).
:class:`JiraClient` and :class:`BitbucketClient` run every call as a named
operation with JSON arguments on a :class:`~jirabucket.queue.TaskQueue`, keyed
by host. :class:`JiraApi` and :class:`BitbucketApi` make the same calls
directly in the calling thread (for use inside queue tasks). This package is
the only one that imports atlassian-python-api; its errors are translated into
:mod:`jirabucket.errors` here.
"""

from __future__ import annotations

from jirabucket.clients.bitbucket import BitbucketApi, BitbucketClient, BuildState
from jirabucket.clients.jira import JiraApi, JiraClient, no_transition_error
from jirabucket.clients.operations import Retry

__all__ = [
    "BitbucketApi",
    "BitbucketClient",
    "BuildState",
    "JiraApi",
    "JiraClient",
    "Retry",
    "no_transition_error",
]
