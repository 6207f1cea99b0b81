"""The emulator's settings ("knobs"): defaults, and checking of values set at run time.

Every knob is a plain JSON-compatible value so the same names work from Python
(`Emulator(**knobs)`, `configure(**knobs)`) and over HTTP (`POST /_emulator/configure`).
"""

from __future__ import annotations

import copy
from typing import Any

EMU_CLIENT_ID = "demo-client-id"
EMU_CLIENT_SECRET = "demo-client-secret"
# Vonage-direct credentials for /sms/json; apprise's vonage:// only accepts [a-z0-9]+.
EMU_API_KEY = "demokey1"
EMU_API_SECRET = "demosecret123"
DEFAULT_VIRTUAL_NUMBER = "3197012345678"

WEBHOOK_FORMATS = ("form", "json", "get")
# "quota" / "spike": Apigee's rate-limit faults (policies.ratelimit.QuotaViolation /
# SpikeArrestViolation), which stock Apigee sends as HTTP 500.
ERROR_BODIES = ("kpn", "apigee", "html", "empty", "malformed", "quota", "spike")
BAD_BODIES = ("malformed", "html", "empty")
SIGNATURE_METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")
NON_GSM_POLICIES = ("replace", "unicode", "reject")
MESSAGE_ID_FORMATS = ("hex", "uuid")
THROTTLE_TEXTS = ("wait", "no_wait", "mt_limit")
TOKEN_ERROR_CODES = ("invalid_client", "invalid_request")
# How a throttle is answered: KPN's documented 429 (with Retry-After), Vonage's status 1 in a
# 200, or Apigee's Quota / SpikeArrest fault as 500 (stock Apigee) or 429 (with the org flag).
APIGEE_THROTTLES = {  # mode -> (which policy's fault, HTTP status)
    "quota500": ("quota", 500),
    "spike500": ("spike", 500),
    "quota429": ("quota", 429),
    "spike429": ("spike", 429),
}
RATE_LIMIT_MODES = ("http429", "status1", *APIGEE_THROTTLES)
QUOTA_MODES = ("http429", "quota500", "quota429")
PRODUCTS = ("sms-nexmo", "phone-numbers-nexmo")

