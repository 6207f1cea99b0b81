"""What may be logged about a request or an answer: secrets starred, numbers masked."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .numbers import mask_number

_SECRET_FIELDS = frozenset({"client_secret", "access_token", "refresh_token", "api_secret",
                            "authorization", "sig", "password"})
_NUMBER_FIELDS = frozenset({"to", "msisdn", "from"})
_TEXT_FIELDS = frozenset({"text"})
_LONG_DIGITS = re.compile(r"\d{7,15}")


def safe_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        low = key.lower()
        if low in _SECRET_FIELDS:
            out[key] = "***"
        elif low in _NUMBER_FIELDS and isinstance(value, str) and value.isdigit():
            out[key] = mask_number(value)
        elif low in _TEXT_FIELDS and isinstance(value, str):
            out[key] = f"<{len(value)} chars>"
        elif isinstance(value, Mapping):
            out[key] = safe_fields(value)
        elif isinstance(value, list):
            out[key] = [safe_fields(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[key] = value
    return out


def safe_body(body: bytes, secrets: tuple[str, ...] = ()) -> str:
    """An answer body for a DEBUG line: JSON with secrets starred, else a scrubbed excerpt."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict):
        text = json.dumps(safe_fields(data), ensure_ascii=False)
    else:
        text = body[:300].decode("utf-8", "replace")
    return scrub(text, secrets)


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Belt and braces: remove known secret values and mask long digit runs."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _LONG_DIGITS.sub(lambda m: mask_number(m.group(0)), text)
