"""``release``: the fixVersion and the release notes from the commits between two refs.

One run, every call through the queue:

1. the commits in (FROM, TO] from Bitbucket, paged (Cloud ``include``/``exclude``,
   Data Center ``until``/``since``); a merge commit is listed, and counted, once;
2. the keys their messages name, of the configured projects (or those asked
   for). Bitbucket writes the pull request's branch and title into its merge
   commit ("Merged in feature/ABC-12-login (pull request #42)" and the title on
   Cloud, "Pull request #42: title" on Data Center), so keys from the titles of
   pull requests merged in the range come at no extra request;
3. one batched Jira look-up: the issues with their type, status and fixVersions;
   keys Jira does not know are skipped and listed;
4. per project with such issues, its versions: version ``NAME`` is reused, or
   created; with ``released`` it is marked released;
5. the fixVersion added to each issue that lacks it, keeping its others.

Everything already in place is read and left alone, so a second identical run
writes nothing. A write that fails for good is listed in the report and the
rest go on (CLI exit 1); the next run redoes only what is missing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from jirabucket.config import Settings
from jirabucket.credentials import bitbucket_refusals, check_fit, jira_refusals
from jirabucket.errors import ApiError, AuthError, ConfigError, NotFound, OutcomeUnknown, PermanentError
from jirabucket.models import Commit, Issue, Version
from jirabucket.queue.workers import DaemonExecutor
from jirabucket.release.notes import render_notes
from jirabucket.release.plan import ReleasePlan, VersionStep, key_order, plan_release, version_step
from jirabucket.release.report import ReleaseReport, VersionOutcome
from jirabucket.runtime import Runtime, open_runtime
from jirabucket.sync.keys import find_keys
from jirabucket.sync.report import Failure
from jirabucket.tokens import BitbucketToken, JiraToken

__all__ = ["release"]

_A = TypeVar("_A")
_R = TypeVar("_R")
_PROJECT_KEY = re.compile(r"[A-Z][A-Z0-9_]+")
_VERSION_NAME_LIMIT = 255  # Jira's limit on a version's name
# What a refused write needs, for the failure's line (Jira's permission names).
_NEEDS = {
    "jira.create_version": "Administer Projects (or Jira admin) to create versions",
    "jira.update_version": "Administer Projects (or Jira admin) to release versions",
    "jira.add_fix_version": "Edit Issues and Resolve Issues (the Fix versions field needs both)",
}


def release(
    settings: Settings,
    *,
    repo: str,
    from_ref: str,
    to_ref: str,
    version: str,
    projects: Sequence[str] | None = None,
    released: bool = False,
    release_date: date | None = None,
    dry_run: bool = False,
    jira_token: JiraToken | None = None,
    bitbucket_token: BitbucketToken | None = None,
) -> ReleaseReport:
    """Give the issues named between two refs the fixVersion ``version``, and write their release notes.

    Args:
        settings: Where Jira and Bitbucket are, the projects, the queue.
        repo: ``workspace/slug`` (Cloud) or ``PROJECTKEY/slug`` (Data Center).
        from_ref: A tag, branch or commit hash the range starts after (its commits are excluded).
        to_ref: A tag, branch or commit hash the range ends at (included).
        version: The version's name, e.g. ``"2.4.0"``.
        projects: The projects whose keys count; ``[jira] projects`` when ``None`` or empty.
        released: Mark the version released (an already released version is left alone
            unless ``release_date`` differs from its date).
        release_date: The release date (with ``released``); today when ``None``.
        dry_run: Read and plan; write nothing.
        jira_token: The Jira credential; from the environment when ``None``.
        bitbucket_token: The Bitbucket credential; from the environment when ``None``.

    Returns:
        What was found and written, the plan, and the notes.

    Raises:
        ConfigError: A bad argument, a token that does not fit its product, or a ref
            (or the repository) that does not exist — the message names it.
        AuthError: A token was refused on a read (the message names the product and variable).
        ApiError: A read failed for good after retries.
    """
    name, wanted = _checked(from_ref=from_ref, to_ref=to_ref, version=version, projects=projects,
                            settings=settings, released=released, release_date=release_date)
    jira_token = JiraToken.from_env() if jira_token is None else jira_token
    bitbucket_token = BitbucketToken.from_env() if bitbucket_token is None else bitbucket_token
    check_fit(settings, jira_token=jira_token, bitbucket_token=bitbucket_token)
    started = time.monotonic()
    with open_runtime(settings, jira_token=jira_token, bitbucket_token=bitbucket_token, durable=False) as rt:
        # Not journaled: every write checks Jira first, so a re-run is the recovery (no state needed in CI).
        with bitbucket_refusals(settings, bitbucket_token, repo):
            commits = _read_range(rt, repo, from_ref, to_ref)
        keys = find_keys((commit.message for commit in commits), projects=wanted)
        with jira_refusals(settings, jira_token):
            issues, skipped = _look_up(rt, keys)
            listed = _in_parallel(rt, rt.jira.project_versions, sorted({issue.project for issue in issues}))
            # Waited for in here, so that a refusal surfaces inside jira_refusals.
            versions = {project: future.result() for project, future in listed.items()}
        plan = plan_release(issues, versions, name=name, released=released, release_date=release_date,
                            today=date.today())
        done = _Done() if dry_run else _apply(rt, plan)
        requests = rt.jira.request_count + rt.bitbucket.request_count
    notes = render_notes(issues, version=name, repo=repo, from_ref=from_ref, to_ref=to_ref, jira_url=settings.jira.url)
    return ReleaseReport(
        repo=repo, from_ref=from_ref, to_ref=to_ref, version=name, commits=len(commits),
        issues=tuple(issue.key for issue in issues), skipped_keys=skipped,
        versions=tuple(done.versions.get(step.project, _planned(step)) for step in plan.versions),
        created_versions=tuple(done.created), released_versions=tuple(done.released),
        updated_issues=tuple(sorted(done.updated, key=key_order)), failed=tuple(done.failed),
        plan=plan.writes(), notes=notes, dry_run=dry_run, requests=requests, seconds=time.monotonic() - started,
    )


def _checked(
    *, from_ref: str, to_ref: str, version: str, projects: Sequence[str] | None, settings: Settings,
    released: bool, release_date: date | None,
) -> tuple[str, tuple[str, ...]]:
    """Return the version's name and the projects, or refuse the arguments before any request."""
    for what, ref in (("--from", from_ref), ("--to", to_ref)):
        if not ref.strip():
            raise ConfigError(f"release: {what} needs a tag, branch or commit hash")
    name = version.strip()
    if not name or len(name) > _VERSION_NAME_LIMIT:
        raise ConfigError(f"release: the version name must be 1 to {_VERSION_NAME_LIMIT} characters, got {version!r}")
    if release_date is not None and not released:
        raise ConfigError("release: a release date goes with --released (released=True)")
    wanted = tuple(dict.fromkeys(p.strip().upper() for p in projects or ())) or settings.jira.projects
    odd = [p for p in wanted if not _PROJECT_KEY.fullmatch(p)]
    if odd:
        raise ConfigError(f"release: {', '.join(odd)} is not a Jira project key (e.g. ABC)")
    return name, wanted


