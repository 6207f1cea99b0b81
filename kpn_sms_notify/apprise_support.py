"""What the Apprise plugin needs beyond Apprise itself: the URL arguments taken from the
shared config schema, and a token store on Apprise's persistent store.

Kept apart from `apprise_plugin` so that module stays the declarative plugin class; this one
imports nothing from Apprise.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import voluptuous as vol

from .models import Token
from .schema import DEFAULTS, SCHEMA_FIELDS

_LOGGER = logging.getLogger(__name__)

# Schema keys that have their own place in the URL (user, password, host, path).
URL_PARTS = ("client_id", "client_secret", "sender", "recipients")

# Apprise owns ?overflow= (upstream/truncate/split) on every plugin, so the schema's
# "overflow" (what to do past max_parts) goes by another name in a kpnsms:// URL.
RENAMED = {"overflow": "sms_overflow"}


# Names shown by `apprise --details`; an option missing here gets one made from its key.
_NAMES = {
    "base_url": "Gateway Base URL",
    "region": "Default Region (ISO code)",
    "max_parts": "Max SMS Parts",
    "overflow": "Past Max Parts (truncate or fail)",
    "unicode": "Unicode Policy",
    "rate_limit": "Rate Limit (requests/s)",
    "max_concurrency": "Max Concurrent Requests",
    "timeout": "Request Timeout (s)",
    "retries": "Retries per Recipient",
    "retry_budget": "Retry Time Budget (s)",
    "retry_ambiguous": "Retry Ambiguous Failures",
    "status_report": "Request Delivery Receipts",
    "callback": "Delivery Receipt URL",
    "ttl": "Time to Live (ms)",
    "client_ref": "Client Reference",
    "token_margin": "Token Renewal Margin (s)",
}


@dataclass(frozen=True, slots=True)
class UrlOption:
    """One schema option as a URL argument."""

    arg: str  # name in the URL and in the plugin's constructor
    key: str  # name in the shared schema
    meta: dict[str, Any]  # Apprise template_args entry (type, default, min/max, values)

    def to_url(self, value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)


def _describe(key: str, validator: Any) -> dict[str, Any]:
    """An Apprise template_args entry read off the voluptuous validator, so a new schema
    option shows in `apprise --details` without touching the plugin."""
    name = _NAMES.get(key) or key.replace("_", " ").capitalize()
    meta: dict[str, Any] = {"name": name, "type": "string"}
    parts = validator.validators if isinstance(validator, vol.All) else [validator]
    for part in parts:
        if isinstance(part, vol.Coerce):
            meta["type"] = {int: "int", float: "float"}.get(cast(type, part.type), "string")
        elif isinstance(part, vol.Range):
            if part.min is not None:
                meta["min"] = part.min
            if part.max is not None:
                meta["max"] = part.max
        elif isinstance(part, vol.In):
            meta["type"] = "choice:string"
            meta["values"] = tuple(cast(Iterable[Any], part.container))
    if _is_boolean(validator):
        meta["type"] = "bool"
    if key in DEFAULTS:
        meta["default"] = DEFAULTS[key]
    return meta


def _is_boolean(validator: Any) -> bool:
    # vol.Boolean() is a plain function; asking it is more robust than naming it.
    try:
        return validator("yes") is True and validator("off") is False
    except (vol.Invalid, TypeError, ValueError):
        return False


def _options() -> tuple[UrlOption, ...]:
    out = []
    for marker, validator in SCHEMA_FIELDS.items():
        key = str(marker)
        if key in URL_PARTS:
            continue
        out.append(UrlOption(RENAMED.get(key, key), key, _describe(key, validator)))
    return tuple(out)


OPTIONS: tuple[UrlOption, ...] = _options()


class _ProcessTokens:
    """Tokens shared by every plugin instance in this process, keyed by account.

    Apprise builds a new plugin object for every `Apprise().add()`; without this, each one
    would fetch its own token. The key holds a digest of the secret, never the secret.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str, str], Token] = {}
        self._fetching: dict[tuple[str, str, str], threading.Lock] = {}

    def fetch_lock(self, key: tuple[str, str, str]) -> threading.Lock:
        """Held while one plugin instance gets a token, so instances of the same account
        that Apprise runs in parallel threads wait for it instead of each fetching one."""
        with self._lock:
            return self._fetching.setdefault(key, threading.Lock())

    @staticmethod
    def key(base_url: str, client_id: str, client_secret: str) -> tuple[str, str, str]:
        digest = hashlib.sha256(client_secret.encode("utf-8")).hexdigest()
        return (base_url, client_id, digest)

    def get(self, key: tuple[str, str, str]) -> Token | None:
        with self._lock:
            token = self._tokens.get(key)
        return token if token is not None and token.expires_in() > 0 else None

    def put(self, key: tuple[str, str, str], token: Token) -> None:
        with self._lock:
            self._tokens[key] = token

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


PROCESS_TOKENS = _ProcessTokens()

STORE_KEY = "kpn_token"


class AppriseTokenStore:
    """A `TokenStore` for KpnSmsSync: this process first, then Apprise's persistent store.

    `store` is the plugin's `self.store` when it writes to disk (the CLI's default storage
    path, or `AppriseAsset(storage_path=...)`), else None. The stored entry holds the access
    token in clear (Apprise writes it 0600); it expires with the token.
    """

    def __init__(self, key: tuple[str, str, str], store: Any | None) -> None:
        self._key = key
        self._store = store

    def load(self) -> Token | None:
        token = PROCESS_TOKENS.get(self._key)
        if token is not None or self._store is None:
            return token
        data = self._store.get(STORE_KEY)
        if not isinstance(data, dict):
            return None
        try:
            token = Token.from_dict(data)
        except (KeyError, TypeError, ValueError):
            _LOGGER.debug("apprise store: ignoring an unreadable token entry")
            return None
        if token.expires_in() <= 0:
            return None
        PROCESS_TOKENS.put(self._key, token)
        return token

    def save(self, token: Token) -> None:
        PROCESS_TOKENS.put(self._key, token)
        if self._store is None:
            return
        ttl = token.expires_in()
        if ttl <= 1:
            return
        self._store.set(STORE_KEY, token.to_dict(), expires=ttl)
        # Apprise writes AUTO-mode stores when the object is collected; a CLI run may end
        # before that, so write now. A token is fetched about once an hour: cheap.
        self._store.flush()
