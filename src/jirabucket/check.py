"""``check``: who am I on each side, and is everything configured reachable?

One call per product to name the account, then one cheap read per configured
repository and project. Problems are collected, not raised, so one run lists
them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jirabucket.config import Settings
from jirabucket.errors import JirabucketError
from jirabucket.runtime import open_runtime
from jirabucket.tokens import BitbucketToken, JiraToken

__all__ = ["CheckReport", "SideReport", "check"]


@dataclass(frozen=True, slots=True)
class SideReport:
    """What one product said of the token.

    Attributes:
        user: The account's display name (or user name).
        url: The base URL used.
        flavor: ``"cloud"`` or ``"datacenter"``.
    """

    user: str
    url: str
    flavor: str


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The outcome of :func:`check`.

    Attributes:
        jira: The Jira side.
        bitbucket: The Bitbucket side.
        problems: One line per repository or project that could not be read.
    """

    jira: SideReport
    bitbucket: SideReport
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """Return the ``--json`` document."""
        side = ("user", "url", "flavor")
        return {
            "jira": {name: getattr(self.jira, name) for name in side},
            "bitbucket": {name: getattr(self.bitbucket, name) for name in side},
            "problems": list(self.problems),
        }


def check(
    settings: Settings, *, jira_token: JiraToken | None = None, bitbucket_token: BitbucketToken | None = None
) -> CheckReport:
    """Authenticate to both products and read every configured repository and project once.

    Args:
        settings: The settings to check.
        jira_token: The Jira credential; from the environment when ``None``.
        bitbucket_token: The Bitbucket credential; from the environment when ``None``.

    Returns:
        The accounts and the problems found.

    Raises:
        ConfigError: A token is missing or malformed.
        AuthError: A token was refused.
    """
    jira_token = JiraToken.from_env() if jira_token is None else jira_token
    bitbucket_token = BitbucketToken.from_env() if bitbucket_token is None else bitbucket_token
    with open_runtime(settings, jira_token=jira_token, bitbucket_token=bitbucket_token, durable=False) as rt:
        jira_user, bb_user = rt.jira.myself(), rt.bitbucket.whoami()
        problems: list[str] = []
        for repo in settings.bitbucket.repositories:
            try:
                rt.bitbucket.repository(repo)
            except JirabucketError as exc:
                problems.append(f"repository {repo}: {exc}")
        for project in settings.jira.projects:
            try:
                next(iter(rt.jira.search(f"project = {project}")), None)
            except JirabucketError as exc:
                problems.append(f"project {project}: {exc}")
    jira, bb = settings.jira, settings.bitbucket
    return CheckReport(
        SideReport(jira_user.display_name or jira_user.name, jira.url, jira.flavor),
        SideReport(bb_user.display_name or bb_user.name, bb.url, bb.flavor),
        tuple(problems),
    )