def _read_range(rt: Runtime, repo: str, from_ref: str, to_ref: str) -> list[Commit]:
    """Return the commits in (``from_ref``, ``to_ref``], each once.

    Raises:
        ConfigError: The repository or a ref does not exist (the message names it).
    """
    try:
        return list(_unique(rt.bitbucket.commits_between(repo, include=to_ref, exclude=from_ref)))
    except (NotFound, PermanentError) as exc:
        if isinstance(exc, PermanentError) and exc.status != 400:
            raise
        raise _range_error(rt, repo, from_ref, to_ref, exc) from None


def _unique(commits: Iterable[Commit]) -> Iterator[Commit]:
    seen: set[str] = set()
    for commit in commits:
        if commit.hash not in seen:  # a merge reached by two parents' paths is still one commit
            seen.add(commit.hash)
            yield commit


def _range_error(rt: Runtime, repo: str, from_ref: str, to_ref: str, exc: ApiError) -> ConfigError:
    """Find out what the failed range read named that does not exist; a few reads, on this path only.

    Bitbucket Cloud answers an unknown ref with "Commit not found", naming neither.
    """
    where = f"{repo} at {rt.settings.bitbucket.url}"
    try:
        rt.bitbucket.verify_access(repo)
    except NotFound:
        return ConfigError(f"release: no repository {where} (or this token cannot see it)")
    for flag, ref in (("--to", to_ref), ("--from", from_ref)):
        try:
            rt.bitbucket.commits_between_page(repo, include=ref)
        except (NotFound, PermanentError):
            return ConfigError(f"release: {flag} {ref!r} is not a tag, branch or commit of {where}")
    return ConfigError(f"release: Bitbucket could not list the commits of {where} after {from_ref!r} "
                       f"up to {to_ref!r}: {exc}")


