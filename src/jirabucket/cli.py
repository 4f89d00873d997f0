"""The ``jirabucket`` command: sync, check, demo, failed, retry-failed.

Exit codes: 0 all done; 1 some work failed for good (kept as dead letters);
2 configuration, authentication or usage error; 75 another sync holds the state
directory; 130 interrupted (unfinished work stays in the journal).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rich.console import Console

from jirabucket import __version__
from jirabucket._output import print_dead_letters, print_plan, print_summary, progress_bar
from jirabucket.errors import AuthError, ConfigError, JirabucketError, StateLocked
from jirabucket.queue import Journal
from jirabucket.report import Failure, SyncReport, describe_target
from jirabucket.runtime import Runtime, open_runtime
from jirabucket.settings import Settings, default_state_dir, load_settings
from jirabucket.state import DB_NAME, StateLock
from jirabucket.sync import SyncEngine
from jirabucket.tokens import BitbucketToken, JiraToken

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_LOCKED", "EXIT_OK", "main"]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 75, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jirabucket", description="Keep Jira and Bitbucket in sync.")
    parser.add_argument("--version", action="version", version=f"jirabucket {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sync = sub.add_parser("sync", help="link pull requests to the Jira issues they name")
    sync.add_argument("--dry-run", action="store_true", help="print the plan; send no write")
    sync.add_argument("--full", action="store_true", help="ignore cursors; read every pull request")
    check = sub.add_parser("check", help="authenticate to both sides and check the configuration")
    failed = sub.add_parser("failed", help="list work that failed for good (dead letters)")
    retry = sub.add_parser("retry-failed", help="run the dead letters again")
    demo = sub.add_parser("demo", help="run a real sync against built-in simulators")
    demo.add_argument("--prs", type=int, default=40, help="pull requests in the generated scenario")
    demo.add_argument("--seed", type=int, default=7, help="seed of the scenario and faults")
    for command in (sync, check, failed, retry, demo):
        command.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        command.add_argument("-v", "--verbose", action="store_true", help="log each attempt to stderr")
        command.add_argument("--quiet", action="store_true", help="print nothing but errors")
    for command in (sync, check, failed, retry):
        command.add_argument(
            "--config", metavar="PATH", help="TOML file (default: $JIRABUCKET_CONFIG or ./jirabucket.toml)"
        )
    return parser


@contextlib.contextmanager
def _logging(verbose: bool) -> Iterator[None]:
    """Log to stderr for one command: every attempt with -v, else only errors (the summary says the rest)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("jirabucket")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.ERROR)
    try:
        yield
    finally:
        root.removeHandler(handler)


def _load(args: argparse.Namespace) -> tuple[Settings, JiraToken, BitbucketToken]:
    """Settings and tokens, all validated before any request is sent."""
    settings = load_settings(config_path=args.config)
    return settings, JiraToken.from_env(), BitbucketToken.from_env()


def _console(args: argparse.Namespace) -> Console:
    return Console(file=sys.stderr if args.json else sys.stdout, quiet=args.quiet, highlight=False)