DEFAULTS: dict[str, Any] = {
    # credentials
    "client_id": EMU_CLIENT_ID,
    "client_secret": EMU_CLIENT_SECRET,
    "api_key": EMU_API_KEY,
    "api_secret": EMU_API_SECRET,
    # token endpoint
    "token_ttl": 3599.0,  # seconds; the answer's expires_in is str(int(token_ttl))
    "token_endpoint_down": False,  # True: 503 with a KPN ErrorResponse
    "token_endpoint_status": None,  # int: answer every token request with this HTTP status
    "token_level": "demo",
    # API products of the app: an API outside them gets Apigee's 401
    # InvalidAPICallAsNoApiProductMatchFound (a token is still issued, as KPN does)
    "api_products": list(PRODUCTS),
    "auth_fault_status": 401,  # HTTP status of the Apigee fault for a bad bearer
    "auth_error_body": "apigee",  # "apigee" fault envelope or "kpn" ErrorResponse
    # bad credentials: KPN's observed "invalid_client", or "invalid_request" as Apigee documents
    "token_error_code": "invalid_client",
    # response headers
    "sunset": "n/a",
    "api_version": "v1.1.1",
    "quota_limit": 100000,
    "quota_interval": 1,
    "quota_time_unit": "day",
    "quota_mode": "http429",  # how an exhausted quota answers: see QUOTA_MODES
    # account
    "balance": "10000.00000000",  # enough for 133,333 parts at the default price
    "price_per_part": "0.07500000",
    "network": "20408",
    "message_id_format": "hex",  # "hex" (16 hex digits) or "uuid", as Vonage now also issues
    "message_count_int": False,  # True: "message-count" as an integer, as K-SPEC's schema types it
    "max_messages": None,  # int: keep only the newest N message records (bulk runs)
    "whitelist": None,  # list of numbers: demo accounts may text only these (else status 29)
    "virtual_numbers": [DEFAULT_VIRTUAL_NUMBER],
    "max_text_length": 3600,  # characters; longer texts get status 12 (limit UNCONFIRMED)
    "non_gsm_text": "replace",  # type=text with non-GSM characters: replace by "?", unicode, reject
    "allow_http_callback_loopback": True,  # http:// callbacks on loopback pass status 23
    # fault knobs (apply to the send endpoints: KPN /send and Vonage /sms/json)
    "latency": 0.0,  # seconds added to every API answer
    "rate_limit": None,  # sends per second (token bucket, burst = rate_limit_burst or rate)
    "rate_limit_burst": None,
    "rate_limit_mode": "http429",  # see RATE_LIMIT_MODES
    "error_rate": 0.0,
    "error_status": 503,  # int or list of ints picked at random
    "error_body": "kpn",  # kpn, apigee, html, empty, malformed
    "drop_rate": 0.0,  # close the connection without answering
    "slow_rate": 0.0,
    "slow_seconds": 30.0,  # the slow answer comes this late (the message IS accepted)
    "bad_body_rate": 0.0,  # HTTP 200 whose body is broken (the message IS accepted)
    "bad_body": "malformed",  # malformed, html, empty
    "fault_after_send": False,  # error/drop faults happen after the message was accepted
    "forced_status": {},  # number -> Vonage status code (str)
    "forced_http": {},  # path -> HTTP status (any API path, token endpoint included)
    "script": [],  # one-shot scripted answers: check_script below
    "partial_status": {},  # number -> status for the parts after the first of a long text
    "throttle_text": "wait",  # status 1 error-text: "wait" [ ms ], "no_wait" or "mt_limit"
    "seed": None,  # seed of the fault dice, for reproducible runs
    # delivery receipts and inbound
    "dlr_delay": 0.05,  # seconds between acceptance and the first DLR attempt
    "dlr_status": {},  # number -> DLR status (delivered, expired, failed, rejected, ...)
    "dlr_err_code": {},  # number -> DLR err-code
    "dlr_format": "form",  # form (POST), json (POST), get
    "dlr_api_key": False,  # True: DLRs carry "api-key" (the api_key knob), as Vonage's do
    "default_callback": None,  # account-level DLR URL, used when the send has no callback
    "inbound_format": "json",
    # account-level inbound URL (Vonage's account setting): for an owned number without moHttpUrl
    "default_inbound_url": None,
    "inbound_timestamp": False,  # True: unsigned inbound carries "timestamp" too, as Vonage's may
    "webhook_retry_interval": 60.0,  # Vonage retries a failed webhook every 60 s
    "inbound_retry_window": 86400.0,  # ... for 24 h (inbound)
    "dlr_retry_window": 259200.0,  # ... for 72 h (DLRs)
    "webhook_max_attempts": None,  # int: stop earlier (tests)
    "webhook_connect_timeout": 3.0,
    "webhook_timeout": 15.0,
    "signature_secret": None,  # when set, webhooks carry timestamp, nonce and sig
    "signature_method": "md5hash",
    "number_check_timeout": 5.0,  # number/update GET check of moHttpUrl
}

_TYPES: dict[str, tuple[type, ...]] = {
    "client_id": (str,),
    "client_secret": (str,),
    "api_key": (str,),
    "api_secret": (str,),
    "token_ttl": (int, float),
    "token_endpoint_down": (bool,),
    "token_endpoint_status": (int, type(None)),
    "token_level": (str,),
    "api_products": (list, tuple),
    "auth_fault_status": (int,),
    "auth_error_body": (str,),
    "token_error_code": (str,),
    "sunset": (str,),
    "api_version": (str,),
    "quota_limit": (int,),
    "quota_interval": (int,),
    "quota_time_unit": (str,),
    "quota_mode": (str,),
    "balance": (str, int, float),
    "price_per_part": (str, int, float),
    "network": (str,),
    "message_id_format": (str,),
    "message_count_int": (bool,),
    "max_messages": (int, type(None)),
    "whitelist": (list, tuple, set, type(None)),
    "virtual_numbers": (list, tuple),
    "max_text_length": (int,),
    "non_gsm_text": (str,),
    "allow_http_callback_loopback": (bool,),
    "latency": (int, float),
    "rate_limit": (int, float, type(None)),
    "rate_limit_burst": (int, float, type(None)),
    "rate_limit_mode": (str,),
    "error_rate": (int, float),
    "error_status": (int, list, tuple),
    "error_body": (str,),
    "drop_rate": (int, float),
    "slow_rate": (int, float),
    "slow_seconds": (int, float),
    "bad_body_rate": (int, float),
    "bad_body": (str,),
    "fault_after_send": (bool,),
    "forced_status": (dict,),
    "forced_http": (dict,),
    "script": (list, tuple),
    "partial_status": (dict,),
    "throttle_text": (str,),
    "seed": (int, type(None)),
    "dlr_delay": (int, float),
    "dlr_status": (dict,),
    "dlr_err_code": (dict,),
    "dlr_format": (str,),
    "dlr_api_key": (bool,),
    "default_callback": (str, type(None)),
    "inbound_format": (str,),
    "default_inbound_url": (str, type(None)),
    "inbound_timestamp": (bool,),
    "webhook_retry_interval": (int, float),
    "inbound_retry_window": (int, float),
    "dlr_retry_window": (int, float),
    "webhook_max_attempts": (int, type(None)),
    "webhook_connect_timeout": (int, float),
    "webhook_timeout": (int, float),
    "signature_secret": (str, type(None)),
    "signature_method": (str,),
    "number_check_timeout": (int, float),
}

