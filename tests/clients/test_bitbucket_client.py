"""BitbucketClient against the Cloud and Data Center simulators, over real HTTP, through the queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from jirabucket.clients import BitbucketClient
from jirabucket.errors import AuthError, ConfigError, NotFound, PermanentError
from jirabucket.models import Branch, PullRequest
from jirabucket.queue import TaskQueue
from jirabucket.testing import BitbucketCloudSimulator, BitbucketDataCenterSimulator
from jirabucket.tokens import BitbucketToken

Sim = BitbucketCloudSimulator | BitbucketDataCenterSimulator
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(params=["bitbucket_cloud", "bitbucket_datacenter"])
def sim(request: pytest.FixtureRequest) -> Sim:
    """Both flavors, from the jirabucket pytest plugin's fixtures."""
    simulator: Sim = request.getfixturevalue(request.param)
    return simulator


def _cloud(sim: Sim) -> bool:
    return isinstance(sim, BitbucketCloudSimulator)


def _flavor(sim: Sim) -> Literal["cloud", "datacenter"]:
    return "cloud" if _cloud(sim) else "datacenter"


def _repo(sim: Sim) -> str:
    return "acme/widgets" if _cloud(sim) else "PRJ/widgets"


@pytest.fixture
def bb(sim: Sim, queue: TaskQueue) -> Iterator[BitbucketClient]:
    client = BitbucketClient(sim.url, BitbucketToken(sim.token), flavor=_flavor(sim),
                             queue=queue, timeout=10)
    sim.add_repository(_repo(sim))
    yield client
    client.close()


def _seed(sim: Sim, count: int) -> None:
    states = ["OPEN", "MERGED", "DECLINED"]
    for n in range(1, count + 1):
        sim.add_pull_request(
            _repo(sim), title=f"ABC-{n} change {n}", source_branch=f"feature/ABC-{n}",
            state=states[n % 3], updated=T0 + timedelta(minutes=n), author="Alice",
        )


def _list_requests(sim: Sim) -> list[dict[str, list[str]]]:
    return [r.query for r in sim.requests if r.path.endswith(("/pullrequests", "/pull-requests"))]


def test_whoami_and_bearer_auth(sim: Sim, bb: BitbucketClient) -> None:
    user = bb.whoami()
    assert user.name == ("syncbot" if _cloud(sim) else "bot")
    assert {r.auth_scheme for r in sim.requests} == {"bearer"}
    assert all(r.auth_ok for r in sim.requests)


def test_repository_and_missing_repository(sim: Sim, bb: BitbucketClient) -> None:
    assert bb.repository(_repo(sim))["slug"] == "widgets"
    bb.verify_access(_repo(sim))
    with pytest.raises(NotFound):
        bb.repository(_repo(sim).replace("widgets", "nothing"))
    with pytest.raises(NotFound):
        bb.verify_access(_repo(sim).replace("widgets", "nothing"))
    with pytest.raises(ConfigError):
        bb.repository("not-a-repo")


def test_500_pull_requests_across_pages(sim: Sim, bb: BitbucketClient) -> None:
    _seed(sim, 500)
    sim.clear_requests()
    prs = list(bb.pull_requests(_repo(sim)))
    assert len(prs) == 500
    assert [pr.id for pr in prs] == list(range(500, 0, -1))  # newest update first
    assert len({pr.id for pr in prs}) == 500
    # One page request per 50 (Cloud) / 100 (Data Center), and no per-PR fetches.
    assert len(sim.requests) == (10 if _cloud(sim) else 5)
    queries = _list_requests(sim)
    assert len(queries) == len(sim.requests)
    if _cloud(sim):
        assert all(sorted(q["state"]) == ["DECLINED", "MERGED", "OPEN"] for q in queries)
        assert all(q["sort"] == ["-updated_on"] for q in queries)
    else:
        assert all(q["state"] == ["ALL"] and q["order"] == ["NEWEST"] for q in queries)


def test_updated_since_stops_early_and_keeps_q_on_every_page(sim: Sim, bb: BitbucketClient) -> None:
    _seed(sim, 300)
    sim.clear_requests()
    since = T0 + timedelta(minutes=180)
    prs = list(bb.pull_requests(_repo(sim), updated_since=since))
    assert [pr.id for pr in prs] == list(range(300, 180, -1))
    queries = _list_requests(sim)
    if _cloud(sim):
        assert len(queries) == 3  # 120 matches, 50 per page
        assert all(q["q"] == [f'updated_on > "{since.isoformat()}"'] for q in queries)
    else:
        # Created and updated orders agree on every page here, so no page proves the listing is by
        # update (Data Center documents only "newer first"): it reads on rather than risk a miss.
        assert len(queries) == 3


