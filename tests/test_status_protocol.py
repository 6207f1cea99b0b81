"""The protocol core: status table, token and send answers, gateway error bodies, headers."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from kpn_sms_notify import protocol
from kpn_sms_notify.errors import (
    KpnApiError,
    KpnAuthError,
    KpnConnectionError,
    KpnProductError,
    KpnRateLimitError,
)
from kpn_sms_notify.models import ApiHeaders, MessagePart, Quota, Token
from kpn_sms_notify.status import STATUSES, status_info

JSON = {"content-type": "application/json"}


def _b(data: object) -> bytes:
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("code", "retry"),
    [
        ("0", False),
        ("1", True),
        ("2", False),
        ("3", False),
        ("4", False),
        ("5", True),
        ("6", False),
        ("7", False),
        ("8", False),
        ("9", False),
        ("10", True),
        ("11", False),
        ("12", False),
        ("13", True),
        ("14", False),
        ("15", False),
        ("16", False),
        ("19", False),
        ("20", False),
        ("22", False),
        ("23", False),
        ("29", False),
        ("32", False),
        ("33", False),
        ("34", False),
    ],
)
def test_status_table(code: str, retry: bool) -> None:
    info = status_info(code)
    assert info.code == code and info.retry is retry and info.name and info.meaning


def test_unknown_status_is_permanent() -> None:
    assert status_info("99").retry is False
    assert set(STATUSES) >= {str(c) for c in range(0, 17)} - {"17", "18"}


def test_token_request_shape() -> None:
    req = protocol.token_request("https://api-prd.kpn.com/", "id", "s3cret")
    assert req.url == "https://api-prd.kpn.com/oauth/client_credential/accesstoken"
    assert req.params == {"grant_type": "client_credentials"}
    assert req.data == {"client_id": "id", "client_secret": "s3cret"}
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "s3cret" not in repr(req)


def test_parse_token_reads_strings_and_ignores_unknown_fields() -> None:
    body = _b(
        {
            "access_token": "staG765sBUuai4OMeZiTful6PTRt",
            "expires_in": "3599",
            "token_type": "Bearer",
            "issued_at": "1587458037687",
            "level": "demo",
            "developer.email": "x",
            "api_product_list_json": ["a"],
        }
    )
    token = protocol.parse_token(200, JSON, body, now=1000.0)
    assert token.expires_at == 1000.0 + 3599 and token.level == "demo"
    assert "staG765" not in repr(token) and "staG765" not in str(token)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"ErrorCode": "invalid_client", "Error": "ClientId is Invalid"}, KpnAuthError),
        (400, {"ErrorCode": "invalid_request", "Error": "bad"}, KpnAuthError),
        (500, b"<html><title>Bad gateway</title></html>", KpnConnectionError),
        (503, b"", KpnConnectionError),
        (200, {"token_type": "Bearer", "expires_in": "3599"}, KpnConnectionError),
        (200, {"access_token": "", "expires_in": "3599"}, KpnConnectionError),
        (200, {"access_token": "x", "expires_in": "soon"}, KpnConnectionError),
        (200, b"<html>", KpnConnectionError),
    ],
)
def test_parse_token_errors(status: int, body: object, error: type[Exception]) -> None:
    raw = body if isinstance(body, bytes) else _b(body)
    with pytest.raises(error):
        protocol.parse_token(status, JSON, raw)


@pytest.mark.parametrize(
    ("answer", "complaint"),
    [
        ({"token_type": "Bearer", "expires_in": "3599"}, "no access_token"),
        ({"access_token": 7, "expires_in": "3599"}, "no access_token"),
        ({"access_token": "x", "expires_in": "0"}, "expires_in '0' is not a positive number"),
        ({"access_token": "x", "expires_in": "-5"}, "expires_in '-5' is not a positive"),
        ({"access_token": "x"}, "expires_in None is not a positive number"),
    ],
)
def test_token_answer_without_a_usable_token_or_lifetime_is_refused(
    answer: dict[str, object], complaint: str
) -> None:
    """Each answer lacks exactly one thing; the error says which."""
    with pytest.raises(KpnConnectionError, match=complaint):
        protocol.parse_token(200, JSON, _b(answer), now=1000.0)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_busy_or_failing_token_endpoint_is_transient(status: int) -> None:
    """A JSON error from the token endpoint on 5xx or 429 is not a verdict on the credentials:
    a transient KpnConnectionError with nothing sent, never KpnAuthError or KpnApiError."""
    body = _b(
        {
            "transactionId": "t",
            "status": str(status),
            "name": "Error",
            "message": "The token service is not available",
            "info": "",
        }
    )
    with pytest.raises(KpnConnectionError) as caught:
        protocol.parse_token(status, JSON, body)
    assert type(caught.value) is KpnConnectionError and caught.value.sent is False
    assert f"HTTP {status}" in str(caught.value)


def test_parse_token_invalid_client_message() -> None:
    with pytest.raises(KpnAuthError, match="invalid_client: ClientId is Invalid"):
        protocol.parse_token(
            401, JSON, _b({"ErrorCode": "invalid_client", "Error": "ClientId is Invalid"})
        )


def test_send_request_is_form_encoded_with_wire_names() -> None:
    token = Token("tok", expires_at=1e12)
    req = protocol.send_request(
        "http://127.0.0.1:1",
        token,
        sender="KPNAlert",
        to="31612345678",
        text="hi",
        message_type="unicode",
        ttl=900000,
        status_report=True,
        callback="https://x/dlr",
        client_ref="ref-1",
        message_class=1,
    )
    assert req.url.endswith("/communication/nexmo/sms/send") and req.sends_sms
    assert req.data == {
        "from": "KPNAlert",
        "to": "31612345678",
        "text": "hi",
        "type": "unicode",
        "ttl": "900000",
        "status-report-req": "true",
        "callback": "https://x/dlr",
        "client-ref": "ref-1",
        "message-class": "1",
    }
    assert req.headers["Authorization"] == "Bearer tok"
    assert "tok" not in repr(req)


def test_register_and_number_update_requests() -> None:
    token = Token("tok", expires_at=1e12)
    reg = protocol.register_request("https://h", token, to="3161", callback_url="https://cb")
    assert reg.url == "https://h/communication/nexmo/sms/register"
    assert reg.data == {"to": "3161", "callback_url": "https://cb"}
    upd = protocol.number_update_request(
        "https://h", token, country="nl", msisdn="3197", mo_http_url="https://cb"
    )
    assert upd.url == "https://h/communication/nexmo/phone-numbers/number/update"
    assert upd.data == {"country": "NL", "msisdn": "3197", "moHttpUrl": "https://cb"}


def test_only_the_wire_drops_the_plus() -> None:
    token = Token("tok", expires_at=1e12)
    req = protocol.send_request("https://h", token, sender="KPNAlert", to="+492010000", text="x")
    assert req.data["to"] == "492010000"
    reg = protocol.register_request(
        "https://h", token, to="+31612345678", callback_url="https://cb"
    )
    assert reg.data["to"] == "31612345678"
    upd = protocol.number_update_request(
        "https://h", token, country="nl", msisdn="+3197012345678", mo_http_url="https://cb"
    )
    assert upd.data["msisdn"] == "3197012345678"


def test_parse_send_accepts_every_part() -> None:
    body = _b(
        {
            "message-count": "2",
            "messages": [
                {
                    "to": "31612345678",
                    "message-id": "0A01",
                    "status": "0",
                    "remaining-balance": "9.9",
                    "message-price": "0.0333",
                    "network": "20408",
                },
                {
                    "to": "31612345678",
                    "message-id": "0A02",
                    "status": "0",
                    "remaining-balance": "9.8",
                    "message-price": "0.0333",
                    "network": "20408",
                },
            ],
        }
    )
    outcome = protocol.parse_send(200, JSON, body, recipient="31612345678")
    assert outcome.ok and [p.message_id for p in outcome.parts] == ["0A01", "0A02"]
    assert str(sum(p.price for p in outcome.parts)) == "0.0666"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("entry", "error", "retry", "wait"),
    [
        (
            {
                "status": "1",
                "error-text": "Throughput Rate Exceeded - please wait [ 250 ] and retry",
            },
            KpnRateLimitError,
            True,
            0.25,
        ),
        ({"status": "2", "error-text": "Missing to param"}, KpnApiError, False, None),
        ({"status": "5", "error-text": "Internal Error"}, KpnApiError, True, None),
        ({"status": "9", "error-text": "Partner quota exceeded"}, KpnApiError, False, None),
        ({"status": "13"}, KpnApiError, True, None),
        ({"status": "29", "error-text": "Non White-listed Destination"}, KpnApiError, False, None),
    ],
)
def test_parse_send_failure_inside_http_200(
    entry: dict[str, str], error: type[Exception], retry: bool, wait: float | None
) -> None:
    body = _b({"message-count": "1", "messages": [{"to": "31612345678", **entry}]})
    outcome = protocol.parse_send(200, JSON, body, recipient="31612345678")
    assert isinstance(outcome.error, error)
    assert outcome.retry is retry and outcome.wait == wait and outcome.status == entry["status"]
    assert "31612345678" not in str(outcome.error)


def test_status_9_says_in_plain_words_that_the_account_is_out_of_credit() -> None:
    body = _b(
        {
            "message-count": "1",
            "messages": [{"to": "31612345678", "status": "9", "error-text": "Partner quota"}],
        }
    )
    outcome = protocol.parse_send(200, JSON, body, recipient="+31612345678")
    assert str(outcome.error) == (
        "+316******78: not sent: the KPN account is out of credit: top up its balance to "
        "send texts again (status 9 Partner Quota Violation)"
    )
    assert outcome.parts == ()


def test_partly_accepted_message_is_never_retried() -> None:
    body = _b(
        {
            "message-count": "2",
            "messages": [{"status": "0", "message-id": "A"}, {"status": "5", "error-text": "x"}],
        }
    )
    outcome = protocol.parse_send(200, JSON, body, recipient="31612345678")
    assert not outcome.ok and outcome.retry is False


@pytest.mark.parametrize(
    ("status", "body", "error", "retry", "ambiguous", "token"),
    [
        (
            429,
            {
                "transactionId": "t1",
                "status": "429",
                "name": "Too Many Requests",
                "message": "quota",
                "info": "",
            },
            KpnRateLimitError,
            True,
            False,
            False,
        ),
        (
            503,
            {
                "transactionId": "t",
                "status": "503",
                "name": "Service Unavailable",
                "message": "down",
                "info": "",
            },
            KpnApiError,
            True,
            False,
            False,
        ),
        (503, b"<html><title>503</title></html>", KpnConnectionError, True, False, False),
        (
            500,
            {"transactionId": "t", "status": "500", "name": "Internal", "message": "x", "info": ""},
            KpnApiError,
            False,
            True,
            False,
        ),
        (
            502,
            b"<html><head><title>502 Bad Gateway</title></head></html>",
            KpnConnectionError,
            False,
            True,
            False,
        ),
        (
            401,
            {
                "fault": {
                    "faultstring": "Access Token expired",
                    "detail": {"errorcode": "keymanagement.service.access_token_expired"},
                }
            },
            KpnAuthError,
            False,
            False,
            True,
        ),
        (
            500,
            {
                "fault": {
                    "faultstring": "Invalid Access Token",
                    "detail": {"errorcode": "keymanagement.service.invalid_access_token"},
                }
            },
            KpnAuthError,
            False,
            True,
            True,
        ),
        (
            403,
            {
                "transactionId": "t",
                "status": "403",
                "name": "Forbidden",
                "message": "no",
                "info": "",
            },
            KpnAuthError,
            False,
            False,
            False,
        ),
        (
            400,
            {
                "error": {
                    "transactionId": "t",
                    "status": "400",
                    "name": "Bad Request",
                    "message": "from is invalid",
                    "info": "",
                }
            },
            KpnApiError,
            False,
            False,
            False,
        ),
        (404, b"", KpnApiError, False, False, False),
    ],
)
def test_parse_send_gateway_errors(
    status: int, body: object, error: type[Exception], retry: bool, ambiguous: bool, token: bool
) -> None:
    raw = body if isinstance(body, bytes) else _b(body)
    outcome = protocol.parse_send(status, JSON, raw, recipient="31612345678")
    assert isinstance(outcome.error, error)
    assert (outcome.retry, outcome.ambiguous, outcome.token_rejected) == (retry, ambiguous, token)
    assert f"HTTP {status}" in str(outcome.error) and "\n" not in str(outcome.error)


def test_error_response_details_are_kept() -> None:
    body = _b(
        {
            "transactionId": "abc",
            "status": "400",
            "name": "Bad Request",
            "message": "Invalid parameter",
            "info": "from",
        }
    )
    outcome = protocol.parse_send(400, JSON, body, recipient="31612345678")
    err = outcome.error
    assert isinstance(err, KpnApiError)
    assert (err.http_status, err.code) == (400, "Bad Request")
    assert err.detail == "Invalid parameter: from (transaction abc)"


def test_unreadable_200_is_ambiguous() -> None:
    outcome = protocol.parse_send(
        200, {"content-type": "text/html"}, b"<html>ok</html>", recipient="31612345678"
    )
    assert isinstance(outcome.error, KpnConnectionError) and outcome.ambiguous
    assert not outcome.retry


def test_headers_quota_sunset_and_retry_after() -> None:
    headers = {
        "Quota-Limit": "100",
        "quota-used": "40",
        "quota-interval": "1",
        "quota-time-unit": "minute",
        "quota-reset-UTC": "2026-11-26T23:59:00Z",
        "sunset": "n/a",
        "api-version": "v1.1.1",
        "Retry-After": "3",
    }
    parsed = protocol.parse_headers(headers)
    assert parsed.quota == Quota(100, 40, 1, "minute", "2026-11-26T23:59:00Z")
    assert parsed.quota.remaining == 60
    future = protocol.parse_headers({"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert future.retry_after is not None and future.retry_after > 0  # against the clock
    assert (parsed.sunset, parsed.api_version, parsed.retry_after) == ("n/a", "v1.1.1", 3.0)
    assert protocol.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10.0
    assert protocol.parse_retry_after("garbage") is None


def test_parse_simple_register_and_number_update() -> None:
    msg = {"message": "Your callback url is registered."}
    assert protocol.parse_simple(200, JSON, _b(msg)) == msg
    ok = {"error-code": "200", "error-code-label": "success"}
    assert protocol.parse_simple(200, JSON, _b(ok)) == ok
    with pytest.raises(KpnApiError, match="error-code 420"):
        protocol.parse_simple(200, JSON, _b({"error-code": "420", "error-code-label": "bad"}))


def test_quota_exhausted_429_waits_for_the_reset() -> None:
    # Relative to the real clock (parse_send reads it): the reset is two hours from now.
    reset = (datetime.now(UTC) + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    body = _b(
        {
            "transactionId": "t",
            "status": "429",
            "name": "Too Many Requests",
            "message": "quota",
            "info": "",
        }
    )
    live = {"quota-limit": "10", "quota-used": "10", "quota-reset-UTC": reset}
    outcome = protocol.parse_send(429, live, body, recipient="31612345678")
    assert outcome.retry and outcome.wait is not None and 7100 < outcome.wait <= 7200
    headers = {"quota-limit": "10", "quota-used": "10", "quota-reset-UTC": "2030-01-01T00:00:30Z"}
    now = 1893456000.0  # 2030-01-01T00:00:00Z
    quota = protocol.parse_headers(headers).quota
    assert protocol.quota_wait(quota, now=now) == 30.0
    assert (
        protocol.quota_wait(
            protocol.parse_headers({**headers, "quota-reset-UTC": "1893456030000"}).quota, now=now
        )
        == 30.0
    )
    assert (
        protocol.quota_wait(protocol.parse_headers({**headers, "quota-used": "3"}).quota, now=now)
        is None
    )


# ------------------------------------------------------------------ Apigee faults (issue 11)

QUOTA = {
    "fault": {
        "faultstring": "Rate limit quota violation. Quota limit  exceeded. Identifier : _default",
        "detail": {"errorcode": "policies.ratelimit.QuotaViolation"},
    }
}
SPIKE = {
    "fault": {
        "faultstring": "Spike arrest violation. Allowed rate : 4ps",
        "detail": {"errorcode": "policies.ratelimit.SpikeArrestViolation"},
    }
}
NO_PRODUCT = {
    "fault": {
        "faultstring": "Invalid API call as no apiproduct match found",
        "detail": {"errorcode": "keymanagement.service.InvalidAPICallAsNoApiProductMatchFound"},
    }
}


@pytest.mark.parametrize("status", [500, 429, 503, 403, 401, 400])
@pytest.mark.parametrize("body", [QUOTA, SPIKE], ids=["quota", "spike"])
def test_ratelimit_fault_is_a_throttle_on_any_status(status: int, body: object) -> None:
    """Apigee's Quota / SpikeArrest fault stopped the request at the gateway: nothing was
    sent, whatever the status (stock Apigee uses 500), so it is retried like a 429."""
    outcome = protocol.parse_send(status, JSON, _b(body), recipient="31612345678")
    assert isinstance(outcome.error, KpnRateLimitError)
    assert outcome.retry and outcome.throttled
    assert not outcome.ambiguous and not outcome.token_rejected
    assert f"HTTP {status} policies.ratelimit." in str(outcome.error)
    assert "31612345678" not in str(outcome.error)


def test_ratelimit_fault_waits_for_retry_after_or_the_quota_window() -> None:
    hinted = protocol.parse_send(500, {**JSON, "Retry-After": "2"}, _b(QUOTA), recipient="316")
    assert hinted.wait == 2.0
    exhausted = {
        **JSON,
        "quota-limit": "4",
        "quota-used": "4",
        "quota-reset-UTC": "2030-01-01T00:00:30Z",
    }
    windowed = protocol.parse_send(500, exhausted, _b(QUOTA), recipient="316")
    assert windowed.wait is not None and windowed.wait > 3600  # the reset is years away
    bare = protocol.parse_send(500, JSON, _b(SPIKE), recipient="316")
    assert bare.wait is None and bare.retry  # no hint: the client's backoff decides


def test_a_plain_500_is_still_ambiguous() -> None:
    for body in (
        {"fault": {"faultstring": "Internal", "detail": {"errorcode": "messaging.runtime.Error"}}},
        {"transactionId": "t", "status": "500", "name": "x", "message": "y"},
    ):
        outcome = protocol.parse_send(500, JSON, _b(body), recipient="316")
        assert outcome.ambiguous and not outcome.retry and not outcome.throttled


def test_status_1_is_a_throttle() -> None:
    body = _b(
        {
            "message-count": "1",
            "messages": [
                {
                    "status": "1",
                    "error-text": "Throughput Rate Exceeded - please wait [ 250 ] and retry",
                }
            ],
        }
    )
    outcome = protocol.parse_send(200, JSON, body, recipient="316")
    assert outcome.throttled and outcome.retry and outcome.wait == 0.25


def test_ratelimit_fault_on_the_token_endpoint_is_transient() -> None:
    for status in (500, 429, 401):
        with pytest.raises(KpnConnectionError, match="QuotaViolation") as caught:
            protocol.parse_token(status, JSON, _b(QUOTA))
        assert caught.value.sent is False


@pytest.mark.parametrize(
    "code",
    [
        "keymanagement.service.InvalidAPICallAsNoApiProductMatchFound",
        "oauth.v2.InvalidAPICallAsNoApiProductMatchFound",
        "oauth.v2.apiresource_doesnot_exist",
        "keymanagement.service.InvalidClientIdForGivenResource",
    ],
)
def test_missing_api_product_is_not_a_token_problem(code: str) -> None:
    body = _b(
        {
            "fault": {
                "faultstring": "Invalid API call as no apiproduct match found",
                "detail": {"errorcode": code},
            }
        }
    )
    assert not protocol.is_token_rejection(401, body)
    outcome = protocol.parse_send(401, JSON, body, recipient="31612345678")
    err = outcome.error
    assert isinstance(err, KpnProductError) and isinstance(err, KpnAuthError)
    assert not (outcome.retry or outcome.ambiguous or outcome.token_rejected or outcome.throttled)
    assert err.code == code
    assert str(err).startswith(f"HTTP 401 {code}: ")
    assert "add the SMS product to this app in KPN's API Store" in str(err)
    assert "316" not in str(err)  # about the app, not a recipient
    with pytest.raises(KpnProductError):
        protocol.parse_simple(401, JSON, body)


def test_a_plain_401_still_asks_for_a_new_token() -> None:
    for body in (
        _b(
            {
                "fault": {
                    "faultstring": "Invalid Access Token",
                    "detail": {"errorcode": "keymanagement.service.invalid_access_token"},
                }
            }
        ),
        b"",
    ):
        assert protocol.is_token_rejection(401, body)
        assert isinstance(protocol.parse_send(401, JSON, body, recipient="316").error, KpnAuthError)


def test_quota_reset_in_epoch_seconds() -> None:
    """Ten digits are epoch seconds (thirteen are milliseconds): 30 s, not 0 s."""
    now = 1893456000.0
    quota = protocol.parse_headers(
        {"quota-limit": "10", "quota-used": "10", "quota-reset-UTC": "1893456030"}
    ).quota
    assert protocol.quota_wait(quota, now=now) == 30.0


def test_long_error_text_is_shortened_to_one_line_of_200_characters() -> None:
    words = " ".join(f"word{i}" for i in range(100))  # 589 characters
    body = _b(
        {
            "message-count": "1",
            "messages": [{"status": "4", "error-text": words.replace(" ", "\n", 3)}],
        }
    )
    outcome = protocol.parse_send(200, JSON, body, recipient="31612345678")
    assert isinstance(outcome.error, KpnApiError)
    assert outcome.error.detail == words[:199] + "…"
    assert len(outcome.error.detail) == 200 and "\n" not in str(outcome.error)
    fits = words[:199] + "!"  # exactly 200 characters: kept whole
    exact = _b({"messages": [{"status": "4", "error-text": fits}]})
    kept = protocol.parse_send(200, JSON, exact, recipient="31612345678").error
    assert isinstance(kept, KpnApiError) and kept.detail == fits


# -- whole answers, every field pinned: what a host reads off the outcome and the error ---


def _state(err: BaseException | None) -> dict[str, object]:
    """An error's type, text and every attribute a host reads."""
    names = ("http_status", "status", "code", "detail", "recipient", "retry_after")
    names += ("sent", "transient", "permanent")
    return {
        "type": type(err).__name__,
        "message": str(err),
        **{name: getattr(err, name) for name in names if hasattr(err, name)},
    }


