"""Remote operations declared once, run in the calling thread or as queued tasks.

A product's endpoints are declared in one table class (``JiraEndpoints``,
``BitbucketEndpoints``), one decorated function each::

    @operation(Retry.IDEMPOTENT_WRITE)
    def add_fix_version(self: JiraApi, key: str, version_name: str) -> None:
        \"\"\"Add a fixVersion to the issue, keeping its others.\"\"\"
        body = {"update": {"fixVersions": [{"add": {"name": version_name}}]}}
        self._call("PUT", f"issue/{jj.check_issue_key(key)}", json=body)

The function is the request builder and calls the response parser; its
signature is the typed signature callers see; its name is the operation's name
(``jira.add_fix_version``); the :class:`Retry` class says whether the queue may
repeat it and which argument names the resource it writes. From that one
declaration come:

* the in-thread method on the API object (``JiraApi.add_fix_version``), which
  runs the function directly with the API as ``self``;
* the queued method on the client (``JiraClient.add_fix_version``), which
  submits the operation with its arguments as JSON to the
  :class:`~jirabucket.queue.TaskQueue` under the client's key, with
  ``idempotent`` and ``subkey`` derived from the retry class, and waits;
* the queue handler behind it, registered by :class:`QueuedRunner` for every
  operation of the table.

A paged read returns ``(items, cursor)``; ``name = page_op.pages()`` derives the
method that yields every item, fetching (or queueing) one page at a time.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from datetime import date, datetime
from enum import Enum
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Concatenate,
    Generic,
    ParamSpec,
    Protocol,
    Self,
    TypeVar,
    cast,
    overload,
)

from jirabucket.queue import TaskQueue

if TYPE_CHECKING:
    from jirabucket.clients.transport import Transport

__all__ = [
    "Cursor",
    "DirectRunner",
    "Endpoints",
    "Operation",
    "Page",
    "Pages",
    "QueuedRunner",
    "Retry",
    "Runner",
    "TaskSink",
    "operation",
]

S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

#: Where the next page starts: a URL (Bitbucket Cloud), an offset (Data Center), a token (Jira Cloud).
Cursor = str | int | None
#: One page of a paged read and the cursor of the next page (``None`` after the last one).
Page = tuple[list[T], Cursor]

_PRIVATE_WORKERS = 4
_SUBKEY_JOIN = "#"


class Retry(Enum):
    """What the queue may do with an operation after an unclear failure, and what it serialises on.

    * ``READ``: safe to repeat; runs alongside anything.
    * ``IDEMPOTENT_WRITE``: safe to repeat (an upsert, a PUT, a transition that checks first);
      one at a time per resource.
    * ``UNSAFE_WRITE``: never repeated blindly (a POST that creates); one at a time per resource.
    """

    READ = "read"
    IDEMPOTENT_WRITE = "idempotent write"
    UNSAFE_WRITE = "unsafe write"

    @property
    def idempotent(self) -> bool:
        """Whether the queue may repeat the operation after an unclear failure."""
        return self is not Retry.UNSAFE_WRITE

    @property
    def writes(self) -> bool:
        """Whether the operation changes something remote (and so serialises on its resource)."""
        return self is not Retry.READ


def _to_json(value: object, where: str) -> Any:
    """Return ``value`` as JSON data: datetimes and dates as ISO text, tuples as lists.

    Raises:
        TypeError: Something in ``value`` has no JSON form.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_to_json(item, where) for item in value]
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{where}: JSON object keys must be strings")
        return {k: _to_json(v, where) for k, v in value.items()}
    raise TypeError(f"{where}: a {type(value).__name__} cannot travel as JSON")


