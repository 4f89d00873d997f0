"""Settings: what to sync, where, and how hard to push.

Precedence, stated once: **explicit arguments > environment variables > the TOML
file > defaults**. Where two variables mean the same (ours and the name other
Jira tools use, e.g. ``JIRA_URL`` and ``JIRA_BASE_URL``), ours wins. The TOML
file is the first of: ``--config`` / ``JIRABUCKET_CONFIG``; ``./jirabucket.toml``;
``$XDG_CONFIG_HOME/jirabucket/config.toml`` (default ``~/.config/…``). Tokens
never come from here: they come only from the environment (see
:mod:`jirabucket.tokens`); a ``token`` key in the TOML file is an error.

Environment variables read here:

=======================  ====================================================
``JIRA_URL``             Jira base URL (``https://acme.atlassian.net``); alias ``JIRA_BASE_URL``
``JIRA_FLAVOR``          ``cloud`` or ``datacenter`` (default: inferred from host)
``BITBUCKET_URL``        default ``https://api.bitbucket.org``
``BITBUCKET_FLAVOR``     ``cloud`` or ``datacenter`` (default: inferred from host)
``JIRABUCKET_CONFIG``    TOML file (default: see above)
``JIRABUCKET_STATE_DIR`` state and journal (default ``$XDG_STATE_HOME/jirabucket``
                         else ``~/.local/state/jirabucket``)
=======================  ====================================================
"""

from __future__ import annotations

import os
import re
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from jirabucket.config.schema import SCHEMA, check_table
from jirabucket.errors import ConfigError
from jirabucket.hosts import check_url, infer_bitbucket_flavor, infer_jira_flavor
from jirabucket.models import FLAVORS, Flavor

__all__ = [
    "KEY_SOURCES",
    "BitbucketSettings",
    "CheckPrSettings",
    "JiraSettings",
    "KeySource",
    "QueueSettings",
    "ServeSettings",
    "Settings",
    "SyncSettings",
    "config_file",
    "default_state_dir",
    "load_settings",
    "read_toml",
]

_PROJECT_RE = re.compile(r"[A-Z][A-Z0-9_]+")
_REPO_RE = re.compile(r"[A-Za-z0-9_.~-]+/[A-Za-z0-9_.~-]+")
DEFAULT_BITBUCKET_URL = "https://api.bitbucket.org"

#: Where in a pull request an issue key can stand.
KeySource = Literal["title", "branch", "description", "commits"]
KEY_SOURCES: tuple[KeySource, ...] = get_args(KeySource)


@dataclass(frozen=True, slots=True)
class JiraSettings:
    """Where Jira is and which projects' keys are synced.

    ``url_source`` names where the URL came from (a variable, ``[jira] url`` or
    ``argument``), so ``check`` can say which of two aliases it used.
    """

    url: str
    flavor: Flavor
    projects: tuple[str, ...]
    url_source: str = "JIRA_URL"


@dataclass(frozen=True, slots=True)
class BitbucketSettings:
    """Where Bitbucket is and which repositories are read.

    ``requests_per_hour`` feeds the queue's token bucket for the Bitbucket host
    (Bitbucket Cloud allows 1,000 an hour per user on repository endpoints).
    """

    url: str
    flavor: Flavor
    repositories: tuple[str, ...]
    requests_per_hour: float | None = None


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """What a sync writes to Jira.

    ``transitions`` maps a PR state (``open``, ``merged``, ``declined``) to a
    transition name or target status name; an empty string means none.
    ``transition_fields`` maps a PR state to the fields a transition screen
    requires (sent as the transition's ``fields``, e.g. ``resolution``).
    ``transition_keys_from`` says where a key must stand for its issue to be
    moved (keys merely mentioned elsewhere get links and comments only).
    """

    scan_commits: bool = True
    comment: bool = True
    transitions: Mapping[str, str] = field(default_factory=lambda: types.MappingProxyType({}))
    transition_fields: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: types.MappingProxyType({}))
    transition_keys_from: tuple[KeySource, ...] = ("title", "branch")
    branch_keys_ignore_case: bool = False
    reopen: bool = False
    max_transition_steps: int = 4


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """How hard the queue pushes each host."""

    workers: int = 16
    per_host_concurrency: int = 8
    max_attempts: int = 8
    max_delay: float = 30.0
    timeout: float = 30.0
    rate_limit_max_wait: float = 3600.0
    rate_limit_backoff: float = 15.0