NO_HEADERS = ApiHeaders()

SEND_ERRORS = [
    pytest.param(
        400,
        {"Content-Type": "application/json"},
        _b({"Error": "only  error"}),
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 400: only error",
            "http_status": 400,
            "status": None,
            "code": None,
            "detail": "only error",
            "recipient": "316******78",
            "sent": False,
            "transient": False,
            "permanent": True,
        },
        id="400 apigee error only",
    ),
    pytest.param(
        422,
        {"Content-Type": "application/json"},
        _b({"name": "n"}),
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 422 n: n",
            "http_status": 422,
            "status": None,
            "code": "n",
            "detail": "n",
            "recipient": "316******78",
            "sent": False,
            "transient": False,
            "permanent": True,
        },
        id="422 error response name only",
    ),
    pytest.param(
        422,
        {"Content-Type": "application/json"},
        _b({"message": "m"}),
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 422: m",
            "http_status": 422,
            "status": None,
            "code": None,
            "detail": "m",
            "recipient": "316******78",
            "sent": False,
            "transient": False,
            "permanent": True,
        },
        id="422 error response message only",
    ),
    pytest.param(
        401,
        {"Content-Type": "application/json"},
        b'{"ErrorCode": "invalid_token", "Error": "Invalid access token"}',
        {
            "type": "KpnAuthError",
            "message": "316******78: HTTP 401 invalid_token: Invalid access token",
            "sent": False,
            "transient": False,
            "permanent": False,
        },
        id="401 plain",
    ),
    pytest.param(
        429,
        {"Retry-After": "2", "Content-Type": "application/json"},
        _b(
            {
                "transactionId": "t1",
                "status": "429",
                "name": "Too Many Requests",
                "message": "quota",
                "info": "",
            }
        ),
        {
            "type": "KpnRateLimitError",
            "message": "316******78: HTTP 429 Too Many Requests: quota (transaction t1)",
            "http_status": 429,
            "status": None,
            "code": "Too Many Requests",
            "detail": "quota (transaction t1)",
            "recipient": "316******78",
            "retry_after": 2.0,
            "sent": False,
            "transient": True,
            "permanent": False,
        },
        id="429 retry-after",
    ),
    pytest.param(
        500,
        {"content-type": "text/html"},
        b"<html><body>oops</body></html>",
        {
            "type": "KpnConnectionError",
            "message": "316******78: HTTP 500: HTML page",
            "sent": True,
            "transient": False,
            "permanent": False,
        },
        id="500 html",
    ),
    pytest.param(
        502,
        {},
        b"  <html><head><title>502\n Bad Gateway</title></head></html>",
        {
            "type": "KpnConnectionError",
            "message": "316******78: HTTP 502: HTML page '502 Bad Gateway'",
            "sent": True,
            "transient": False,
            "permanent": False,
        },
        id="502 html title",
    ),
    pytest.param(
        503,
        {},
        b"  ",
        {
            "type": "KpnConnectionError",
            "message": "316******78: HTTP 503: empty body",
            "sent": False,
            "transient": True,
            "permanent": False,
        },
        id="503 empty",
    ),
    pytest.param(
        504,
        {"Content-Type": "application/json"},
        b'{"message": "upstream timed out"}',
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 504: upstream timed out",
            "http_status": 504,
            "status": None,
            "code": None,
            "detail": "upstream timed out",
            "recipient": "316******78",
            "sent": True,
            "transient": False,
            "permanent": False,
        },
        id="504 json message",
    ),
    pytest.param(
        500,
        {"Content-Type": "application/json"},
        b'{"foo": "bar"}',
        {
            "type": "KpnApiError",
            "message": '316******78: HTTP 500: {"foo": "bar"}',
            "http_status": 500,
            "status": None,
            "code": None,
            "detail": '{"foo": "bar"}',
            "recipient": "316******78",
            "sent": True,
            "transient": False,
            "permanent": False,
        },
        id="500 unknown json",
    ),
    pytest.param(
        400,
        {"Content-Type": "application/json"},
        b'{"error-code": "420", "error-code-label": "Invalid  params"}',
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 400 420: Invalid params",
            "http_status": 400,
            "status": None,
            "code": "420",
            "detail": "Invalid params",
            "recipient": "316******78",
            "sent": False,
            "transient": False,
            "permanent": True,
        },
        id="400 error-code",
    ),
    pytest.param(
        400,
        {"Content-Type": "application/json"},
        b'{"error-code": 420}',
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 400 420: error",
            "http_status": 400,
            "status": None,
            "code": "420",
            "detail": "error",
            "recipient": "316******78",
            "sent": False,
            "transient": False,
            "permanent": True,
        },
        id="400 error-code no label",
    ),
    pytest.param(
        400,
        {"Content-Type": "application/json"},
        b'{"error": {"ErrorCode": "invalid_request", "Error": "Bad request"}}',
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 400 invalid_request: Bad request",
            "http_status": 400,
            "status": None,
            "code": "invalid_request",
            "detail": "Bad request",
            "recipient": "316******78",
            "sent": False,
            "transient": False,
            "permanent": True,
        },
        id="400 nested apigee",
    ),
    pytest.param(
        400,
        {"Content-Type": "application/json"},
        b'{"ErrorCode": "only_code"}',
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 400 only_code: only_code",
            "http_status": 400,
            "status": None,
            "code": "only_code",
            "detail": "only_code",
            "recipient": "316******78",
            "sent": False,
            "transient": False,
            "permanent": True,
        },
        id="400 apigee code only",
    ),
    pytest.param(
        422,
        {"Content-Type": "application/json"},
        b'{"transactionId": "t9", "name": "bad"}',
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 422 bad: bad (transaction t9)",
            "http_status": 422,
            "status": None,
            "code": "bad",
            "detail": "bad (transaction t9)",
            "recipient": "316******78",
            "sent": False,
            "transient": False,
            "permanent": True,
        },
        id="422 error response name",
    ),
    pytest.param(
        422,
        {"Content-Type": "application/json"},
        b'{"status": "422", "message": "m", "info": "i"}',
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 422 422: m: i",
            "http_status": 422,
            "status": None,
            "code": "422",
            "detail": "m: i",
            "recipient": "316******78",
            "sent": False,
            "transient": False,
            "permanent": True,
        },
        id="422 error response status",
    ),
    pytest.param(
        422,
        {"Content-Type": "application/json"},
        b'{"info": "just info"}',
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 422: just info",
            "http_status": 422,
            "status": None,
            "code": None,
            "detail": "just info",
            "recipient": "316******78",
            "sent": False,
            "transient": False,
            "permanent": True,
        },
        id="422 error response info",
    ),
    pytest.param(
        422,
        {"Content-Type": "application/json"},
        b'{"transactionId": ""}',
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 422: error",
            "http_status": 422,
            "status": None,
            "code": None,
            "detail": "error",
            "recipient": "316******78",
            "sent": False,
            "transient": False,
            "permanent": True,
        },
        id="422 error response nothing",
    ),
    pytest.param(
        500,
        {"Content-Type": "application/json"},
        b'{"fault": {"detail": {"errorcode": "steps.x.Failed"}}}',
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 500 steps.x.Failed: fault",
            "http_status": 500,
            "status": None,
            "code": "steps.x.Failed",
            "detail": "fault",
            "recipient": "316******78",
            "sent": True,
            "transient": False,
            "permanent": False,
        },
        id="500 fault no string",
    ),
    pytest.param(
        500,
        {"Content-Type": "application/json"},
        b'{"fault": {"faultstring": "Gateway  fault", "detail": "text"}}',
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 500: Gateway fault",
            "http_status": 500,
            "status": None,
            "code": None,
            "detail": "Gateway fault",
            "recipient": "316******78",
            "sent": True,
            "transient": False,
            "permanent": False,
        },
        id="500 fault detail not dict",
    ),
    pytest.param(
        502,
        {"Content-Type": "Text/HTML"},
        b"Bad gateway",
        {
            "type": "KpnConnectionError",
            "message": "316******78: HTTP 502: HTML page",
            "sent": True,
            "transient": False,
            "permanent": False,
        },
        id="502 text/html no <",
    ),
    pytest.param(
        400,
        {"content-type": "text/plain"},
        b"oops",
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 400: not JSON: 'oops'",
            "http_status": 400,
            "status": None,
            "code": None,
            "detail": "not JSON: 'oops'",
            "recipient": "316******78",
            "sent": False,
            "transient": False,
            "permanent": True,
        },
        id="400 plain text",
    ),
    pytest.param(
        400,
        {},
        b"\xff\xfe oops",
        {
            "type": "KpnApiError",
            "message": "316******78: HTTP 400: not JSON: '�� oops'",
            "http_status": 400,
            "status": None,
            "code": None,
            "detail": "not JSON: '�� oops'",
            "recipient": "316******78",
            "sent": False,
            "transient": False,
            "permanent": True,
        },
        id="400 not utf8",
    ),
]


