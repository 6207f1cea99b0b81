"""How a request appears in the log: by its route pattern, never its path.

`/inbound/<secret>` holds the path secret, the only guard of inbound when signatures are
off, so every line about a request names the route (`/inbound/{secret}`) and never the path
or query. aiohttp's own lines are kept in that shape too: its access log goes through
`SafeAccessLogger`, and its "Error handling request" traceback for a malformed HTTP message
(anyone can send one) becomes a one-line DEBUG note.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

_LOGGER = logging.getLogger("kpn_sms_notify.server")
ACCESS_LOGGER = logging.getLogger("kpn_sms_notify.server.access")


def route_of(request: web.BaseRequest) -> str:
    """The matched route's pattern (`/inbound/{secret}`), or `(no route)` when none matched.
    A path that matched nothing may be a mistyped secret: it is not shown either."""
    try:
        match_info = getattr(request, "match_info", None)
    except AssertionError:  # a request aiohttp refused before routing it
        return "(no route)"
    route = getattr(match_info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is None:
        return "(no route)"
    return str(resource.canonical)


class SafeAccessLogger(AbstractAccessLogger):
    """aiohttp's access log at DEBUG: method, route pattern, status, seconds."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.debug(
            "%s %s %d %.3fs", request.method, route_of(request), response.status, time
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.DEBUG)


class MalformedRequestFilter(logging.Filter):
    """Turn aiohttp's ERROR traceback for a malformed HTTP message into a one-line DEBUG
    note on our own logger (aiohttp answers such a message 400 itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            # Only the kind: the message may quote the request line, path secret included.
            _LOGGER.debug("malformed HTTP request refused (400): %s", type(exc).__name__)
            return False
        return True


_FILTER = MalformedRequestFilter()


def install_log_filter() -> None:
    """Idempotent: attach the filter to aiohttp's server logger."""
    logger = logging.getLogger("aiohttp.server")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