@dataclass(frozen=True, slots=True)
class CheckPrSettings:
    """What ``check-pr`` demands of a pull request (the ``[check_pr]`` table).

    ``projects`` empty means ``[jira] projects``; ``statuses`` empty means any
    status; ``skip_branches`` are glob patterns (``release/*``) matched against
    the source branch.
    """

    keys_from: tuple[KeySource, ...] = ("title", "branch")
    projects: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    skip_authors: tuple[str, ...] = ()
    skip_branches: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """How ``jirabucket serve`` takes webhook deliveries in (the ``[serve]`` table).

    ``coalesce_window``: seconds a pull request waits for more deliveries before
    its one sync (a push, an edit and a review a second apart make one sync).
    ``shutdown_grace``: seconds the sync in flight may take to finish once
    SIGTERM or Ctrl-C arrives; what is left stays pending for the next start.
    Keep it under the supervisor's own limit (systemd's ``TimeoutStopSec``,
    90 s by default; Kubernetes' ``terminationGracePeriodSeconds``, 30 s).
    """

    coalesce_window: float = 2.0
    shutdown_grace: float = 10.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a sync needs except the tokens."""

    jira: JiraSettings
    bitbucket: BitbucketSettings
    sync: SyncSettings
    queue: QueueSettings
    state_dir: Path
    config_path: Path
    check_pr: CheckPrSettings = field(default_factory=CheckPrSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)

    @property
    def timeout(self) -> float:
        """Seconds an HTTP request may take before it counts as failed."""
        return self.queue.timeout


def _flavor(value: object, *, variable: str) -> Flavor:
    if value not in FLAVORS:
        raise ConfigError(f"{variable} must be 'cloud' or 'datacenter', got {value!r}")
    return value


def default_state_dir(env: Mapping[str, str]) -> Path:
    """Return the state directory the environment names (``JIRABUCKET_STATE_DIR``, XDG, home)."""
    if env.get("JIRABUCKET_STATE_DIR"):
        return Path(env["JIRABUCKET_STATE_DIR"]).expanduser()
    base = env.get("XDG_STATE_HOME") or str(Path("~/.local/state").expanduser())
    return Path(base) / "jirabucket"


def read_toml(path: Path) -> dict[str, Any]:
    """Read and schema-check a config file.

    Args:
        path: The TOML file.

    Returns:
        The parsed tables.

    Raises:
        ConfigError: The file is missing, unreadable, not TOML, or has an unknown key or wrong type.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} not found: copy config/jirabucket.example.toml to ./jirabucket.toml "
            "or ~/.config/jirabucket/config.toml, or set JIRABUCKET_CONFIG / --config"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    check_table(data, SCHEMA, path=path, where="")
    return data


