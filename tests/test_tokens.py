"""Typed tokens: type confusion, masking, pickling, env loading, validation."""

from __future__ import annotations

import copy
import logging
import pickle
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import requests

from jirabucket.errors import ConfigError
from jirabucket.tokens import BitbucketToken, JiraToken, require_token

SECRET = "ATATT3xFfGF0-very-secret-value-9z7Q"


def test_basic_and_bearer_headers() -> None:
    cloud = JiraToken(SECRET, email="me@example.com")
    dc = JiraToken(SECRET)
    assert cloud.scheme == "basic"
    assert dc.scheme == "bearer"
    req = requests.Request("GET", "https://x.atlassian.net/").prepare()
    assert cloud.auth()(req).headers["Authorization"].startswith("Basic ")
    req = requests.Request("GET", "https://x.example/").prepare()
    assert dc.auth()(req).headers["Authorization"] == f"Bearer {SECRET}"
    assert BitbucketToken(SECRET, username="bob").scheme == "basic"
    assert BitbucketToken(SECRET).scheme == "bearer"


@pytest.mark.parametrize(
    "render",
    [
        repr,
        str,
        lambda t: f"{t}",
        lambda t: f"{t!r:>80}",
        "{}".format,
        lambda t: repr([t, {"k": t}]),
    ],
)
def test_secret_never_rendered(render: object) -> None:
    for token in (JiraToken(SECRET, email="me@example.com"), BitbucketToken(SECRET)):
        text = render(token)  # type: ignore[operator]
        assert SECRET not in text
        assert SECRET[:-4] not in text
        assert type(token).__name__ in text


def test_auth_repr_masked() -> None:
    auth = JiraToken(SECRET).auth()
    assert SECRET not in repr(auth)
    assert "[secure]" in repr(auth)


def test_secret_not_in_logs_or_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    token = BitbucketToken(SECRET, username="bob")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("jirabucket.test").debug("token is %s / %r", token, token)
    try:
        raise RuntimeError(f"failed with {token}")
    except RuntimeError:
        tb = traceback.format_exc()
    assert SECRET not in caplog.text
    assert SECRET not in tb


