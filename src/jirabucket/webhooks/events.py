"""Which Bitbucket webhook events mean "sync this pull request", and which pull request.

Only identifiers are read from a payload — the repository and the pull
request's id — plus the event key from the ``X-Event-Key`` header. Everything
else (title, branch, state) is re-read from Bitbucket by id, so a forged or
stale payload can at worst make one harmless re-sync of a configured pull
request.

Payload shapes, as Atlassian documents them:

- Bitbucket Cloud ("Event payloads", support.atlassian.com/bitbucket-cloud/docs/event-payloads):
  a pull request event carries ``repository`` (with ``full_name``,
  ``workspace/slug``) and ``pullrequest`` (with ``id``) at the top level;
  ``pullrequest.destination.repository.full_name`` names the same repository and
  is read when the top-level one is absent.
- Bitbucket Data Center ("Event payload", confluence.atlassian.com/bitbucketserver):
  ``pullRequest`` with ``id`` and ``toRef.repository`` (``slug`` and
  ``project.key``); the pull request belongs to its target repository.
  ``diagnostics:ping`` (the "Test connection" button) carries ``{"test": true}``.

Guesses, said here: a repository is matched against ``[bitbucket] repositories``
without regard to case (Cloud slugs are lower case, Data Center project keys
upper case, people type either); the configured spelling is what is synced.
Cloud's ``full_name`` is taken to be ``workspace/slug`` as in the REST API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jirabucket.models import Flavor

__all__ = ["PULL_REQUEST_EVENTS", "PayloadError", "PullRequestEvent", "configured_repository", "read_event"]

#: The events that make a pull request sync, and the product that sends each.
PULL_REQUEST_EVENTS: Mapping[str, Flavor] = {
    "pullrequest:created": "cloud",
    "pullrequest:updated": "cloud",
    "pullrequest:fulfilled": "cloud",
    "pullrequest:rejected": "cloud",
    "pr:opened": "datacenter",
    "pr:modified": "datacenter",
    "pr:from_ref_updated": "datacenter",
    "pr:merged": "datacenter",
    "pr:declined": "datacenter",
}


class PayloadError(ValueError):
    """A pull-request event whose payload does not name its repository and pull request (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class PullRequestEvent:
    """A pull request to sync, as a delivery names it.

    Attributes:
        event: The ``X-Event-Key``, e.g. ``"pullrequest:updated"``.
        repository: ``workspace/slug`` (Cloud) or ``PROJECTKEY/slug`` (Data Center), as the payload spells it.
        pull_request: The pull request's id.
    """

    event: str
    repository: str
    pull_request: int


def read_event(event: str, payload: object) -> PullRequestEvent | None:
    """Return the pull request a delivery is about, or ``None`` for an event that syncs nothing.

    Args:
        event: The ``X-Event-Key`` header.
        payload: The parsed JSON body.

    Returns:
        The event's identifiers; ``None`` when ``event`` is not a pull-request event.

    Raises:
        PayloadError: A pull-request event whose payload lacks the repository or the id.
    """
    flavor = PULL_REQUEST_EVENTS.get(event)
    if flavor is None:
        return None
    if not isinstance(payload, dict):
        raise PayloadError("the payload is not a JSON object")
    if flavor == "cloud":
        pr = _object(payload, "pullrequest")
        name = _text(_object(payload, "repository"), "full_name") or _text(
            _object(_object(pr, "destination"), "repository"), "full_name"
        )
    else:
        pr = _object(payload, "pullRequest")
        repo = _object(_object(pr, "toRef"), "repository")
        key, slug = _text(_object(repo, "project"), "key"), _text(repo, "slug")
        name = f"{key}/{slug}" if key and slug else None
    pr_id = pr.get("id")
    if name is None or "/" not in name:
        raise PayloadError(f"the {event} payload does not name its repository")
    if isinstance(pr_id, bool) or not isinstance(pr_id, int) or pr_id < 1:
        raise PayloadError(f"the {event} payload has no pull request id")
    return PullRequestEvent(event, name, pr_id)


def configured_repository(name: str, repositories: Sequence[str]) -> str | None:
    """Return the configured spelling of ``name`` (matched without regard to case), or ``None``.

    Args:
        name: The repository as the payload names it.
        repositories: ``[bitbucket] repositories``.
    """
    wanted = name.casefold()
    return next((repo for repo in repositories if repo.casefold() == wanted), None)


def _object(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _text(parent: Mapping[str, Any], key: str) -> str | None:
    value = parent.get(key)
    return value if isinstance(value, str) and value else None
