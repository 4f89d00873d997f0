"""What the CLI prints: one JSON object for ``--json``, else a progress bar and short tables (rich)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from rich.console import Console

from jirabucket.queue import DeadLetter, WaitEvent, WaitHook
from jirabucket.sync.report import SyncReport, describe_target

if TYPE_CHECKING:
    from rich.progress import Progress

_SHOWN = 5

__all__ = [
    "ProgressBar",
    "announce_waits",
    "console_for",
    "print_dead_letters",
    "print_plan",
    "print_summary",
    "progress_bar",
]


def console_for(args: argparse.Namespace) -> Console:
    """Return the console for human output: stderr under ``--json`` (stdout is the JSON's), silent if ``--quiet``."""
    return Console(file=sys.stderr if args.json else sys.stdout, quiet=args.quiet, highlight=False)


class ProgressBar:
    """A thread-safe adapter from the engine's (done, queued) callback to a rich bar."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._task = progress.add_task("syncing", total=0) if progress else None
        self._lock = threading.Lock()

    def __call__(self, done: int, queued: int) -> None:
        """Show ``done`` of ``queued`` pairs."""
        if self._progress is None or self._task is None:
            return
        with self._lock:
            self._progress.update(self._task, completed=done, total=max(queued, 1))


@contextlib.contextmanager
def progress_bar(console: Console, *, enabled: bool) -> Iterator[ProgressBar]:
    """Yield a progress callback: a live bar on a terminal, a no-op elsewhere."""
    if not enabled or not console.is_terminal:
        yield ProgressBar(None)
        return
    # Imported here: rich.progress costs about 0.1 s, and --json, cron and CI runs never draw a bar.
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield ProgressBar(progress)


def announce_waits(console: Console) -> WaitHook:
    """Return a wait hook that prints one line when a host starts waiting, e.g. for Bitbucket's hourly limit."""

    def announce(event: WaitEvent) -> None:
        product = "Bitbucket" if event.key.startswith("bitbucket:") else "Jira"
        why = "rate limit" if event.reason == "rate_limited" else "asked us to come back later"
        how = "as it asked" if event.server_said else "backing off"
        console.print(
            f"{product} {why}: waiting {event.seconds:.0f} s ({how}; {event.limited_for / 60:.1f} min so far)",
            soft_wrap=True, markup=False,
        )

    return announce


def print_summary(console: Console, report: SyncReport) -> None:
    """Print the sync summary table, then warnings and failures."""
    from rich.table import Table

    table = Table(title="jirabucket sync", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    rows: Mapping[str, object] = {
        "pull requests read": report.pull_requests,
        "issue keys found": len(report.issue_keys),
        "links created": report.links_created,
        "links updated": report.links_updated,
        "comments added": report.comments_added,
        "transitions": report.transitions,
        "keys skipped (not in Jira)": len(report.skipped_keys),
        "failed": len(report.failed),
        "requests": report.requests,
        "seconds": f"{report.seconds:.2f}",
    }
    for name, value in rows.items():
        table.add_row(name, str(value))
    console.print(table)
    for warning in report.warnings[:_SHOWN]:
        console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    if len(report.warnings) > _SHOWN:
        console.print(f"[yellow]… and {len(report.warnings) - _SHOWN} more warnings (--json lists all)[/]")
    for failure in report.failed:
        console.print(f"[red]failed:[/] {failure.target}: {failure.error}", soft_wrap=True)


def print_plan(console: Console, report: SyncReport) -> None:
    """Print what a dry run would write."""
    if not report.plan:
        console.print("dry run: nothing to write")
        return
    from rich.table import Table

    table = Table(title=f"dry run: {len(report.plan)} writes planned")
    for column in ("action", "issue", "pull request", "detail"):
        table.add_column(column)
    for p in report.plan:
        table.add_row(p.action, p.issue, p.pull_request, p.detail)
    console.print(table)


def print_dead_letters(console: Console, letters: Sequence[DeadLetter]) -> None:
    """Print the dead letters as a table."""
    if not letters:
        console.print("no failed work")
        return
    from rich.table import Table

    table = Table(title=f"{len(letters)} failed tasks")
    for column in ("id", "operation", "target", "attempts", "error"):
        table.add_column(column)
    for d in letters:
        table.add_row(str(d.id), d.operation, describe_target(d.args), str(d.attempts), d.error)
    console.print(table)
