"""``jirabucket release``: call the release service, write the notes, print what was done.

The notes go to ``--notes FILE``, else to stdout (the summary then goes to
stderr, so ``jirabucket release ... > NOTES.md`` works). Under ``--json`` stdout
carries only the JSON object, which holds the notes too.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from jirabucket.cli.main import EXIT_FAILED, EXIT_OK, emit_json
from jirabucket.cli.target import REPO_VARIABLE
from jirabucket.config import Settings, load_settings
from jirabucket.errors import ConfigError
from jirabucket.release import ReleaseReport, release
from jirabucket.tokens import BitbucketToken, JiraToken

_SHOWN = 20


def run(args: argparse.Namespace) -> int:
    """Run ``jirabucket release``."""
    # Every argument, the settings and the tokens are checked before any request is sent.
    release_date = _release_date(args.release_date)
    notes_path = _notes_path(args.notes)
    settings = load_settings(config_path=args.config)
    repo = release_repo(args.repo, settings, os.environ)
    report = release(
        settings, repo=repo, from_ref=args.from_ref, to_ref=args.to_ref, version=args.version,
        projects=args.project, released=args.released, release_date=release_date, dry_run=args.dry_run,
        jira_token=JiraToken.from_env(), bitbucket_token=BitbucketToken.from_env(),
    )
    if notes_path is not None:
        _write_notes(notes_path, report.notes)
    if args.json:
        emit_json(args, report.to_json())
    else:
        if notes_path is None:
            sys.stdout.write(report.notes)
            sys.stdout.flush()
        console = Console(file=sys.stdout if notes_path else sys.stderr, quiet=args.quiet, highlight=False)
        _print_summary(console, report, notes_path)
    return EXIT_FAILED if report.failed else EXIT_OK


def release_repo(repo: str | None, settings: Settings, env: Mapping[str, str]) -> str:
    """Return ``--repo``, else the pipeline's ``$BITBUCKET_REPO_FULL_NAME``, else the only configured repository.

    Raises:
        ConfigError: None of them says which.
    """
    chosen = repo or env.get(REPO_VARIABLE)
    if chosen:
        return chosen
    if len(settings.bitbucket.repositories) == 1:
        return settings.bitbucket.repositories[0]
    raise ConfigError(
        f"release needs --repo WORKSPACE/SLUG (or PROJECTKEY/slug): {len(settings.bitbucket.repositories)} "
        f"repositories are configured and {REPO_VARIABLE} is not set"
    )


def _release_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--release-date {text!r} is not a date (expected YYYY-MM-DD)") from None


def _notes_path(text: str | None) -> Path | None:
    """Return ``--notes`` as a path whose directory exists, so a typo stops the run before any request."""
    if text is None:
        return None
    path = Path(text)
    if path.is_dir() or not path.parent.is_dir():
        raise ConfigError(f"--notes {text}: not a file in an existing directory")
    return path


def _write_notes(path: Path, notes: str) -> None:
    try:
        path.write_text(notes, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--notes {path}: cannot write it ({exc.strerror or exc})") from None


def _print_summary(console: Console, report: ReleaseReport, notes_path: Path | None) -> None:
    def say(line: str) -> None:
        console.print(line, markup=False, soft_wrap=True)

    say(f"release {report.version} of {report.repo} ({report.from_ref} → {report.to_ref}): "
        f"{report.commits} commits, {len(report.issues)} issues")
    if report.skipped_keys:
        say(f"skipped (not in Jira): {_listed(report.skipped_keys)}")
    if report.dry_run:
        say(f"dry run: {len(report.plan)} writes planned" if report.plan else "dry run: nothing to write")
        for write in report.plan[:_SHOWN]:
            say(f"  {write.action} {write.target}: {write.detail}")
        if len(report.plan) > _SHOWN:
            say(f"  … and {len(report.plan) - _SHOWN} more (--json lists all)")
    else:
        for v in report.versions:
            what = ("created" if v.project in report.created_versions
                    else "marked released" if v.project in report.released_versions else "exists")
            when = f", released {v.release_date.isoformat()}" if v.released and v.release_date else (
                ", released" if v.released else "")
            say(f"version {v.name} in {v.project}: {what}{when}")
        had = len(report.issues) - len(report.updated_issues) - sum(f.target in report.issues for f in report.failed)
        say(f"fixVersion {report.version} added to {len(report.updated_issues)} issues; {had} had it already")
    if notes_path is not None:
        say(f"notes written to {notes_path}")
    for failure in report.failed:
        console.print(f"[red]failed:[/] {escape(failure.target)}: {escape(failure.error)}", soft_wrap=True)


def _listed(keys: tuple[str, ...]) -> str:
    shown = ", ".join(keys[:_SHOWN])
    return shown + (f" … and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else "")
