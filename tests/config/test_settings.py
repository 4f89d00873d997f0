"""Settings: precedence, URL rules, flavor inference, TOML errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from jirabucket.config import load_settings
from jirabucket.errors import ConfigError
from jirabucket.hosts import check_url

GOOD = """
[jira]
projects = ["ABC", "OPS"]
[bitbucket]
repositories = ["acme/api"]
[sync]
scan_commits = false
comment = true
[sync.transitions]
open = "In Review"
merged = "Done"
declined = ""
"""

ENV = {"JIRA_URL": "https://acme.atlassian.net", "HOME": "/home/u"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jirabucket.toml"
    path.write_text(text)
    return path


def test_loads_good_file_with_defaults(tmp_path: Path) -> None:
    s = load_settings(config_path=write(tmp_path, GOOD), environ=ENV)
    assert s.jira.url == "https://acme.atlassian.net"
    assert s.jira.flavor == "cloud"
    assert s.jira.projects == ("ABC", "OPS")
    assert s.bitbucket.url == "https://api.bitbucket.org"
    assert s.bitbucket.flavor == "cloud"
    assert s.sync.scan_commits is False
    assert dict(s.sync.transitions) == {"open": "In Review", "merged": "Done", "declined": ""}
    assert s.queue.workers == 16
    assert s.queue.per_host_concurrency == 8
    assert s.state_dir == Path("/home/u/.local/state/jirabucket") or s.state_dir.name == "jirabucket"


def test_precedence_args_over_env_over_file(tmp_path: Path) -> None:
    text = GOOD.replace("[jira]", '[jira]\nurl = "https://file.atlassian.net"\nflavor = "datacenter"')
    path = write(tmp_path, text)
    assert load_settings(config_path=path, environ={}).jira.url == "https://file.atlassian.net"
    assert load_settings(config_path=path, environ={}).jira.flavor == "datacenter"
    env = {"JIRA_URL": "https://env.atlassian.net", "JIRA_FLAVOR": "cloud"}
    assert load_settings(config_path=path, environ=env).jira.url == "https://env.atlassian.net"
    assert load_settings(config_path=path, environ=env).jira.flavor == "cloud"
    s = load_settings(config_path=path, environ=env, jira_url="https://arg.example.com", jira_flavor="datacenter")
    assert (s.jira.url, s.jira.flavor) == ("https://arg.example.com", "datacenter")


def test_config_path_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    s = load_settings(environ={**ENV, "JIRABUCKET_CONFIG": str(path)})
    assert s.config_path == path


@pytest.mark.parametrize(
    ("jira", "bitbucket", "expected"),
    [
        ("https://acme.atlassian.net", "https://api.bitbucket.org", ("cloud", "cloud")),
        ("https://jira.corp.example", "https://bitbucket.org", ("datacenter", "cloud")),
        ("https://jira.corp.example/jira", "https://git.corp.example", ("datacenter", "datacenter")),
        ("http://127.0.0.1:8080", "http://localhost:9000", ("datacenter", "datacenter")),
    ],
)
def test_flavor_inference(tmp_path: Path, jira: str, bitbucket: str, expected: tuple[str, str]) -> None:
    env = {"JIRA_URL": jira, "BITBUCKET_URL": bitbucket}
    s = load_settings(config_path=write(tmp_path, GOOD), environ=env)
    assert (s.jira.flavor, s.bitbucket.flavor) == expected


def test_bad_flavor(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="JIRA_FLAVOR must be 'cloud' or 'datacenter'"):
        load_settings(config_path=write(tmp_path, GOOD), environ={**ENV, "JIRA_FLAVOR": "server"})


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:1234", "http://127.9.9.9", "http://[::1]:80", "http://localhost:5", "https://x.example/"],
)
def test_url_allowed(url: str) -> None:
    assert not check_url(url, variable="JIRA_URL").endswith("/")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://acme.atlassian.net", "plain http"),
        ("http://10.0.0.1", "plain http"),
        ("ftp://x.example", "must be an https:// URL"),
        ("acme.atlassian.net", "must be an https:// URL"),
        ("https://user:pw@acme.atlassian.net", "must not contain credentials"),
        ("https://x.example/?a=1", "query"),
    ],
)
def test_url_rejected(url: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as info:
        check_url(url, variable="JIRA_URL")
    assert "pw" not in str(info.value)


def test_missing_jira_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="JIRA_URL is not set"):
        load_settings(config_path=write(tmp_path, GOOD), environ={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not found: copy config/jirabucket.example.toml"):
        load_settings(config_path=tmp_path / "nope.toml", environ=ENV)


def test_syntax_error_reports_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[jira]\nprojects = ["ABC"]\n[bitbucket\nrepositories = []\n')
    with pytest.raises(ConfigError, match=r"jirabucket.toml: invalid TOML: .*line 3"):
        load_settings(config_path=path, environ=ENV)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (GOOD.replace("scan_commits", "scan_commit"), "unknown key 'sync.scan_commit'"),
        (GOOD + "\n[extra]\nx = 1\n", "unknown key 'extra'"),
        (GOOD.replace("comment = true", 'comment = "yes"'), "sync.comment must be true or false, got 'yes'"),
        (GOOD.replace('["ABC", "OPS"]', '"ABC"'), "jira.projects must be a list of strings"),
        (GOOD.replace('["ABC", "OPS"]', "[1]"), "jira.projects must be a list of strings"),
        (GOOD.replace('["ABC", "OPS"]', '["abc"]'), "'abc' is not a project key"),
        (GOOD.replace('["ABC", "OPS"]', "[]"), r"\[jira\] projects is empty"),
        (GOOD.replace('["acme/api"]', '["acme"]'), "is not 'workspace/slug'"),
        (GOOD.replace('open = "In Review"', "opened = 1"), "unknown key 'sync.transitions.opened'"),
        (GOOD + "\n[queue]\nworkers = 0\n", r"queue.workers must be a whole number from 1 to 256, got 0"),
        (GOOD + "\n[queue]\nworkers = 1000000000\n", r"queue.workers must be a whole number from 1 to 256"),
        (GOOD + "\n[queue]\ntimeout = 0.5\n", r"queue.timeout must be seconds from 1 to 600, got 0.5"),
        (GOOD + "\n[queue]\ntimeout = 3600\n", r"queue.timeout must be seconds from 1 to 600"),
        (GOOD + "\n[queue]\nmax_attempts = 1000\n", r"queue.max_attempts must be a whole number from 1 to 100"),
        (GOOD + "\n[queue]\nmax_delay = 0\n", r"queue.max_delay must be seconds from 0.01 to 3600"),
        (GOOD + "\n[queue]\nrate_limit_backoff = 0\n", r"queue.rate_limit_backoff must be seconds from 0.1 to 300"),
        (GOOD + "\n[queue]\nrate_limit_max_wait = 10\n", r"queue.rate_limit_max_wait must be seconds from 60"),
        (GOOD + "\n[queue]\nworkers = 4\nper_host_concurrency = 8\n", r"per_host_concurrency \(8\) must not exceed"),
        (GOOD.replace('["acme/api"]', '["acme/api"]\nrequests_per_hour = 0'), r"requests_per_hour must be"),
        (GOOD + "\n[queue]\nworkers = true\n", r"queue.workers must be a whole number"),
        (GOOD.replace("[jira]", "jira = 3\n[other]"), r"jira must be a table"),
    ],
)
def test_schema_errors_name_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=fragment) as info:
        load_settings(config_path=path, environ=ENV)
    assert str(path) in str(info.value)


def test_token_in_toml_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("[jira]", '[jira]\napi_token = "s3cret-value"'))
    with pytest.raises(ConfigError, match="never put tokens in the config file") as info:
        load_settings(config_path=path, environ=ENV)
    assert "s3cret-value" not in str(info.value)


def test_state_dir_sources(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    assert load_settings(config_path=path, environ={**ENV, "JIRABUCKET_STATE_DIR": "/s"}).state_dir == Path("/s")
    xdg = load_settings(config_path=path, environ={**ENV, "XDG_STATE_HOME": "/x"}).state_dir
    assert xdg == Path("/x/jirabucket")
    assert load_settings(config_path=path, environ=ENV, state_dir=tmp_path).state_dir == tmp_path


def test_example_config_is_valid() -> None:
    example = Path(__file__).parents[2] / "config" / "jirabucket.example.toml"
    s = load_settings(config_path=example, environ=ENV)
    assert s.jira.projects
    assert s.bitbucket.repositories


def test_per_host_concurrency_follows_fewer_workers_down(tmp_path: Path) -> None:
    s = load_settings(config_path=write(tmp_path, GOOD + "\n[queue]\nworkers = 4\n"), environ=ENV)
    assert (s.queue.workers, s.queue.per_host_concurrency) == (4, 4)


def test_other_tools_url_name_is_read_and_ours_wins(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    other = load_settings(config_path=path, environ={"JIRA_BASE_URL": "https://other.atlassian.net"})
    assert (other.jira.url, other.jira.url_source) == ("https://other.atlassian.net", "JIRA_BASE_URL")
    both = load_settings(config_path=path, environ={**ENV, "JIRA_BASE_URL": "https://other.atlassian.net"})
    assert (both.jira.url, both.jira.url_source) == ("https://acme.atlassian.net", "JIRA_URL")


def test_user_config_file_is_used_when_there_is_no_local_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, xdg = tmp_path / "work", tmp_path / "xdg"
    work.mkdir()
    (xdg / "jirabucket").mkdir(parents=True)
    (xdg / "jirabucket" / "config.toml").write_text(GOOD)
    monkeypatch.chdir(work)
    env = {**ENV, "XDG_CONFIG_HOME": str(xdg)}
    assert load_settings(environ=env).config_path == xdg / "jirabucket" / "config.toml"
    (work / "jirabucket.toml").write_text(GOOD.replace('"ABC", "OPS"', '"LOC"'))
    assert load_settings(environ=env).jira.projects == ("LOC",)  # ./jirabucket.toml comes first
    explicit = write(tmp_path, GOOD.replace('"ABC", "OPS"', '"EXP"'))
    assert load_settings(environ={**env, "JIRABUCKET_CONFIG": str(explicit)}).jira.projects == ("EXP",)


def test_missing_config_names_where_it_was_looked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"jirabucket.toml not found: .*~/.config/jirabucket/config.toml"):
        load_settings(environ={**ENV, "XDG_CONFIG_HOME": str(tmp_path / "none")})
