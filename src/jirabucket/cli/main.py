"""The ``jirabucket`` command: parse arguments, run one command module, map errors to exit codes.

Exit codes: 0 all done; 1 some work failed for good (kept as dead letters);
2 configuration, authentication or usage error; 74 the state directory or its
database is damaged, unwritable or full; 75 another sync holds the state
directory; 130 interrupted (Ctrl-C) and 143 terminated (SIGTERM): unfinished
work stays in the journal. With ``--json`` stdout carries the command's one JSON
object whatever the exit code, with an ``error`` field when it stopped early.

Only the standard library and :mod:`jirabucket.errors` are imported here: each
command's module (and with it atlassian-python-api, requests and rich) is
imported when that command runs, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FrameType
from typing import Any

from jirabucket import __version__
from jirabucket.cli.target import FROM_PIPELINE
from jirabucket.errors import AuthError, ConfigError, JirabucketError, StateError, StateLocked

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_STATE",
    "EXIT_TERMINATED",
    "Terminated",
    "emit_failure_json",
    "emit_json",
    "exit_for",
    "main",
]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_STATE, EXIT_LOCKED = 0, 1, 2, 74, 75
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (cron, systemd, Kubernetes, CI runners): handled exactly like Ctrl-C."""

# Command name -> the module under jirabucket.cli whose `run(args) -> int` carries it out.
_COMMANDS = {
    "sync": "sync",
    "check": "check",
    "check-pr": "check_pr",
    "release": "release",
    "failed": "failed",
    "retry-failed": "failed",
    "demo": "demo",
    "serve": "serve",
}
_CONFIG_HELP = "TOML file (default: $JIRABUCKET_CONFIG or ./jirabucket.toml)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jirabucket", description="Keep Jira and Bitbucket in sync.")
    parser.add_argument("--version", action="version", version=f"jirabucket {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sync = sub.add_parser("sync", help="link pull requests to the Jira issues they name")
    sync.add_argument("--dry-run", action="store_true", help="print the plan; send no write")
    sync.add_argument("--full", action="store_true", help="ignore cursors; read every pull request")
    sync.add_argument("--repo", metavar="REPO", help="only this repository (workspace/slug or PROJECTKEY/slug)")
    sync.add_argument(
        "--pr", metavar="ID", nargs="?", const=FROM_PIPELINE,
        help="only this pull request, cursor left alone; without ID: $BITBUCKET_PR_ID "
        "(and $BITBUCKET_REPO_FULL_NAME without --repo)",
    )
    check = sub.add_parser("check", help="authenticate to both sides and check the configuration")
    gate = sub.add_parser("check-pr", help="CI gate: does the pull request name an existing Jira issue?")
    gate.add_argument("--repo", metavar="REPO", help="workspace/slug or PROJECTKEY/slug ($BITBUCKET_REPO_FULL_NAME)")
    gate.add_argument("--pr", metavar="ID", help="the pull request's number ($BITBUCKET_PR_ID)")
    gate.add_argument("--warn-only", action="store_true", help="print the problems but exit 0")
    gate.add_argument(
        "--report-status", action="store_true", help="write the verdict as a build status on the PR's head commit"
    )
    rel = sub.add_parser("release", help="fixVersion and release notes from the commits between two refs")
    rel.add_argument("--repo", metavar="REPO", help="workspace/slug or PROJECTKEY/slug "
                     "(default: $BITBUCKET_REPO_FULL_NAME, else the only configured repository)")
    rel.add_argument("--from", dest="from_ref", metavar="REF", required=True,
                     help="tag, branch or commit the release starts after (excluded)")
    rel.add_argument("--to", dest="to_ref", metavar="REF", required=True,
                     help="tag, branch or commit the release ends at (included)")
    rel.add_argument("--version", dest="version", metavar="NAME", required=True, help="the Jira version's name")
    rel.add_argument("--project", metavar="KEY", action="append",
                     help="only keys of this project (repeatable; default: [jira] projects)")
    rel.add_argument("--released", action="store_true", help="mark the version released")
    rel.add_argument("--release-date", metavar="YYYY-MM-DD", help="with --released (default: today)")
    rel.add_argument("--notes", metavar="FILE", help="write the Markdown release notes here (default: stdout)")
    rel.add_argument("--dry-run", action="store_true", help="print the plan; send no write")
    failed = sub.add_parser("failed", help="list work that failed for good (dead letters)")
    retry = sub.add_parser("retry-failed", help="run the dead letters again")
    demo = sub.add_parser("demo", help="run a real sync against built-in simulators")
    demo.add_argument("--prs", type=int, default=40, help="pull requests in the generated scenario")
    demo.add_argument("--seed", type=int, default=7, help="seed of the scenario and faults")
    serve = sub.add_parser("serve", help="receive Bitbucket webhooks: Jira updated within seconds")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default: 8080; 0: any free one)")
    serve.add_argument(
        "--reconcile-every", metavar="DURATION", default="15m",
        help="incremental sync of every repository on this timer, e.g. 30s, 15m, 1h; 0: off (default: 15m)",
    )
    serve.add_argument("--config", metavar="PATH", help=_CONFIG_HELP)
    serve.add_argument("-v", "--verbose", action="store_true", help="log each attempt to stderr")
    serve.set_defaults(json=False, quiet=False)
    for command in (sync, check, gate, rel, failed, retry, demo):
        command.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        command.add_argument("-v", "--verbose", action="store_true", help="log each attempt to stderr")
        command.add_argument("--quiet", action="store_true", help="print nothing but errors")
    for command in (sync, check, gate, rel, failed, retry):
        command.add_argument("--config", metavar="PATH", help=_CONFIG_HELP)
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


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` in the main thread while a command runs.

    Subclassing KeyboardInterrupt means every place that stops promptly on Ctrl-C
    (the queue's drain, the readers) stops the same way on SIGTERM.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals can only be handled in the main thread (e.g. main() called from a worker)
        return

    def _raise(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# What ends a command, most specific first: the exit code and the one line printed for it.
_OUTCOMES: tuple[tuple[type[BaseException], int, Callable[[BaseException], str]], ...] = (
    (AuthError, EXIT_CONFIG, lambda exc: f"authentication failed: {exc}"),
    (ConfigError, EXIT_CONFIG, lambda exc: f"error: {exc}"),
    (StateError, EXIT_STATE, lambda exc: f"error: {exc}"),
    (StateLocked, EXIT_LOCKED, str),
    (Terminated, EXIT_TERMINATED,
     lambda _: "terminated (SIGTERM): unfinished work is kept in the journal for the next run"),
    (KeyboardInterrupt, EXIT_INTERRUPTED,
     lambda _: "interrupted: unfinished work is kept in the journal for the next run"),
    (JirabucketError, EXIT_FAILED, str),
)


def exit_for(exc: BaseException) -> tuple[int, str] | None:
    """Return the exit code and the one line for an error that ends a command, or ``None`` if it is a bug.

    Args:
        exc: What the command raised.

    Returns:
        ``(code, message)``; ``None`` for an exception that is not a user-facing outcome.
    """
    for kind, code, say in _OUTCOMES:
        if isinstance(exc, kind):
            return code, say(exc)
    return None


# Exit codes that still print the JSON object under --json: the command had started its work.
# A configuration, token or usage error (2) prints only its line, as nothing was done.
_JSON_ON_EXIT = frozenset({EXIT_FAILED, EXIT_STATE, EXIT_LOCKED, EXIT_INTERRUPTED, EXIT_TERMINATED})


def emit_failure_json(args: argparse.Namespace, exc: BaseException, partial: Mapping[str, Any]) -> None:
    """Under ``--json``, print ``partial`` (what was done so far) with why the command stopped.

    Args:
        args: The parsed command line.
        exc: What ended the command.
        partial: The command's JSON object so far (its counters, ``failed``).
    """
    outcome = exit_for(exc)
    if args.json and outcome is not None and outcome[0] in _JSON_ON_EXIT:
        emit_json(args, {"failed": [], **partial, "error": outcome[1], "exit_code": outcome[0]})


def emit_json(args: argparse.Namespace, doc: Mapping[str, Any]) -> None:
    """Print the command's one JSON object on stdout (once; later calls are ignored)."""
    if getattr(args, "json_emitted", False):
        return
    args.json_emitted = True
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    module = importlib.import_module(f"jirabucket.cli.{_COMMANDS[name]}")
    run: Callable[[argparse.Namespace], int] = module.run
    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jirabucket`` command.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        The exit code.
    """
    parser = _parser()
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (argcomplete); only then pay its import
        import argcomplete

        argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    try:
        with _sigterm_interrupts(), _logging(args.verbose):
            return _command(args.command)(args)
    except (JirabucketError, KeyboardInterrupt) as exc:
        code, message = exit_for(exc) or (EXIT_FAILED, str(exc))
        emit_failure_json(args, exc, {})  # no-op when the command printed its own already
        sys.stderr.write(f"jirabucket: {message}\n")
        return code
