"""``jirabucket demo``: run the demo service and render what it did."""

from __future__ import annotations

import argparse

from jirabucket.cli.main import EXIT_FAILED, EXIT_OK, emit_json
from jirabucket.cli.output import console_for, print_summary
from jirabucket.demo import run_demo


def run(args: argparse.Namespace) -> int:
    """Run ``jirabucket demo``."""
    result = run_demo(prs=args.prs, seed=args.seed)
    report = result.report
    if args.json:
        emit_json(args, {**report.to_json(), "examples": result.examples})
    else:
        console = console_for(args)
        repos = ", ".join(result.repositories)
        console.print(
            f"demo: {result.prs} pull requests in {repos}; Jira answers 5% 503s and one 429 window", soft_wrap=True
        )
        print_summary(console, report)
        for ex in result.examples:
            console.print(f"{ex['issue']} ({ex['status']}): link {ex['link']!r}", soft_wrap=True, markup=False)
            if ex["comment"]:
                console.print(f"    comment: {ex['comment']}", soft_wrap=True, markup=False)
    return EXIT_FAILED if report.failed else EXIT_OK