class Operation(Generic[S, P, R]):
    """One remote operation: a descriptor that is a typed method on both the API and the client.

    Made by :func:`operation`; see the module docstring. Read from a class, it is
    the operation itself (``JiraApi.myself.name == "jira.myself"``); read from an
    instance, it is the method, run by that instance's :class:`Runner`.

    Args:
        body: The function: ``self`` is the in-thread API object, the other
            parameters travel as JSON when queued (a datetime or date arrives as
            ISO text, a tuple as a list: declare parameters that accept both).
        retry: The retry class.
        on: For writes, the parameters naming the resource (default: the first
            parameter); their values joined by ``#`` are the queue subkey.

    Raises:
        TypeError: ``body`` takes positional-only or variadic parameters (they
            cannot be named in JSON arguments), or ``on`` names an unknown parameter.
        ValueError: A read names a resource.
    """

    def __init__(
        self, body: Callable[Concatenate[S, P], R], *, retry: Retry, on: tuple[str, ...] = ()
    ) -> None:
        params = list(inspect.signature(body).parameters.values())[1:]
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        odd = [p.name for p in params if p.kind not in named]
        if odd:
            raise TypeError(f"{body.__name__}: parameters {odd} cannot travel as named JSON arguments")
        names = [p.name for p in params]
        if not retry.writes and on:
            raise ValueError(f"{body.__name__}: a read has no resource to serialise on")
        resource = (on or tuple(names[:1])) if retry.writes else ()
        unknown = [n for n in resource if n not in names]
        if unknown:
            raise TypeError(f"{body.__name__}: 'on' names unknown parameters {unknown}")
        self.body = body
        self.retry = retry
        self.resource = resource
        self.name = body.__name__
        self.__doc__ = body.__doc__
        self._signature = inspect.signature(body)

    def __set_name__(self, owner: type, attribute: str) -> None:
        product = getattr(owner, "PRODUCT", None)
        if not isinstance(product, str):
            raise TypeError(f"{owner.__name__} declares operations but has no PRODUCT name")
        self.name = f"{product}.{attribute}"

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(self, obj: Endpoints, owner: type | None = None) -> Callable[P, R]: ...

    def __get__(self, obj: Endpoints | None, owner: type | None = None) -> Self | Callable[P, R]:
        if obj is None:
            return self
        runner = obj._runner

        @functools.wraps(self.body)
        def method(*args: P.args, **kwargs: P.kwargs) -> R:
            return runner.run(self, args, kwargs)

        return method

    def __repr__(self) -> str:
        return f"<operation {self.name} ({self.retry.value})>"

    def arguments(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Return a call's arguments by parameter name, defaults filled in, as JSON data.

        Raises:
            TypeError: The arguments do not fit the signature, or one has no JSON form.
        """
        bound = self._signature.bind(None, *args, **kwargs)
        bound.apply_defaults()
        values = list(bound.arguments.items())[1:]
        return {name: _to_json(value, f"{self.name}({name}=...)") for name, value in values}

    def subkey(self, arguments: Mapping[str, Any]) -> str | None:
        """Return the queue subkey for these JSON arguments: the resource of a write, else ``None``."""
        if not self.resource:
            return None
        return _SUBKEY_JOIN.join(str(arguments[name]) for name in self.resource)

    def handle(self, api: S, arguments: Mapping[str, Any]) -> R:
        """Run the operation on ``api`` with JSON arguments (the queue handler)."""
        return cast(Callable[..., R], self.body)(api, **arguments)

    def pages(self: Operation[S, P, Page[T]]) -> Pages[S, P, T]:
        """Return the method that yields every item of this paged read, a page at a time."""
        return Pages(self)


class Pages(Generic[S, P, T]):
    """The items of a paged :class:`Operation`, one page fetched (or queued) at a time, lazily.

    Read from an instance, it takes the page operation's arguments; a ``cursor``
    starts from that page instead of the first.
    """

    def __init__(self, page: Operation[S, P, Page[T]]) -> None:
        self.page = page
        self.__doc__ = f"Yield every item of :meth:`{page.name}`, fetching a page at a time."

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(self, obj: Endpoints, owner: type | None = None) -> Callable[P, Iterator[T]]: ...

    def __get__(
        self, obj: Endpoints | None, owner: type | None = None
    ) -> Self | Callable[P, Iterator[T]]:
        if obj is None:
            return self
        fetch = cast(Callable[..., Page[T]], self.page.__get__(obj))

        def every(*args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
            options: dict[str, Any] = dict(kwargs)
            cursor = options.pop("cursor", None)
            while True:
                items, cursor = fetch(*args, **options, cursor=cursor)
                yield from items
                if cursor is None:
                    return

        return every


def operation(
    retry: Retry, *, on: tuple[str, ...] = ()
) -> Callable[[Callable[Concatenate[S, P], R]], Operation[S, P, R]]:
    """Declare the decorated function as a remote operation (see :class:`Operation`).

    Args:
        retry: The retry class.
        on: For writes, the parameters naming the resource written (default: the first).
    """

    def declare(body: Callable[Concatenate[S, P], R]) -> Operation[S, P, R]:
        return Operation(body, retry=retry, on=on)

    return declare


class Runner(Protocol):
    """How an object runs its operations: directly, or as queued tasks."""

    transport: Transport

    def run(self, operation: Operation[Any, ..., R], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> R:
        """Run ``operation`` with a call's arguments and return its result."""
        ...

    def close(self) -> None:
        """Release what the runner owns."""
        ...


class TaskSink(Protocol):
    """The part of :class:`~jirabucket.queue.TaskQueue` a :class:`QueuedRunner` uses."""

    def register(self, operation: str, handler: Callable[[Mapping[str, Any]], object], *, key: str) -> None:
        """Register the handler of ``operation`` for tasks of ``key``."""
        ...

    def submit(
        self, operation: str, args: Mapping[str, Any], *, key: str, idempotent: bool,
        subkey: str | None = None, durable: bool = True,
    ) -> Future[Any]:
        """Queue a task and return its future (``durable=False``: never journaled, no dead letter)."""
        ...

    def close(self) -> object:
        """Drain and stop."""
        ...


class Endpoints:
    """Base of a product's table of operations; its subclasses run them through ``_runner``.

    A table subclass sets ``PRODUCT`` (the operation names' prefix) and declares
    its operations; the API and client classes subclass the table and set
    ``_runner`` to a :class:`DirectRunner` or a :class:`QueuedRunner`.
    """

    PRODUCT: ClassVar[str]
    _runner: Runner

    @classmethod
    def operations(cls) -> list[Operation[Any, ..., Any]]:
        """Return every operation the class declares, in declaration order."""
        found: dict[str, Operation[Any, ..., Any]] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                if isinstance(value, Operation):
                    found[value.name] = value
        return list(found.values())

    @property
    def base_url(self) -> str:
        """The URL API paths are joined to."""
        return self._runner.transport.base_url

    @property
    def request_count(self) -> int:
        """HTTP requests made so far."""
        return self._runner.transport.request_count

    def close(self) -> None:
        """Close what this object owns (its HTTP session; for a client, a private queue too)."""
        self._runner.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class DirectRunner:
    """Runs operations in the calling thread: one call, its HTTP requests, no retries.

    Args:
        api: The object passed as the operations' ``self``.
        transport: The HTTP transport the API sends through (closed by :meth:`close`).
    """

    def __init__(self, api: Endpoints, transport: Transport) -> None:
        self._api = api
        self.transport = transport

    def run(self, operation: Operation[Any, ..., R], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> R:
        """Call the operation's function now."""
        return operation.body(self._api, *args, **kwargs)

    def close(self) -> None:
        """Close the HTTP session."""
        self.transport.close()


class QueuedRunner:
    """The core every queued client shares: each call a task on the queue under one key.

    Registers a handler for every operation of ``api``'s table (running it on
    ``api`` in a worker), submits each call with its JSON arguments,
    ``idempotent`` and ``subkey`` from the operation's retry class, and waits
    for the result.

    Args:
        api: The in-thread API object the tasks run on.
        queue: A shared queue, or ``None`` to own a private one (closed by :meth:`close`).
        key: The queue key, e.g. ``"jira:example.atlassian.net"``.
    """

    def __init__(self, api: Endpoints, *, queue: TaskSink | None, key: str) -> None:
        self._api = api
        self._owned = queue is None
        self.queue: TaskSink = TaskQueue(workers=_PRIVATE_WORKERS) if queue is None else queue
        self.key = key
        self.transport = api._runner.transport
        for op in api.operations():
            self.queue.register(op.name, functools.partial(op.handle, api), key=key)

    def run(self, operation: Operation[Any, ..., R], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> R:
        """Submit the operation as a task and wait for its result.

        Raises:
            TypeError: An argument has no JSON form (before anything is queued).
            JirabucketError: The task failed (after the queue's retries).
        """
        arguments = operation.arguments(args, kwargs)
        future = self.queue.submit(
            operation.name, arguments, key=self.key, idempotent=operation.retry.idempotent,
            subkey=operation.subkey(arguments),
            # Someone waits for every call made here; a read is worth nothing once that caller is gone,
            # so only writes are journaled (and become dead letters when they fail for good).
            durable=operation.retry.writes,
        )
        result: R = future.result()
        return result

    def close(self) -> None:
        """Close the queue if this runner owns it, then the API's HTTP session."""
        if self._owned:
            self.queue.close()
        self._api.close()
