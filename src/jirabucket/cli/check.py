"""``jirabucket check``: call the check service and render who we are on each side."""

from __future__ import annotations

import argparse

from jirabucket.check import check
from jirabucket.cli.main import EXIT_CONFIG, EXIT_OK, emit_json
from jirabucket.cli.output import console_for
from jirabucket.config import load_settings
from jirabucket.tokens import BitbucketToken, JiraToken


def run(args: argparse.Namespace) -> int:
    """Run ``jirabucket check``."""
    settings = load_settings(config_path=args.config)
    report = check(settings, jira_token=JiraToken.from_env(), bitbucket_token=BitbucketToken.from_env())
    if args.json:
        emit_json(args, report.to_json())
    else:
        console = console_for(args)
        for name, side in (("jira", report.jira), ("bitbucket", report.bitbucket)):
            console.print(
                f"{name}: {side.user} on {side.url} ({side.flavor}; URL from {side.url_source}, "
                f"token from {side.token_source})"
            )
        for problem in report.problems:
            console.print(f"[red]problem:[/] {problem}")
        console.print("ok" if not report.problems else f"{len(report.problems)} problem(s)")
    return EXIT_CONFIG if report.problems else EXIT_OK
