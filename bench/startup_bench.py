"""Start-up of the command line: ``jirabucket --help`` and ``jirabucket check --help`` against ``python -c pass``.

Each command runs ``--runs`` times in fresh interpreters, interleaved so that
machine noise hits all of them alike; the script prints the median wall time
of each and its ratio to the bare interpreter.

    python bench/startup_bench.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "python -m jirabucket --help": [sys.executable, "-m", "jirabucket", "--help"],
    "python -m jirabucket check --help": [sys.executable, "-m", "jirabucket", "check", "--help"],
    "python -c 'import jirabucket.cli.sync' (what a sync imports)": [
        sys.executable, "-c", "import jirabucket.cli.sync",
    ],
}


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, argv in COMMANDS.items():
            times[name].append(_time(argv))
    base = statistics.median(times["python -c pass (baseline)"])
    print(f"{'command':<62} {'median s':>9} {'x baseline':>11}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<62} {median:>9.3f} {median / base:>11.1f}")


if __name__ == "__main__":
    main()
