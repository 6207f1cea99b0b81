"""The HTTP edge: one TLS context per process, and the one place where an httpx failure
becomes a library error, raised `from` the httpx error and saying why in words: name not
resolved, certificate not trusted, connection refused, timed out after N s.

Messages name the host and port, never the path or query of the URL.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from .errors import KpnConnectionError, KpnTimeoutError
from .protocol import ApiRequest

# Raised before the request left: sending again cannot text anyone twice.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
_DETAIL_MAX = 160


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """A verifying TLS context, built once: building one reads the CA bundle (50-90 ms of
    CPU), which a client per notification (Apprise) would otherwise pay every time."""
    import certifi  # httpx's own CA bundle, so verification matches httpx's default

    return ssl.create_default_context(cafile=certifi.where())


@contextmanager
def library_errors(request: ApiRequest, *, what: str, timeout: float) -> Iterator[None]:
    """Run one exchange of `request`; an httpx failure inside is raised as a
    KpnConnectionError (KpnTimeoutError for time-outs) from it. `what` names the call in
    the message ("token request", a masked number)."""
    try:
        yield
    except httpx.HTTPError as exc:
        raise error_from_exception(
            exc, what=what, timeout=timeout, sends_sms=request.sends_sms
        ) from exc


def error_from_exception(
    exc: httpx.HTTPError, *, what: str, timeout: float, sends_sms: bool = False
) -> KpnConnectionError:
    """The library error for an httpx failure. `sent` (a retry may text twice) is set only
    when the request texts someone and the failure came after it left."""
    left = not isinstance(exc, _NOT_SENT)
    sent = sends_sms and left
    where = _where(exc)
    if isinstance(exc, httpx.TimeoutException):
        doing = {
            httpx.ConnectTimeout: f"connecting to the gateway at {where}",
            httpx.PoolTimeout: "waiting for a free connection to the gateway",
            httpx.WriteTimeout: f"sending the request to the gateway at {where}",
        }.get(type(exc), f"waiting for the gateway's answer ({where})")
        return KpnTimeoutError(f"{what}: timed out after {timeout:g} s {doing}", sent=sent)
    if not left:
        return KpnConnectionError(f"{what}: could not connect to the gateway: {_why(exc, where)}")
    return KpnConnectionError(
        f"{what}: connection lost before the gateway answered ({where}: {_detail(exc)})", sent=sent
    )


def _why(exc: httpx.HTTPError, where: str) -> str:
    """Why a connection could not be made, from the OS or TLS error underneath."""
    host = where.rsplit(":", 1)[0]
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            return f"host name {host} not resolved ({_one_line(cause.strerror or str(cause))})"
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = cause.verify_message or cause.reason or "verification failed"
            return f"the TLS certificate of {where} is not trusted ({_one_line(reason)})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake with {where} failed ({_one_line(cause.reason or str(cause))})"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {where}"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"unsupported URL ({_detail(exc)})"
    return f"{where}: {_detail(exc)}"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _where(exc: httpx.HTTPError) -> str:
    """host:port of the failed request; never its path or query."""
    try:
        url = exc.request.url
    except RuntimeError:  # an httpx error raised without its request
        return "the gateway"
    port = url.port or {"https": 443, "http": 80}.get(url.scheme)
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{host}:{port}" if port else host


def _detail(exc: BaseException) -> str:
    text = str(exc).strip()
    return _one_line(text) if text else type(exc).__name__


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= _DETAIL_MAX else line[: _DETAIL_MAX - 1] + "…"
