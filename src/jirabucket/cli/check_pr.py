"""``jirabucket check-pr``: the CI gate — call the gate service, print the verdict, exit 0 or 1."""

from __future__ import annotations

import argparse
import os

from jirabucket.cli.main import EXIT_FAILED, EXIT_OK, emit_json
from jirabucket.cli.output import console_for
from jirabucket.cli.target import pull_request_target
from jirabucket.config import load_settings
from jirabucket.gate import check_pr
from jirabucket.tokens import BitbucketToken, JiraToken


def run(args: argparse.Namespace) -> int:
    """Run ``jirabucket check-pr``."""
    repo, pr_id = pull_request_target(args.repo, args.pr, os.environ, command="check-pr")
    settings = load_settings(config_path=args.config)
    report = check_pr(
        settings, repo=repo, pr_id=pr_id, jira_token=JiraToken.from_env(), bitbucket_token=BitbucketToken.from_env(),
        report_status=args.report_status,
    )
    if args.json:
        emit_json(args, report.to_json())
    else:
        console = console_for(args)
        if report.skipped:
            console.print(report.skipped, markup=False, soft_wrap=True)
        elif report.ok:
            console.print(f"ok: {repo}#{pr_id} names {', '.join(report.keys)}", markup=False, soft_wrap=True)
        for problem in report.problems:
            console.print(problem, markup=False, soft_wrap=True)
    return EXIT_OK if report.ok or args.warn_only else EXIT_FAILED