@pytest.mark.parametrize(("status", "headers", "body", "expected"), SEND_ERRORS)
def test_gateway_error_bodies_read_in_full(
    status: int, headers: dict[str, str], body: bytes, expected: dict[str, object]
) -> None:
    outcome = protocol.parse_send(status, headers, body, recipient="31612345678")
    assert _state(outcome.error) == expected
    retry_after = 2.0 if "Retry-After" in headers else None
    assert outcome.wait == retry_after and outcome.parts == () and outcome.status is None
    assert outcome.headers == ApiHeaders(retry_after=retry_after)
    assert outcome.token_rejected is (status == 401)


def test_parse_send_reads_every_field_of_an_accepted_part() -> None:
    entries = [
        "junk",  # not an object: skipped
        {
            "to": "31612345678",
            "message-id": "0A01",
            "status": " 0 ",
            "remaining-balance": "9.9",
            "message-price": "0.0333",
            "network": "20408",
            "client-ref": "ref-1",
        },
        {"status": "0"},  # nothing else given
    ]
    body = _b({"message-count": "3", "messages": entries})
    outcome = protocol.parse_send(200, {"api-version": "v1"}, body, recipient="31612345678")
    assert outcome == protocol.SendOutcome(
        parts=(
            MessagePart("0A01", "31612345678", Decimal("0.0333"), Decimal("9.9"), "20408", "ref-1"),
            MessagePart("", "", None, None, None, None),
        ),
        status="0",
        headers=ApiHeaders(api_version="v1"),
    )


