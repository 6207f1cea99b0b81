"""The HTTP edge: one TLS context per process, and httpx failures mapped once to a
SendOutcome or an error."""

from __future__ import annotations

import functools
import ssl

import httpx

from .errors import KpnConnectionError, KpnSmsError, KpnTimeoutError
from .protocol import SendOutcome

# Raised before the request left: sending again cannot text anyone twice.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """A verifying TLS context, built once: building one reads the CA bundle (50-90 ms of
    CPU), which a client per notification (Apprise) would otherwise pay every time."""
    import certifi  # httpx's own CA bundle, so verification matches httpx's default

    return ssl.create_default_context(cafile=certifi.where())


def error_from_exception(exc: httpx.HTTPError, what: str) -> KpnSmsError:
    """`what` names the call ("token request", a masked number) for the message."""
    sent = not isinstance(exc, _NOT_SENT)
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        stage = "answer" if sent else "connection"
        return KpnTimeoutError(f"{what}: timed out waiting for the gateway's {stage} ({kind})",
                               sent=sent)
    if not sent:
        return KpnConnectionError(f"{what}: could not connect to the gateway ({kind})", sent=False)
    return KpnConnectionError(f"{what}: connection lost before the gateway answered ({kind})",
                              sent=True)


def outcome_from_exception(exc: httpx.HTTPError, masked: str) -> SendOutcome:
    error = error_from_exception(exc, masked)
    sent = getattr(error, "sent", True)
    return SendOutcome(error=error, retry=not sent, ambiguous=sent)
