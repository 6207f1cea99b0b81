"""Vonage webhook signatures: md5hash (md5 of the string plus the secret) and HMAC."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

from ..errors import KpnValidationError
from .wire import _bad, _scalar

SIGNATURE_METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")


def _signing_string(params: Mapping[str, Any]) -> str:
    pieces = []
    for key in sorted(k for k in params if k != "sig"):
        value = _scalar(key, params[key])
        value = "" if value is None else value.replace("&", "_").replace("=", "_")
        pieces.append(f"&{key}={value}")
    return "".join(pieces)


def compute_signature(params: Mapping[str, Any], secret: str, method: str = "md5hash") -> str:
    """The Vonage signature (lower-case hex) of ``params`` (``sig`` ignored), as a sender
    computes it. The caller includes ``timestamp``; Vonage always sends one with a signature.
    """
    if method not in SIGNATURE_METHODS:
        raise _bad("method", method, "expected one of " + ", ".join(SIGNATURE_METHODS))
    joined = _signing_string(params)
    if method == "md5hash":
        # Plain digest of the string with the secret appended (not an HMAC).
        return hashlib.md5((joined + secret).encode(), usedforsecurity=False).hexdigest()
    return hmac.new(secret.encode(), joined.encode(), method).hexdigest()


def verify_signature(
    params: Mapping[str, Any],
    secret: str,
    method: str = "md5hash",
    *,
    max_skew: float | None = None,
    now: float | None = None,
) -> bool:
    """True when ``params["sig"]`` is the Vonage signature of the other parameters.

    Without a ``sig`` or ``timestamp`` the answer is False. With ``max_skew`` (seconds), a
    ``timestamp`` further than that from ``now`` (default: the clock) is refused too, against
    replays. Comparison is constant-time and ignores case (the .NET SDK sends upper case).
    """
    try:
        sig = _scalar("sig", params.get("sig"))
        stamp = _scalar("timestamp", params.get("timestamp"))
    except KpnValidationError:
        return False
    if not sig or not stamp:
        return False
    if max_skew is not None:
        try:
            stamp_value = float(stamp)
        except ValueError:
            return False
        current = time.time() if now is None else now
        if abs(current - stamp_value) > max_skew:
            return False
    try:
        expected = compute_signature(params, secret, method)
    except KpnValidationError:
        if method not in SIGNATURE_METHODS:
            raise
        return False  # a value that cannot be a wire value: not what the sender signed
    return hmac.compare_digest(expected.encode(), sig.strip().lower().encode())