@pytest.mark.parametrize(
    ("entries", "expected", "status", "wait"),
    [
        pytest.param(
            [{"status": "1", "error-text": "Throughput Rate Exceeded"}],
            {
                "type": "KpnRateLimitError",
                "message": "316******78: status 1 Throttled: Throughput Rate Exceeded",
                "http_status": 200,
                "status": "1",
                "code": None,
                "detail": "Throughput Rate Exceeded",
                "recipient": "316******78",
                "retry_after": None,
                "sent": False,
                "transient": True,
                "permanent": False,
            },
            "1",
            None,
            id="throttle naming no wait",
        ),
        pytest.param(
            [{"status": "1", "error-text": "please wait [ 250 ]"}],
            {
                "type": "KpnRateLimitError",
                "message": "316******78: status 1 Throttled: please wait [ 250 ]",
                "http_status": 200,
                "status": "1",
                "code": None,
                "detail": "please wait [ 250 ]",
                "recipient": "316******78",
                "retry_after": 0.25,
                "sent": False,
                "transient": True,
                "permanent": False,
            },
            "1",
            0.25,
            id="throttle naming a wait",
        ),
        pytest.param(
            [{"status": "13"}],
            {
                "type": "KpnApiError",
                "message": f"316******78: status 13 {status_info('13').name}: "
                f"{status_info('13').meaning}",
                "http_status": 200,
                "status": "13",
                "code": None,
                "detail": status_info("13").meaning,
                "recipient": "316******78",
                "sent": False,
                "transient": True,
                "permanent": False,
            },
            "13",
            None,
            id="no error-text: the table's meaning",
        ),
        pytest.param(
            [{"to": "31612345678"}],
            {
                "type": "KpnApiError",
                "message": "316******78: status  Unknown Status: unknown status",
                "http_status": 200,
                "status": "",
                "code": None,
                "detail": "unknown status",
                "recipient": "316******78",
                "sent": False,
                "transient": False,
                "permanent": True,
            },
            "",
            None,
            id="no status at all",
        ),
    ],
)
def test_a_refusal_inside_http_200_read_in_full(
    entries: list[object], expected: dict[str, object], status: str, wait: float | None
) -> None:
    body = _b({"message-count": "1", "messages": entries})
    outcome = protocol.parse_send(200, {"api-version": "v1"}, body, recipient="31612345678")
    assert _state(outcome.error) == expected
    assert (outcome.parts, outcome.status, outcome.wait) == ((), status, wait)
    assert outcome.headers == ApiHeaders(api_version="v1")