def _emit_json(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def cmd_sync(args: argparse.Namespace) -> int:
    """Run ``jirabucket sync``."""
    settings, jira_token, bb_token = _load(args)
    console = _console(args)
    with StateLock(settings.state_dir), open_runtime(
        settings, jira_token=jira_token, bitbucket_token=bb_token, durable=not args.dry_run
    ) as rt, progress_bar(console, enabled=not (args.json or args.quiet)) as bar:
        report = run_sync(rt, dry_run=args.dry_run, full=args.full, on_progress=bar)
    return _finish_sync(args, console, report)


def run_sync(
    rt: Runtime, *, dry_run: bool, full: bool, on_progress: Callable[[int, int], None] | None = None
) -> SyncReport:
    """Run one sync on an open runtime: resume the journal, then sync every repository.

    Args:
        rt: The runtime.
        dry_run: Plan only.
        full: Ignore cursors.
        on_progress: Progress callback.

    Returns:
        The report.
    """
    engine = SyncEngine(
        settings=rt.settings, jira=rt.jira, bitbucket=rt.bitbucket, queue=rt.queue, store=rt.store,
        dry_run=dry_run, full=full, on_progress=on_progress,
    )
    known_dead = {d.id for d in rt.queue.dead_letters()}
    if not dry_run:
        rt.queue.resume()
    report = engine.run()
    rt.queue.join()
    # Work resumed from an earlier run has no future here: its failures show as new dead letters.
    listed = {(f.operation, f.target) for f in report.failed}
    for dead in rt.queue.dead_letters():
        failure = Failure(dead.operation, describe_target(dead.args), dead.error)
        if dead.id not in known_dead and (failure.operation, failure.target) not in listed:
            report.fail(failure)
    return report


def _finish_sync(args: argparse.Namespace, console: Console, report: SyncReport) -> int:
    if args.json:
        _emit_json(report.to_json())
    elif args.dry_run:
        print_plan(console, report)
    else:
        print_summary(console, report)
    return EXIT_FAILED if report.failed else EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """Run ``jirabucket check``: who am I on each side, is everything configured reachable."""
    settings, jira_token, bb_token = _load(args)
    console = _console(args)
    with open_runtime(settings, jira_token=jira_token, bitbucket_token=bb_token, durable=False) as rt:
        doc = _check(rt)
    if args.json:
        _emit_json(doc)
    else:
        for side in ("jira", "bitbucket"):
            info = doc[side]
            console.print(f"{side}: {info['user']} on {info['url']} ({info['flavor']})")
        for problem in doc["problems"]:
            console.print(f"[red]problem:[/] {problem}")
        console.print("ok" if not doc["problems"] else f"{len(doc['problems'])} problem(s)")
    return EXIT_CONFIG if doc["problems"] else EXIT_OK


def _check(rt: Runtime) -> dict[str, Any]:
    jira_user, bb_user = rt.jira.myself(), rt.bitbucket.whoami()
    problems: list[str] = []
    for repo in rt.settings.bitbucket.repositories:
        try:
            rt.bitbucket.repository(repo)
        except JirabucketError as exc:
            problems.append(f"repository {repo}: {exc}")
    for project in rt.settings.jira.projects:
        try:
            next(iter(rt.jira.search(f"project = {project}")), None)
        except JirabucketError as exc:
            problems.append(f"project {project}: {exc}")
    jira, bb = rt.settings.jira, rt.settings.bitbucket
    return {
        "jira": {"user": jira_user.display_name or jira_user.name, "url": jira.url, "flavor": jira.flavor},
        "bitbucket": {"user": bb_user.display_name or bb_user.name, "url": bb.url, "flavor": bb.flavor},
        "problems": problems,
    }


def cmd_failed(args: argparse.Namespace) -> int:
    """Run ``jirabucket failed``: list dead letters without sending anything."""
    state_dir = load_settings(config_path=args.config).state_dir if args.config else default_state_dir(os.environ)
    path = state_dir / DB_NAME
    letters = []
    if path.exists():
        journal = Journal(path)
        try:
            letters = journal.dead_letters()
        finally:
            journal.close()
    if args.json:
        _emit_json({"failed": [
            {"id": d.id, "operation": d.operation, "target": describe_target(d.args), "attempts": d.attempts,
             "error": d.error, "failed_at": d.failed_at} for d in letters]})
    else:
        print_dead_letters(_console(args), letters)
    return EXIT_OK


def cmd_retry_failed(args: argparse.Namespace) -> int:
    """Run ``jirabucket retry-failed``: resubmit the dead letters and wait for them."""
    settings, jira_token, bb_token = _load(args)
    console = _console(args)
    with StateLock(settings.state_dir), open_runtime(settings, jira_token=jira_token, bitbucket_token=bb_token) as rt:
        SyncEngine(settings=settings, jira=rt.jira, bitbucket=rt.bitbucket, queue=rt.queue, store=rt.store)
        count = rt.queue.retry_dead_letters()
        rt.queue.join()
        left = len(rt.queue.dead_letters())
    if args.json:
        _emit_json({"retried": count, "still_failed": left})
    else:
        console.print(f"retried {count}; still failed: {left}")
    return EXIT_FAILED if left else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Run ``jirabucket demo``."""
    from jirabucket.demo import run_demo

    return run_demo(prs=args.prs, seed=args.seed, as_json=args.json, console=_console(args))


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "sync": cmd_sync,
    "check": cmd_check,
    "failed": cmd_failed,
    "retry-failed": cmd_retry_failed,
    "demo": cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jirabucket`` command.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        The exit code.
    """
    args = _parser().parse_args(argv)
    try:
        with _logging(args.verbose):
            return _COMMANDS[args.command](args)
    except (ConfigError, AuthError) as exc:
        kind = "authentication failed" if isinstance(exc, AuthError) else "error"
        return _fail(f"{kind}: {exc}", EXIT_CONFIG)
    except StateLocked as exc:
        return _fail(str(exc), EXIT_LOCKED)
    except KeyboardInterrupt:
        return _fail("interrupted: unfinished work is kept in the journal for the next run", EXIT_INTERRUPTED)
    except JirabucketError as exc:
        return _fail(str(exc), EXIT_FAILED)


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"jirabucket: {message}\n")
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
