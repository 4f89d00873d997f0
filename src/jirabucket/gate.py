"""``check-pr``: the CI gate — does this pull request name a real Jira issue it may be merged under?

One Bitbucket read (the PR) and one Jira search (all its keys at once) decide:
the PR passes when at least one key from its title or branch (``[check_pr]
keys_from``) names an existing issue of the configured projects, in an allowed
status (``[check_pr] statuses``). Bots (``skip_authors``) and branches such as
``release/*`` (``skip_branches``) pass with a line saying why. Nothing is
written, unless asked to report a commit build status on the PR's head commit,
so a "minimum successful builds" merge check can require it; the same status
key overwrites, so a re-run is harmless.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass
from typing import Any

from jirabucket.config import Settings
from jirabucket.credentials import bitbucket_refusals, check_fit, jira_refusals
from jirabucket.models import Issue, PullRequest
from jirabucket.runtime import Runtime, open_runtime
from jirabucket.sync.keys import pr_keys
from jirabucket.tokens import BitbucketToken, JiraToken

__all__ = ["STATUS_KEY", "GateReport", "check_pr"]

#: The build status key jirabucket reports under: the same key overwrites, so re-runs are idempotent.
STATUS_KEY = "jirabucket"
_STATUS_NAME = "Jira issue"
_DESCRIPTION_LIMIT = 255


@dataclass(frozen=True, slots=True)
class GateReport:
    """The verdict on one pull request.

    Attributes:
        ok: Whether the PR passes (also ``True`` when it is skipped).
        keys: The keys found that name existing issues in an allowed status.
        problems: One line per problem, each naming the PR.
        repo: The repository.
        pr_id: The pull request's number.
        url: The pull request's page.
        skipped: Why the PR was not checked (a bot author, a skipped branch), or ``None``.
        status_reported: Whether a build status was written to the PR's head commit.
    """

    ok: bool
    keys: tuple[str, ...]
    problems: tuple[str, ...]
    repo: str
    pr_id: int
    url: str
    skipped: str | None = None
    status_reported: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the ``--json`` document."""
        return {
            "ok": self.ok,
            "keys": list(self.keys),
            "problems": list(self.problems),
            "skipped": self.skipped,
            "status_reported": self.status_reported,
            "pull_request": {"repo": self.repo, "id": self.pr_id, "url": self.url},
        }


def check_pr(
    settings: Settings,
    *,
    repo: str,
    pr_id: int,
    jira_token: JiraToken | None = None,
    bitbucket_token: BitbucketToken | None = None,
    report_status: bool = False,
) -> GateReport:
    """Judge one pull request; with ``report_status``, also write the verdict as a commit build status.

    Args:
        settings: Projects, statuses and skip rules (``[check_pr]``).
        repo: ``workspace/slug`` (Cloud) or ``PROJECTKEY/slug`` (Data Center).
        pr_id: The pull request's number.
        jira_token: The Jira credential; from the environment when ``None``.
        bitbucket_token: The Bitbucket credential; from the environment when ``None``.
        report_status: Write a ``SUCCESSFUL``/``FAILED`` build status (key ``jirabucket``)
            on the PR's head commit.

    Returns:
        The verdict.

    Raises:
        ConfigError: A token is missing or does not fit its product.
        AuthError: A token was refused (the message names the product and variable).
        NotFound: No such repository or pull request.
    """
    jira_token = JiraToken.from_env() if jira_token is None else jira_token
    bitbucket_token = BitbucketToken.from_env() if bitbucket_token is None else bitbucket_token
    check_fit(settings, jira_token=jira_token, bitbucket_token=bitbucket_token)
    with open_runtime(settings, jira_token=jira_token, bitbucket_token=bitbucket_token, durable=False) as rt:
        with bitbucket_refusals(settings, bitbucket_token, repo):
            pr = rt.bitbucket.pull_request(repo, pr_id)
        with jira_refusals(settings, jira_token):
            report = _judge(rt, pr)
        if report_status and report.skipped is None:
            with bitbucket_refusals(settings, bitbucket_token, repo):
                _report_status(rt, pr, report)
            report = dataclasses.replace(report, status_reported=True)
    return report


def _judge(rt: Runtime, pr: PullRequest) -> GateReport:
    rules = rt.settings.check_pr
    name = f"{pr.repo}#{pr.id}"

    def verdict(keys: list[str], problems: list[str], skipped: str | None = None) -> GateReport:
        ok = bool(keys) or skipped is not None
        return GateReport(ok, tuple(keys), () if ok else tuple(problems), pr.repo, pr.id, pr.web_url, skipped)

    if pr.author in rules.skip_authors:
        return verdict([], [], f"{name}: skipped, its author {pr.author!r} is in skip_authors")
    for pattern in rules.skip_branches:
        if fnmatch.fnmatchcase(pr.source_branch, pattern):
            return verdict([], [], f"{name}: skipped, its branch {pr.source_branch!r} matches {pattern!r}")
    projects = rules.projects or rt.settings.jira.projects
    keys = pr_keys(pr, sources=rules.keys_from, projects=projects)
    if not keys:
        return verdict([], [f"{name}: no Jira issue key ({', '.join(projects)}) in its {' or '.join(rules.keys_from)}"])
    lookup = rt.jira.get_issues(keys)  # one search for all keys
    good: list[str] = []
    problems: list[str] = []
    for key in keys:
        issue = lookup.found.get(key)
        if issue is None:
            problems.append(f"{name}: {key} does not exist in Jira (or this token cannot see it)")
        elif not _status_allowed(issue, rules.statuses):
            allowed = ", ".join(rules.statuses)
            problems.append(f"{name}: {key} is in status {issue.status!r}, not one of the allowed ({allowed})")
        else:
            good.append(key)
    return verdict(good, problems)


def _status_allowed(issue: Issue, statuses: tuple[str, ...]) -> bool:
    return not statuses or issue.status.casefold() in {s.casefold() for s in statuses}


def _report_status(rt: Runtime, pr: PullRequest, report: GateReport) -> None:
    jira_url = rt.settings.jira.url
    if report.ok:
        url = f"{jira_url}/browse/{report.keys[0]}"
        description = f"{', '.join(report.keys)}"
    else:
        url = pr.web_url
        description = "; ".join(p.split(": ", 1)[-1] for p in report.problems)
    rt.bitbucket.set_build_status(
        pr.repo, pr.source_commit, key=STATUS_KEY, state="SUCCESSFUL" if report.ok else "FAILED",
        name=_STATUS_NAME, url=url, description=description[:_DESCRIPTION_LIMIT], ref=pr.source_branch,
    )
