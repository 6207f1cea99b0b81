"""Answer bodies the KPN gateway sends: JSON with KPN headers, the KPN ErrorResponse,
the Apigee fault envelope, proxy HTML pages, and deliberately broken bodies."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from .state import EmulatorState

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    412: "Precondition Failed",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    412: "PreconditionFailed",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
}


def kpn_json(
    state: EmulatorState,
    body: Any,
    status: int = 200,
    extra_headers: dict[str, str] | None = None,
) -> web.Response:
    """A JSON answer with the KPN response headers (quota-*, sunset, api-version)."""
    headers = state.quota_headers()
    if extra_headers:
        headers.update(extra_headers)
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        headers=headers,
    )


def error_body(status: int, message: str, info: str = "") -> dict[str, str]:
    """KPN's ErrorResponse: {transactionId, status, name, message, info}, all strings."""
    return {
        "transactionId": str(uuid.uuid4()),
        "status": str(status),
        "name": _NAMES.get(status, REASONS.get(status, "Error").replace(" ", "")),
        "message": message,
        "info": info or "https://developer.kpn.com/documentation-response-headers",
    }


def kpn_error(
    state: EmulatorState,
    status: int,
    message: str = "",
    info: str = "",
    extra_headers: dict[str, str] | None = None,
) -> web.Response:
    return kpn_json(
        state,
        error_body(status, message or REASONS.get(status, "Error"), info),
        status=status,
        extra_headers=extra_headers,
    )


def apigee_fault(
    state: EmulatorState, status: int, faultstring: str, errorcode: str
) -> web.Response:
    body = {"fault": {"faultstring": faultstring, "detail": {"errorcode": errorcode}}}
    return kpn_json(state, body, status=status)


# Apigee's own texts (the double space is Apigee's).
QUOTA_FAULT = "Rate limit quota violation. Quota limit  exceeded. Identifier : _default"
QUOTA_ERRORCODE = "policies.ratelimit.QuotaViolation"
SPIKE_ERRORCODE = "policies.ratelimit.SpikeArrestViolation"
PRODUCT_FAULT = "Invalid API call as no apiproduct match found"
PRODUCT_ERRORCODE = "keymanagement.service.InvalidAPICallAsNoApiProductMatchFound"


def ratelimit_fault(state: EmulatorState, status: int, kind: str) -> web.Response:
    """Apigee's Quota ("quota") or SpikeArrest ("spike") violation: no Retry-After."""
    if kind == "spike":
        rate = state.knob("rate_limit")
        allowed = f"{rate:g}ps" if rate else "30ps"
        return apigee_fault(
            state, status, f"Spike arrest violation. Allowed rate : {allowed}", SPIKE_ERRORCODE
        )
    return apigee_fault(state, status, QUOTA_FAULT, QUOTA_ERRORCODE)


def product_fault(state: EmulatorState) -> web.Response:
    """Apigee's answer to a call outside the app's API products (the token is fine)."""
    return apigee_fault(state, 401, PRODUCT_FAULT, PRODUCT_ERRORCODE)


def html_page(state: EmulatorState, status: int) -> web.Response:
    """What a proxy in front of the gateway answers: an HTML page, not JSON."""
    title = f"{status} {REASONS.get(status, 'Error')}"
    text = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return web.Response(
        status=status, text=text, content_type="text/html", headers=state.quota_headers()
    )


def broken(state: EmulatorState, status: int, kind: str) -> web.Response:
    """An answer with a broken body: kind "malformed" (cut-off JSON), "html" or "empty"."""
    if kind == "html":
        return html_page(state, status)
    if kind == "empty":
        return web.Response(
            status=status, body=b"", content_type="application/json", headers=state.quota_headers()
        )
    return web.Response(
        status=status,
        text='{"message-count":"1","messages":[{"to":"31',
        content_type="application/json",
        headers=state.quota_headers(),
    )


def error_of_kind(state: EmulatorState, status: int, kind: str, message: str = "") -> web.Response:
    """An HTTP error with the body `kind`: kpn, apigee, html, empty, malformed, or Apigee's
    rate-limit faults quota and spike."""
    if kind in ("quota", "spike"):
        return ratelimit_fault(state, status, kind)
    if kind == "kpn":
        return kpn_error(state, status, message)
    if kind == "apigee":
        return apigee_fault(
            state,
            status,
            message or REASONS.get(status, "Error"),
            "messaging.adaptors.http.flow.ErrorResponseCode",
        )
    return broken(state, status, kind)
