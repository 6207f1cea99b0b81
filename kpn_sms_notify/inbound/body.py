"""A webhook request's parameters, read by their content: one reader for every host.

KPN (Vonage) calls a webhook with a GET query, a form POST or a JSON POST, and does not always
label the JSON: the inbound JSON POST that Vonage's PHP SDK captured carries no Content-Type.
So the body decides. A body that parses as a JSON object is JSON; anything else is a form.
Only a body *declared* as JSON must be JSON. Whatever cannot be read is a
:class:`KpnValidationError` with a one-line reason, for the host to answer with a 400.

Host-neutral and without I/O: the host reads the bytes (with its own size cap) and passes
them here with the query pairs and the Content-Type header as sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from ..errors import KpnValidationError

# Types whose body is sniffed: none given, forms, and what senders put on unlabelled bytes.
SNIFFED_TYPES = frozenset(
    {"", "application/x-www-form-urlencoded", "text/plain", "application/octet-stream"}
)
JSON_TYPES = frozenset({"application/json", "text/json"})
_BOM = b"\xef\xbb\xbf"


def webhook_params(
    *, query: Iterable[tuple[str, str]], body: bytes, content_type: str | None
) -> dict[str, Any]:
    """The query parameters, overlaid with the body's (the body wins)."""
    params = query_params(query)
    params.update(body_params(body, content_type))
    return params


def query_params(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Query pairs as a dict; a repeated name keeps all its values as a list."""
    params: dict[str, Any] = {}
    for key, value in pairs:
        if key not in params:
            params[key] = value
        elif isinstance(params[key], list):
            params[key].append(value)
        else:
            params[key] = [params[key], value]
    return params


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` -> ``application/json``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json_type(media: str) -> bool:
    return media in JSON_TYPES or media.endswith("+json")


def body_params(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The parameters in a POST body (empty when the body is)."""
    media = media_type(content_type)
    data = body.strip()
    if data.startswith(_BOM):
        data = data[len(_BOM) :].lstrip()
    if not data:
        return {}
    declared_json = is_json_type(media)
    if not declared_json and media not in SNIFFED_TYPES:
        raise KpnValidationError(
            f"body: unsupported content type {media!r}; send JSON or a form",
            field="content-type",
            value=media,
        )
    # A form's first character is a field name: `{` or `[` there means JSON, labelled or not.
    if declared_json or data[:1] in (b"{", b"["):
        return json_object(data)
    return _form(data)


def decode_json(data: bytes) -> Any:
    """A UTF-8 JSON value (a leading byte-order mark is dropped), or a KpnValidationError
    saying why not. Nesting deeper than the parser goes raises RecursionError: each reader
    words its own depth limit."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise KpnValidationError("body: not UTF-8 text", field="body") from None
    except ValueError as err:
        raise KpnValidationError(
            f"body: not valid JSON ({getattr(err, 'msg', 'parse error')} at line "
            f"{getattr(err, 'lineno', '?')} column {getattr(err, 'colno', '?')})",
            field="body",
        ) from None


def json_object(data: bytes) -> dict[str, Any]:
    """A UTF-8 JSON object, or a KpnValidationError saying why not."""
    try:
        value = decode_json(data)
    except RecursionError:
        raise KpnValidationError("body: not valid JSON (nested too deeply)", field="body") from None
    if not isinstance(value, dict):
        kind = {list: "array", str: "string", bool: "boolean"}.get(type(value), "number")
        raise KpnValidationError(
            f"body: expected a JSON object, got {'null' if value is None else kind}",
            field="body",
        )
    return value


def _form(data: bytes) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KpnValidationError("body: not UTF-8 text", field="body") from None
    return dict(parse_qsl(text, keep_blank_values=True))
