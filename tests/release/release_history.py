"""A repository history with two release tags and the Jira issues its commits name, for both flavors.

main: Initial commit - ABC-1 (tag v1.0) - ABC-2 - merge of feature/login (ABC-3 twice; the pull
request's title, naming ABC-4, only in the merge commit's message) - ABC-5 with look-alikes,
an unknown key and another project's key (tag v1.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jirabucket.release import ReleaseReport, release
from jirabucket.testing import RequestRecord
from syncworld import World

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
# The issues in v1.0..v1.1 and the keys skipped, as the release must find them.
IN_RANGE = ("ABC-2", "ABC-3", "ABC-4", "ABC-5", "OPS-2")
SKIPPED = ("ABC-999",)
COMMITS_IN_RANGE = 5  # ABC-3 twice, ABC-2, the merge, ABC-5
_READS = ("/bulkfetch", "/search/jql", "/search")


@dataclass
class History:
    """The seeded world, its repository and the commits by name."""

    world: World
    repo: str
    hashes: dict[str, str]

    def release(self, **options: Any) -> ReleaseReport:
        """Run the release service as a script would (v1.0..v1.1, version 1.1 unless told otherwise)."""
        args: dict[str, Any] = {"repo": self.repo, "from_ref": "v1.0", "to_ref": "v1.1", "version": "1.1"}
        args.update(options)
        return release(
            self.world.settings(), jira_token=self.world.jira_token(), bitbucket_token=self.world.bitbucket_token(),
            **args,
        )

    def jira_writes(self) -> list[RequestRecord]:
        """Jira's requests that change something (the batched look-ups are POST or search reads)."""
        return [r for r in self.world.jira.requests if r.is_write and not r.path.endswith(_READS)]

    def bitbucket_writes(self) -> list[RequestRecord]:
        """Bitbucket's requests that change something."""
        return [r for r in self.world.bitbucket.requests if r.is_write]

    def clear_requests(self) -> None:
        """Forget the requests so far on both simulators."""
        self.world.jira.clear_requests()
        self.world.bitbucket.clear_requests()


def merge_message(flavor: str, repo: str, pr_id: int, branch: str, title: str) -> str:
    """The message Bitbucket writes into a pull request's merge commit (its default merge strategy)."""
    if flavor == "cloud":
        return f"Merged in {branch} (pull request #{pr_id})\n\n{title}\n\nApproved-by: Bob"
    return f"Pull request #{pr_id}: {title}\n\nMerge in {repo} from {branch} to main"


def seed_history(world: World) -> History:
    """Seed the repository and the issues; return the history."""
    repo = "acme/api" if world.flavor == "cloud" else "ACME/api"
    bb, jira = world.bitbucket, world.jira
    bb.add_repository(repo)
    at = iter(T0 + timedelta(hours=n) for n in range(100))
    hashes = {"abc1": bb.add_commit(repo, "ABC-1 first cut", date=next(at))}
    bb.add_tag(repo, "v1.0", "main")
    bb.add_branch(repo, "feature/login")
    hashes["abc3a"] = bb.add_commit(repo, "ABC-3 login page", branch="feature/login", date=next(at))
    hashes["abc2"] = bb.add_commit(repo, "ABC-2: fix the typo on the home page", date=next(at))
    hashes["abc3b"] = bb.add_commit(repo, "ABC-3 tests", branch="feature/login", date=next(at))
    title = "ABC-4 Log in with SSO"
    hashes["merge"] = bb.merge(repo, "feature/login", message=merge_message(world.flavor, repo, 7, "feature/login",
                                                                            title), date=next(at))
    hashes["abc5"] = bb.add_commit(
        repo, "ABC-5 read UTF-8 names (see ABC-999, XYZ-1, OPS-2)", date=next(at)
    )
    bb.add_tag(repo, "v1.1", "main")
    jira.add_version("ABC", "1.0")
    jira.add_version("ABC", "1.0.x")
    jira.add_version("OPS", "1.1")
    jira.add_issue("ABC-1", summary="First cut", status="Done", fix_versions=["1.0"])
    jira.add_issue("ABC-2", summary="Fix the typo", status="Done", issue_type="Bug")
    jira.add_issue("ABC-3", summary="Login page", status="In Review", issue_type="Story", fix_versions=["1.0.x"])
    jira.add_issue("ABC-4", summary="Log in with SSO", status="Done", issue_type="Story")
    jira.add_issue("ABC-5", summary="Read UTF-8 names", status="In Progress", issue_type="Task")
    jira.add_issue("OPS-2", summary="Rotate the keys", status="Done", issue_type="Bug")
    return History(world, repo, hashes)
