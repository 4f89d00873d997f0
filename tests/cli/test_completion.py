"""Shell completion (argcomplete): the shell asks the program itself for the words that fit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def complete(line: str, tmp_path: Path) -> list[str]:
    out = tmp_path / "completions"
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).parents[2] / "src"),
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_IFS": "\v",
        "_ARGCOMPLETE_STDOUT_FILENAME": str(out),  # instead of file descriptor 8, which a shell opens
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "_ARGCOMPLETE_COMP_WORDBREAKS": " ",
    }
    subprocess.run([sys.executable, "-m", "jirabucket"], env=env, check=False, timeout=60, capture_output=True)
    return out.read_text().split("\v")


def test_commands_and_flags_complete(tmp_path: Path) -> None:
    assert complete("jirabucket sy", tmp_path) == ["sync "]
    assert {"--dry-run", "--full", "--json"} <= set(complete("jirabucket sync --", tmp_path))
