"""``jirabucket failed`` and ``jirabucket retry-failed``: the dead letters, listed or run again."""

from __future__ import annotations

import argparse
import os

from jirabucket.cli.main import EXIT_FAILED, EXIT_OK, emit_json
from jirabucket.cli.output import console_for, print_dead_letters
from jirabucket.config import default_state_dir, load_settings
from jirabucket.sync import failed_work, retry_failed
from jirabucket.sync.report import describe_target
from jirabucket.tokens import BitbucketToken, JiraToken


def run(args: argparse.Namespace) -> int:
    """Run ``jirabucket failed`` or ``jirabucket retry-failed``."""
    return _retry(args) if args.command == "retry-failed" else _list(args)


def _list(args: argparse.Namespace) -> int:
    """List dead letters without sending anything."""
    # The journal is local: no URL, no token and no request is needed to read it.
    letters = failed_work(default_state_dir(os.environ))
    if args.json:
        emit_json(args, {"failed": [
            {"id": d.id, "operation": d.operation, "target": describe_target(d.args), "attempts": d.attempts,
             "error": d.error, "failed_at": d.failed_at} for d in letters]})
    else:
        print_dead_letters(console_for(args), letters)
    return EXIT_OK


def _retry(args: argparse.Namespace) -> int:
    """Resubmit the dead letters and wait for them."""
    settings = load_settings(config_path=args.config)
    result = retry_failed(settings, jira_token=JiraToken.from_env(), bitbucket_token=BitbucketToken.from_env())
    if args.json:
        emit_json(args, {"retried": result.retried, "still_failed": result.still_failed})
    else:
        console_for(args).print(f"retried {result.retried}; still failed: {result.still_failed}")
    return EXIT_FAILED if result.still_failed else EXIT_OK