def test_a_partly_sent_text_read_in_full() -> None:
    entries = [
        {"status": "0", "message-id": "A"},
        "junk",
        {"status": "5", "error-text": "Internal  Error"},
        {"status": "5", "error-text": "Internal Error"},
    ]
    body = _b({"message-count": "3", "messages": entries})
    outcome = protocol.parse_send(200, {"api-version": "v1"}, body, recipient="31612345678")
    assert _state(outcome.error) == {
        "type": "KpnApiError",
        "message": "316******78: partly sent: 1 of 3 parts accepted, the rest refused with "
        f"status 5 {status_info('5').name}: Internal Error; not sent again, as that would "
        "repeat the accepted parts",
        "http_status": 200,
        "status": "5",
        "code": None,
        "detail": "Internal Error",
        "recipient": "316******78",
        "sent": True,
        "transient": False,
        "permanent": True,
    }
    assert [p.message_id for p in outcome.parts] == ["A"] and outcome.status == "5"
    assert outcome.headers == ApiHeaders(api_version="v1") and outcome.wait is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_b({"messages": []}), "316******78: the gateway's answer listed no messages"),
        (_b({"messages": ["junk"]}), "316******78: the gateway's answer listed no messages"),
        (
            b"<html><title>Hi</title></html>",
            "316******78: unreadable answer from the gateway (HTML page 'Hi')",
        ),
    ],
)
def test_an_accepted_looking_answer_without_parts_is_ambiguous(body: bytes, message: str) -> None:
    outcome = protocol.parse_send(200, {"api-version": "v1"}, body, recipient="31612345678")
    assert _state(outcome.error) == {
        "type": "KpnConnectionError",
        "message": message,
        "sent": True,
        "transient": False,
        "permanent": False,
    }
    assert outcome.headers == ApiHeaders(api_version="v1") and outcome.parts == ()


