"""The KPN / Vonage SMS wire protocol, without I/O.

Builders return an `ApiRequest`; parsers take the HTTP status, headers and raw body of an
answer and return models or an outcome. Both clients (async and sync) drive these, so the
wire format lives here and nowhere else.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import (
    Kind,
    KpnApiError,
    KpnAuthError,
    KpnConnectionError,
    KpnProductError,
    KpnRateLimitError,
    KpnSmsError,
)
from .models import ApiHeaders, MessagePart, Quota, Token
from .numbers import mask_number, wire_number
from .status import status_info

DEFAULT_BASE_URL = "https://api-prd.kpn.com"
TOKEN_PATH = "/oauth/client_credential/accesstoken"
SMS_PATH = "/communication/nexmo/sms"
NUMBERS_PATH = "/communication/nexmo/phone-numbers"
FORM = "application/x-www-form-urlencoded"

_THROTTLE_WAIT = re.compile(r"please wait \[\s*(\d+)\s*\]", re.IGNORECASE)
_TOKEN_FAULT_CODES = ("invalid_access_token", "access_token_expired", "invalidaccesstoken")
# Apigee's Quota and SpikeArrest policies: the request stopped at the gateway, nothing sent.
_THROTTLE_FAULT_PREFIX = "policies.ratelimit."
# Apigee's "this app may not call this resource" (keymanagement.service.* or oauth.v2.*).
_PRODUCT_FAULT_CODES = (
    "invalidapicallasnoapiproductmatchfound",
    "apiresource_doesnot_exist",
    "invalidclientidforgivenresource",
)
PRODUCT_ADVICE = (
    "the KPN app has no access to the SMS API: add the SMS product to this app in KPN's API Store"
)
# Vonage status 9 ("Partner Quota Violation"): the prepaid balance cannot pay for the text.
CREDIT_STATUS = "9"
CREDIT_ADVICE = "the KPN account is out of credit: top up its balance to send texts again"
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_DETAIL_MAX = 200


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One HTTP request to make. repr() hides the form body and the Authorization header."""

    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict, repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    # The request texts someone: a failure after it went out may have texted them already.
    sends_sms: bool = False


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What one /send attempt means for the recipient.

    `parts` (accepted) or `error` (failed) is set; both when a long text was partly accepted,
    which is never retried (it would repeat the accepted parts). What the failure means for
    a retry is the error's own classification (see errors.py): `retry` (nothing sent, sending
    again may help), `ambiguous` (the text may have gone out) and `throttled` (refused for the
    rate, nothing sent: every send of the client should pause) read it. `wait` is the
    server's hint in seconds; `token_rejected` asks the client to fetch a new token and try
    once more.
    """

    parts: tuple[MessagePart, ...] = ()
    error: KpnSmsError | None = None
    status: str | None = None
    wait: float | None = None
    token_rejected: bool = False
    headers: ApiHeaders = field(default_factory=ApiHeaders)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def retry(self) -> bool:
        return self.error is not None and self.error.transient

    @property
    def ambiguous(self) -> bool:
        return self.error is not None and self.error.ambiguous

    @property
    def throttled(self) -> bool:
        return self.error is not None and self.error.kind is Kind.THROTTLED

    @property
    def partly_sent(self) -> bool:
        """Some parts of a long text were accepted and the rest refused."""
        return self.error is not None and bool(self.parts)


# ---------------------------------------------------------------- request builders


def token_request(base_url: str, client_id: str, client_secret: str) -> ApiRequest:
    return ApiRequest(
        "POST",
        base_url.rstrip("/") + TOKEN_PATH,
        params={"grant_type": "client_credentials"},
        data={"client_id": client_id, "client_secret": client_secret},
        headers={"Content-Type": FORM, "Accept": "application/json"},
    )


def send_request(
    base_url: str,
    token: Token,
    *,
    sender: str,
    to: str,
    text: str,
    message_type: str = "text",
    ttl: int | None = None,
    status_report: bool | None = None,
    callback: str | None = None,
    client_ref: str | None = None,
    message_class: int | None = None,
) -> ApiRequest:
    """`POST /send`, form-encoded, one recipient per request. `to` goes on the wire as E.164
    digits without "+"."""
    data = {"from": sender, "to": wire_number(to), "text": text, "type": message_type}
    if ttl is not None:
        data["ttl"] = str(ttl)
    if status_report is not None:
        data["status-report-req"] = "true" if status_report else "false"
    if callback:
        data["callback"] = callback
    if client_ref:
        data["client-ref"] = client_ref
    if message_class is not None:
        data["message-class"] = str(message_class)
    return ApiRequest(
        "POST",
        base_url.rstrip("/") + SMS_PATH + "/send",
        data=data,
        headers=auth_headers(token),
        sends_sms=True,
    )


def access_check_request(base_url: str, token: Token) -> ApiRequest:
    """`POST /send` without a sender, number or text: it cannot text anyone (Vonage refuses
    it with status 2), yet it passes the gateway's checks of the token and the app's API
    products first, so a missing SMS product shows up before the first real text."""
    return ApiRequest(
        "POST", base_url.rstrip("/") + SMS_PATH + "/send", headers=auth_headers(token)
    )


def register_request(base_url: str, token: Token, *, to: str, callback_url: str) -> ApiRequest:
    """`POST /register`: the inbound webhook of a demo (test) account."""
    return ApiRequest(
        "POST",
        base_url.rstrip("/") + SMS_PATH + "/register",
        data={"to": wire_number(to), "callback_url": callback_url},
        headers=auth_headers(token),
    )


def number_update_request(
    base_url: str, token: Token, *, country: str, msisdn: str, mo_http_url: str
) -> ApiRequest:
    """Phone numbers `POST /number/update`: the inbound webhook of a virtual number."""
    return ApiRequest(
        "POST",
        base_url.rstrip("/") + NUMBERS_PATH + "/number/update",
        data={
            "country": country.upper(),
            "msisdn": wire_number(msisdn),
            "moHttpUrl": mo_http_url,
        },
        headers=auth_headers(token),
    )


def auth_headers(token: Token) -> dict[str, str]:
    """The bearer and the form content type every API request carries."""
    return {
        "Authorization": token.authorization,
        "Content-Type": FORM,
        "Accept": "application/json",
    }


# ---------------------------------------------------------------- answer parsers


def parse_headers(headers: Mapping[str, str]) -> ApiHeaders:
    """The `quota-*`, `sunset`, `api-version` and `Retry-After` headers (case-insensitive)."""
    h = {k.lower(): v for k, v in headers.items()}
    quota = None
    if any(k.startswith("quota-") for k in h):
        quota = Quota(
            limit=_int_or_none(h.get("quota-limit")),
            used=_int_or_none(h.get("quota-used")),
            interval=_int_or_none(h.get("quota-interval")),
            time_unit=h.get("quota-time-unit"),
            reset_utc=h.get("quota-reset-utc"),
        )
    return ApiHeaders(
        quota=quota,
        sunset=h.get("sunset"),
        api_version=h.get("api-version"),
        retry_after=parse_retry_after(h.get("retry-after")),
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def quota_wait(quota: Quota | None, now: float | None = None) -> float | None:
    """Seconds until an exhausted quota window resets, when the headers say so.

    The `quota-reset-UTC` format is not documented: ISO 8601 and epoch (s or ms) are read.
    """
    if quota is None or quota.remaining != 0 or not quota.reset_utc:
        return None
    value = quota.reset_utc.strip()
    when: float | None
    if value.isdigit():
        when = int(value) / (1000 if len(value) > 11 else 1)
    else:
        try:
            parsed = datetime.fromisoformat(value)  # Python 3.11 reads a "Z" too
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        when = parsed.timestamp()
    return max(when - (time.time() if now is None else now), 0.0)


def parse_token(
    status_code: int, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> Token:
    """The token answer: every value a string, `expires_in` in seconds, unknown keys ignored."""
    data = _json_object(body)
    if status_code == 200 and data is not None:
        access_token = data.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise KpnConnectionError("token answer: no access_token in the gateway's answer")
        expires_in = _float_or_none(data.get("expires_in"))
        if expires_in is None or expires_in <= 0:
            raise KpnConnectionError(
                f"token answer: expires_in {data.get('expires_in')!r} is not a positive number"
            )
        issued = time.time() if now is None else now
        return Token(
            access_token=access_token,
            expires_at=issued + expires_in,
            token_type=str(data.get("token_type") or "Bearer"),
            level=_str_or_none(data.get("level")),
        )
    if status_code == 200:
        raise KpnConnectionError(f"token answer: unreadable ({_describe_body(headers, body)})")
    error = error_from_answer(status_code, headers, body)
    if status_code >= 500 or isinstance(error, KpnRateLimitError):
        # The token service is down or busy: transient, not a verdict on the credentials.
        raise KpnConnectionError(f"token request: {error}", sent=False) from None
    if status_code in (400, 401, 403) and not isinstance(error, KpnConnectionError):
        raise KpnAuthError(f"token request refused: {error}") from None
    raise error


def parse_send(
    status_code: int, headers: Mapping[str, str], body: bytes, *, recipient: str
) -> SendOutcome:
    """One /send answer. Vonage reports per-message failures inside HTTP 200."""
    api_headers = parse_headers(headers)
    masked = mask_number(recipient)
    data = _json_object(body)
    if status_code == 200 and data is not None and isinstance(data.get("messages"), list):
        return _parse_messages(data["messages"], masked, api_headers)
    if status_code == 200:
        # A 200 we can't read: the text may have gone out, so this is ambiguous.
        err = KpnConnectionError(
            f"{masked}: unreadable answer from the gateway ({_describe_body(headers, body)})",
            sent=True,
        )
        return SendOutcome(error=err, headers=api_headers)
    error = error_from_answer(status_code, headers, body, recipient=masked, texts=True)
    # A throttle (429, or Apigee's rate-limit fault on any status, 500 included) stopped at
    # the gateway: nothing reached Vonage, so it is retried like any 429.
    wait = None
    if isinstance(error, KpnRateLimitError):
        wait = error.retry_after
        if wait is None:
            wait = quota_wait(api_headers.quota)
    return SendOutcome(
        error=error,
        wait=wait,
        token_rejected=is_token_rejection(status_code, body),
        headers=api_headers,
    )


def _parse_messages(messages: list[Any], masked: str, headers: ApiHeaders) -> SendOutcome:
    parts: list[MessagePart] = []
    failure: dict[str, Any] | None = None
    for entry in messages:
        if not isinstance(entry, dict):
            continue
        status = str(entry.get("status", "")).strip()
        if status == "0":
            parts.append(
                MessagePart(
                    message_id=str(entry.get("message-id") or ""),
                    to=str(entry.get("to") or ""),
                    price=_decimal_or_none(entry.get("message-price")),
                    remaining_balance=_decimal_or_none(entry.get("remaining-balance")),
                    network=_str_or_none(entry.get("network")),
                    client_ref=_str_or_none(entry.get("client-ref")),
                )
            )
        elif failure is None:
            failure = entry
    if failure is None and parts:
        return SendOutcome(parts=tuple(parts), status="0", headers=headers)
    if failure is None:
        err = KpnConnectionError(f"{masked}: the gateway's answer listed no messages", sent=True)
        return SendOutcome(error=err, headers=headers)
    status = str(failure.get("status", "")).strip()
    info = status_info(status)
    text = _one_line(str(failure.get("error-text") or info.meaning))
    if parts:
        # Some parts went out: sending again would repeat them, so this is never retried,
        # and it is not a throttle either (waiting would not make a retry safe).
        total = sum(isinstance(e, dict) for e in messages)
        message = (
            f"{masked}: partly sent: {len(parts)} of {total} parts accepted, the rest "
            f"refused with status {status} {info.name}: {text}; not sent again, as "
            "that would repeat the accepted parts"
        )
        partial = KpnApiError(
            message, http_status=200, status=status, detail=text, recipient=masked, partly_sent=True
        )
        return SendOutcome(parts=tuple(parts), error=partial, status=status, headers=headers)
    message = f"{masked}: status {status} {info.name}: {text}"
    if status == CREDIT_STATUS:
        message = f"{masked}: not sent: {CREDIT_ADVICE} (status {status} {info.name})"
    wait = None
    if status == "1":
        match = _THROTTLE_WAIT.search(text)
        wait = int(match.group(1)) / 1000 if match else None
        error: KpnSmsError = KpnRateLimitError(
            message, retry_after=wait, http_status=200, status=status, detail=text, recipient=masked
        )
    else:
        error = KpnApiError(
            message,
            http_status=200,
            status=status,
            detail=text,
            recipient=masked,
            transient=info.retry,
        )
    # No part was accepted (that is the partly sent case above).
    return SendOutcome(error=error, status=status, wait=wait, headers=headers)


def parse_simple(status_code: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """Answers of /register and number/update: the JSON object, or the mapped error."""
    data = _json_object(body)
    if 200 <= status_code < 300 and data is not None:
        code = data.get("error-code")
        if code is not None and str(code) != "200":
            label = _one_line(str(data.get("error-code-label") or "refused"))
            raise KpnApiError(
                f"refused: error-code {code}: {label}",
                http_status=status_code,
                code=str(code),
                detail=label,
            )
        return data
    if 200 <= status_code < 300:
        raise KpnConnectionError(f"unreadable answer ({_describe_body(headers, body)})")
    raise error_from_answer(status_code, headers, body)


def is_token_rejection(status_code: int, body: bytes) -> bool:
    """401, or the Apigee invalid/expired-token fault, which may come on any status; not a
    401 that names a throttle or a missing API product (a new token would not help)."""
    code = fault_code(body)
    if code is not None and (is_throttle_code(code) or is_product_code(code)):
        return False
    if status_code == 401:
        return True
    return code is not None and any(c in code for c in _TOKEN_FAULT_CODES)


def fault_code(body: bytes) -> str | None:
    """The Apigee fault's `detail.errorcode`, lower case, or None."""
    fault = _fault(_json_object(body))
    return fault[1].lower() if fault is not None and fault[1] else None


