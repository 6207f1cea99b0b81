"""How the emulated gateway splits a text into SMS parts (what Vonage bills).

Written independently of the client's `encoding` module on purpose: tests compare the two.
GSM 03.38: 160 septets in one SMS, 153 per part of a concatenated one; characters of the
extension table take two septets (ESC + char) and an ESC pair is never split across parts.
UCS-2: 70 UTF-16 code units, 67 per part; a surrogate pair is never split.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class Split:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets (gsm7) or UTF-16 code units (ucs2)
    parts: tuple[str, ...]  # the text of each part


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def gsm7_replace(text: str) -> str:
    """What a handset shows when non-GSM characters are sent as type=text."""
    return "".join(ch if ch in GSM7_BASIC or ch in GSM7_EXTENSION else "?" for ch in text)


def _pack(weights: list[tuple[str, int]], single: int, per_part: int) -> tuple[str, ...]:
    total = sum(w for _, w in weights)
    if total <= single:
        return ("".join(ch for ch, _ in weights),)
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch, w in weights:
        if used + w > per_part:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += w
    if current:
        parts.append("".join(current))
    return tuple(parts)


def split(text: str, unicode: bool) -> Split:
    """Split `text` as the gateway does: `unicode` means type=unicode (UCS-2)."""
    if unicode:
        weights = [(ch, 2 if ord(ch) > 0xFFFF else 1) for ch in text]
        parts = _pack(weights, UCS2_SINGLE, UCS2_PART)
        return Split("ucs2", sum(w for _, w in weights), parts)
    weights = [(ch, 2 if ch in GSM7_EXTENSION else 1) for ch in text]
    parts = _pack(weights, GSM7_SINGLE, GSM7_PART)
    return Split("gsm7", sum(w for _, w in weights), parts)
