"""Delivery receipts (DLRs): parsing, status classification, err-code meanings."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ..textclean import repair_surrogates
from .messages_api import (
    MESSAGES_STATUS_FIELDS,
    error_code,
    is_messages_api,
    messages_values,
    sms_timestamp,
)
from .wire import (
    _MAX_TIMESTAMP,
    DLR_FIELDS,
    _address,
    _bad,
    _collect,
    _int,
    _message_id,
    _required,
)


class DeliveryOutcome(StrEnum):
    """What a delivery receipt means for the sender."""

    DELIVERED = "delivered"  # final, ok
    FAILED = "failed"  # final, not delivered
    PENDING = "pending"  # still on its way
    UNKNOWN = "unknown"


# DLR status word -> outcome (kpn-api-facts §4.2, the COURIER mapping).
DLR_STATUSES: dict[str, DeliveryOutcome] = {
    "delivered": DeliveryOutcome.DELIVERED,
    "failed": DeliveryOutcome.FAILED,
    "expired": DeliveryOutcome.FAILED,
    "rejected": DeliveryOutcome.FAILED,
    "accepted": DeliveryOutcome.PENDING,
    "buffered": DeliveryOutcome.PENDING,
    "unknown": DeliveryOutcome.UNKNOWN,
    # The Messages API's words for the same (its status webhook, see `messages_api`).
    "submitted": DeliveryOutcome.PENDING,
    "read": DeliveryOutcome.DELIVERED,
    "undeliverable": DeliveryOutcome.FAILED,
}

# DLR err-code -> meaning (kpn-api-facts §4.2). Non-zero: not delivered, nobody retries.
DLR_ERROR_CODES: dict[int, str] = {
    0: "Delivered",
    1: "Unknown",
    2: "Absent subscriber, temporary",
    3: "Absent subscriber, permanent",
    4: "Call barred by user",
    5: "Portability error",
    6: "Anti-spam rejection",
    7: "Handset busy",
    8: "Network error",
    9: "Illegal number (recipient opted out)",
    10: "Illegal message",
    11: "Unroutable",
    12: "Destination unreachable",
    13: "Subscriber age restriction",
    14: "Number blocked by carrier",
    15: "Prepaid: insufficient funds",
    16: "Gateway quota exceeded",
    50: "Entity filter",
    51: "Header filter",
    52: "Content filter",
    53: "Consent filter",
    54: "Regulation error",
    99: "General error",
}


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """One delivery receipt (DLR): the fate of one sent part."""

    message_id: str
    status: str  # the wire word, lower case
    msisdn: str | None = None  # the recipient
    to: str | None = None  # the sender ID used
    network_code: str | None = None
    price: str | None = None  # kept as the wire string: exact decimal
    scts: str | None = None
    err_code: int | None = None
    client_ref: str | None = None
    message_timestamp: str | None = None
    api_key: str | None = None
    timestamp: int | None = None
    nonce: str | None = None
    error_reason: str | None = None  # the gateway's own words, when it gives them

    @property
    def outcome(self) -> DeliveryOutcome:
        return DLR_STATUSES.get(self.status, DeliveryOutcome.UNKNOWN)

    @property
    def final(self) -> bool:
        """True when no further receipt will change the outcome."""
        return self.outcome in (DeliveryOutcome.DELIVERED, DeliveryOutcome.FAILED)

    @property
    def key(self) -> str:
        """This receipt's identity: a redelivery has the same (part id, status, err-code)."""
        return f"{self.message_id}:{self.status}:{self.err_code}"

    @property
    def delivered(self) -> bool:
        return self.outcome is DeliveryOutcome.DELIVERED

    @property
    def failed(self) -> bool:
        return self.outcome is DeliveryOutcome.FAILED

    @property
    def error_meaning(self) -> str | None:
        """What ``err_code`` means, or None when there is none."""
        if self.error_reason:
            return self.error_reason
        if self.err_code is None:
            return None
        return DLR_ERROR_CODES.get(self.err_code, f"Unlisted error code {self.err_code}")

    @property
    def carrier_time(self) -> datetime | None:
        """``scts`` (YYMMDDHHMM, UTC) as a datetime, or None when absent or unreadable."""
        if not self.scts:
            return None
        try:
            return datetime.strptime(self.scts, "%y%m%d%H%M").replace(tzinfo=UTC)
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("api_key", None)
        data["outcome"] = self.outcome.value
        data["final"] = self.final
        data["error_meaning"] = self.error_meaning
        return data


class SeenReceipts:
    """Receipt keys already handed on (KPN delivers at least once): a redelivery is answered
    without a second record or event. Bounded; the least recently seen are forgotten first."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._keys: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def remember(self, key: str) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.max_entries:
            self._keys.popitem(last=False)

    def first(self, key: str) -> bool:
        """True the first time a key is seen (and remember it), False for a redelivery."""
        seen = key in self._keys
        self.remember(key)
        return not seen


def parse_delivery_receipt(params: Mapping[str, Any]) -> DeliveryReceipt:
    """Parse the parameters of a delivery-receipt webhook (query, form or JSON), in the SMS
    API's shape or as a Messages API status (see `messages_api`).

    Unlisted status words are kept (outcome ``unknown``) so a new gateway word is not a 400.
    """
    if is_messages_api(params):
        return _parse_messages_status(params)
    values = {k: repair_surrogates(v) for k, v in _collect(params, DLR_FIELDS).items()}
    message_id = _message_id(values, "messageId")
    status = _status(values)
    msisdn = _address(values, "msisdn", "msisdn") if "msisdn" in values else None
    to = _address(values, "to", "to") if "to" in values else None
    return DeliveryReceipt(
        message_id=message_id,
        status=status,
        msisdn=msisdn,
        to=to,
        network_code=values.get("network_code"),
        price=values.get("price"),
        scts=values.get("scts"),
        err_code=_int(values, "err_code", "err-code", 0, 9999),
        client_ref=values.get("client_ref"),
        message_timestamp=values.get("message_timestamp"),
        api_key=values.get("api_key"),
        timestamp=_int(values, "timestamp", "timestamp", 0, _MAX_TIMESTAMP),
        nonce=values.get("nonce"),
    )


def _status(values: dict[str, str]) -> str:
    status = _required(values, "status", "status").strip().lower()
    if not status or len(status) > 32 or not status.replace("_", "").isalnum():
        raise _bad("status", status, "expected a status word such as delivered or failed")
    return status


def _parse_messages_status(params: Mapping[str, Any]) -> DeliveryReceipt:
    """A Messages API status: `to` is the recipient there, `from` the sender ID used."""
    values = messages_values(params, MESSAGES_STATUS_FIELDS)
    return DeliveryReceipt(
        message_id=_message_id(values, "message_uuid"),
        status=_status(values),
        msisdn=_address(values, "msisdn", "to") if "msisdn" in values else None,
        to=_address(values, "to", "from") if "to" in values else None,
        network_code=values.get("network_code"),
        price=values.get("price"),
        err_code=error_code(values),
        client_ref=values.get("client_ref"),
        message_timestamp=sms_timestamp(values.get("message_timestamp")),
        error_reason=values.get("error_reason"),
    )