def _look_up(rt: Runtime, keys: Sequence[str]) -> tuple[list[Issue], tuple[str, ...]]:
    """Return the issues that exist, ordered by key, and the keys that do not."""
    if not keys:
        return [], ()
    lookup = rt.jira.get_issues(keys)
    issues = sorted({issue.key: issue for issue in lookup.found.values()}.values(), key=lambda i: key_order(i.key))
    return issues, tuple(sorted(lookup.missing, key=key_order))


def _in_parallel(rt: Runtime, call: Callable[[_A], _R], items: Sequence[_A]) -> dict[_A, Future[_R]]:
    """Run ``call`` on each item from a thread each (the queue limits what reaches a host); wait for all."""
    if not items:
        return {}
    # Daemon threads: after Ctrl-C the exit does not wait for the requests still in flight.
    with DaemonExecutor(min(rt.settings.queue.workers, len(items)), name="jirabucket-release") as pool:
        return {item: pool.submit(call, item) for item in items}


@dataclass
class _Done:
    """What the writes did (filled on the calling thread only)."""

    versions: dict[str, VersionOutcome] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)


def _apply(rt: Runtime, plan: ReleasePlan) -> _Done:
    """Make the plan's writes: the versions first, then the fixVersions of the issues whose version exists."""
    done = _Done()
    steps = {step.project: step for step in plan.versions}
    for project, future in _in_parallel(rt, lambda p: _ensure_version(rt, steps[p]), list(steps)).items():
        step = steps[project]
        try:
            version, action = future.result()
        except ApiError as exc:
            operation = "jira.create_version" if step.action == "create" else "jira.update_version"
            done.failed.append(Failure(operation, f"{project} {step.name}", _say(operation, exc)))
            if step.existing is not None:  # not released, but it exists: its issues can still have it
                done.versions[project] = _outcome(step.existing, project)
            continue
        done.versions[project] = _outcome(version, project)
        if action == "create":
            done.created.append(project)
        elif action == "release":
            done.released.append(project)
    ready = [issue for issue in plan.updates if issue.project in done.versions]
    for issue in plan.updates:
        if issue.project not in done.versions:
            why = f"not written: version {steps[issue.project].name!r} could not be created in {issue.project}"
            done.failed.append(Failure("jira.add_fix_version", issue.key, why))
    names = {issue.key: done.versions[issue.project].name for issue in ready}
    writes = _in_parallel(rt, lambda k: rt.jira.add_fix_version(k, names[k]), list(names))
    for key, write in writes.items():
        try:
            write.result()
        except ApiError as exc:
            done.failed.append(Failure("jira.add_fix_version", key, _say("jira.add_fix_version", exc)))
        else:
            done.updated.append(key)
    return done


def _ensure_version(rt: Runtime, step: VersionStep) -> tuple[Version, str]:
    """Carry out one version step; return the version and what was done (``create``, ``release``, ``keep``)."""
    if step.action == "keep" and step.existing is not None:
        return step.existing, "keep"
    if step.action == "release" and step.existing is not None:
        return rt.jira.update_version(step.existing.id, released=True, release_date=step.release_date), "release"
    try:
        return rt.jira.create_version(step.project, step.name, released=step.released,
                                      release_date=step.release_date), "create"
    except (OutcomeUnknown, PermanentError) as exc:
        # The answer was lost (it may have been created), or Jira says the name is taken
        # (another writer was first): look again rather than fail or create twice.
        again = version_step(step.project, step.name, rt.jira.project_versions(step.project),
                             released=step.released, release_date=step.release_date, today=date.today())
        if again.action == "create":
            raise exc from None
        version, action = _ensure_version(rt, again)
        return version, ("create" if isinstance(exc, OutcomeUnknown) and action == "keep" else action)


def _outcome(version: Version, project: str) -> VersionOutcome:
    return VersionOutcome(project, version.id, version.name, version.released, version.release_date)


def _planned(step: VersionStep) -> VersionOutcome:
    """The version as a dry run leaves it (what exists), or as planned when it does not exist yet."""
    if step.existing is not None:
        return _outcome(step.existing, step.project)
    return VersionOutcome(step.project, "", step.name, step.released, step.release_date)


def _say(operation: str, exc: ApiError) -> str:
    """One line for a failed write; a refusal says which permission the token's account needs."""
    if isinstance(exc, AuthError):
        return f"{exc} — the token's account needs {_NEEDS[operation]}"
    return str(exc)
