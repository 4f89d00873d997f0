"""The sync state store and the state-directory lock."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jirabucket.errors import StateError, StateLocked
from jirabucket.statedir import StateLock
from jirabucket.sync.state import StateStore


def test_cursor_only_moves_forward(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    t = datetime(2026, 1, 1, tzinfo=UTC)
    assert store.cursor("acme/api") is None
    store.set_cursor("acme/api", t)
    store.set_cursor("acme/api", t - timedelta(days=1))
    assert store.cursor("acme/api") == t
    store.close()
    assert StateStore(tmp_path).cursor("acme/api") == t  # persisted


def test_links_comments_transitions(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    assert store.link_fingerprint("ABC-1", "u") is None
    store.record_link("ABC-1", "u", "f1")
    store.record_link("ABC-1", "u", "f2")
    assert store.link_fingerprint("ABC-1", "u") == "f2"
    assert store.comment_state("ABC-1", "u") is None
    store.set_comment_state("ABC-1", "u", "pending")
    assert store.comment_state("ABC-1", "u") == "pending"
    store.set_comment_state("ABC-1", "u", "done")
    assert store.comment_state("ABC-1", "u") == "done"
    assert not store.transition_done("ABC-1", "u", "MERGED")
    store.record_transition("ABC-1", "u", "MERGED")
    store.record_transition("ABC-1", "u", "MERGED")
    assert store.transition_done("ABC-1", "u", "MERGED")
    assert not store.transition_done("ABC-1", "u", "OPEN")


def test_store_is_thread_safe(tmp_path: Path) -> None:
    store = StateStore(tmp_path)

    def write(n: int) -> None:
        for i in range(50):
            store.record_link(f"ABC-{n}", f"u{i}", "f")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(store.link_fingerprint(f"ABC-{n}", f"u{i}") == "f" for n in range(8) for i in range(50))


def test_lock_excludes_another_process(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from jirabucket.statedir import StateLock\n"
        "from jirabucket.errors import StateLocked\n"
        "try:\n    StateLock(Path(sys.argv[1])).acquire()\nexcept StateLocked:\n    sys.exit(75)\n"
    )
    with StateLock(tmp_path):
        held = subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False)
        assert held.returncode == 75
        with pytest.raises(StateLocked, match="another jirabucket sync"):
            StateLock(tmp_path).acquire()
    free = subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False)
    assert free.returncode == 0


def test_state_dir_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    with pytest.raises(StateError, match="JIRABUCKET_STATE_DIR"):
        StateStore(path)