_CHOICES: dict[str, tuple[str, ...]] = {
    "auth_error_body": ("apigee", "kpn"),
    "rate_limit_mode": RATE_LIMIT_MODES,
    "quota_mode": QUOTA_MODES,
    "error_body": ERROR_BODIES,
    "bad_body": BAD_BODIES,
    "dlr_format": WEBHOOK_FORMATS,
    "inbound_format": WEBHOOK_FORMATS,
    "signature_method": SIGNATURE_METHODS,
    "non_gsm_text": NON_GSM_POLICIES,
    "quota_time_unit": ("second", "minute", "hour", "day", "week", "month"),
    "message_id_format": MESSAGE_ID_FORMATS,
    "throttle_text": THROTTLE_TEXTS,
    "token_error_code": TOKEN_ERROR_CODES,
}

_RATES = ("error_rate", "drop_rate", "slow_rate", "bad_body_rate")
_SECRET_KNOBS = ("client_secret", "api_secret", "signature_secret")


def defaults() -> dict[str, Any]:
    """A fresh copy of the default knobs."""
    return copy.deepcopy(DEFAULTS)


def check(knobs: dict[str, Any]) -> dict[str, Any]:
    """Validate knob values; return them normalised. Raises ValueError naming the knob."""
    out: dict[str, Any] = {}
    value: Any
    for name, raw in knobs.items():
        value = raw
        if name not in DEFAULTS:
            raise ValueError(f"unknown emulator knob {name!r}")
        types = _TYPES[name]
        # bool is an int subclass: refuse True where a number is expected.
        if not isinstance(raw, types) or (isinstance(raw, bool) and bool not in types):
            shown = "***" if name in _SECRET_KNOBS else repr(raw)
            raise ValueError(f"emulator knob {name!r}: bad value {shown}")
        if name in _CHOICES and value not in _CHOICES[name]:
            raise ValueError(
                f"emulator knob {name!r}: {value!r} is not one of {', '.join(_CHOICES[name])}"
            )
        if name in _RATES and not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"emulator knob {name!r}: {value!r} is not between 0 and 1")
        if (
            name in ("rate_limit", "rate_limit_burst", "max_messages")
            and value is not None
            and value <= 0
        ):
            raise ValueError(f"emulator knob {name!r}: {value!r} must be positive")
        if name in ("latency", "slow_seconds", "token_ttl", "dlr_delay") and value < 0:
            raise ValueError(f"emulator knob {name!r}: {value!r} must not be negative")
        if name in ("forced_status", "dlr_status", "dlr_err_code"):
            value = {str(k): str(v) for k, v in value.items()}
        elif name == "partial_status":
            value = _partial_statuses(value)
        elif name == "forced_http":
            value = {str(k): _http_code(name, v) for k, v in value.items()}
        elif name == "error_status":
            codes = value if isinstance(value, (list, tuple)) else [value]
            value = [_http_code(name, c) for c in codes] if codes else [503]
        elif name == "api_products":
            unknown = [v for v in value if v not in PRODUCTS]
            if unknown:
                raise ValueError(
                    f"emulator knob 'api_products': {unknown[0]!r} is not one of "
                    f"{', '.join(PRODUCTS)}"
                )
            value = list(value)
        elif name in ("whitelist", "virtual_numbers") and value is not None:
            value = [str(v) for v in value]
        elif name == "script":
            value = check_script(value)
        elif name in ("balance", "price_per_part"):
            value = f"{float(value):.8f}"
        out[name] = value
    return out