def test_an_html_title_is_read_from_the_first_2000_bytes_only() -> None:
    fits = b"<html>" + b" " * (2000 - 6 - 16) + b"<title>x</title>"
    beyond = b"<html> " + fits[6:]  # the title's last ">" is byte 2001
    assert (len(fits), len(beyond)) == (2000, 2001)
    outcome = protocol.parse_send(502, {}, fits, recipient="31612345678")
    assert str(outcome.error) == "316******78: HTTP 502: HTML page 'x'"
    outcome = protocol.parse_send(502, {}, beyond, recipient="31612345678")
    assert str(outcome.error) == "316******78: HTTP 502: HTML page"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        pytest.param(
            200,
            _b({"error-code": "401", "error-code-label": "Bad  key"}),
            {
                "type": "KpnApiError",
                "message": "refused: error-code 401: Bad key",
                "http_status": 200,
                "status": None,
                "code": "401",
                "detail": "Bad key",
                "recipient": None,
                "sent": False,
                "transient": False,
                "permanent": True,
            },
            id="refused inside 200",
        ),
        pytest.param(
            299,
            _b({"error-code": 401}),
            {
                "type": "KpnApiError",
                "message": "refused: error-code 401: refused",
                "http_status": 299,
                "status": None,
                "code": "401",
                "detail": "refused",
                "recipient": None,
                "sent": False,
                "transient": False,
                "permanent": True,
            },
            id="refused without a label",
        ),
        pytest.param(
            200,
            b"",
            {
                "type": "KpnConnectionError",
                "message": "unreadable answer (empty body)",
                "sent": False,
                "transient": True,
                "permanent": False,
            },
            id="200 unreadable",
        ),
        pytest.param(
            299,
            b"x",
            {
                "type": "KpnConnectionError",
                "message": "unreadable answer (not JSON: 'x')",
                "sent": False,
                "transient": True,
                "permanent": False,
            },
            id="299 unreadable",
        ),
        pytest.param(
            300,
            _b({"error-code": "200"}),
            {
                "type": "KpnApiError",
                "message": "HTTP 300 200: error",
                "http_status": 300,
                "status": None,
                "code": "200",
                "detail": "error",
                "recipient": None,
                "sent": False,
                "transient": False,
                "permanent": True,
            },
            id="300 is no success",
        ),
        pytest.param(
            300,
            b"",
            {
                "type": "KpnApiError",
                "message": "HTTP 300: empty body",
                "http_status": 300,
                "status": None,
                "code": None,
                "detail": "empty body",
                "recipient": None,
                "sent": False,
                "transient": False,
                "permanent": True,
            },
            id="300 empty",
        ),
        pytest.param(
            502,
            b"<html><title>Bad</title></html>",
            {
                "type": "KpnConnectionError",
                "message": "HTTP 502: HTML page 'Bad'",
                "sent": False,  # registering texts nobody: never ambiguous
                "transient": False,  # only a 503 says the gateway took nothing in
                "permanent": False,
            },
            id="502 page",
        ),
    ],
)
def test_register_and_number_update_answers_read_in_full(
    status: int, body: bytes, expected: dict[str, object]
) -> None:
    with pytest.raises(Exception) as caught:
        protocol.parse_simple(status, {}, body)
    assert _state(caught.value) == expected


