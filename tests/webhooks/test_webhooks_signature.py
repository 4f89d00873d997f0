"""The webhook secret: where it comes from, that it never shows, and that only a valid signature gets in."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from webhook_harness import SECRET, Served, cloud_payload, empty_world, serving, sign

from jirabucket.errors import ConfigError
from jirabucket.webhooks import Signature, WebhookSecret
from syncworld import World

BODY = b'{"pullrequest": {"id": 1}}'


def _hex(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("header", "verdict"),
    [
        (f"sha256={_hex(BODY)}", Signature.VALID),
        (f"sha256={_hex(BODY).upper()}", Signature.VALID),
        (f"SHA256={_hex(BODY)}", Signature.VALID),
        (None, Signature.MISSING),
        ("", Signature.MISSING),
        ("   ", Signature.MISSING),
        (_hex(BODY), Signature.MALFORMED),  # no algorithm
        ("sha256=", Signature.MALFORMED),
        (f"sha256={_hex(BODY)[:-1]}", Signature.MALFORMED),
        (f"sha256={_hex(BODY)}00", Signature.MALFORMED),
        (f"sha256={_hex(BODY)[:-1]}g", Signature.MALFORMED),
        ("sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest(), Signature.OTHER_ALGORITHM),
        ("sha512=" + hmac.new(SECRET.encode(), BODY, hashlib.sha512).hexdigest(), Signature.OTHER_ALGORITHM),
        (f"sha256={_hex(BODY, 'another secret')}", Signature.MISMATCH),
        (f"sha256={_hex(BODY + b' ')}", Signature.MISMATCH),
    ],
)
def test_signature_verdicts(header: str | None, verdict: Signature) -> None:
    assert WebhookSecret(SECRET).check(BODY, header) is verdict


def test_secret_from_the_environment_or_a_file(tmp_path: Path) -> None:
    assert WebhookSecret.from_env({"JIRABUCKET_WEBHOOK_SECRET": SECRET}).check(BODY, sign(BODY)) is Signature.VALID
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")  # echo "$SECRET" > file: exactly one newline is stripped
    from_file = WebhookSecret.from_env({"JIRABUCKET_WEBHOOK_SECRET_FILE": str(path)})
    assert from_file.check(BODY, sign(BODY)) is Signature.VALID
    assert from_file.variable == "JIRABUCKET_WEBHOOK_SECRET_FILE"
    path.write_text(SECRET + "\n\n")
    with pytest.raises(ConfigError, match="control characters") as refused:
        WebhookSecret.from_env({"JIRABUCKET_WEBHOOK_SECRET_FILE": str(path)})
    assert SECRET not in str(refused.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "JIRABUCKET_WEBHOOK_SECRET is not set: export JIRABUCKET_WEBHOOK_SECRET=<secret> or "
             "JIRABUCKET_WEBHOOK_SECRET_FILE="),
        ({"JIRABUCKET_WEBHOOK_SECRET": ""}, "JIRABUCKET_WEBHOOK_SECRET is empty"),
        ({"JIRABUCKET_WEBHOOK_SECRET": SECRET, "JIRABUCKET_WEBHOOK_SECRET_FILE": "/x"}, "unset one of them"),
        ({"JIRABUCKET_WEBHOOK_SECRET_FILE": "/nonexistent/secret"}, "cannot be read"),
    ],
)
def test_missing_or_unusable_secret_says_how_to_set_it(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        WebhookSecret.from_env(env)
    assert message in str(refused.value)


def test_secret_never_shows_and_cannot_be_copied() -> None:
    secret = WebhookSecret(SECRET)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r:>80}"):
        assert SECRET not in shown and "[secure]" in shown
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        copy.copy(secret)
    with pytest.raises(TypeError):
        copy.deepcopy(secret)
    with pytest.raises(AttributeError):
        secret.__setattr__("_key", b"x")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with empty_world(tmp_path) as w:
        yield w


@pytest.fixture
def served(world: World) -> Iterator[Served]:
    with serving(world) as s:
        yield s


@pytest.mark.parametrize(
    ("signature", "outcome"),
    [
        (None, "signature missing"),
        (lambda body: sign(body, secret="not the secret"), "signature mismatch"),
        (lambda body: sign(body, algorithm="sha1"), "signature other algorithm"),  # GitHub's scheme
        ("sha256=abc", "signature malformed"),
        (lambda body: sign(body + b"\n"), "signature mismatch"),  # a body changed on the way
    ],
)
def test_unsigned_or_badly_signed_delivery_is_401_and_nothing_is_done(
    world: World, served: Served, signature: str | Callable[[bytes], str] | None, outcome: str
) -> None:
    world.jira.add_issue("ABC-1")
    pr = world.bitbucket.add_pull_request("acme/api", title="ABC-1", source_branch="b")
    world.bitbucket.clear_requests()
    world.jira.clear_requests()
    answer = served.deliver.post("pullrequest:created", cloud_payload("acme/api", pr), signature=signature)
    assert answer.status_code == 401
    assert answer.json() == {"outcome": outcome}
    health = served.deliver.health()
    assert health["pending_pull_requests"] == 0 and health["pull_request_syncs"] == 0
    assert world.bitbucket.requests == [] and world.jira.requests == []


def test_unsigned_garbage_is_401_not_400(served: Served) -> None:
    """Nothing of an unsigned body is parsed: refused for its signature before its JSON is looked at."""
    answer = served.deliver.post("pullrequest:created", None, body=b"\xff\xfe not json", signature=None)
    assert answer.status_code == 401


def test_well_signed_delivery_is_202(world: World, served: Served) -> None:
    pr = world.bitbucket.add_pull_request("acme/api", title="ABC-1", source_branch="b")
    assert served.deliver.post("pullrequest:created", cloud_payload("acme/api", pr)).status_code == 202


def test_the_signature_may_come_as_x_hub_signature_256(world: World, served: Served) -> None:
    pr = world.bitbucket.add_pull_request("acme/api", title="ABC-1", source_branch="b")
    body = json.dumps(cloud_payload("acme/api", pr)).encode()
    headers = {"X-Event-Key": "pullrequest:created", "X-Request-UUID": "u-1", "X-Hub-Signature-256": sign(body)}
    answer = requests.post(f"{served.deliver.url}/webhooks/bitbucket", data=body, headers=headers, timeout=10)
    assert answer.status_code == 202
    headers.update({"X-Request-UUID": "u-2", "X-Hub-Signature-256": sign(body, secret="wrong")})
    answer = requests.post(f"{served.deliver.url}/webhooks/bitbucket", data=body, headers=headers, timeout=10)
    assert answer.status_code == 401
