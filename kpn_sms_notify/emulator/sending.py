"""Checking a send request and accepting it, as Vonage does behind KPN's /send.

Shared by KPN's `/communication/nexmo/sms/send` and the Vonage-direct `/sms/json`.
Failures are Vonage statuses inside an HTTP 200 (facts §2.2, §3.1).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from . import segments
from .state import EmulatorState
from .webhooks import is_loopback_url

ERROR_TEXTS = {
    "1": "Throughput Rate Exceeded - please wait [ 1000 ] and retry",
    "2": "Missing params",
    "3": "Invalid params",
    "4": "Bad Credentials",
    "5": "Internal Error",
    "6": "Invalid Message",
    "7": "Number Barred",
    "8": "Partner Account Barred",
    "9": "Partner Quota Violation",
    "10": "Too Many Existing Binds",
    "11": "Account Not Enabled For HTTP",
    "12": "Message Too Long",
    "13": "Communication Failed",
    "14": "Invalid Signature",
    "15": "Illegal Sender Address - rejected",
    "16": "Invalid TTL",
    "19": "Facility Not Allowed",
    "20": "Invalid Message Class",
    "22": "Invalid Network Code",
    "23": "Invalid Callback Url",
    "29": "Non-White-Listed Destination - rejected",
    "32": "Signature And API Secret Disallowed",
    "33": "Number De-activated",
    "34": "Invalid or missing to param",
}

TYPES = ("text", "binary", "wappush", "unicode", "vcal", "vcard")
_TO = re.compile(r"\d{7,15}")
_FROM_DIGITS = re.compile(r"\d{1,15}")
_FROM_ALNUM = re.compile(r"[A-Za-z0-9]{1,11}")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")
_BOOLS = {"true": True, "1": True, "false": False, "0": False}


class Refused(Exception):
    """A Vonage status other than 0 for this send."""

    def __init__(self, status: str, text: str | None = None, to: str | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.text = text or ERROR_TEXTS.get(status, "Error")
        self.to = to
        self.default_text = text is None  # the answer may restyle it (throttle_text knob)


@dataclass
class SendRequest:
    to: str
    sender: str
    type: str
    text: str  # what the handset shows (text/unicode), or the vcard/vcal/wappush/body payload
    split: segments.Split
    client_ref: str | None
    status_report_req: bool
    callback: str | None
    ttl: int | None
    message_class: int | None


def throttle_text(wait_seconds: float, style: str = "wait") -> str:
    """The error-text of status 1, in one of the three forms Vonage sends (the
    `throttle_text` knob): with the wait in milliseconds, without it, or the MT limit."""
    ms = max(1, round(wait_seconds * 1000))
    if style == "no_wait":
        return "Throughput Rate Exceeded - please wait and retry"
    if style == "mt_limit":
        now_ms = int(time.time() * 1000)
        since = max(0, 1000 - min(ms, 1000))
        return (
            f"Exceeded maximum MT throughput[ MAX [ 30 ] INTERVAL [ 1000 ] COUNT [ 30 ] "
            f"LAST INT-START [ {now_ms - since} ] TIME_SINCE_LAST_INTERVAL_START [ {since} ]  ] "
        )
    return f"Throughput Rate Exceeded - please wait [ {ms} ] and retry"


def check_callback(url: str, allow_loopback_http: bool) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and allow_loopback_http and is_loopback_url(url)


def _int_param(params: dict[str, str], name: str, status: str, lo: int, hi: int) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise Refused(status, f"Invalid {name} param") from None
    if not lo <= value <= hi:
        raise Refused(status, f"Invalid {name} param")
    return value


def validate(state: EmulatorState, params: dict[str, str], default_dlr: bool) -> SendRequest:
    """Check the form fields; raise Refused with the status Vonage gives."""
    sender = params.get("from", "")
    to = params.get("to", "")
    kind = params.get("type", "") or "text"
    if not sender:
        raise Refused("2", "Missing from param")
    if not to:
        raise Refused("2", "Missing to param")
    if kind not in TYPES:
        raise Refused("3", "Invalid type param", to)
    required = {
        "text": ("text",),
        "unicode": ("text",),
        "binary": ("body", "udh"),
        "vcard": ("vcard",),
        "vcal": ("vcal",),
        "wappush": ("title", "url"),
    }[kind]
    for name in required:
        if not params.get(name):
            raise Refused("2", f"Missing {name} param", to)
    if not _TO.fullmatch(to):
        raise Refused("34", "Invalid to param", to)
    if not (_FROM_DIGITS.fullmatch(sender) or _FROM_ALNUM.fullmatch(sender)):
        raise Refused("15", "Illegal Sender Address - rejected", to)
    ttl = _int_param(params, "ttl", "16", 20000, 604800000)
    message_class = _int_param(params, "message-class", "20", 0, 3)
    _int_param(params, "protocol-id", "3", 0, 255)
    raw_report = params.get("status-report-req")
    if raw_report is None or raw_report == "":
        report = default_dlr
    elif raw_report.lower() in _BOOLS:
        report = _BOOLS[raw_report.lower()]
    else:
        raise Refused("3", "Invalid status-report-req param", to)
    callback = params.get("callback") or None
    with state.lock:
        knobs = dict(state.knobs)
    if callback is not None and not check_callback(callback, knobs["allow_http_callback_loopback"]):
        raise Refused("23", "Invalid Callback Url", to)
    client_ref = params.get("client-ref") or None
    if client_ref is not None and len(client_ref) > 40:
        raise Refused("3", "Invalid client-ref param", to)

    text, split = _content(params, kind, knobs, to)
    whitelist = knobs["whitelist"]
    if whitelist is not None and to not in whitelist:
        raise Refused("29", ERROR_TEXTS["29"], to)
    forced = knobs["forced_status"].get(to)
    if forced is not None and forced != "0":
        raise Refused(forced, None, to)
    return SendRequest(
        to, sender, kind, text, split, client_ref, report, callback, ttl, message_class
    )


def _content(
    params: dict[str, str], kind: str, knobs: dict[str, Any], to: str
) -> tuple[str, segments.Split]:
    if kind == "binary":
        body, udh = params["body"], params["udh"]
        if not (_HEX.fullmatch(body) and _HEX.fullmatch(udh)):
            raise Refused("3", "Invalid body param", to)
        if (len(body) + len(udh)) // 2 > 140:
            raise Refused("12", ERROR_TEXTS["12"], to)
        return body, segments.Split("binary", (len(body) + len(udh)) // 2, (body,))
    if kind in ("vcard", "vcal"):
        payload = params[kind]
        return payload, segments.Split("gsm7", len(payload), (payload,))
    if kind == "wappush":
        payload = f"{params['title']} {params['url']}"
        return payload, segments.Split("gsm7", len(payload), (payload,))
    text = params["text"]
    if len(text) > knobs["max_text_length"]:
        raise Refused("12", ERROR_TEXTS["12"], to)
    if kind == "unicode":
        return text, segments.split(text, unicode=True)
    if not segments.is_gsm7(text):
        policy = knobs["non_gsm_text"]
        if policy == "reject":
            raise Refused("6", ERROR_TEXTS["6"], to)
        if policy == "unicode":
            return text, segments.split(text, unicode=True)
        text = segments.gsm7_replace(text)
    return text, segments.split(text, unicode=False)


def refused_answer(refused: Refused, count_int: bool = False) -> dict[str, Any]:
    entry: dict[str, str] = {}
    if refused.to:
        entry["to"] = refused.to
    entry["status"] = refused.status
    entry["error-text"] = refused.text
    return {"message-count": 1 if count_int else "1", "messages": [entry]}


def accept(
    state: EmulatorState, req: SendRequest, api: str, extra: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Bill and record an accepted message: (answer body, message record)."""
    total = len(req.split.parts)
    with state.lock:
        price_s = state.knobs["price_per_part"]
        network = state.knobs["network"]
        count_int = state.knobs["message_count_int"]
        partial = state.knobs["partial_status"].get(req.to) if total > 1 else None
        style = state.knobs["throttle_text"]
    # partial_status: part 1 goes out, the later parts are refused (one entry each).
    n = 1 if partial is not None else total
    price = Decimal(price_s)
    charged = state.charge(n)
    if charged is None:
        raise Refused("9", ERROR_TEXTS["9"], req.to)
    _, remaining = charged
    balance_after = Decimal(remaining)
    ids = [state.new_message_id() for _ in range(n)]
    entries = []
    for i, mid in enumerate(ids):
        # Each part shows the balance after that part was billed.
        left = balance_after + price * (n - 1 - i)
        entry = {
            "to": req.to,
            "message-id": mid,
            "status": "0",
            "remaining-balance": f"{left:.8f}",
            "message-price": f"{price:.8f}",
            "network": network,
        }
        if req.client_ref is not None:
            entry["client-ref"] = req.client_ref
        entries.append(entry)
    if partial is not None:
        text = throttle_text(1.0, style) if partial == "1" else ERROR_TEXTS.get(partial, "Error")
        entries += [{"to": req.to, "status": partial, "error-text": text} for _ in range(n, total)]
    record = {
        "api": api,
        "to": req.to,
        "from": req.sender,
        "text": req.text,
        "type": req.type,
        "encoding": req.split.encoding,
        "units": req.split.units,
        "parts": n,
        "part_texts": list(req.split.parts[:n]),
        "message_ids": ids,
        "refused_parts": total - n,  # partial_status: parts refused after the first
        "client_ref": req.client_ref,
        "status_report_req": req.status_report_req,
        "callback": req.callback,
        "ttl": req.ttl,
        "message_class": req.message_class,
        "price": f"{price:.8f}",
        "network": network,
        "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        **extra,
    }
    with state.lock:
        state.messages.append(record)
        cap = state.knobs["max_messages"]
        if cap is not None and len(state.messages) > cap:
            del state.messages[: len(state.messages) - cap]
        state.counters["accepted"] += 1
        state.counters["parts"] += n
        if partial is not None:
            state.counters["partial"] += 1
            state.counters["status_1"] += partial == "1"
    count = len(entries)
    return {"message-count": count if count_int else str(count), "messages": entries}, record
