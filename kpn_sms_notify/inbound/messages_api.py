"""The Messages API's webhook shapes: how to recognise one, and its wire names.

An account set to the Messages API (rather than the SMS API) calls the same webhooks with
other names. An inbound text::

    {"channel": "sms", "message_type": "text", "message_uuid": "...", "to": "...",
     "from": "...", "text": "...", "timestamp": "2020-01-01T14:00:00Z",
     "sms": {"num_messages": "2", "keyword": "HELLO"}, "usage": {"price": "...", ...}}

Vonage has joined a long text already: one call is one whole message. A status::

    {"message_uuid": "...", "to": "<recipient>", "from": "<sender>", "timestamp": "...",
     "status": "delivered", "channel": "sms", "usage": {"price": "..."}, "client_ref": "...",
     "error": {"code": 1300, "reason": "..."}, "destination": {"network_code": "..."}}

`messages` and `receipts` map these onto the same records as the SMS API's, so hosts see
one inbound event and one receipt, whichever API the account uses. Nested objects are read
as dotted names (``sms.keyword``), which is also how an error names them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..textclean import repair_surrogates
from .wire import _bad, _collect

_SMS_API_NAMES = ("msisdn", "messageId", "message-id", "message_id")
_MESSAGES_API_NAMES = ("message_uuid", "channel")

# Wire name (dotted for nested objects) -> attribute name, as in `wire`.
MESSAGES_INBOUND_FIELDS: dict[str, str] = {
    "from": "msisdn",
    "to": "to",
    "message_uuid": "message_id",
    "text": "text",
    "message_type": "message_type",
    "channel": "channel",
    "timestamp": "message_timestamp",
    "sms.keyword": "keyword",
}

MESSAGES_STATUS_FIELDS: dict[str, str] = {
    "message_uuid": "message_id",
    "status": "status",
    "to": "msisdn",  # the recipient, as `msisdn` is in an SMS API receipt
    "from": "to",  # the sender ID used, as `to` is there
    "channel": "channel",
    "timestamp": "message_timestamp",
    "usage.price": "price",
    "client_ref": "client_ref",
    "destination.network_code": "network_code",
    "error.code": "err_code",
    "error.title": "err_title",
    "error.reason": "error_reason",
    "error.detail": "error_reason",
}


def is_messages_api(params: Any) -> bool:
    """True for a Messages API payload: its names, and none of the SMS API's."""
    return (
        isinstance(params, Mapping)
        and any(name in params for name in _MESSAGES_API_NAMES)
        and not any(name in params for name in _SMS_API_NAMES)
    )


def messages_values(params: Mapping[str, Any], table: Mapping[str, str]) -> dict[str, str]:
    """Collect a Messages API payload's fields; only the SMS channel is ours."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            flat.update({f"{key}.{sub}": inner for sub, inner in value.items()})
        else:
            flat[key] = value
    values = {key: repair_surrogates(value) for key, value in _collect(flat, table).items()}
    channel = values.get("channel", "sms").strip().lower()
    if channel != "sms":
        raise _bad("channel", channel, "expected sms; other channels are not SMS webhooks")
    return values


def sms_timestamp(raw: str | None) -> str | None:
    """An ISO 8601 time as the SMS API writes it (``YYYY-MM-DD HH:MM:SS``, UTC).

    A time that does not parse is kept as sent: a text is not refused for its clock.
    """
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OverflowError):
        return raw


def error_code(values: Mapping[str, str]) -> int | None:
    """The status error's number (``code``, or the v1 ``title``), when it is one."""
    for attr in ("err_code", "err_title"):
        raw = values.get(attr, "").strip()
        if raw.isdecimal() and len(raw) <= 6:
            return int(raw)
    return None
