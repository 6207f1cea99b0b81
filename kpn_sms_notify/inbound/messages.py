"""Inbound SMS: one webhook call (`InboundPart`) and a whole text (`InboundMessage`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import KpnValidationError
from ..numbers import from_wire
from ..textclean import repair_surrogates
from .messages_api import MESSAGES_INBOUND_FIELDS, is_messages_api, messages_values, sms_timestamp
from .wire import (
    _MAX_TIMESTAMP,
    INBOUND_FIELDS,
    INBOUND_TYPES,
    _address,
    _bad,
    _bool,
    _collect,
    _int,
    _message_id,
)

# A text part or binary payload may be long (up to MAX_FIELD_CHARS); every other field is an
# id, a number, a timestamp or a keyword, and far shorter than this.
MAX_SHORT_FIELD_CHARS = 256
_LONG_FIELDS = frozenset({"text", "data"})
_WIRE_NAME = {attr: wire for wire, attr in reversed(INBOUND_FIELDS.items())}


@dataclass(frozen=True, slots=True)
class InboundPart:
    """One inbound SMS as delivered by the webhook: a whole text or one part of a long one."""

    msisdn: str  # the sender, E.164 with "+"
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
        """Rebuild from :meth:`to_dict` output (e.g. a host's journal, which may hold the
        numbers without "+" of an older version)."""
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for key in ("msisdn", "to"):
            if isinstance(fields.get(key), str):
                fields[key] = from_wire(fields[key])
        return cls(**fields)


def parse_inbound(params: Mapping[str, Any]) -> InboundPart:
    """Parse the parameters of an inbound-SMS webhook (query, form or JSON), in the SMS
    API's shape or the Messages API's (see `messages_api`).

    Raises KpnValidationError naming the field for a missing or malformed value.
    """
    if is_messages_api(params):
        return _parse_messages_api(params)
    values = _collect(params, INBOUND_FIELDS)
    for attr, value in values.items():
        if attr not in _LONG_FIELDS and len(value) > MAX_SHORT_FIELD_CHARS:
            raise _bad(_WIRE_NAME[attr], value, f"longer than {MAX_SHORT_FIELD_CHARS} characters")
        if attr != "text":  # the text is repaired after reassembly: a pair may be split
            values[attr] = repair_surrogates(value)
    msisdn = _address(values, "msisdn", "msisdn")
    to = _address(values, "to", "to")
    message_id = _message_id(values, "messageId")
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


def _parse_messages_api(params: Mapping[str, Any]) -> InboundPart:
    """A Messages API inbound text: always whole, its text already joined by Vonage."""
    if "status" in params:  # what a status URL gets: never an (empty) inbound text
        raise KpnValidationError(
            "status: a Messages API status, not an inbound text; send it to the receipt URL",
            field="status",
            value=None,
        )
    values = messages_values(params, MESSAGES_INBOUND_FIELDS)
    kind = values.get("message_type", "text").strip().lower()
    if kind != "text":
        raise _bad("message_type", kind, "expected text; only SMS text is handled here")
    return InboundPart(
        msisdn=_address(values, "msisdn", "from"),
        to=_address(values, "to", "to"),
        message_id=_message_id(values, "message_uuid"),
        text=values.get("text", ""),
        keyword=values.get("keyword"),
        message_timestamp=sms_timestamp(values.get("message_timestamp")),
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
            text=repair_surrogates(part.text),
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
            # Joined first, then repaired: an emoji split across two parts (one surrogate
            # half in each, as UCS-2 concatenation does) becomes whole again.
            text=repair_surrogates("".join(p.text for p in ordered)),
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
