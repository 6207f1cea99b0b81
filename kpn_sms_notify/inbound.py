"""Inbound SMS and delivery receipts: parsing, de-duplication, reassembly, signatures.

Host-neutral and without I/O: Home Assistant and ``kpn-sms serve`` both feed it the
parameters of a webhook request (GET query, form or JSON; values strings or numbers) and
decide themselves what to do with the result.

- :func:`parse_inbound` / :func:`parse_delivery_receipt` turn wire parameters into frozen
  dataclasses. The wire names (``messageId``, ``concat-ref``, ``err-code`` ...) are mapped to
  snake_case in one place, the ``*_FIELDS`` tables below.
- :class:`InboundAssembler` drops redeliveries (KPN/Vonage deliver at least once) and joins
  the parts of a concatenated text, with bounded memory.
- :func:`verify_signature` checks the Vonage ``sig`` parameter (md5hash or HMAC).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.numbers import mask_number

__all__ = [
    "DLR_ERROR_CODES",
    "DLR_STATUSES",
    "SIGNATURE_METHODS",
    "DeliveryOutcome",
    "DeliveryReceipt",
    "InboundAssembler",
    "InboundMessage",
    "InboundPart",
    "compute_signature",
    "parse_delivery_receipt",
    "parse_inbound",
    "verify_signature",
]

# Wire name -> attribute name. Aliases seen in the wild (dash/camel/snake variants) map to the
# same attribute; the first name listed for an attribute is the canonical wire name.
INBOUND_FIELDS: dict[str, str] = {
    "msisdn": "msisdn",
    "to": "to",
    "messageId": "message_id",
    "message-id": "message_id",
    "message_id": "message_id",
    "text": "text",
    "type": "type",
    "keyword": "keyword",
    "message-timestamp": "message_timestamp",
    "timestamp": "timestamp",
    "nonce": "nonce",
    "concat": "concat",
    "concat-ref": "concat_ref",
    "concat-total": "concat_total",
    "concat-part": "concat_part",
    "data": "data",
    "udh": "udh",
    "api-key": "api_key",
}

DLR_FIELDS: dict[str, str] = {
    "msisdn": "msisdn",
    "to": "to",
    "network-code": "network_code",
    "messageId": "message_id",
    "message-id": "message_id",
    "message_id": "message_id",
    "price": "price",
    "status": "status",
    "scts": "scts",
    "err-code": "err_code",
    "client-ref": "client_ref",
    "message-timestamp": "message_timestamp",
    "api-key": "api_key",
    "timestamp": "timestamp",
    "nonce": "nonce",
}

MAX_FIELD_CHARS = 4096  # one SMS part is at most 160 characters; anything far longer is junk
INBOUND_TYPES = frozenset({"text", "unicode", "binary"})


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


# --------------------------------------------------------------------------- parsing helpers


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _bad(field_name: str, value: Any, reason: str, *, number: bool = False) -> KpnValidationError:
    shown = mask_number(str(value)) if number and isinstance(value, str | int) else _short(value)
    return KpnValidationError(
        f"{field_name}: {reason} (got {shown})", field=field_name, value=shown
    )


def _scalar(field_name: str, value: Any) -> str | None:
    """One wire value as a string; None when absent or empty. Query parsers may give lists."""
    if isinstance(value, list | tuple):
        if len(value) != 1:
            raise _bad(field_name, value, "expected one value")
        value = value[0]
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        value = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if not isinstance(value, str):
        raise _bad(field_name, value, "expected a string or number")
    if len(value) > MAX_FIELD_CHARS:
        raise _bad(field_name, value, f"longer than {MAX_FIELD_CHARS} characters")
    return value


def _collect(params: Mapping[str, Any], table: Mapping[str, str]) -> dict[str, str]:
    """Map wire names to attribute names; the canonical name wins over an alias."""
    if not isinstance(params, Mapping):
        raise KpnValidationError(
            f"payload: expected an object of parameters (got {type(params).__name__})",
            field="payload",
            value=type(params).__name__,
        )
    out: dict[str, str] = {}
    for wire, attr in table.items():
        if wire in params and attr not in out:
            value = _scalar(wire, params[wire])
            if value is not None and value != "":
                out[attr] = value
            elif attr == "text" and value == "":
                out[attr] = ""
    return out


def _required(values: dict[str, str], attr: str, wire: str) -> str:
    if attr not in values:
        raise KpnValidationError(f"{wire}: required field missing", field=wire, value=None)
    return values[attr]


def _int(values: dict[str, str], attr: str, wire: str, low: int, high: int) -> int | None:
    raw = values.get(attr)
    if raw is None:
        return None
    try:
        number = int(raw.strip())
    except ValueError:
        raise _bad(wire, raw, "expected a whole number") from None
    if not low <= number <= high:
        raise _bad(wire, raw, f"expected {low}..{high}")
    return number


def _address(values: dict[str, str], attr: str, wire: str) -> str:
    """A phone number or sender ID: printable, no spaces, at most 32 characters."""
    raw = _required(values, attr, wire).strip().lstrip("+")
    if not raw or len(raw) > 32 or not raw.isprintable() or " " in raw:
        raise _bad(wire, raw, "expected a phone number or sender ID", number=True)
    return raw


def _bool(values: dict[str, str], attr: str, wire: str) -> bool:
    raw = values.get(attr)
    if raw is None:
        return False
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise _bad(wire, raw, "expected true or false")


_MAX_TIMESTAMP = 2**33  # Unix seconds; anything later is garbage


# --------------------------------------------------------------------------- inbound SMS


@dataclass(frozen=True, slots=True)
class InboundPart:
    """One inbound SMS as delivered by the webhook: a whole text or one part of a long one."""

    msisdn: str  # the sender, E.164 digits
    to: str  # our number
    message_id: str
    text: str = ""
    type: str = "text"
    keyword: str | None = None
    message_timestamp: str | None = None
    timestamp: int | None = None
    nonce: str | None = None
    concat: bool = False
    concat_ref: str | None = None
    concat_total: int | None = None
    concat_part: int | None = None
    data: str | None = None
    udh: str | None = None
    api_key: str | None = None

    @property
    def is_part(self) -> bool:
        """True when this is one part of several that must be joined."""
        return self.concat and self.concat_ref is not None and (self.concat_total or 1) > 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InboundPart:
        """Rebuild from :meth:`to_dict` output (e.g. a host's journal)."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def parse_inbound(params: Mapping[str, Any]) -> InboundPart:
    """Parse the parameters of an inbound-SMS webhook (query, form or JSON).

    Raises KpnValidationError naming the field for a missing or malformed value.
    """
    values = _collect(params, INBOUND_FIELDS)
    msisdn = _address(values, "msisdn", "msisdn")
    to = _address(values, "to", "to")
    message_id = _required(values, "message_id", "messageId").strip()
    if not message_id or len(message_id) > 64:
        raise _bad("messageId", message_id, "expected 1..64 characters")
    kind = values.get("type", "text").strip().lower()
    if kind not in INBOUND_TYPES:
        raise _bad("type", kind, "expected text, unicode or binary")
    concat = _bool(values, "concat", "concat")
    total = _int(values, "concat_total", "concat-total", 1, 255)
    part = _int(values, "concat_part", "concat-part", 1, 255)
    ref = values.get("concat_ref")
    if concat and ref is not None:
        # The UDH fields come together; a part without its number or total cannot be joined.
        if total is None:
            raise KpnValidationError(
                "concat-total: required field missing for a concatenated part",
                field="concat-total",
                value=None,
            )
        if part is None:
            raise KpnValidationError(
                "concat-part: required field missing for a concatenated part",
                field="concat-part",
                value=None,
            )
        if part > total:
            raise _bad("concat-part", part, f"greater than concat-total {total}")
    return InboundPart(
        msisdn=msisdn,
        to=to,
        message_id=message_id,
        text=values.get("text", ""),
        type=kind,
        keyword=values.get("keyword"),
        message_timestamp=values.get("message_timestamp"),
        timestamp=_int(values, "timestamp", "timestamp", 0, _MAX_TIMESTAMP),
        nonce=values.get("nonce"),
        concat=concat,
        concat_ref=ref,
        concat_total=total,
        concat_part=part,
        data=values.get("data"),
        udh=values.get("udh"),
        api_key=values.get("api_key"),
    )


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A whole inbound text: a single SMS, or the parts of a long one joined in order."""

    msisdn: str
    to: str
    text: str
    type: str
    message_ids: tuple[str, ...]
    keyword: str | None = None
    message_timestamp: str | None = None
    concat_ref: str | None = None
    total_parts: int = 1
    received_parts: int = 1
    data: str | None = None
    parts: tuple[InboundPart, ...] = field(default=(), repr=False, compare=False)

    @property
    def message_id(self) -> str:
        """The first part's id: the message's identity."""
        return self.message_ids[0]

    @property
    def complete(self) -> bool:
        return self.received_parts >= self.total_parts

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (without the raw parts)."""
        return {
            "msisdn": self.msisdn,
            "to": self.to,
            "text": self.text,
            "type": self.type,
            "keyword": self.keyword,
            "message_id": self.message_id,
            "message_ids": list(self.message_ids),
            "message_timestamp": self.message_timestamp,
            "concat_ref": self.concat_ref,
            "total_parts": self.total_parts,
            "received_parts": self.received_parts,
            "complete": self.complete,
            "data": self.data,
        }

    @classmethod
    def from_part(cls, part: InboundPart) -> InboundMessage:
        return cls(
            msisdn=part.msisdn,
            to=part.to,
            text=part.text,
            type=part.type,
            message_ids=(part.message_id,),
            keyword=part.keyword,
            message_timestamp=part.message_timestamp,
            data=part.data,
            parts=(part,),
        )

    @classmethod
    def join(cls, parts: Iterable[InboundPart], total: int) -> InboundMessage:
        """Join parts (any order; gaps allowed for an incomplete message) by part number."""
        ordered = sorted(parts, key=lambda p: p.concat_part or 0)
        first = ordered[0]
        data = "".join(p.data or "" for p in ordered) if first.type == "binary" else None
        return cls(
            msisdn=first.msisdn,
            to=first.to,
            text="".join(p.text for p in ordered),
            type="unicode" if any(p.type == "unicode" for p in ordered) else first.type,
            message_ids=tuple(p.message_id for p in ordered),
            keyword=first.keyword if first.concat_part == 1 else None,
            message_timestamp=first.message_timestamp,
            concat_ref=first.concat_ref,
            total_parts=total,
            received_parts=len(ordered),
            data=data,
            parts=tuple(ordered),
        )


@dataclass
class _Pending:
    created: float
    total: int
    parts: dict[int, InboundPart]


class InboundAssembler:
    """De-duplicate inbound parts on messageId and join concatenated texts.

    ``feed(part)`` returns the completed message once (a single SMS at once, a long text when
    its last part arrives) and ``None`` for a redelivery or a part still waiting for others.
    Memory is bounded: at most ``max_seen`` remembered ids (least recently seen dropped first)
    and ``max_pending`` unfinished texts; an unfinished text older than ``ttl`` seconds, or
    pushed out by newer ones, is handed out incomplete by :meth:`take_expired` rather than
    silently dropped.
    """

    def __init__(
        self,
        max_pending: int = 256,
        ttl: float = 3600.0,
        *,
        max_seen: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_pending < 1 or max_seen < 1 or ttl <= 0:
            raise KpnValidationError(
                "InboundAssembler: max_pending, max_seen and ttl must be positive",
                field="max_pending",
                value=max_pending,
            )
        self.max_pending = max_pending
        self.ttl = ttl
        self.max_seen = max_seen
        self._clock = clock
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._pending: OrderedDict[tuple[str, str, str], _Pending] = OrderedDict()
        self._expired: list[InboundMessage] = []
        self.duplicates = 0
        self.completed = 0

    # -- public

    def feed(self, part: InboundPart) -> InboundMessage | None:
        self._expire(self._clock())
        if self.seen(part.message_id):
            self.duplicates += 1
            self._seen.move_to_end(part.message_id)
            return None
        self._remember(part.message_id)
        if not part.is_part:
            self.completed += 1
            return InboundMessage.from_part(part)
        key = self._key(part)
        pending = self._pending.get(key)
        if pending is None:
            pending = _Pending(self._clock(), part.concat_total or 1, {})
            self._pending[key] = pending
            self._bound()
        part_no = part.concat_part or 1
        if part_no in pending.parts:
            # Same part again under a new messageId (a carrier resend): keep the first.
            self.duplicates += 1
            return None
        pending.parts[part_no] = part
        if len(pending.parts) < pending.total:
            return None
        del self._pending[key]
        self.completed += 1
        return InboundMessage.join(pending.parts.values(), pending.total)

    def retract(self, part: InboundPart, message: InboundMessage | None = None) -> None:
        """Undo ``feed(part)``: the host could not store the result and will answer an error,
        so the sender's redelivery of ``part`` must be accepted (and complete ``message``) again.
        """
        self._seen.pop(part.message_id, None)
        if message is None or not part.is_part:
            return
        others = {p.concat_part or 1: p for p in message.parts if p.message_id != part.message_id}
        if others:
            self._pending[self._key(part)] = _Pending(self._clock(), message.total_parts, others)
            self.completed -= 1

    def seen(self, message_id: str) -> bool:
        return message_id in self._seen

    def mark_seen(self, message_ids: Iterable[str]) -> None:
        """Remember ids accepted earlier (e.g. read back from a host's store after a restart)."""
        for message_id in message_ids:
            self._remember(message_id)

    def take_expired(self) -> list[InboundMessage]:
        """Unfinished texts given up on since the last call, joined as far as they got."""
        self._expire(self._clock())
        expired, self._expired = self._expired, []
        return expired

    def pending_parts(self) -> list[InboundPart]:
        """Parts still waiting for the rest of their text (for a host to persist)."""
        return [p for pending in self._pending.values() for p in pending.parts.values()]

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def seen_count(self) -> int:
        return len(self._seen)

    # -- internals

    @staticmethod
    def _key(part: InboundPart) -> tuple[str, str, str]:
        return (part.msisdn, part.to, part.concat_ref or "")

    def _remember(self, message_id: str) -> None:
        self._seen[message_id] = None
        self._seen.move_to_end(message_id)
        while len(self._seen) > self.max_seen:
            self._seen.popitem(last=False)

    def _give_up(self, key: tuple[str, str, str]) -> None:
        pending = self._pending.pop(key)
        self._expired.append(InboundMessage.join(pending.parts.values(), pending.total))
        # Bound the hand-out list too, in case a host never calls take_expired().
        del self._expired[: -self.max_pending]

    def _bound(self) -> None:
        while len(self._pending) > self.max_pending:
            self._give_up(next(iter(self._pending)))

    def _expire(self, now: float) -> None:
        while self._pending:
            key, pending = next(iter(self._pending.items()))
            if now - pending.created < self.ttl:
                break
            self._give_up(key)


# --------------------------------------------------------------------------- delivery receipts


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

    @property
    def outcome(self) -> DeliveryOutcome:
        return DLR_STATUSES.get(self.status, DeliveryOutcome.UNKNOWN)

    @property
    def final(self) -> bool:
        """True when no further receipt will change the outcome."""
        return self.outcome in (DeliveryOutcome.DELIVERED, DeliveryOutcome.FAILED)

    @property
    def delivered(self) -> bool:
        return self.outcome is DeliveryOutcome.DELIVERED

    @property
    def failed(self) -> bool:
        return self.outcome is DeliveryOutcome.FAILED

    @property
    def error_meaning(self) -> str | None:
        """What ``err_code`` means, or None when there is none."""
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


def parse_delivery_receipt(params: Mapping[str, Any]) -> DeliveryReceipt:
    """Parse the parameters of a delivery-receipt webhook (query, form or JSON).

    Unlisted status words are kept (outcome ``unknown``) so a new gateway word is not a 400.
    """
    values = _collect(params, DLR_FIELDS)
    message_id = _required(values, "message_id", "messageId").strip()
    if not message_id or len(message_id) > 64:
        raise _bad("messageId", message_id, "expected 1..64 characters")
    status = _required(values, "status", "status").strip().lower()
    if not status or len(status) > 32 or not status.replace("_", "").isalnum():
        raise _bad("status", status, "expected a status word such as delivered or failed")
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


# --------------------------------------------------------------------------- signatures

SIGNATURE_METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")


def _signing_string(params: Mapping[str, Any]) -> str:
    pieces = []
    for key in sorted(k for k in params if k != "sig"):
        value = _scalar(key, params[key])
        value = "" if value is None else value.replace("&", "_").replace("=", "_")
        pieces.append(f"&{key}={value}")
    return "".join(pieces)


def compute_signature(params: Mapping[str, Any], secret: str, method: str = "md5hash") -> str:
    """The Vonage signature (lower-case hex) of ``params`` (``sig`` ignored), as a sender
    computes it. The caller includes ``timestamp``; Vonage always sends one with a signature.
    """
    if method not in SIGNATURE_METHODS:
        raise _bad("method", method, "expected one of " + ", ".join(SIGNATURE_METHODS))
    joined = _signing_string(params)
    if method == "md5hash":
        # Plain digest of the string with the secret appended (not an HMAC).
        return hashlib.md5((joined + secret).encode(), usedforsecurity=False).hexdigest()
    return hmac.new(secret.encode(), joined.encode(), method).hexdigest()


def verify_signature(
    params: Mapping[str, Any],
    secret: str,
    method: str = "md5hash",
    *,
    max_skew: float | None = None,
    now: float | None = None,
) -> bool:
    """True when ``params["sig"]`` is the Vonage signature of the other parameters.

    Without a ``sig`` or ``timestamp`` the answer is False. With ``max_skew`` (seconds), a
    ``timestamp`` further than that from ``now`` (default: the clock) is refused too, against
    replays. Comparison is constant-time and ignores case (the .NET SDK sends upper case).
    """
    try:
        sig = _scalar("sig", params.get("sig"))
        stamp = _scalar("timestamp", params.get("timestamp"))
    except KpnValidationError:
        return False
    if not sig or not stamp:
        return False
    if max_skew is not None:
        try:
            stamp_value = float(stamp)
        except ValueError:
            return False
        current = time.time() if now is None else now
        if abs(current - stamp_value) > max_skew:
            return False
    try:
        expected = compute_signature(params, secret, method)
    except KpnValidationError:
        if method not in SIGNATURE_METHODS:
            raise
        return False  # a value that cannot be a wire value: not what the sender signed
    return hmac.compare_digest(expected.encode(), sig.strip().lower().encode())
