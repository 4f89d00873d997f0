"""The ``jirabucket`` command: parse arguments, run one command module, map errors to exit codes.

Exit codes: 0 all done; 1 some work failed for good (kept as dead letters);
2 configuration, authentication or usage error; 75 another sync holds the state
directory; 130 interrupted (unfinished work stays in the journal).

Only the standard library and :mod:`jirabucket.errors` are imported here: each
command's module (and with it atlassian-python-api, requests and rich) is
imported when that command runs, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Callable, Iterator, Sequence

from jirabucket import __version__
from jirabucket.errors import AuthError, ConfigError, JirabucketError, StateLocked

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_LOCKED", "EXIT_OK", "main"]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 75, 130

# Command name -> the module under jirabucket.cli whose `run(args) -> int` carries it out.
_COMMANDS = {
    "sync": "sync",
    "check": "check",
    "failed": "failed",
    "retry-failed": "failed",
    "demo": "demo",
}
_CONFIG_HELP = "TOML file (default: $JIRABUCKET_CONFIG or ./jirabucket.toml)"


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
    args = _parser().parse_args(argv)
    try:
        with _logging(args.verbose):
            return _command(args.command)(args)
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
