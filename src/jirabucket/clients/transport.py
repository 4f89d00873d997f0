"""The HTTP edge shared by both clients: session, auth, timeout, URL checks, error translation.

Every request goes through :meth:`Transport.call`, which asks the
atlassian-python-api object for the raw response (``advanced_mode=True``), so
that the status, ``Retry-After`` and body survive, and turns failures into the
:mod:`jirabucket.errors` tree. atlassian-python-api's own retries are off:
``backoff_and_retry=False`` drops its urllib3 ``Retry`` and
``retry_with_header=False`` drops its one-shot sleep on a 429, so the queue
alone decides when to try again.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol, cast
from urllib.parse import urlsplit, urlunsplit

import requests

from jirabucket.errors import (
    ApiError,
    PermanentError,
    TransientError,
    error_for_status,
)
from jirabucket.hosts import check_url, origin_of, safe_url
from jirabucket.queue import retry_after_from_headers

__all__ = ["Transport", "check_base_url", "error_from_response", "make_session", "rest_options"]

_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
# Anything that looks like a credential in an echoed body is masked before it is kept.
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}")
_DNS_WORDS = ("name or service not known", "nodename nor servname", "temporary failure in name resolution",
              "getaddrinfo failed", "name resolution", "no address associated")
_log = logging.getLogger("jirabucket.http")
_BODY_KEEP = 1000
_SAID_KEEP = 160


def network_cause(exc: BaseException, *, timeout: float) -> str:
    """Say in a few words why a request never got an answer: DNS, refused, reset, timeout.

    ``requests`` wraps urllib3's errors, which wrap the socket's; the words that
    matter are in their messages, so they are matched there.
    """
    host = ""
    if isinstance(exc, requests.RequestException) and exc.request is not None and exc.request.url:
        host = urlsplit(exc.request.url).netloc.rpartition("@")[2]
    text = _cause_text(exc).lower()
    at = f" {host}" if host else ""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"could not connect to{at} within {timeout:g} s (timeout)"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no answer from{at} within {timeout:g} s (timeout)"
    if any(words in text for words in _DNS_WORDS):
        return f"DNS lookup of{at or ' the host'} failed (is the host name right?)"
    if "refused" in text:
        return f"connection to{at} refused (is the server up, and the port right?)"
    if "reset" in text or "aborted" in text or "remote end closed" in text or isinstance(
        exc, requests.exceptions.ChunkedEncodingError
    ):
        return f"connection to{at} reset before the answer came"
    return f"could not reach{at} ({type(exc).__name__})"


def _cause_text(exc: BaseException) -> str:
    """The messages down an exception's chain (requests -> urllib3 -> socket), without any credential."""
    seen: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 6:
        seen.append(str(current))
        current = current.__cause__ or current.__context__
    return _CREDENTIAL.sub(r"\1 [secure]", " | ".join(seen))[:300]


class RestApi(Protocol):
    """The part of ``atlassian.rest_client.AtlassianRestAPI`` the transport uses."""

    url: str
    timeout: float

    def request(
        self,
        method: str,
        *,
        path: str,
        json: Any,
        params: Any,
        absolute: bool,
        advanced_mode: bool,
    ) -> requests.Response:
        """Send one request and return the response."""
        ...

    def close(self) -> None:
        """Close the session."""
        ...


def check_base_url(url: str, *, what: str) -> str:
    """Return ``url`` without a trailing slash after checking it is safe to send a token to.

    Args:
        url: The server's base URL.
        what: The product, for messages (``"Jira"``, ``"Bitbucket"``).

    Raises:
        ConfigError: See :func:`jirabucket.hosts.check_url`.
    """
    return check_url(url, variable=f"the {what} URL")


def make_session(auth: requests.auth.AuthBase, *, base_url: str) -> requests.Session:
    """Return a session that sends ``auth`` to ``base_url`` and verifies TLS.

    ``requests`` drops the ``Authorization`` header when a redirect leaves the
    host (``Session.should_strip_auth``), and ``session.auth`` is not put back
    on redirects, so the token never reaches another host.

    The environment is read once, here, for the one host a client talks to:
    ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` unless ``NO_PROXY`` names
    the host, and ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` for the CA file.
    ``requests`` would otherwise read them again on every request (walking the
    whole environment twice, about a third of a request's CPU on loopback),
    and would also consult ``~/.netrc``, a credential source this toolkit
    never uses (tokens come from the environment only).

    Args:
        auth: The token's auth object.
        base_url: The server's base URL (the proxy choice depends on its host).

    Returns:
        The session.
    """
    session = requests.Session()
    session.trust_env = False
    proxies = requests.utils.get_environ_proxies(base_url)
    session.proxies = {scheme: url for scheme, url in proxies.items() if scheme != "no"}
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    session.verify = bundle or True
    session.auth = auth
    return session


