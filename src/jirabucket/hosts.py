"""Where the products live: URL safety rules, flavor inference and host keys.

A bottom-layer module (it imports only :mod:`jirabucket.errors` and
:mod:`jirabucket.models`), so settings and clients apply the same rules without
importing each other:

- a token is sent only over ``https``; plain ``http`` only to loopback hosts
  (127.0.0.0/8, ``::1``, ``localhost``), so the simulators work and tokens never
  cross a network in clear text;
- ``*.atlassian.net`` is Jira Cloud, ``bitbucket.org`` / ``api.bitbucket.org``
  Bitbucket Cloud, anything else Data Center;
- the queue key of a host is ``<product>:<host[:port]>``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from jirabucket.errors import ConfigError
from jirabucket.models import Flavor

__all__ = [
    "BITBUCKET_CLOUD_HOSTS",
    "check_url",
    "host_key",
    "infer_bitbucket_flavor",
    "infer_jira_flavor",
    "is_loopback",
    "origin_of",
    "safe_url",
]

BITBUCKET_CLOUD_HOSTS = frozenset({"bitbucket.org", "api.bitbucket.org"})


def check_url(url: str, *, variable: str) -> str:
    """Validate a service URL and return it without a trailing slash.

    Args:
        url: The URL to check.
        variable: Where it came from, for the message (``"JIRA_URL"``, ``"the Jira URL"``).

    Returns:
        The URL, normalised.

    Raises:
        ConfigError: The URL is malformed, carries credentials, has a query or
            fragment, or is plain http to a non-loopback host.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:  # also refuses ftp:// and bare hosts
        raise ConfigError(f"{variable} must be an https:// URL like https://acme.atlassian.net, got {url!r}")
    if parts.username or parts.password:
        raise ConfigError(f"{variable} must not contain credentials: put tokens in the environment")
    if parts.query or parts.fragment:
        raise ConfigError(f"{variable} must not have a query or fragment: give the base URL only")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(f"{variable} uses plain http to {parts.hostname}: use https (http is for loopback only)")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def is_loopback(host: str) -> bool:
    """Return whether ``host`` names this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def infer_jira_flavor(url: str) -> Flavor:
    """Return ``"cloud"`` for ``*.atlassian.net`` hosts, else ``"datacenter"``."""
    host = (urlsplit(url).hostname or "").lower()
    return "cloud" if host.endswith(".atlassian.net") else "datacenter"


def infer_bitbucket_flavor(url: str) -> Flavor:
    """Return ``"cloud"`` for ``bitbucket.org`` and ``api.bitbucket.org``, else ``"datacenter"``."""
    return "cloud" if (urlsplit(url).hostname or "").lower() in BITBUCKET_CLOUD_HOSTS else "datacenter"


def host_key(url: str) -> str:
    """Return ``host[:port]`` of ``url``, lower case, without credentials."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def origin_of(url: str) -> tuple[str, str]:
    """Return ``(scheme, host[:port])`` of ``url``, to compare where links point."""
    return urlsplit(url).scheme.lower(), host_key(url)


def safe_url(url: str) -> str:
    """Return ``url`` without any user info or fragment, for messages."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
