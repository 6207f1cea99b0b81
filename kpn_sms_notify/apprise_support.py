"""What the Apprise plugin needs beyond Apprise itself: the URL arguments taken from the
options' declaration, and a token store on Apprise's persistent store.

Kept apart from `apprise_plugin` so that module stays the declarative plugin class; this one
imports nothing from Apprise.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from .models import Token
from .options import CONFIG_OPTIONS, Option
from .sendguard import SendGuard
from .settings import Settings

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UrlOption:
    """One declared option as a URL argument."""

    arg: str  # name in the URL and in the plugin's constructor
    key: str  # name in the shared schema
    meta: dict[str, Any]  # Apprise template_args entry (type, default, min/max, values)

    def to_url(self, value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list | tuple):  # numbers (admins)
            return ",".join(str(v) for v in value)
        return str(value)


_TYPES = {int: "int", float: "float", bool: "bool"}


def _describe(option: Option) -> dict[str, Any]:
    """An Apprise template_args entry, so a new option shows in `apprise --details` without
    touching the plugin."""
    name = option.label or option.key.replace("_", " ").capitalize()
    meta: dict[str, Any] = {"name": name, "type": _TYPES.get(option.kind, "string")}
    if option.choices:
        meta["type"] = "choice:string"
        meta["values"] = option.choices
    if option.minimum is not None:
        meta["min"] = option.minimum
    if option.maximum is not None:
        meta["max"] = option.maximum
    if option.default is not None:
        meta["default"] = option.default
    return meta


# The options that are URL arguments: not those with their own place in the URL (user,
# password, host, path).
OPTIONS: tuple[UrlOption, ...] = tuple(
    UrlOption(o.arg, o.key, _describe(o)) for o in CONFIG_OPTIONS if not o.url_part
)
# Arguments named otherwise than their key: Apprise owns ?overflow= on every plugin.
RENAMED = {opt.key: opt.arg for opt in OPTIONS if opt.arg != opt.key}


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


class _ProcessGuards:
    """One send guard per account and guard settings, shared by every plugin object of this
    process: Apprise makes a client per notification, and the storm cap must see them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._guards: dict[tuple[Any, ...], SendGuard] = {}

    def get(self, account: tuple[str, str, str], settings: Settings) -> SendGuard:
        key = (
            account,
            settings.storm_cap,
            settings.storm_window,
            settings.daily_budget,
            settings.low_balance,
            settings.admins,
        )
        with self._lock:
            guard = self._guards.get(key)
            if guard is None:
                guard = self._guards[key] = SendGuard(settings)
            return guard

    def clear(self) -> None:
        with self._lock:
            self._guards.clear()


PROCESS_GUARDS = _ProcessGuards()

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
