"""Vonage webhook signatures: md5hash (md5 of the string plus the secret) and HMAC, and
the replay window both hosts (`kpn-sms serve`, Home Assistant) apply to signed calls.

A signed call carries ``timestamp`` (Unix seconds, when Vonage sent it) inside the signed
string. A host refuses a call whose timestamp is further than ``max_skew`` (default
:data:`DEFAULT_MAX_SKEW`, 5 minutes) from its clock, and remembers every accepted
messageId for at least that long (``InboundAssembler(seen_for=...)``): a captured call is
then either refused as stale or answered as a duplicate, never accepted twice.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Mapping
from typing import Any

from ..errors import KpnValidationError
from .wire import _bad, _scalar

SIGNATURE_METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")

DEFAULT_MAX_SKEW = 300.0  # seconds between a signed call's timestamp and our clock


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
    # "surrogatepass": a lone UTF-16 surrogate (JSON "\\ud800") cannot be UTF-8; it must
    # give a signature that does not match rather than an exception.
    joined = _signing_string(params).encode("utf-8", "surrogatepass")
    key = secret.encode("utf-8", "surrogatepass")
    if method == "md5hash":
        # Plain digest of the string with the secret appended (not an HMAC).
        return hashlib.md5(joined + key, usedforsecurity=False).hexdigest()
    return hmac.new(key, joined, method).hexdigest()


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
    if max_skew is not None and not timestamp_fresh(stamp, max_skew, now=now):
        return False
    try:
        expected = compute_signature(params, secret, method)
    except KpnValidationError:
        if method not in SIGNATURE_METHODS:
            raise
        return False  # a value that cannot be a wire value: not what the sender signed
    given = sig.strip().lower().encode("utf-8", "surrogatepass")
    return hmac.compare_digest(expected.encode(), given)


def timestamp_fresh(stamp: str, max_skew: float, *, now: float | None = None) -> bool:
    """True when ``stamp`` (Unix seconds) is a finite number within ``max_skew`` of ``now``."""
    try:
        value = float(stamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    return math.isfinite(value) and abs(current - value) <= max_skew


def signature_problem(
    params: Mapping[str, Any],
    secret: str,
    method: str = "md5hash",
    *,
    max_skew: float = DEFAULT_MAX_SKEW,
    now: float | None = None,
) -> str | None:
    """Why a webhook call fails the signature check (one line, no secret), or None when it
    passes: signed with ``secret`` and its ``timestamp`` within ``max_skew`` seconds."""
    if "sig" not in params:
        return "sig: required, signature checking is on"
    if not verify_signature(params, secret, method):
        return "sig: signature does not match"
    stamp = _scalar("timestamp", params.get("timestamp")) or ""  # checked by verify_signature
    if not timestamp_fresh(stamp, max_skew, now=now):
        return (
            f"timestamp: outside the allowed {max_skew:g} s of this clock "
            "(a replayed or delayed call)"
        )
    return None