def load_settings(
    *,
    config_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    jira_url: str | None = None,
    jira_flavor: str | None = None,
    bitbucket_url: str | None = None,
    bitbucket_flavor: str | None = None,
    state_dir: str | os.PathLike[str] | None = None,
) -> Settings:
    """Load settings: arguments, then environment, then the TOML file, then defaults.

    Args:
        config_path: The TOML file; else ``JIRABUCKET_CONFIG``; else ``./jirabucket.toml``.
        environ: The environment; ``os.environ`` when ``None``.
        jira_url: Overrides ``JIRA_URL`` and ``[jira] url``.
        jira_flavor: Overrides ``JIRA_FLAVOR`` and ``[jira] flavor``.
        bitbucket_url: Overrides ``BITBUCKET_URL`` and ``[bitbucket] url``.
        bitbucket_flavor: Overrides ``BITBUCKET_FLAVOR`` and ``[bitbucket] flavor``.
        state_dir: Overrides ``JIRABUCKET_STATE_DIR``.

    Returns:
        The validated settings.

    Raises:
        ConfigError: Anything is missing or wrong; the message names the variable or key.
    """
    env = os.environ if environ is None else environ
    path = Path(config_path).expanduser() if config_path else config_file(env)
    data = read_toml(path)
    jira_t, bb_t = data.get("jira", {}), data.get("bitbucket", {})
    jira = _jira(jira_t, env, path, url=jira_url, flavor=jira_flavor)
    bitbucket = _bitbucket(bb_t, env, path, url=bitbucket_url, flavor=bitbucket_flavor)
    sync_t = data.get("sync", {})
    defaults = SyncSettings()
    sources = _key_sources(sync_t, "transition_keys_from", defaults.transition_keys_from, path, "sync")
    sync = SyncSettings(
        scan_commits=sync_t.get("scan_commits", True),
        comment=sync_t.get("comment", True),
        transitions=types.MappingProxyType(dict(sync_t.get("transitions", {}))),
        transition_fields=types.MappingProxyType(
            {state: types.MappingProxyType(dict(f)) for state, f in sync_t.get("transition_fields", {}).items()}
        ),
        transition_keys_from=sources,
        branch_keys_ignore_case=sync_t.get("branch_keys_ignore_case", defaults.branch_keys_ignore_case),
        reopen=sync_t.get("reopen", defaults.reopen),
        max_transition_steps=sync_t.get("max_transition_steps", defaults.max_transition_steps),
    )
    queue = _queue(data.get("queue", {}), path)
    folder = Path(state_dir).expanduser() if state_dir is not None else default_state_dir(env)
    serve_t, serve_defaults = data.get("serve", {}), ServeSettings()
    serve = ServeSettings(
        coalesce_window=float(serve_t.get("coalesce_window", serve_defaults.coalesce_window)),
        shutdown_grace=float(serve_t.get("shutdown_grace", serve_defaults.shutdown_grace)),
    )
    return Settings(
        jira, bitbucket, sync, queue, folder, path, _check_pr(data.get("check_pr", {}), path), serve
    )


def config_file(env: Mapping[str, str]) -> Path:
    """Return the TOML file to read: ``JIRABUCKET_CONFIG``, else ``./jirabucket.toml``, else the user's.

    The user's file is ``$XDG_CONFIG_HOME/jirabucket/config.toml`` (default
    ``~/.config/jirabucket/config.toml``); when neither file exists the answer is
    ``./jirabucket.toml``, whose absence :func:`read_toml` then explains.
    """
    if env.get("JIRABUCKET_CONFIG"):
        return Path(env["JIRABUCKET_CONFIG"]).expanduser()
    local = Path("jirabucket.toml")
    if local.exists():
        return local
    user = Path(env.get("XDG_CONFIG_HOME") or "~/.config").expanduser() / "jirabucket" / "config.toml"
    return user if user.exists() else local


def _pick(arg: str | None, env: Mapping[str, str], var: str, table: Mapping[str, Any], key: str) -> Any:
    return arg if arg is not None else env.get(var) or table.get(key)


def _jira_url(arg: str | None, env: Mapping[str, str], table: Mapping[str, Any]) -> tuple[str | None, str]:
    """The Jira URL and where it came from: argument, ``JIRA_URL``, ``JIRA_BASE_URL``, ``[jira] url``."""
    if arg is not None:
        return arg, "argument"
    for variable in ("JIRA_URL", "JIRA_BASE_URL"):
        if env.get(variable):
            return env[variable], variable
    return table.get("url"), "[jira] url"