def test_register_answer_with_error_code_200_is_success() -> None:
    answer = {"error-code": "200", "error-code-label": "success"}
    assert protocol.parse_simple(201, {}, _b(answer)) == answer


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, _b({"expires_in": "3599"}), "token answer: no access_token in the gateway's answer"),
        (200, b"x", "token answer: unreadable (not JSON: 'x')"),
        (
            401,
            _b({"ErrorCode": "invalid_client", "Error": "ClientId is Invalid"}),
            "token request refused: HTTP 401 invalid_client: ClientId is Invalid",
        ),
        (
            403,
            _b({"ErrorCode": "forbidden", "Error": "Nope"}),
            "token request refused: HTTP 403 forbidden: Nope",
        ),
        (404, _b({"message": "no such path"}), "HTTP 404: no such path"),
    ],
)
def test_token_answers_that_give_no_token_say_why(status: int, body: bytes, expected: str) -> None:
    with pytest.raises(Exception) as caught:
        protocol.parse_token(status, JSON, body, now=0)
    assert str(caught.value) == expected
    assert (
        type(caught.value).__name__
        == {
            200: "KpnConnectionError",
            401: "KpnAuthError",
            403: "KpnAuthError",
            404: "KpnApiError",
        }[status]
    )


def test_token_answer_fills_the_defaults() -> None:
    token = protocol.parse_token(200, JSON, _b({"access_token": "t", "expires_in": "1"}), now=100)
    assert token == Token("t", expires_at=101.0, token_type="Bearer", level=None)
    answer = {"access_token": "t", "expires_in": "1", "token_type": "BearerToken", "level": 2}
    token = protocol.parse_token(200, JSON, _b(answer), now=100)
    assert (token.token_type, token.level) == ("BearerToken", "2")