def is_throttle_code(code: str) -> bool:
    """Apigee's Quota or SpikeArrest violation (`policies.ratelimit.*`), on any status."""
    return code.lower().startswith(_THROTTLE_FAULT_PREFIX)


def is_product_code(code: str) -> bool:
    """Apigee's refusal of a resource that is in none of the app's API products."""
    return code.lower().rsplit(".", 1)[-1] in _PRODUCT_FAULT_CODES


def error_from_answer(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    recipient: str | None = None,
    texts: bool = False,
    product_advice: str = PRODUCT_ADVICE,
) -> KpnSmsError:
    """Map a non-success answer (any of the gateway's error bodies) to one error.

    `texts`: the request texts someone, so a 500, 502 or 504 leaves open whether it did
    (the error is ambiguous). A 503 is transient: the gateway took nothing in.
    `product_advice` ends a refusal for a missing API product: which product, what to do."""
    api_headers = parse_headers(headers)
    data = _json_object(body)
    code, detail = _error_fields(data)
    if detail is None:
        detail = _describe_body(headers, body)
    prefix = f"{recipient}: " if recipient else ""
    message = f"{prefix}HTTP {status_code}" + (f" {code}" if code else "") + f": {detail}"
    kwargs: dict[str, Any] = {
        "http_status": status_code,
        "code": code,
        "detail": detail,
        "recipient": recipient,
    }
    sent = texts and status_code in (500, 502, 504)
    transient = status_code == 503
    if status_code == 429 or (code is not None and is_throttle_code(code)):
        return KpnRateLimitError(message, retry_after=api_headers.retry_after, **kwargs)
    if code is not None and is_product_code(code):
        # About the app, not the recipient: no number in the message.
        return KpnProductError(f"HTTP {status_code} {code}: {detail}: {product_advice}", code=code)
    if is_token_rejection(status_code, body) or status_code == 403:
        return KpnAuthError(message, sent=sent)
    if status_code >= 500 and data is None:
        # An HTML or empty page from a proxy: we never reached the API proper.
        return KpnConnectionError(message, sent=sent, transient=transient)
    return KpnApiError(message, transient=transient, sent=sent, **kwargs)


