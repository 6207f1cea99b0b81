"""Wire names and the checks every webhook field goes through (values may be strings,
numbers or one-element lists, as query parsers give them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import KpnValidationError
from ..numbers import from_wire, mask_number

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
            # An empty value is left out: an optional field reads as absent, a required one
            # as missing, and the text as "" all the same (its readers default to "").
            if value is not None and value != "":
                out[attr] = value
    return out


def _required(values: dict[str, str], attr: str, wire: str) -> str:
    if attr not in values:
        raise KpnValidationError(f"{wire}: required field missing", field=wire, value=None)
    return values[attr]


def _message_id(values: dict[str, str], wire: str) -> str:
    """The gateway's id of a message: 1..64 characters."""
    message_id = _required(values, "message_id", wire).strip()
    if not message_id or len(message_id) > 64:
        raise _bad(wire, message_id, "expected 1..64 characters")
    return message_id


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
    """A phone number or sender ID: printable, no spaces, at most 32 characters. A number
    comes back in the canonical form, with "+"."""
    raw = _required(values, attr, wire).strip().lstrip("+")
    if not raw or len(raw) > 32 or not raw.isprintable() or " " in raw:
        raise _bad(wire, raw, "expected a phone number or sender ID", number=True)
    return from_wire(raw)


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
