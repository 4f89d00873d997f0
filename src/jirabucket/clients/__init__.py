"""Client adapters for Jira and Bitbucket, Cloud and Data Center.

:class:`JiraClient` and :class:`BitbucketClient` run every call as a named
operation with JSON arguments on a :class:`~jirabucket.queue.TaskQueue`, keyed
by host. :class:`JiraApi` and :class:`BitbucketApi` make the same calls
directly in the calling thread (for use inside queue tasks). This package is
the only one that imports atlassian-python-api; its errors are translated into
:mod:`jirabucket.errors` here.
"""

from __future__ import annotations

from jirabucket.clients._bitbucket_api import BitbucketApi
from jirabucket.clients._jira_api import JiraApi, no_transition_error
from jirabucket.clients.bitbucket import BitbucketClient
from jirabucket.clients.jira import JiraClient

__all__ = ["BitbucketApi", "BitbucketClient", "JiraApi", "JiraClient", "no_transition_error"]