def _partial_statuses(value: dict[Any, Any]) -> dict[str, str]:
    """number -> the non-zero Vonage status its long texts' later parts get."""
    out = {str(k): str(v).strip() for k, v in value.items()}
    for number, status in out.items():
        if not status.isdigit() or status == "0":
            raise ValueError(
                f"emulator knob 'partial_status': {number!r}: {status!r} is not a failure status"
            )
    return out


def _http_code(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise ValueError(f"emulator knob {name!r}: {value!r} is not an HTTP status")
    return value


def public(knobs: dict[str, Any]) -> dict[str, Any]:
    """Knobs as shown by the control API: secrets masked."""
    shown = copy.deepcopy(knobs)
    for name in _SECRET_KNOBS:
        if shown.get(name):
            shown[name] = "***"
    return shown


# The one-shot fault script (knob "script"); faults.py applies it.
#
# A script entry is a dict, consumed by the next request it applies to:
#
#     {"http": 503}                       answer HTTP 503 (body "kpn" unless "body" says
#                                         kpn / apigee / html / empty / malformed, or
#                                         quota / spike: Apigee's rate-limit fault)
#     {"status": "1"}                     answer HTTP 200 with this Vonage status
#     {"drop": true}                      close the connection without answering
#     {"slow": 5}                         accept, then answer 5 s later
#     {"bad_body": "html"}                accept, then answer 200 with a broken body
#     {"ok": true}                        answer normally (keeps a place in the queue)
#     "count": N                          the entry applies to the next N requests (default 1)
#     "after_send": true                  http/drop happen after the message was accepted
#     "path": "send"                      which requests: "send" (KPN /send and Vonage
#                                         /sms/json, the default), "token", "*", or a path
SEND_PATHS = ("/communication/nexmo/sms/send", "/sms/json")
TOKEN_PATH = "/oauth/client_credential/accesstoken"
SCRIPT_ACTIONS = ("http", "status", "drop", "slow", "bad_body", "ok")


def check_script(entries: Any) -> list[dict[str, Any]]:
    """Validate script entries; raise ValueError naming the bad entry."""
    out: list[dict[str, Any]] = []
    for i, raw in enumerate(entries):
        if not isinstance(raw, dict):
            raise ValueError(f"emulator knob 'script'[{i}]: {raw!r} is not an object")
        entry = dict(raw)
        actions = [a for a in SCRIPT_ACTIONS if a in entry]
        if len(actions) != 1:
            raise ValueError(
                f"emulator knob 'script'[{i}]: needs exactly one of {', '.join(SCRIPT_ACTIONS)}"
            )
        unknown = set(entry) - {*SCRIPT_ACTIONS, "count", "after_send", "path", "body"}
        if unknown:
            raise ValueError(f"emulator knob 'script'[{i}]: unknown key {sorted(unknown)[0]!r}")
        if "http" in entry and not (isinstance(entry["http"], int) and 100 <= entry["http"] <= 599):
            raise ValueError(f"emulator knob 'script'[{i}]: bad http status {entry['http']!r}")
        if entry.get("body", "kpn") not in ERROR_BODIES:
            raise ValueError(f"emulator knob 'script'[{i}]: bad body {entry['body']!r}")
        if "bad_body" in entry and entry["bad_body"] not in ("malformed", "html", "empty"):
            raise ValueError(f"emulator knob 'script'[{i}]: bad bad_body {entry['bad_body']!r}")
        if "status" in entry:
            entry["status"] = str(entry["status"])
        count = entry.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"emulator knob 'script'[{i}]: bad count {count!r}")
        entry["count"] = count
        entry.setdefault("path", "send")
        entry.setdefault("after_send", False)
        out.append(entry)
    return out


def script_applies(entry: dict[str, Any], path: str) -> bool:
    where = entry["path"]
    if where == "*":
        return True
    if where == "send":
        return path in SEND_PATHS
    if where == "token":
        return path == TOKEN_PATH
    return bool(where == path)
