"""The error tree: classification by status, short secret-free bodies."""

from __future__ import annotations

import pytest

from jirabucket import errors as e


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, e.PermanentError),
        (401, e.AuthError),
        (403, e.AuthError),
        (404, e.NotFound),
        (409, e.PermanentError),
        (410, e.NotFound),
        (422, e.PermanentError),
        (429, e.RateLimited),
        (500, e.TransientError),
        (502, e.TransientError),
        (503, e.TransientError),
        (504, e.TransientError),
    ],
)
def test_error_for_status(status: int, cls: type[e.ApiError]) -> None:
    assert e.error_for_status(status) is cls
    assert issubclass(cls, e.ApiError)
    assert issubclass(cls, e.JirabucketError)


def test_body_excerpt_is_short_and_single_line() -> None:
    err = e.TransientError("boom", status=503, body="<html>\n" + "x" * 5000, retry_after=3.0)
    assert len(err.body) <= 300
    assert "\n" not in err.body
    assert err.status == 503
    assert err.retry_after == 3.0
    assert str(err) == "boom"


def test_outcome_unknown_is_transient() -> None:
    assert issubclass(e.OutcomeUnknown, e.TransientError)
    assert e.JirabucketError("x", body=b"\xff").body == "\ufffd"
