"""One declaration per operation yields the direct method, the queued method and the queue handler."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import pytest
import responses
from client_helpers import RecordingQueue, Submitted

from jirabucket.clients import BitbucketApi, BitbucketClient, JiraApi, JiraClient
from jirabucket.clients.operations import (
    Cursor,
    DirectRunner,
    Endpoints,
    Operation,
    Page,
    QueuedRunner,
    Retry,
    operation,
)
from jirabucket.clients.transport import Transport
from jirabucket.queue import QueueClosed, TaskQueue
from jirabucket.tokens import BitbucketToken, JiraToken

SECRET = "operations-secret-0001"
JIRA = "https://jira.example.com"
BITBUCKET = "https://git.example.com"


class _NoHttp:
    """Stands in for the atlassian-python-api object: these tests send nothing."""

    url = "https://example.test"
    timeout = 1.0

    def request(self, method: str, **options: Any) -> Any:
        raise AssertionError("no HTTP expected")

    def close(self) -> None:
        pass


class DemoEndpoints(Endpoints):
    """A table with one operation of each retry class and a paged read."""

    PRODUCT: ClassVar[str] = "demo"

    @operation(Retry.READ)
    def echo(self: DemoApi, text: str, *, times: int = 2, when: datetime | str | None = None) -> str:
        """Return ``text`` repeated, and what ``when`` arrived as."""
        self.seen.append(("echo", text, when))
        return text * times + ("" if when is None else f"@{when}")

    @operation(Retry.IDEMPOTENT_WRITE)
    def put(self: DemoApi, item: str, value: int) -> int:
        """Store ``value`` under ``item``; a negative one is refused."""
        if value < 0:
            raise ValueError(f"negative value for {item}")
        self.store[item] = value
        return value

    @operation(Retry.UNSAFE_WRITE, on=("repo", "number"))
    def post(self: DemoApi, repo: str, number: int, tags: tuple[str, ...] = ()) -> list[str]:
        """Append to a list; return what arrived as ``tags``."""
        self.seen.append(("post", repo, number))
        return list(tags)

    @operation(Retry.READ)
    def numbers_page(self: DemoApi, upto: int, *, cursor: Cursor = None) -> Page[int]:
        """Return three numbers from ``cursor`` and the next cursor."""
        start = int(cursor or 0)
        stop = min(start + 3, upto)
        self.seen.append(("page", start))
        return list(range(start, stop)), (stop if stop < upto else None)

    numbers = numbers_page.pages()


class DemoApi(DemoEndpoints):
    def __init__(self) -> None:
        self.seen: list[tuple[object, ...]] = []
        self.store: dict[str, int] = {}
        self._runner = DirectRunner(self, Transport(_NoHttp(), timeout=1.0))


class DemoClient(DemoEndpoints):
    def __init__(self, queue: RecordingQueue) -> None:
        self.api = DemoApi()
        self._runner = QueuedRunner(self.api, queue=queue, key="demo:host")


@pytest.fixture
def demo(recorder: RecordingQueue) -> DemoClient:
    return DemoClient(recorder)


def test_each_declaration_is_named_after_its_product_and_attribute() -> None:
    assert [op.name for op in DemoEndpoints.operations()] == [
        "demo.echo", "demo.put", "demo.post", "demo.numbers_page"
    ]
    assert DemoEndpoints.post.retry is Retry.UNSAFE_WRITE
    assert DemoEndpoints.echo.__doc__ == "Return ``text`` repeated, and what ``when`` arrived as."


def test_direct_method_runs_the_declaration_in_the_calling_thread() -> None:
    api = DemoApi()
    assert api.echo("ab", times=3) == "ababab"
    assert api.seen == [("echo", "ab", None)]
    assert api.echo.__name__ == "echo"


def test_queued_method_submits_json_arguments_and_runs_the_declaration_on_the_api(
    demo: DemoClient, recorder: RecordingQueue
) -> None:
    when = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert demo.echo("x", when=when) == "xx@2026-03-01T12:00:00+00:00"
    [task] = recorder.submitted
    assert task == Submitted("demo.echo", {"text": "x", "times": 2, "when": when.isoformat()},
                             "demo:host", True, None, durable=False)
    # The handler ran the same declaration on the in-thread API, with the JSON form.
    assert demo.api.seen == [("echo", "x", "2026-03-01T12:00:00+00:00")]


@pytest.mark.parametrize(
    ("call", "idempotent", "subkey", "durable"),
    [
        (lambda c: c.echo("a"), True, None, False),
        (lambda c: c.put("item-1", 5), True, "item-1", True),
        (lambda c: c.post("ws/repo", 7), False, "ws/repo#7", True),
    ],
    ids=["read", "idempotent-write", "unsafe-write"],
)
def test_retry_class_gives_the_idempotent_flag_the_subkey_and_durability(
    demo: DemoClient, recorder: RecordingQueue, call: Callable[[DemoClient], object],
    idempotent: bool, subkey: str | None, durable: bool,
) -> None:
    call(demo)
    [task] = recorder.submitted
    # Reads are never journaled: their caller waits for them, and has their error.
    assert (task.idempotent, task.subkey, task.durable) == (idempotent, subkey, durable)


def test_every_operation_is_registered_under_the_client_key(recorder: RecordingQueue) -> None:
    DemoClient(recorder)
    assert sorted(recorder.handlers) == [
        ("demo:host", "demo.echo"), ("demo:host", "demo.numbers_page"),
        ("demo:host", "demo.post"), ("demo:host", "demo.put"),
    ]


def test_tuples_travel_as_lists_and_unserialisable_arguments_fail_before_submitting(
    demo: DemoClient, recorder: RecordingQueue
) -> None:
    assert demo.post("ws/repo", 1, ("a", "b")) == ["a", "b"]
    assert recorder.submitted[0].args == {"repo": "ws/repo", "number": 1, "tags": ["a", "b"]}
    with pytest.raises(TypeError, match=r"demo.echo\(when=...\): a object cannot travel as JSON"):
        demo.echo("x", when=object())  # type: ignore[arg-type]  # the point: a wrong type
    assert len(recorder.submitted) == 1
    assert Operation.arguments(DemoEndpoints.echo, ("x",), {"when": date(2026, 1, 2)})["when"] == "2026-01-02"


def test_errors_reach_the_queued_caller_unchanged(demo: DemoClient, recorder: RecordingQueue) -> None:
    with pytest.raises(ValueError, match="negative value for item-1"):
        demo.put("item-1", -1)
    assert len(recorder.submitted) == 1
    with pytest.raises(TypeError):
        demo.echo("x", 3)  # type: ignore[call-arg]  # the point: times is keyword-only
    assert len(recorder.submitted) == 1  # a call that does not fit is not queued


def test_pages_yield_every_item_lazily_from_the_first_or_a_given_cursor(
    demo: DemoClient, recorder: RecordingQueue
) -> None:
    items = demo.numbers(7)
    assert isinstance(items, Iterator)
    assert recorder.submitted == []  # nothing until iterated
    assert list(items) == [0, 1, 2, 3, 4, 5, 6]
    assert [t.args["cursor"] for t in recorder.submitted] == [None, 3, 6]
    assert list(demo.api.numbers(7, cursor=3)) == [3, 4, 5, 6]
    assert demo.numbers_page(7) == ([0, 1, 2], 3)


def test_a_private_queue_is_owned_and_closed_a_shared_one_is_not(recorder: RecordingQueue) -> None:
    client = DemoClient(recorder)
    client.close()
    assert not recorder.closed
    runner = QueuedRunner(DemoApi(), queue=None, key="demo:host")
    assert isinstance(runner.queue, TaskQueue)
    runner.close()
    with pytest.raises(QueueClosed):
        runner.run(DemoEndpoints.echo, ("x",), {})


def test_a_declaration_that_cannot_travel_as_json_is_refused() -> None:
    def positional(self: object, a: int, /) -> None:
        """Positional-only."""

    def variadic(self: object, *items: int) -> None:
        """Variadic."""

    def reader(self: object, repo: str) -> None:
        """A read."""

    with pytest.raises(TypeError, match="cannot travel as named JSON arguments"):
        operation(Retry.READ)(positional)
    with pytest.raises(TypeError, match="cannot travel as named JSON arguments"):
        operation(Retry.UNSAFE_WRITE)(variadic)
    with pytest.raises(ValueError, match="a read has no resource"):
        operation(Retry.READ, on=("repo",))(reader)
    with pytest.raises(TypeError, match="unknown parameters"):
        operation(Retry.IDEMPOTENT_WRITE, on=("nope",))(reader)


def test_a_table_without_a_product_name_is_refused() -> None:
    with pytest.raises((TypeError, RuntimeError), match=r"PRODUCT|__set_name__"):

        class Nameless(Endpoints):
            @operation(Retry.READ)
            def thing(self: object) -> None:
                """Nothing."""


@pytest.mark.parametrize(
    ("api", "client"),
    [
        (lambda: JiraApi(JIRA, JiraToken(SECRET)),
         lambda q: JiraClient(JIRA, JiraToken(SECRET), queue=q)),
        (lambda: BitbucketApi(BITBUCKET, BitbucketToken(SECRET)),
         lambda q: BitbucketClient(BITBUCKET, BitbucketToken(SECRET), queue=q)),
    ],
    ids=["jira", "bitbucket"],
)
def test_real_clients_register_every_declaration_and_expose_both_methods(
    api: Callable[[], Endpoints], client: Callable[[RecordingQueue], JiraClient | BitbucketClient],
    recorder: RecordingQueue,
) -> None:
    direct, queued = api(), client(recorder)
    names = [op.name for op in type(direct).operations()]
    assert sorted(recorder.handlers) == sorted((queued.key, name) for name in names)
    for name in names:
        attribute = name.split(".", 1)[1]
        assert callable(getattr(direct, attribute))
        assert callable(getattr(queued, attribute))
    direct.close()
    queued.close()


@responses.activate
def test_real_writes_are_queued_with_their_flag_and_resource(recorder: RecordingQueue) -> None:
    responses.post(f"{JIRA}/rest/api/2/issue/ABC-1/comment", json={"id": "9", "body": "hi"})
    responses.post(f"{JIRA}/rest/api/2/issue/ABC-1/remotelink", json={"id": 3})
    responses.post(f"{BITBUCKET}/rest/api/1.0/projects/PRJ/repos/repo/pull-requests/7/comments",
                   json={"id": 1})
    jira = JiraClient(JIRA, JiraToken(SECRET), queue=recorder)
    bitbucket = BitbucketClient(BITBUCKET, BitbucketToken(SECRET), queue=recorder)
    jira.add_comment("ABC-1", "hi")
    jira.upsert_remote_link("ABC-1", global_id="g", url="https://x", title="t", resolved=False)
    bitbucket.add_pr_comment("PRJ/repo", 7, "hi")
    assert [(t.operation, t.key, t.idempotent, t.subkey) for t in recorder.submitted] == [
        ("jira.add_comment", "jira:jira.example.com", False, "ABC-1"),
        ("jira.upsert_remote_link", "jira:jira.example.com", True, "ABC-1"),
        ("bitbucket.add_pr_comment", "bitbucket:git.example.com", False, "PRJ/repo#7"),
    ]
    assert len(responses.calls) == 3
