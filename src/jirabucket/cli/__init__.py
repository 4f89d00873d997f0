"""The command line: ``jirabucket sync | check | failed | retry-failed | demo``.

Each command is a module with ``run(args) -> int`` that calls a service and
renders its result; :mod:`.main` parses arguments and maps errors to exit codes.
"""

from jirabucket.cli.main import main

__all__ = ["main"]
