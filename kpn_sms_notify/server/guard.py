"""Bounds on what a caller can hold of the server: read timeouts, connections, requests.

aiohttp has no timeout on reading a request's headers or body (slowloris: sockets that send
nothing, or a byte now and then, stay open for ever and eat file descriptors). Every
connection is therefore wrapped in a `GuardedConnection`, a thin asyncio protocol in front
of aiohttp's own:

- a connection must deliver a request's headers within `header_timeout` seconds of opening,
  or of its previous answer (a kept-alive connection idle that long is closed too);
- a request's body must have arrived within `body_timeout` seconds of its headers (the
  handler reading it gets `BodyTimeout`, answered 408, and the connection is closed);
- at most `max_connections` are open: at the cap, the connection idle the longest (no
  request in progress) is closed to make room; when none is idle, the newcomer gets a
  bare 503 and is closed;
- `guard_middleware` caps requests in flight at `max_in_flight`; a request beyond it
  waits up to `busy_wait` seconds for a slot, then gets 503 with Retry-After; /healthz
  and /metrics are exempt so the service stays observable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .state import STATE

_LOGGER = logging.getLogger("kpn_sms_notify.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

EXEMPT_PATHS = frozenset({"/healthz", "/metrics"})
_FULL = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 25\r\nConnection: close\r\n\r\ntoo many open connections"
)


class BodyTimeout(Exception):
    """The request body did not arrive in time."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"body: not received within {seconds:g} s")


@dataclass(frozen=True, slots=True)
class Limits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 256
    max_in_flight: int = 64
    busy_wait: float = 5.0


class ConnectionGuard:
    """Makes the protocols for a listening socket and keeps count of them."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.idle: dict[GuardedConnection, None] = {}  # oldest idle first
        self.busy: set[GuardedConnection] = set()
        self.in_flight = 0
        self.slots = asyncio.Semaphore(limits.max_in_flight)
        self.refused = 0  # connections answered 503 at the cap
        self.evicted = 0  # idle connections closed to make room
        self.timed_out = 0  # connections closed by a read timeout

    def factory(self, make: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        def protocol() -> asyncio.Protocol:
            return GuardedConnection(self, make)

        return protocol

    @property
    def open(self) -> int:
        return len(self.idle) + len(self.busy)

    def admit(self, conn: GuardedConnection) -> bool:
        """Room for one more connection? Closes the longest-idle one when at the cap."""
        if self.open >= self.limits.max_connections:
            if not self.idle:
                self.refused += 1
                return False
            oldest = next(iter(self.idle))
            self.forget(oldest)
            self.evicted += 1
            oldest.abort()
        self.idle[conn] = None
        return True

    def forget(self, conn: GuardedConnection) -> None:
        self.idle.pop(conn, None)
        self.busy.discard(conn)


class GuardedConnection(asyncio.Protocol):
    """aiohttp's protocol for one connection, plus the header and body deadlines."""

    def __init__(self, guard: ConnectionGuard, make: Callable[[], asyncio.Protocol]) -> None:
        self.guard = guard
        self._make = make
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol, forwarded to aiohttp's handler

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self.guard.admit(self):
            transport.write(_FULL)
            transport.close()
            return
        self.inner = self._make()
        self.inner.connection_made(transport)
        self._wait_for_headers()

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self.guard.forget(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    # -- request phases (from guard_middleware)

    def request_started(self, request: web.BaseRequest) -> None:
        self._cancel_timer()
        self.guard.idle.pop(self, None)
        self.guard.busy.add(self)
        if not request.content.is_eof():
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.guard.limits.body_timeout, self._body_late, request)

    def request_finished(self) -> None:
        self._cancel_timer()
        self.guard.busy.discard(self)
        if self.transport is None or self.transport.is_closing():
            return
        self.guard.idle[self] = None
        self._wait_for_headers()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # -- internals

    def _wait_for_headers(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.guard.limits.header_timeout, self._headers_late)

    def _headers_late(self) -> None:
        self._timer = None
        self.guard.timed_out += 1
        _LOGGER.debug(
            "closed a connection: no complete request headers within %g s",
            self.guard.limits.header_timeout,
        )
        self.abort()

    def _body_late(self, request: web.BaseRequest) -> None:
        self._timer = None
        if request.content.is_eof():
            return
        self.guard.timed_out += 1
        request.content.set_exception(BodyTimeout(self.guard.limits.body_timeout))
        # The handler reading the body answers 408 and closes; should it not be reading,
        # the connection goes after one more header timeout.
        self._timer = asyncio.get_running_loop().call_later(
            self.guard.limits.header_timeout, self.abort
        )

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def connection_of(request: web.BaseRequest) -> GuardedConnection | None:
    transport = request.transport
    protocol: Any = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, GuardedConnection) else None


def busy_answer() -> web.Response:
    return web.json_response(
        {"error": "busy", "reason": "too many requests in flight; try again"},
        status=503,
        headers={"Retry-After": "1"},
    )


GUARD: web.AppKey[ConnectionGuard] = web.AppKey("kpn_sms_guard", ConnectionGuard)


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Track the request's phase on its connection; beyond `max_in_flight`, wait up to
    `busy_wait` for a slot (the body is not read yet, so a waiting request holds little),
    then answer 503 with Retry-After."""
    guard = request.app[GUARD]
    conn = connection_of(request)
    if conn is not None:
        conn.request_started(request)
    try:
        if request.path in EXEMPT_PATHS:
            return await handler(request)
        try:
            async with asyncio.timeout(guard.limits.busy_wait):
                await guard.slots.acquire()
        except TimeoutError:
            # Counted, not logged per request: a flood must not become a log flood.
            request.app[STATE].metrics.inc("kpn_sms_webhook_rejected_total", reason="busy")
            return busy_answer()
        guard.in_flight += 1
        try:
            return await handler(request)
        finally:
            guard.in_flight -= 1
            guard.slots.release()
    finally:
        if conn is not None:
            conn.request_finished()
