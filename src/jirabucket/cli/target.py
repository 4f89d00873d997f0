"""Which pull request a command is about: its flags, else Bitbucket Pipelines' variables.

In a pull-request pipeline Bitbucket Cloud sets ``BITBUCKET_REPO_FULL_NAME``
(``workspace/slug``) and ``BITBUCKET_PR_ID``; on a Data Center build server
(Jenkins, Bamboo) pass ``--repo PROJECTKEY/slug --pr ID`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from jirabucket.errors import ConfigError

__all__ = ["FROM_PIPELINE", "PR_VARIABLE", "REPO_VARIABLE", "pull_request_target"]

REPO_VARIABLE, PR_VARIABLE = "BITBUCKET_REPO_FULL_NAME", "BITBUCKET_PR_ID"
#: ``--pr`` given without a value: the pipeline's variable says which.
FROM_PIPELINE = "from the pipeline"


def pull_request_target(
    repo: str | None, pr: str | None, env: Mapping[str, str], *, command: str
) -> tuple[str, int]:
    """Return ``(repo, pr_id)`` from the flags, filling what is missing from the pipeline's variables.

    Args:
        repo: ``--repo``, or ``None``.
        pr: ``--pr`` (a number, or :data:`FROM_PIPELINE`), or ``None``.
        env: The environment.
        command: The command, for the message.

    Raises:
        ConfigError: Neither a flag nor a variable says which, or the id is not a number.
    """
    how = (
        f"{command} needs a pull request: pass --repo WORKSPACE/SLUG (or PROJECTKEY/slug) --pr ID, "
        f"or run it in a Bitbucket Pipelines pull-request pipeline ({REPO_VARIABLE}, {PR_VARIABLE})"
    )
    raw_pr = env.get(PR_VARIABLE) if pr in (None, FROM_PIPELINE) else pr
    repo = repo or env.get(REPO_VARIABLE)
    if not repo or not raw_pr:
        missing = " and ".join(name for name, value in ((REPO_VARIABLE, repo), (PR_VARIABLE, raw_pr)) if not value)
        raise ConfigError(f"{how}; {missing} not set")
    try:
        pr_id = int(raw_pr)
    except ValueError:
        raise ConfigError(f"{command}: the pull request id must be a number, got {raw_pr!r}") from None
    if pr_id < 1:
        raise ConfigError(f"{command}: the pull request id must be a positive number, got {pr_id}")
    return repo, pr_id
