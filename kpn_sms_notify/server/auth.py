"""Who may call which endpoint: bearer token or basic auth on the alert endpoints, an
unguessable path secret (and optionally the Vonage signature) on inbound and delivery.

Every comparison is constant-time. Nothing here logs a credential.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..inbound import signature_problem
from .config import ServeConfig


def _same(given: str, expected: str) -> bool:
    # A header with bytes that are not UTF-8 reaches us with surrogate escapes: encode
    # them as they are (never equal to a printable secret) rather than raise on them.
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def check_credentials(request: web.Request, config: ServeConfig) -> bool:
    """True when the request carries the configured bearer token or basic credentials."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if config.token and scheme == "bearer" and value:
        return _same(value, config.token)
    if (
        config.basic_username is not None
        and config.basic_password is not None
        and (scheme == "basic" and value)
    ):
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        # Evaluate both comparisons: no early exit that tells a right user name apart.
        ok_user = _same(user, config.basic_username)
        ok_password = _same(password, config.basic_password)
        return bool(sep) and ok_user and ok_password
    return False


def unauthorized(config: ServeConfig) -> web.Response:
    challenge = 'Bearer realm="kpn-sms"' if config.token else 'Basic realm="kpn-sms"'
    return web.json_response(
        {"error": "unauthorized", "reason": "missing or wrong credentials"},
        status=401,
        headers={"WWW-Authenticate": challenge},
    )


def check_path_secret(request: web.Request, config: ServeConfig) -> bool:
    given = request.match_info.get("secret", "")
    return config.path_secret is not None and _same(given, config.path_secret)


def check_signature(params: Mapping[str, Any], config: ServeConfig) -> str | None:
    """None when the signature is fine (or none is configured), else the reason."""
    if config.signature_secret is None:
        return None
    return signature_problem(
        params,
        config.signature_secret,
        config.signature_method,
        max_skew=config.signature_max_skew,
    )