def _body_excerpt(response: requests.Response) -> str:
    """Return the start of a response body with anything credential-like masked."""
    text = response.content[: _BODY_KEEP * 4].decode("utf-8", errors="replace")
    return _CREDENTIAL.sub(r"\1 [secure]", text[:_BODY_KEEP])


def error_from_response(response: requests.Response, *, method: str) -> ApiError:
    """Translate a failed HTTP answer into the error tree.

    Args:
        response: An answer with status >= 400.
        method: The request's method.

    Returns:
        The error (not raised), carrying status, ``Retry-After`` and a body excerpt.
    """
    status = response.status_code
    url = safe_url(response.url or "")
    path = urlsplit(url).path
    cls = error_for_status(status)
    reason = f" {response.reason}" if response.reason else ""
    body = _body_excerpt(response)
    # The message shows the start of the server's explanation; the error keeps 300 chars.
    said = " ".join(body.split())
    said = f": {said[:_SAID_KEEP]}" if said else ""
    return cls(
        f"{method} {path} answered HTTP {status}{reason}{said}",
        status=status,
        body=body,
        retry_after=retry_after_from_headers(response.headers),
        method=method,
        url=url,
    )


class Transport:
    """Sends requests through one atlassian-python-api object and counts them.

    Args:
        rest: The atlassian-python-api object (built on a session from
            :func:`make_session`).
        timeout: Seconds before a connect or read gives up (kept as a float;
            atlassian-python-api would round it down to an int).
    """

    def __init__(self, rest: object, *, timeout: float) -> None:
        self._rest = cast(RestApi, rest)
        self._rest.timeout = timeout
        self._lock = threading.Lock()
        self._count = 0

    @property
    def base_url(self) -> str:
        """The URL relative paths are joined to."""
        return self._rest.url.rstrip("/")

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (a redirect chain counts once)."""
        with self._lock:
            return self._count

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        absolute: bool = False,
    ) -> Any:
        """Send one request and return its JSON body (``None`` when empty, text if not JSON).

        Args:
            method: ``GET``, ``POST``, ``PUT`` or ``DELETE``.
            path: Path relative to :attr:`base_url`, or an absolute URL on the same
                origin when ``absolute`` is true.
            params: Query parameters; a list value repeats the parameter.
            json: A JSON body.
            absolute: ``path`` is a full URL.

        Returns:
            The decoded JSON body, or the text for non-JSON answers.

        Raises:
            ApiError: The server answered >= 400 (the subclass follows the
                status), or the network failed (TransientError, status None).
            PermanentError: ``path`` is absolute and points at another origin.
        """
        if absolute and origin_of(path) != origin_of(self.base_url):
            raise PermanentError(
                f"refusing to follow a link to another origin: {safe_url(path)}", method=method
            )
        response = self._send(method, path, params=params, json=json, absolute=absolute)
        if response.status_code >= 400:
            raise error_from_response(response, method=method)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        absolute: bool,
    ) -> requests.Response:
        """Send the request, log the attempt, translate network failures into one line naming host and cause."""
        with self._lock:
            self._count += 1
        where = safe_url(path if absolute else f"{self.base_url}/{path.lstrip('/')}")
        # Logged without the query: a JQL or a paging token is nobody's business in a log.
        shown = urlunsplit(urlsplit(where)._replace(query=""))
        started = time.monotonic()
        try:
            response = self._rest.request(
                method,
                path=path,
                json=json,
                params=dict(params) if params else None,
                absolute=absolute,
                advanced_mode=True,
            )
        except requests.exceptions.SSLError as exc:
            _log.debug("%s %s -> TLS error after %.2f s", method, shown, time.monotonic() - started)
            host = urlsplit(where).netloc
            raise PermanentError(
                f"{method} {shown} failed: TLS error talking to {host} ({_cause_text(exc)}); check the URL "
                "and the server's certificate", method=method, url=where,
            ) from None
        except _NETWORK_ERRORS as exc:
            cause = network_cause(exc, timeout=self._rest.timeout)
            _log.debug("%s %s -> %s after %.2f s", method, shown, cause, time.monotonic() - started)
            raise TransientError(
                f"{method} {shown} failed: {cause}", method=method, url=where,
            ) from None
        except requests.RequestException as exc:
            raise PermanentError(
                f"{method} {shown} failed: {type(exc).__name__}: {_cause_text(exc)}", method=method, url=where
            ) from None
        _log.debug("%s %s -> %d in %.2f s", method, shown, response.status_code, time.monotonic() - started)
        return response

    def close(self) -> None:
        """Close the session and its connections."""
        self._rest.close()


def rest_options(auth: requests.auth.AuthBase, *, base_url: str) -> dict[str, Any]:
    """Return the options every atlassian-python-api object for ``base_url`` is built with.

    Its own retries are off, so the queue alone decides when to try again.
    """
    return {
        "session": make_session(auth, base_url=base_url),
        "backoff_and_retry": False,  # no urllib3 Retry: the queue retries
        "retry_with_header": False,  # no one-shot sleep on 429: the queue waits
    }
