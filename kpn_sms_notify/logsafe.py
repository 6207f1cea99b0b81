"""What may be logged about a request or an answer: secrets starred, numbers masked."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .numbers import mask_number

_SECRET_FIELDS = frozenset(
    {
        "client_secret",
        "access_token",
        "refresh_token",
        "api_secret",
        "authorization",
        "sig",
        "password",
    }
)
_NUMBER_FIELDS = frozenset({"to", "msisdn", "from"})
# Webhook URLs often carry a secret of their own (Home Assistant's webhook id, a path secret).
_URL_FIELDS = frozenset({"callback", "callback_url", "mohttpurl"})
_TEXT_FIELDS = frozenset({"text"})
_LONG_DIGITS = re.compile(r"\d{7,15}")


def safe_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        low = key.lower()
        if low in _SECRET_FIELDS:
            out[key] = "***"
        elif low in _URL_FIELDS and isinstance(value, str):
            out[key] = mask_url(value)
        elif low in _NUMBER_FIELDS and isinstance(value, str) and value.lstrip("+").isdigit():
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


def mask_url(url: str) -> str:
    """Keep scheme and host, hide the path and query: "https://ha.example/***"."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return "***"
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/***"


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
