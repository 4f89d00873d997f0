"""Issue-key extraction: boundaries, branch names, look-alikes, projects, order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jirabucket.sync.keys import find_keys

PROJECTS = ("ABC", "OPS", "A_B")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ABC-12: fix login", ["ABC-12"]),
        ("feature/ABC-12-login", ["ABC-12"]),
        ("bugfix/abc-12", []),
        ("bug_ABC-7_fix", ["ABC-7"]),
        ("[ABC-1][OPS-2] two", ["ABC-1", "OPS-2"]),
        ("ABC-1 and again ABC-1", ["ABC-1"]),
        ("UTF-8, ISO-8601 and SHA-256 are not keys", []),
        ("ZZZ-1 is another project", []),
        ("ABC-0 and ABC-012 have leading zeros", []),
        ("XABC-1 is a different project key", []),
        ("ABC-1x is glued to text", []),
        ("A_B-3 has an underscore", ["A_B-3"]),
        ("see https://jira/browse/OPS-44.", ["OPS-44"]),
        ("", []),
    ],
)
def test_find_keys(text: str, expected: list[str]) -> None:
    assert find_keys([text], projects=PROJECTS) == expected


def test_order_and_dedupe_across_texts() -> None:
    texts = ["OPS-2 title", None, "feature/ABC-1", "OPS-2 again, ABC-3"]
    assert find_keys(texts, projects=PROJECTS) == ["OPS-2", "ABC-1", "ABC-3"]


@given(st.lists(st.text(max_size=40), max_size=5))
def test_results_are_unique_and_configured(texts: list[str]) -> None:
    keys = find_keys(texts, projects=PROJECTS)
    assert len(keys) == len(set(keys))
    assert all(key.rsplit("-", 1)[0] in PROJECTS for key in keys)
    assert all(any(key in text for text in texts) for key in keys)


@given(
    st.sampled_from(PROJECTS),
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from([" ", "/", "(", "-", "_", ": "]),
)
def test_any_configured_key_is_found(project: str, number: int, around: str) -> None:
    key = f"{project}-{number}"
    assert find_keys([f"x{around}{key}{around}"], projects=PROJECTS) == [key]
