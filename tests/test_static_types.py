"""What mypy --strict says about scripts that use the public API: one mypy run for the module.

The tokens cannot be mixed up, and each declared operation has a precise type.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_PROJECT_ROOT = Path(__file__).resolve().parents[1]

_TOKEN_CONFUSION = """
    from jirabucket.tokens import BitbucketToken, JiraToken
    def use_jira(token: JiraToken) -> None: ...
    use_jira(BitbucketToken('abc'))
    use_jira(JiraToken('abc'))
"""

_CLIENT_TYPES = """
    from jirabucket.clients import BitbucketClient, JiraApi, JiraClient
    from jirabucket.tokens import BitbucketToken, JiraToken

    JiraClient("https://acme.atlassian.net", BitbucketToken("x" * 20))
    BitbucketClient("https://bitbucket.org", JiraToken("x" * 20))
    jira = JiraClient("https://acme.atlassian.net", JiraToken("x" * 20, email="a@b.c"))
    bb = BitbucketClient("https://bitbucket.org", BitbucketToken("x" * 20))
    api = JiraApi("https://acme.atlassian.net", JiraToken("x" * 20, email="a@b.c"))
    reveal_type(jira.add_comment)
    reveal_type(jira.search)
    reveal_type(api.search_page)
    reveal_type(bb.pull_requests)
    reveal_type(bb.create_branch)
    reveal_type(jira.api)
"""


@pytest.fixture(scope="module")
def mypy_lines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """mypy --strict's lines about each snippet, by the snippet's file name."""
    where = tmp_path_factory.mktemp("typing")
    snippets = {"confused.py": _TOKEN_CONFUSION, "client_types.py": _CLIENT_TYPES}
    for name, code in snippets.items():
        (where / name).write_text(textwrap.dedent(code).lstrip())
    # From the project root, with its config and its .mypy_cache: the README's `mypy --strict src`
    # has just checked jirabucket there, so mypy reads it back instead of checking it again (0.4 s
    # instead of 4 s of CPU). mypy's incremental mode rechecks whatever changed since.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", *(str(where / name) for name in snippets)],
        capture_output=True, text=True, timeout=300, check=False, cwd=_PROJECT_ROOT,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines: dict[str, list[str]] = {name: [] for name in snippets}
    for line in result.stdout.splitlines():
        name = Path(line.split(":", 1)[0]).name
        if name in lines:
            lines[name].append(line)
    return lines


def test_mypy_rejects_a_bitbucket_token_where_a_jira_token_goes(mypy_lines: dict[str, list[str]]) -> None:
    out = mypy_lines["confused.py"]
    assert len(out) == 1, out  # the correct call type-checks
    assert "confused.py:3:" in out[0]
    assert 'Argument 1 to "use_jira" has incompatible type "BitbucketToken"; expected "JiraToken"' in out[0]


def test_mypy_rejects_the_other_token_type_in_each_client(mypy_lines: dict[str, list[str]]) -> None:
    errors = [line for line in mypy_lines["client_types.py"] if ": error:" in line]
    assert len(errors) == 2, errors  # the correct calls type-check
    assert 'Argument 2 to "JiraClient" has incompatible type "BitbucketToken"; expected "JiraToken"' in errors[0]
    assert 'Argument 2 to "BitbucketClient" has incompatible type "JiraToken"; expected "BitbucketToken"' in errors[1]


def test_mypy_sees_precise_types_for_declared_operations(mypy_lines: dict[str, list[str]]) -> None:
    revealed = [line.split("Revealed type is ", 1)[1].strip('"') for line in mypy_lines["client_types.py"]
                if "Revealed type is" in line]
    assert revealed == [
        "def (key: str, text: str) -> jirabucket.models.Comment",
        "def (jql: str, *, cursor: str | int | None =, page_size: int =) -> typing.Iterator[jirabucket.models.Issue]",
        "def (jql: str, *, cursor: str | int | None =, page_size: int =) -> "
        "tuple[list[jirabucket.models.Issue], str | int | None]",
        "def (repo: str, *, states: typing.Sequence[str] =, updated_since: datetime.datetime | str | None =, "
        "cursor: str | int | None =) -> typing.Iterator[jirabucket.models.PullRequest]",
        "def (repo: str, name: str, start: str) -> jirabucket.models.Branch",
        "jirabucket.clients.jira.JiraApi",
    ]
    assert "Any" not in " ".join(revealed)
