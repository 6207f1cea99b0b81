"""Text encoding and segment maths for SMS.

GSM-7 carries 160 septets in one SMS and 153 per part of a concatenated one; UCS-2 carries 70
UTF-16 code units, 67 per part. Characters of the GSM extension table take two septets
(ESC + char). A part never splits an escape pair or a surrogate pair, as an SMSC would not.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

from .errors import KpnValidationError

Encoding = Literal["gsm7", "ucs2"]
UnicodePolicy = Literal["auto", "always", "never"]
Overflow = Literal["truncate", "fail"]

UNICODE_POLICIES: tuple[str, ...] = ("auto", "always", "never")
OVERFLOW_POLICIES: tuple[str, ...] = ("truncate", "fail")

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# (single-SMS capacity, per-part capacity) in the encoding's units.
_CAPACITY: dict[Encoding, tuple[int, int]] = {"gsm7": (160, 153), "ucs2": (70, 67)}

TRUNCATION_MARKER: dict[Encoding, str] = {"gsm7": "...", "ucs2": "…"}

# Look-alikes that would otherwise force UCS-2 (70 chars a part) for one typographic quote.
_GSM_SUBSTITUTES = {
    "‘": "'",
    "’": "'",
    "‚": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "–": "-",
    "—": "-",
    "…": "...",
    "\u00a0": " ",
    "\t": " ",
    "•": "-",
    "«": '"',
    "»": '"',
    "`": "'",
}


@dataclass(frozen=True, slots=True)
class TextInfo:
    """What a text costs: its encoding, length in units and number of SMS parts."""

    encoding: Encoding
    units: int
    parts: int

    @property
    def api_type(self) -> str:
        """The `type` form field for /send."""
        return "text" if self.encoding == "gsm7" else "unicode"


@dataclass(frozen=True, slots=True)
class FittedText:
    """A text made ready to send: possibly transliterated or truncated (never silently)."""

    text: str
    info: TextInfo
    truncated: bool


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def _unit_sizes(text: str, encoding: Encoding) -> list[int]:
    """Units per character: 1 or 2 (GSM escape pair, UTF-16 surrogate pair)."""
    if encoding == "gsm7":
        return [2 if c in GSM7_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def _count_parts(sizes: list[int], encoding: Encoding) -> int:
    single, per_part = _CAPACITY[encoding]
    total = sum(sizes)
    if total <= single:
        return 1
    parts, used = 1, 0
    for size in sizes:
        if used + size > per_part:  # never split a pair across parts
            parts, used = parts + 1, 0
        used += size
    return parts


def analyse(text: str, unicode: UnicodePolicy = "auto") -> TextInfo:
    """Encoding, units and parts of `text` as it would be sent (no transliteration)."""
    encoding: Encoding = "ucs2" if unicode == "always" or not is_gsm7(text) else "gsm7"
    sizes = _unit_sizes(text, encoding)
    return TextInfo(encoding, sum(sizes), _count_parts(sizes, encoding))  # "" is one part


def to_gsm7(text: str) -> str:
    """Transliterate to GSM-7: typographic look-alikes, then accents stripped, then "?"."""
    out: list[str] = []
    for c in text:
        if c in GSM7_BASIC or c in GSM7_EXTENSION:
            out.append(c)
        elif c in _GSM_SUBSTITUTES:
            out.append(_GSM_SUBSTITUTES[c])
        else:
            base = "".join(
                b for b in unicodedata.normalize("NFKD", c) if not unicodedata.combining(b)
            )
            out.append(base if base and is_gsm7(base) else "?")
    return "".join(out)


def compose(message: str, title: str | None = None) -> str:
    """The text a recipient reads: the title on its own line above the message."""
    message = message.strip()
    title = (title or "").strip()
    if title and message:
        return f"{title}\n{message}"
    return title or message


def fit(
    text: str,
    *,
    max_parts: int,
    overflow: Overflow = "truncate",
    unicode: UnicodePolicy = "auto",
) -> FittedText:
    """Apply the unicode and max-parts policies.

    Over `max_parts`, "truncate" cuts the text and ends it with a visible marker; "fail"
    raises KpnValidationError. Nothing is ever cut without the marker.
    """
    if not text.strip():
        raise KpnValidationError("message: the text is empty", field="message", value=text)
    if unicode == "never":
        text = to_gsm7(text)
    info = analyse(text, unicode)
    if info.parts <= max_parts:
        return FittedText(text, info, truncated=False)
    if overflow == "fail":
        raise KpnValidationError(
            f"message: {info.parts} SMS parts ({info.units} {info.encoding} units) is over "
            f"max_parts {max_parts}",
            field="message",
            value=f"<{len(text)} characters>",
        )
    cut = _truncate(text, info.encoding, max_parts)
    # The cut keeps its encoding: UCS-2's marker "…" is not GSM-7.
    return FittedText(cut, analyse(cut), True)


def _truncate(text: str, encoding: Encoding, max_parts: int) -> str:
    marker = TRUNCATION_MARKER[encoding]
    sizes = _unit_sizes(text, encoding)
    marker_sizes = _unit_sizes(marker, encoding)
    # Capacity is monotonic in the prefix length, so a binary search finds the longest fit.
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _count_parts(sizes[:mid] + marker_sizes, encoding) <= max_parts:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + marker