def test_datacenter_stops_early_once_a_page_proves_update_order(
    bitbucket_datacenter: BitbucketDataCenterSimulator, queue: TaskQueue
) -> None:
    sim = bitbucket_datacenter
    sim.add_repository(_repo(sim))
    bb = BitbucketClient(sim.url, BitbucketToken(sim.token), flavor="datacenter", queue=queue, timeout=10)
    _seed(sim, 300)
    for n in range(1, 300, 7):  # older PRs touched again, in their creation order: listed by update they interleave
        sim.update_pull_request(_repo(sim), n, updated=T0 + timedelta(minutes=300 + n))
    sim.clear_requests()
    since = T0 + timedelta(minutes=400)
    prs = list(bb.pull_requests(_repo(sim), updated_since=since))
    assert {pr.id for pr in prs} == {n for n in range(1, 300, 7) if 300 + n > 400}
    assert len(_list_requests(sim)) == 1  # the first page shows update order and reaches the cursor
    bb.close()


def test_states_filter(sim: Sim, bb: BitbucketClient) -> None:
    _seed(sim, 30)
    merged = list(bb.pull_requests(_repo(sim), states=["merged"]))
    assert len(merged) == 10
    assert {pr.state for pr in merged} == {"MERGED"}


def test_zero_pull_requests(sim: Sim, bb: BitbucketClient) -> None:
    assert list(bb.pull_requests(_repo(sim))) == []
    assert len(_list_requests(sim)) == 1


def test_big_unicode_description_and_model_fields(sim: Sim, bb: BitbucketClient) -> None:
    description = ("Ünïcødé ✓ 日本語 🚀 — " * 600)[:10_240]
    assert len(description.encode()) > 10_000
    pr_id = sim.add_pull_request(
        _repo(sim), title="ABC-1 «fix» ✓", description=description, source_branch="feature/ABC-1",
        destination_branch="main", state="OPEN", author="Zoë", updated=T0,
        commits=["ABC-1 first", "second"],
    )
    [pr] = list(bb.pull_requests(_repo(sim)))
    snapshot = sim.pull_request(_repo(sim), pr_id)
    head = sim.branches(_repo(sim))["feature/ABC-1"]
    assert pr == PullRequest(
        repo=_repo(sim), id=pr_id, title="ABC-1 «fix» ✓", description=description, state="OPEN",
        source_branch="feature/ABC-1", destination_branch="main", web_url=snapshot.web_url,
        updated=T0, author="Zoë",
        source_commit=head[:12] if _cloud(sim) else head,  # Cloud abbreviates it in PR objects
        created=pr.created,
    )
    assert pr.created is not None and pr.created.tzinfo is not None and pr.created <= datetime.now(UTC)
    assert bb.pull_request(_repo(sim), pr_id) == pr
    assert pr.updated.tzinfo is not None
    commits = bb.pull_request_commits(_repo(sim), pr_id)
    assert sorted(c.message for c in commits) == ["ABC-1 first", "second"]
    assert all(len(c.hash) == 40 for c in commits)
    assert {c.author.lower() for c in commits} == {"zoë"}


def test_add_pr_comment(sim: Sim, bb: BitbucketClient) -> None:
    _seed(sim, 1)
    bb.add_pr_comment(_repo(sim), 1, "Linked to ABC-1 ✓")
    assert sim.pull_request(_repo(sim), 1).comments == ("Linked to ABC-1 ✓",)
    assert len([r for r in sim.requests if r.is_write]) == 1


def test_branches_and_create_branch(sim: Sim, bb: BitbucketClient) -> None:
    for n in range(120):
        sim.add_branch(_repo(sim), f"feature/b{n:03}")
    branches = bb.branches(_repo(sim))
    assert len(branches) == 121  # plus main
    main = next(b for b in branches if b.name == "main")
    created = bb.create_branch(_repo(sim), "release/1.0", main.target)
    assert created == Branch("release/1.0", main.target)
    assert sim.branches(_repo(sim))["release/1.0"] == main.target
    with pytest.raises(PermanentError):
        bb.create_branch(_repo(sim), "release/1.0", main.target)


def test_wrong_token_is_an_auth_error(sim: Sim, queue: TaskQueue) -> None:
    with (
        BitbucketClient(sim.url, BitbucketToken("wrong-secret"), flavor=_flavor(sim),
                        queue=queue) as client,
        pytest.raises(AuthError) as caught,
    ):
        client.whoami()
    assert caught.value.status == 401
    assert "wrong-secret" not in str(caught.value)


def test_basic_auth_with_username(
    bitbucket_datacenter: BitbucketDataCenterSimulator, queue: TaskQueue
) -> None:
    sim = bitbucket_datacenter
    token = BitbucketToken(sim.token, username=sim.username)
    with BitbucketClient(sim.url, token, flavor="datacenter", queue=queue) as client:
        assert client.whoami().name == "bot"
        assert {r.auth_scheme for r in sim.requests} == {"basic"}
