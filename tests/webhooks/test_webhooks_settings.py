"""``[serve]``: the defaults, the bounds, and that the app uses them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from webhook_harness import empty_world, serving

from jirabucket.config import ServeSettings
from jirabucket.errors import ConfigError
from jirabucket.webhooks import Inbox


def test_default_window_is_two_seconds_and_grace_ten(tmp_path: Path) -> None:
    with empty_world(tmp_path) as world:
        assert world.settings().serve == ServeSettings(coalesce_window=2.0, shutdown_grace=10.0)


@pytest.mark.parametrize(
    ("key", "most", "value", "ok"),
    [
        *(("coalesce_window", 60, value, ok) for value, ok in [
            ("0", True), ("0.25", True), ("60", True), ("-1", False), ("61", False), ('"2s"', False), ("true", False),
        ]),
        *(("shutdown_grace", 600, value, ok) for value, ok in [
            ("0", True), ("2.5", True), ("600", True), ("-1", False), ("601", False),
        ]),
    ],
)
def test_serve_seconds_bounds(tmp_path: Path, key: str, most: int, value: str, ok: bool) -> None:
    with empty_world(tmp_path) as world:
        world.configure("[queue]", f"[serve]\n{key} = {value}\n[queue]")
        if ok:
            assert getattr(world.settings().serve, key) == float(value)
        else:
            with pytest.raises(ConfigError, match=rf"serve\.{key} must be seconds from 0 to {most}\b"):
                world.settings()


def test_the_app_takes_its_window_from_the_settings(tmp_path: Path) -> None:
    with empty_world(tmp_path) as world:
        world.configure("[queue]", "[serve]\ncoalesce_window = 45\n[queue]")
        pr = world.bitbucket.add_pull_request("acme/api", title="ABC-1", source_branch="b")
        with serving(world, window=None) as served:
            before = time.time()
            assert served.deliver.pull_request_event("acme/api", pr).status_code == 202
            after = time.time()
        inbox = Inbox(world.state_dir)
        try:
            item = inbox.next()
            assert item is not None and before + 45 <= item.due_at <= after + 45
        finally:
            inbox.close()
