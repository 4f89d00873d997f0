"""Bitbucket webhooks: Jira updated within seconds of a pull request changing (``jirabucket serve``).

A delivery is checked (``X-Hub-Signature``, HMAC-SHA256 of the raw body with
the shared secret), reduced to its identifiers (repository, pull request id,
event), recorded durably in the state database and answered 202 at once. One
dispatcher thread then syncs each pull request — re-read from Bitbucket by id,
with the same service as ``jirabucket sync --pr`` — once per burst of
deliveries, and runs the incremental sync on a timer so missed deliveries heal.

For any WSGI server::

    from jirabucket.webhooks import create_app

    app = create_app()        # settings, tokens and JIRABUCKET_WEBHOOK_SECRET from the environment
    ...                       # serve it (one process: the state directory admits one)
    app.close()
"""

from jirabucket.webhooks.app import (
    DEFAULT_RECONCILE_EVERY,
    HEALTH_PATH,
    MAX_BODY,
    WEBHOOK_PATH,
    WebhookApp,
    create_app,
)
from jirabucket.webhooks.dispatcher import Dispatcher, DispatcherStatus, PullRequestSyncer, retry_delay
from jirabucket.webhooks.events import (
    PULL_REQUEST_EVENTS,
    PayloadError,
    PullRequestEvent,
    configured_repository,
    read_event,
)
from jirabucket.webhooks.inbox import DEDUPE_HORIZON, Inbox, PendingSync
from jirabucket.webhooks.secret import SECRET_FILE_VARIABLE, SECRET_VARIABLE, Signature, WebhookSecret
from jirabucket.webhooks.server import WebhookServer

__all__ = [
    "DEDUPE_HORIZON",
    "DEFAULT_RECONCILE_EVERY",
    "HEALTH_PATH",
    "MAX_BODY",
    "PULL_REQUEST_EVENTS",
    "SECRET_FILE_VARIABLE",
    "SECRET_VARIABLE",
    "WEBHOOK_PATH",
    "Dispatcher",
    "DispatcherStatus",
    "Inbox",
    "PayloadError",
    "PendingSync",
    "PullRequestEvent",
    "PullRequestSyncer",
    "Signature",
    "WebhookApp",
    "WebhookSecret",
    "WebhookServer",
    "configured_repository",
    "create_app",
    "read_event",
    "retry_delay",
]
