"""The HTTP plumbing the simulators share: messages, routing, the server base and the stdlib transport."""

from __future__ import annotations

from jirabucket.testing.http.messages import BadRequest, Request, Response, json_response, text_response
from jirabucket.testing.http.routing import Handler, Route, Router
from jirabucket.testing.http.server import Credentials, SimulatorBase

__all__ = [
    "BadRequest",
    "Credentials",
    "Handler",
    "Request",
    "Response",
    "Route",
    "Router",
    "SimulatorBase",
    "json_response",
    "text_response",
]
