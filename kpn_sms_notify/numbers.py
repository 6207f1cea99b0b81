"""Phone numbers and sender IDs: the canonical form, the wire form, masked for logs.

A number's canonical form is E.164 with "+" ("+31612345678"): what the project stores, shows
and reports. Only the wire (`wire_number`) drops the "+".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .errors import KpnValidationError

DEFAULT_REGION = "NL"
# E.164: at most 15 digits with the country code; the shortest numbers in use have 7.
E164_MAX_DIGITS = 15
E164_MIN_DIGITS = 7

# Characters people type inside numbers; phonenumbers copes with most, but "(0)" is a trap.
_TRUNK_IN_PARENS = re.compile(r"\(0\)")
_ALNUM_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")
_NUMERIC_SENDER = re.compile(r"^\d{1,15}$")

if TYPE_CHECKING:
    import phonenumbers


def normalize_number(raw: object, region: str = DEFAULT_REGION, *, field: str = "recipient") -> str:
    """Return `raw` in the canonical form, E.164 with "+": "0612345678" -> "+31612345678"
    (region NL).

    Accepts national ("06…"), international ("+31…", "0031…") and bare E.164 ("316…") forms.
    A "+" makes a number absolute, so the canonical form reads back as the same number in any
    region; bare digits are read as before (national first), which keeps stored configs working.
    Raises KpnValidationError naming `field` when it is not a valid number, or has more than
    the 15 digits E.164 allows.
    """
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise KpnValidationError(
            f"{field}: expected a phone number, got {type(raw).__name__}", field=field, value=raw
        )
    text = _TRUNK_IN_PARENS.sub("", str(raw)).strip()
    if not text:
        raise KpnValidationError(f"{field}: empty phone number", field=field, value="")
    parsed = _parse(text, region)
    if parsed is None:
        shown = mask_number(text)
        raise KpnValidationError(
            f"{field}: {shown!r} is not a valid phone number (default region {region})",
            field=field,
            value=shown,
        )
    import phonenumbers  # on first use: importing it costs more than httpx

    # format_number keeps Italian-style leading zeros that national_number drops.
    number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if len(number) - 1 > E164_MAX_DIGITS:  # phonenumbers accepts some; the gateway does not
        shown = mask_number(text)
        raise KpnValidationError(
            f"{field}: {shown!r} is not a valid phone number: more than {E164_MAX_DIGITS} "
            f"digits with the country code (default region {region})",
            field=field,
            value=shown,
        )
    return number


def country_code(raw: object, *, field: str = "country") -> str:
    """An ISO 3166-1 alpha-2 country code, upper case ("nl" -> "NL"), one that phone numbers
    exist for. Raises KpnValidationError naming `field` and the value."""
    import phonenumbers

    text = raw.strip().upper() if isinstance(raw, str) else ""
    if text not in phonenumbers.SUPPORTED_REGIONS:
        raise KpnValidationError(
            f"{field}: {raw!r} is not a two-letter ISO country code such as NL",
            field=field,
            value=raw,
        )
    return text


def country_of(number: str) -> str | None:
    """The ISO country code of a canonical number ("+31612345678" -> "NL"): the country of its
    number range, else the main country of its calling code; None when there is none."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    if not region and parsed.country_code:
        region = phonenumbers.region_code_for_country_code(parsed.country_code)
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def wire_number(number: str) -> str:
    """The form the gateway takes: the canonical "+31612345678" without "+"."""
    return number.removeprefix("+")


def from_wire(address: str) -> str:
    """The canonical form of an address the gateway sent ("31612345678" -> "+31612345678").

    The gateway's numbers are international without "+"; a short code or sender ID (too
    short for E.164, or not all digits) stays as it is.
    """
    if address.isdigit() and E164_MIN_DIGITS <= len(address) <= E164_MAX_DIGITS:
        return "+" + address
    return address  # already canonical, a short code or a sender ID


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    import phonenumbers

    candidates = [text]
    digits_only = re.sub(r"[\s\-./()]", "", text)
    # Bare E.164 without "+" ("31612345678") reads as a national number in most regions;
    # try it as international too, but only after the national reading has failed.
    if digits_only.isdigit() and not digits_only.startswith("0"):
        candidates.append("+" + digits_only)
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, region.upper())
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return parsed
    return None


def preload() -> None:
    """Load all number metadata now (about 50 ms, reading files): hosts with an event loop
    call this in an executor so the first notification does no blocking I/O."""
    import phonenumbers

    phonenumbers.PhoneMetadata.load_all()


def mask_number(number: object) -> str:
    """Mask a phone number for logs: "+31612345678" -> "+316******78"."""
    text = str(number)
    digits = [c for c in text if c.isdigit()]
    if len(digits) <= 5:
        return "*" * len(text)
    keep_head, keep_tail = 3, 2
    out = []
    seen = 0
    total = len(digits)
    for c in text:
        if c.isdigit():
            seen += 1
            out.append(c if seen <= keep_head or seen > total - keep_tail else "*")
        else:
            out.append(c)
    return "".join(out)


def validate_sender(sender: object, *, field: str = "sender") -> str:
    """Check a sender ID: up to 11 letters/digits (with a letter) or up to 15 digits.

    A leading "+" or "00" on a numeric sender is dropped, since the API wants E.164 digits.
    """
    if isinstance(sender, bool):  # YAML reads an unquoted yes/no/on/off/true/false as one
        raise KpnValidationError(
            f"{field}: expected text, got the boolean {sender} (in YAML, quote yes/no/on/off)",
            field=field,
            value=sender,
        )
    if not isinstance(sender, str | int):
        raise KpnValidationError(
            f"{field}: expected text, got {type(sender).__name__}", field=field, value=sender
        )
    text = str(sender).strip()
    if text.startswith("+"):
        text = text[1:]
    if _NUMERIC_SENDER.match(text):
        return text
    if _ALNUM_SENDER.match(text):
        return text
    if " " in text:
        reason = "must not contain spaces"
    elif text.isdigit():
        reason = "a numeric sender has at most 15 digits"
    elif len(text) > 11:
        reason = "an alphanumeric sender has at most 11 characters"
    else:
        reason = "use letters and digits only (A-Z, a-z, 0-9)"
    raise KpnValidationError(
        f"{field}: {text!r} is not a valid sender ID: {reason}", field=field, value=text
    )
