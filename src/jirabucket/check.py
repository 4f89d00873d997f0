"""``check``: who am I on each side, and is everything configured reachable?

One call per product to name the account, then one cheap read per configured
repository and project. Problems are collected, not raised, so one run lists
them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jirabucket.config import Settings
from jirabucket.credentials import check_fit, verify
from jirabucket.errors import AuthError, JirabucketError
from jirabucket.runtime import Runtime, open_runtime
from jirabucket.statedir import inspect_database
from jirabucket.tokens import BitbucketToken, JiraToken

__all__ = ["CheckReport", "SideReport", "check"]


@dataclass(frozen=True, slots=True)
class SideReport:
    """What one product said of the token.

    Attributes:
        user: The account's display name (or user name).
        url: The base URL used.
        flavor: ``"cloud"`` or ``"datacenter"``.
        url_source: Where the URL came from (a variable, a TOML key).
        token_source: The variable the token came from (never its value).
    """

    user: str
    url: str
    flavor: str
    url_source: str
    token_source: str


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
        side = ("user", "url", "flavor", "url_source", "token_source")
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
        ConfigError: A token is missing, malformed or does not fit its product's flavor.
        StateError: The state database is damaged or unreadable.
        AuthError: A token was refused (the message names the product and variable).
    """
    jira_token = JiraToken.from_env() if jira_token is None else jira_token
    bitbucket_token = BitbucketToken.from_env() if bitbucket_token is None else bitbucket_token
    check_fit(settings, jira_token=jira_token, bitbucket_token=bitbucket_token)
    inspect_database(settings.state_dir)
    with open_runtime(settings, jira_token=jira_token, bitbucket_token=bitbucket_token, durable=False) as rt:
        jira_user = verify(rt, jira_token=jira_token, bitbucket_token=bitbucket_token)
        bb_user = _bitbucket_account(rt)
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
        SideReport(
            jira_user.display_name or jira_user.name, jira.url, jira.flavor, jira.url_source, jira_token.variable
        ),
        SideReport(bb_user, bb.url, bb.flavor, "BITBUCKET_URL", bitbucket_token.variable),
        tuple(problems),
    )


def _bitbucket_account(rt: Runtime) -> str:
    """The Bitbucket account's name, or what kind of token has none.

    Repository, project and workspace access tokens have no user account: Bitbucket
    Cloud refuses them on ``/2.0/user``. :func:`~jirabucket.credentials.verify` has
    already proved the token reads the repository, so a refusal here only says which kind it is.
    """
    try:
        user = rt.bitbucket.whoami()
    except AuthError:
        return "an access token (no user account)"
    return user.display_name or user.name
