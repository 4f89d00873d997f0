"""``jirabucket sync``: call the sync service, show progress, render the report."""

from __future__ import annotations

import argparse
import os

from rich.console import Console

from jirabucket.cli.main import EXIT_FAILED, EXIT_OK, emit_failure_json, emit_json
from jirabucket.cli.output import announce_waits, console_for, print_plan, print_summary, progress_bar
from jirabucket.cli.target import pull_request_target
from jirabucket.config import load_settings
from jirabucket.sync import SyncReport, sync, sync_pull_request
from jirabucket.tokens import BitbucketToken, JiraToken


def run(args: argparse.Namespace) -> int:
    """Run ``jirabucket sync``."""
    # Settings and tokens are all checked before any request is sent.
    # A plain sync never reads the pipeline's variables; only --pr does.
    one = pull_request_target(args.repo, args.pr, os.environ, command="sync --pr") if args.pr else None
    settings = load_settings(config_path=args.config)
    jira_token, bitbucket_token = JiraToken.from_env(), BitbucketToken.from_env()
    console = console_for(args)
    report = SyncReport()
    # A wait for a rate-limited host is said on stderr even under --json: a silent hour looks like a hang.
    waits = () if args.quiet else (announce_waits(console if not args.json else Console(stderr=True)),)
    try:
        if one is not None:
            sync_pull_request(
                settings, repo=one[0], pr_id=one[1], jira_token=jira_token, bitbucket_token=bitbucket_token,
                dry_run=args.dry_run, report=report, wait_hooks=waits,
            )
        else:
            with progress_bar(console, enabled=not (args.json or args.quiet)) as bar:
                sync(
                    settings, jira_token=jira_token, bitbucket_token=bitbucket_token, dry_run=args.dry_run,
                    full=args.full, progress=bar, report=report, wait_hooks=waits,
                    repositories=None if args.repo is None else [args.repo],
                )
    except BaseException as exc:
        emit_failure_json(args, exc, report.to_json())  # what was done before it stopped, and why
        raise
    if args.json:
        emit_json(args, report.to_json())
    elif args.dry_run:
        print_plan(console, report)
    else:
        print_summary(console, report)
    return EXIT_FAILED if report.failed else EXIT_OK
