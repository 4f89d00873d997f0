"""Are the credentials right for where they go? Checked before any work, every run.

Two steps, so that a wrong token never looks green:

- :func:`check_fit`, with no request: a token's auth scheme must suit its
  product's flavor (Jira Cloud takes an API token *with* the account email,
  sent as Basic; a Bearer token there is refused after requests went out).
- :func:`verify`, one cheap request per product: Jira's ``myself``; for
  Bitbucket a repository endpoint (never ``/2.0/user``, which repository,
  project and workspace access tokens cannot call). A 401/403 becomes one line
  naming the product, the variable and the likely fix (CLI exit code 2).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from jirabucket.config import Settings
from jirabucket.errors import AuthError, ConfigError
from jirabucket.models import User
from jirabucket.runtime import Runtime
from jirabucket.tokens import JIRA_EMAIL_VARIABLES, BitbucketToken, JiraToken

__all__ = ["bitbucket_refusals", "check_fit", "jira_refusals", "verify"]


def check_fit(settings: Settings, *, jira_token: JiraToken, bitbucket_token: BitbucketToken) -> None:
    """Refuse, before any request, a token whose scheme cannot work with its product's flavor.

    Args:
        settings: Where the products are and their flavors.
        jira_token: The Jira credential.
        bitbucket_token: The Bitbucket credential.

    Raises:
        ConfigError: Jira Cloud with a Bearer token (no ``JIRA_EMAIL``).
    """
    jira = settings.jira
    if jira.flavor == "cloud" and jira_token.scheme == "bearer":
        raise ConfigError(
            f"{jira.url_source} {jira.url} is Jira Cloud, which takes an API token together with the account's "
            f"email: set {JIRA_EMAIL_VARIABLES[0]} (or JIRA_FLAVOR=datacenter for a self-hosted Jira, "
            "whose personal access tokens go without an email)"
        )
    del bitbucket_token  # every Bitbucket scheme fits both flavors: nothing to refuse without a request


def verify(rt: Runtime, *, jira_token: JiraToken, bitbucket_token: BitbucketToken) -> User:
    """Send one cheap authenticated request to each product; translate a refusal into one clear line.

    Args:
        rt: The open runtime (its clients send the requests through the queue).
        jira_token: The Jira credential, for the variable's name in messages.
        bitbucket_token: The Bitbucket credential, likewise.

    Returns:
        The Jira account the token acts as.

    Raises:
        AuthError: A product refused its token (status kept); the message names
            the product, the variable and the fix.
    """
    with jira_refusals(rt.settings, jira_token):
        user = rt.jira.myself()
    repo = rt.settings.bitbucket.repositories[0]
    with bitbucket_refusals(rt.settings, bitbucket_token, repo):
        rt.bitbucket.repository(repo)
    return user


@contextlib.contextmanager
def jira_refusals(settings: Settings, token: JiraToken) -> Iterator[None]:
    """Turn an :class:`AuthError` from Jira inside the block into one line naming ``token``'s variable and the fix."""
    try:
        yield
    except AuthError as exc:
        hint = (
            f"has it expired? Jira Cloud takes an Atlassian API token with {JIRA_EMAIL_VARIABLES[0]}"
            if settings.jira.flavor == "cloud"
            else "has it expired? Jira Data Center takes a personal access token (Profile > Personal Access Tokens)"
        )
        raise _refused("Jira", token.variable, exc, settings.jira.url, hint) from None


@contextlib.contextmanager
def bitbucket_refusals(settings: Settings, token: BitbucketToken, repo: str) -> Iterator[None]:
    """Turn an :class:`AuthError` from Bitbucket inside the block into one line naming the variable and the fix."""
    try:
        yield
    except AuthError as exc:
        hint = (
            f"has it expired or been revoked? It needs read access to {repo} "
            "(an access token with the Repositories: Read and Pull requests: Read scopes)"
        )
        raise _refused("Bitbucket", token.variable, exc, settings.bitbucket.url, hint) from None


def _refused(product: str, variable: str, exc: AuthError, url: str, hint: str) -> AuthError:
    message = f"{product} rejected {variable} (HTTP {exc.status}) at {url} — {hint}"
    return AuthError(message, status=exc.status, method=exc.method, url=exc.url)