def _error_fields(data: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(code, detail) from any of the error bodies KPN's gateway sends."""
    if data is None:
        return None, None
    fault = _fault(data)
    if fault is not None:
        return fault[1], _one_line(fault[0] or "fault")
    nested = data.get("error")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else data
    if "ErrorCode" in inner or "Error" in inner:  # the token endpoint's Apigee body
        return (
            _str_or_none(inner.get("ErrorCode")),
            _one_line(str(inner.get("Error") or inner.get("ErrorCode"))),
        )
    if any(k in inner for k in ("transactionId", "name", "message", "info")):  # ErrorResponse
        parts = [str(inner[k]) for k in ("message", "info") if inner.get(k)]
        detail = _one_line(": ".join(parts) or str(inner.get("name") or "error"))
        if inner.get("transactionId"):
            detail += f" (transaction {_one_line(str(inner['transactionId']))})"
        return _str_or_none(inner.get("name") or inner.get("status")), detail
    if "error-code" in inner:
        return (str(inner["error-code"]), _one_line(str(inner.get("error-code-label") or "error")))
    return None, _one_line(json.dumps(data)[:_DETAIL_MAX])


def _fault(data: dict[str, Any] | None) -> tuple[str | None, str | None] | None:
    if not data or not isinstance(data.get("fault"), dict):
        return None
    fault = data["fault"]
    detail = fault.get("detail") if isinstance(fault.get("detail"), dict) else {}
    return _str_or_none(fault.get("faultstring")), _str_or_none(detail.get("errorcode"))


def _describe_body(headers: Mapping[str, str], body: bytes) -> str:
    if not body.strip():
        return "empty body"
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    text = body[:2000].decode("utf-8", "replace")
    if "html" in ctype.lower() or text.lstrip().startswith("<"):
        title = _HTML_TITLE.search(text)
        return "HTML page" + (f" {_one_line(title.group(1))!r}" if title else "")
    return f"not JSON: {_one_line(text)!r}"


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _DETAIL_MAX else line[: _DETAIL_MAX - 1] + "…"


def _str_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def _decimal_or_none(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:  # None and "" too
        return None