def test_request_builders_in_full() -> None:
    token = Token("tok", expires_at=1e12)
    auth = {
        "Authorization": "Bearer tok",
        "Content-Type": protocol.FORM,
        "Accept": "application/json",
    }
    base = "https://hX/"  # only the trailing "/" goes
    assert protocol.token_request(base, "id", "s") == protocol.ApiRequest(
        "POST",
        "https://hX/oauth/client_credential/accesstoken",
        params={"grant_type": "client_credentials"},
        data={"client_id": "id", "client_secret": "s"},
        headers={"Content-Type": protocol.FORM, "Accept": "application/json"},
    )
    send = protocol.send_request(base, token, sender="S", to="+3161", text="x", status_report=False)
    assert send == protocol.ApiRequest(
        "POST",
        "https://hX/communication/nexmo/sms/send",
        data={"from": "S", "to": "3161", "text": "x", "type": "text", "status-report-req": "false"},
        headers=auth,
        sends_sms=True,
    )
    assert protocol.access_check_request(base, token) == protocol.ApiRequest(
        "POST", "https://hX/communication/nexmo/sms/send", headers=auth
    )
    reg = protocol.register_request(base, token, to="+3161", callback_url="https://cb")
    assert reg == protocol.ApiRequest(
        "POST",
        "https://hX/communication/nexmo/sms/register",
        data={"to": "3161", "callback_url": "https://cb"},
        headers=auth,
    )
    upd = protocol.number_update_request(base, token, country="nl", msisdn="+3197", mo_http_url="")
    assert upd == protocol.ApiRequest(
        "POST",
        "https://hX/communication/nexmo/phone-numbers/number/update",
        data={"country": "NL", "msisdn": "3197", "moHttpUrl": ""},
        headers=auth,
    )


def test_quota_reset_forms() -> None:
    def wait(reset: str, now: float) -> float | None:
        quota = protocol.parse_headers(
            {"quota-limit": "1", "quota-used": "1", "quota-reset-UTC": reset}
        ).quota
        return protocol.quota_wait(quota, now=now)

    assert wait("99999999999", now=0) == 99999999999.0  # 11 digits: epoch seconds
    assert wait("100000000000", now=0) == 100000000.0  # 12 digits: epoch milliseconds
    assert wait("2030-01-01T00:00:00Z", now=1893456030.0) == 0.0  # already reset: no wait


def test_a_quota_reset_without_a_zone_is_utc_on_any_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        quota = protocol.parse_headers(
            {"quota-limit": "1", "quota-used": "1", "quota-reset-UTC": "2030-01-01T00:00:30"}
        ).quota
        assert protocol.quota_wait(quota, now=1893456000.0) == 30.0
    finally:
        monkeypatch.undo()
        time.tzset()


def test_answers_of_odd_shapes_never_crash_the_parser() -> None:
    """A JSON list, an empty field and a Retry-After date in the past."""
    outcome = protocol.parse_send(400, JSON, b"[1, 2]", recipient="31612345678")
    assert str(outcome.error) == "316******78: HTTP 400: not JSON: '[1, 2]'"
    body = _b({"messages": [{"status": "0", "message-id": "A", "network": "", "client-ref": ""}]})
    (part,) = protocol.parse_send(200, JSON, body, recipient="31612345678").parts
    assert (part.network, part.client_ref) == (None, None)
    assert protocol.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490) == 0.0