def _jira(
    t: Mapping[str, Any], env: Mapping[str, str], path: Path, *, url: str | None, flavor: str | None
) -> JiraSettings:
    raw, source = _jira_url(url, env, t)
    if not raw:
        raise ConfigError(
            f"JIRA_URL is not set: export JIRA_URL=https://<site>.atlassian.net or set [jira] url in {path}"
        )
    checked = check_url(raw, variable=source if source != "[jira] url" else f"{path}: [jira] url")
    fl = _pick(flavor, env, "JIRA_FLAVOR", t, "flavor")
    inferred = infer_jira_flavor(checked)
    projects = _project_keys(t, path, "jira")
    if not projects:
        raise ConfigError(f"{path}: [jira] projects is empty: list the project keys to sync, e.g. [\"ABC\"]")
    return JiraSettings(checked, _flavor(fl, variable="JIRA_FLAVOR") if fl else inferred, projects, source)


def _bitbucket(
    t: Mapping[str, Any], env: Mapping[str, str], path: Path, *, url: str | None, flavor: str | None
) -> BitbucketSettings:
    checked = check_url(_pick(url, env, "BITBUCKET_URL", t, "url") or DEFAULT_BITBUCKET_URL, variable="BITBUCKET_URL")
    fl = _pick(flavor, env, "BITBUCKET_FLAVOR", t, "flavor")
    inferred = infer_bitbucket_flavor(checked)
    repos = tuple(t.get("repositories", ()))
    if not repos:
        raise ConfigError(f"{path}: [bitbucket] repositories is empty: list them, e.g. [\"acme/api\"]")
    for repo in repos:
        if not _REPO_RE.fullmatch(repo):
            raise ConfigError(
                f"{path}: [bitbucket] repositories: {repo!r} is not 'workspace/slug' (Cloud) or 'PROJECT/slug' (DC)"
            )
    rate = t.get("requests_per_hour")
    return BitbucketSettings(
        checked, _flavor(fl, variable="BITBUCKET_FLAVOR") if fl else inferred, repos, rate
    )


def _queue(table: Mapping[str, Any], path: Path) -> QueueSettings:
    """The queue table, with per-host concurrency at most the worker count."""
    defaults = QueueSettings()
    workers = table.get("workers", defaults.workers)
    if "per_host_concurrency" in table and table["per_host_concurrency"] > workers:
        raise ConfigError(
            f"{path}: queue.per_host_concurrency ({table['per_host_concurrency']}) must not exceed "
            f"queue.workers ({workers}): lower it or add workers"
        )
    # Unset, it follows a smaller worker count down rather than exceed it.
    per_host = table.get("per_host_concurrency", min(defaults.per_host_concurrency, workers))
    return QueueSettings(**{**table, "per_host_concurrency": per_host})


def _key_sources(
    table: Mapping[str, Any], key: str, default: tuple[KeySource, ...], path: Path, where: str
) -> tuple[KeySource, ...]:
    """A list of places a key may stand (``title``, ``branch``, ``description``, ``commits``), checked."""
    sources = tuple(table.get(key, default))
    for source in sources:
        if source not in KEY_SOURCES:
            raise ConfigError(f"{path}: {where}.{key}: {source!r} is not one of {', '.join(KEY_SOURCES)}")
    return sources


def _check_pr(table: Mapping[str, Any], path: Path) -> CheckPrSettings:
    """The ``[check_pr]`` table."""
    defaults = CheckPrSettings()
    return CheckPrSettings(
        keys_from=_key_sources(table, "keys_from", defaults.keys_from, path, "check_pr"),
        projects=_project_keys(table, path, "check_pr"),
        statuses=tuple(table.get("statuses", ())),
        skip_authors=tuple(table.get("skip_authors", ())),
        skip_branches=tuple(table.get("skip_branches", ())),
    )


def _project_keys(table: Mapping[str, Any], path: Path, where: str) -> tuple[str, ...]:
    """A table's ``projects``, each checked to be a project key."""
    projects = tuple(table.get("projects", ()))
    for key in projects:
        if not _PROJECT_RE.fullmatch(key):
            raise ConfigError(f"{path}: [{where}] projects: {key!r} is not a project key (like \"ABC\")")
    return projects
