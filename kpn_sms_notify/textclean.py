"""Text cleaned to what a phone, a JSON file and a log line can hold, in one place.

Text arrives from outside in three places: inbound webhooks (a handset's SMS), alert
payloads (labels and annotations) and a caller's message for sending. JSON lets a sender
write a lone UTF-16 surrogate (``"\\ud800"``), which no UTF-8 file, signature or HTTP body
can carry; and a text may hold control characters (NUL, BEL, ESC) and bidi overrides
(U+202E) that a handset would show raw or use to disguise a text. So:

- :func:`repair_surrogates`: a surrogate pair written as two halves (one half at the end
  of an SMS part, one at the start of the next, as UCS-2 concatenation splits an emoji) is
  joined into its character; a lone half becomes U+FFFD. Nothing else changes. Inbound
  text goes through this only (after reassembly): it is what the handset sent.
- :func:`clean_sms_text`: what an outgoing SMS may hold. Surrogates repaired as above;
  ``\\r\\n`` and ``\\r`` become ``\\n``; tab and the other whitespace controls become a space;
  every other control character (C0, DEL, C1) and the bidi embedding, override and isolate
  controls (U+202A..U+202E, U+2066..U+2069) are removed.
- :func:`for_log`: a value shown in a log line or error reason, with newlines, escapes and
  every other non-printable character made visible (``repr`` style).
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")

# Bidi embeddings, overrides and isolates: they reorder what the reader sees.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

_WHITESPACE_CONTROLS = {
    "\t": " ",
    "\v": " ",
    "\f": " ",
    "\x1c": " ",
    "\x1d": " ",
    "\x1e": " ",
    "\x1f": " ",
    "\x85": " ",
}

_DROP = (
    {chr(c): None for c in range(0x00, 0x20) if chr(c) not in "\n\r"}
    | {"\x7f": None}
    | {chr(c): None for c in range(0x80, 0xA0)}
    | dict.fromkeys(BIDI_CONTROLS)
    | _WHITESPACE_CONTROLS
)
_SMS_TABLE = str.maketrans(_DROP)
_UNSAFE_SMS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def repair_surrogates(text: str) -> str:
    """Join surrogate halves that form a pair; a lone half becomes U+FFFD."""
    if not _SURROGATE.search(text):
        return text  # the common case: nothing to do, no copy
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_sms_text(text: str) -> str:
    """The text as an SMS may carry it (see the module docstring for what changes)."""
    if not _UNSAFE_SMS.search(text):
        return text
    text = repair_surrogates(text).replace("\r\n", "\n").replace("\r", "\n")
    return text.translate(_SMS_TABLE)


def escape_surrogates(json_text: str) -> str:
    """JSON text with any lone surrogate written as a ``\\udXXX`` escape, so the line
    encodes to UTF-8 and reads back (``json.loads``) to the same string."""
    if not _SURROGATE.search(json_text):
        return json_text
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def _visible(char: str) -> str:
    if char.isprintable() and char not in BIDI_CONTROLS:
        return char
    if char in "\n\r\t":
        return repr(char)[1:-1]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def for_log(value: object, limit: int = 80) -> str:
    """A value as a log line or error reason may show it: printable as written, anything
    else (newline, ESC, NUL, bidi controls, lone surrogates) escaped, at most ``limit``
    characters."""
    text = str(value)
    if not text.isprintable() or BIDI_CONTROLS.intersection(text):
        text = "".join(_visible(c) for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
