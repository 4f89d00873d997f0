"""Jira comments: read and delete by id, ids that only increase, and concurrent writers served one at a time."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import pytest
import requests

from jirabucket.testing import JiraCloudSimulator, JiraDataCenterSimulator

WRITERS = 4
PER_WRITER = 25


def _cloud(sim: JiraCloudSimulator) -> requests.Session:
    session = requests.Session()
    session.auth = (sim.email, sim.token)
    return session


def _dc(sim: JiraDataCenterSimulator) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sim.token}"
    return session


def test_delete_and_get_a_comment_by_id(jira_datacenter: JiraDataCenterSimulator) -> None:
    jira_datacenter.add_issue("ABC-1")
    session = _dc(jira_datacenter)
    url = f"{jira_datacenter.url}/rest/api/2/issue/ABC-1/comment"
    ids = [session.post(url, json={"body": f"c{n}"}).json()["id"] for n in range(3)]
    assert session.get(f"{url}/{ids[1]}").json()["body"] == "c1"
    assert session.delete(f"{url}/{ids[1]}").status_code == 204
    assert [c["id"] for c in session.get(url).json()["comments"]] == [ids[0], ids[2]]
    again = session.delete(f"{url}/{ids[1]}")
    assert again.status_code == 404
    assert again.json() == {"errorMessages": [f"Can not find a comment for the id: {ids[1]}."], "errors": {}}
    assert session.get(f"{url}/{ids[1]}").status_code == 404
    assert session.delete(f"{jira_datacenter.url}/rest/api/2/issue/ABC-9/comment/{ids[0]}").status_code == 404
    assert [c.id for c in jira_datacenter.issue("ABC-1").comments] == [ids[0], ids[2]]


def test_ids_increase_and_are_never_reused(jira_cloud: JiraCloudSimulator) -> None:
    jira_cloud.add_issue("ABC-1")
    jira_cloud.add_issue("ABC-2")
    session = _cloud(jira_cloud)
    api = f"{jira_cloud.url}/rest/api/2/issue"
    first = session.post(f"{api}/ABC-1/comment", json={"body": "a"}).json()["id"]
    other = session.post(f"{api}/ABC-2/comment", json={"body": "b"}).json()["id"]
    assert session.delete(f"{api}/ABC-1/comment/{first}").status_code == 204
    after = session.post(f"{api}/ABC-1/comment", json={"body": "c"}).json()["id"]
    assert int(first) < int(other) < int(after)
    seeded = jira_cloud.add_comment("ABC-1", "From a colleague", author="Dana")
    assert int(seeded) > int(after)
    listed = session.get(f"{jira_cloud.url}/rest/api/3/issue/ABC-1/comment").json()["comments"]
    assert [(c["id"], c["author"]["displayName"]) for c in listed] == [(after, "Sync Bot"), (seeded, "Dana")]
    assert listed[1]["author"]["accountId"] != listed[0]["author"]["accountId"]


def _run_together(workers: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def guarded(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]


@pytest.mark.parametrize("flavor", ["cloud", "datacenter"])
def test_concurrent_writers_are_served_one_at_a_time(flavor: str) -> None:
    with JiraCloudSimulator() if flavor == "cloud" else JiraDataCenterSimulator() as sim:
        sim.add_issue("ABC-1")
        url = f"{sim.url}/rest/api/2/issue/ABC-1/comment"
        start = threading.Barrier(WRITERS)
        answered: dict[int, list[tuple[str, str]]] = {}

        def writer(number: int) -> Callable[[], None]:
            def work() -> None:
                session = _cloud(sim) if isinstance(sim, JiraCloudSimulator) else _dc(sim)
                start.wait(timeout=10)
                answered[number] = []
                for n in range(PER_WRITER):
                    body = session.post(url, json={"body": f"w{number}-{n}"}).json()
                    answered[number].append((body["id"], body["body"]))

            return work

        _run_together([writer(n) for n in range(WRITERS)])
        stored = sim.issue("ABC-1").comments
    ids = [int(c.id) for c in stored]
    assert len(stored) == WRITERS * PER_WRITER and len(set(ids)) == len(ids)
    assert ids == sorted(ids)  # stored in id order: each POST got the next id, atomically
    texts = {c.id: c.text for c in stored}
    for number, answers in answered.items():
        assert [text for _, text in answers] == [f"w{number}-{n}" for n in range(PER_WRITER)]
        assert all(texts[cid] == text for cid, text in answers)  # each answer names its own comment
        assert [int(cid) for cid, _ in answers] == sorted(int(cid) for cid, _ in answers)
    order = [c.text.split("-")[0] for c in stored]
    runs = 1 + sum(a != b for a, b in itertools.pairwise(order))
    assert runs > WRITERS  # the writers really interleaved (one after another would be WRITERS runs)


def test_racing_writers_converge_on_the_lowest_id_by_deleting_their_own(jira_cloud: JiraCloudSimulator) -> None:
    """The convergent scheme issue 15 proposes, run against the simulator: exactly one marker survives."""
    jira_cloud.add_issue("ABC-1")
    url = f"{jira_cloud.url}/rest/api/2/issue/ABC-1/comment"
    marker = "Linked to https://bitbucket.example/acme/api/pull-requests/7"
    start = threading.Barrier(WRITERS)

    def writer() -> None:
        session = _cloud(jira_cloud)
        start.wait(timeout=10)
        mine = session.post(url, json={"body": marker}).json()["id"]
        markers = [c["id"] for c in session.get(url).json()["comments"] if c["body"] == marker]
        if min(markers, key=int) != mine:
            assert session.delete(f"{url}/{mine}").status_code == 204

    _run_together([writer for _ in range(WRITERS)])
    survivors = [c for c in jira_cloud.issue("ABC-1").comments if c.text == marker]
    assert len(survivors) == 1
    deletes = [r for r in jira_cloud.requests if r.method == "DELETE"]
    assert len(deletes) == WRITERS - 1 and all(r.status == 204 for r in deletes)