def test_secret_not_in_uncaught_traceback_locals(tmp_path: Path) -> None:
    script = tmp_path / "boom.py"
    script.write_text(f"from jirabucket.tokens import JiraToken\nt = JiraToken({SECRET!r})\nassert False, t\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "JiraToken(" in proc.stderr
    assert SECRET not in proc.stderr + proc.stdout


@pytest.mark.parametrize("op", [pickle.dumps, copy.copy, copy.deepcopy])
def test_pickling_and_copying_refused(op: object) -> None:
    for obj in (JiraToken(SECRET), BitbucketToken(SECRET), JiraToken(SECRET).auth()):
        with pytest.raises(TypeError, match="cannot be pickled"):
            op(obj)  # type: ignore[operator]


def test_frozen_slotted_no_dict() -> None:
    token = JiraToken(SECRET)
    assert not hasattr(token, "__dict__")
    with pytest.raises(AttributeError):
        token._secret = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):

        class _Sub(JiraToken):  # type: ignore[misc]
            pass


def test_equality_by_kind_and_value() -> None:
    assert JiraToken(SECRET) == JiraToken(SECRET)
    assert JiraToken(SECRET) != JiraToken(SECRET + "x")
    assert JiraToken(SECRET, email="a@x") != JiraToken(SECRET, email="b@x")
    assert JiraToken(SECRET) != BitbucketToken(SECRET)
    assert BitbucketToken(SECRET) != JiraToken(SECRET)
    assert JiraToken(SECRET) != SECRET
    assert hash(JiraToken(SECRET)) == hash(JiraToken(SECRET))


def test_runtime_type_confusion_names_both_types() -> None:
    with pytest.raises(TypeError, match="JiraClient needs a JiraToken, got a BitbucketToken"):
        require_token(BitbucketToken(SECRET), JiraToken, who="JiraClient")
    require_token(JiraToken(SECRET), JiraToken, who="JiraClient")


@pytest.mark.parametrize(
    ("secret", "fragment"),
    [
        ("", "empty"),
        ("abc def", "whitespace"),
        ("abc\tdef", "whitespace"),
        ("abc\n", "whitespace"),
        ("abc\x00def", "whitespace"),
        ("tökén", "non-ASCII"),
        ("x" * 5000, "longer than"),
    ],
)
def test_validation_errors_never_echo_value(secret: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        JiraToken(secret, variable="JIRA_TOKEN")
    assert fragment in str(info.value)
    assert "JIRA_TOKEN" in str(info.value)
    if secret.strip():
        assert secret.strip() not in str(info.value)


def test_bad_email_rejected() -> None:
    with pytest.raises(ConfigError, match="email"):
        JiraToken(SECRET, email="me @example.com")


def test_from_env_direct() -> None:
    token = JiraToken.from_env({"JIRA_TOKEN": SECRET, "JIRA_EMAIL": "me@example.com"})
    assert token == JiraToken(SECRET, email="me@example.com")
    bb = BitbucketToken.from_env({"BITBUCKET_TOKEN": SECRET})
    assert bb.scheme == "bearer"
    assert BitbucketToken.from_env({"BITBUCKET_TOKEN": SECRET, "BITBUCKET_USERNAME": "bob"}).username == "bob"


def test_from_env_file_strips_exactly_one_newline(tmp_path: Path) -> None:
    f = tmp_path / "tok"
    f.write_text(SECRET + "\n")
    assert JiraToken.from_env({"JIRA_TOKEN_FILE": str(f)}) == JiraToken(SECRET)
    f.write_text(SECRET + "\r\n")
    assert BitbucketToken.from_env({"BITBUCKET_TOKEN_FILE": str(f)}) == BitbucketToken(SECRET)
    f.write_text(SECRET + "\n\n")
    with pytest.raises(ConfigError, match="JIRA_TOKEN_FILE contains whitespace") as info:
        JiraToken.from_env({"JIRA_TOKEN_FILE": str(f)})
    assert SECRET not in str(info.value)


def test_from_env_missing_and_conflicts(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"JIRA_TOKEN is not set: export JIRA_TOKEN=.* or JIRA_TOKEN_FILE="):
        JiraToken.from_env({})
    with pytest.raises(ConfigError, match="BITBUCKET_TOKEN is not set"):
        BitbucketToken.from_env({})
    with pytest.raises(ConfigError, match="both JIRA_TOKEN and JIRA_TOKEN_FILE"):
        JiraToken.from_env({"JIRA_TOKEN": SECRET, "JIRA_TOKEN_FILE": "/x"})
    with pytest.raises(ConfigError, match="JIRA_TOKEN_FILE names a file that cannot be read"):
        JiraToken.from_env({"JIRA_TOKEN_FILE": str(tmp_path / "missing")})


def test_other_jira_tools_variable_names_are_read_and_ours_win(tmp_path: Path) -> None:
    other = JiraToken.from_env({"JIRA_API_TOKEN": SECRET, "JIRA_USER_EMAIL": "me@example.com"})
    assert other == JiraToken(SECRET, email="me@example.com")
    assert other.variable == "JIRA_API_TOKEN"
    f = tmp_path / "tok"
    f.write_text(SECRET + "\n")
    assert JiraToken.from_env({"JIRA_API_TOKEN_FILE": str(f)}).variable == "JIRA_API_TOKEN_FILE"
    ours = JiraToken.from_env(
        {"JIRA_TOKEN": SECRET, "JIRA_API_TOKEN": "other-" + SECRET, "JIRA_EMAIL": "a@b.c", "JIRA_USER_EMAIL": "x@y.z"}
    )
    assert ours == JiraToken(SECRET, email="a@b.c")
    assert ours.variable == "JIRA_TOKEN"
