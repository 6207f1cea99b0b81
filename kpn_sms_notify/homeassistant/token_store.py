"""Authenticate once per Home Assistant: the tokens the config flow and the entries share.

The config flow logs in to check the credentials; the entry it creates then sets up with that
token, and every reload (a recipient added, options changed) reuses it until it expires. The
tokens live in memory only, in `hass.data`, keyed by a hash of the gateway URL, the client id
and the secret: a changed secret is checked by the gateway instead of riding on an old token,
and no key holds the secret itself.
"""

from __future__ import annotations

import hashlib
import json

from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from kpn_sms_notify.models import Token

from .const import DOMAIN

TOKENS: HassKey[dict[str, Token]] = HassKey(f"{DOMAIN}_tokens")


def account_key(*, base_url: str, client_id: str, client_secret: str) -> str:
    """A hash naming one account on one gateway (never the secret itself)."""
    raw = json.dumps([base_url, client_id, client_secret]).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:32]


class HassTokenStore:
    """A `TokenStore` (kpn_sms_notify.auth) over one account's slot in `hass.data`."""

    def __init__(self, hass: HomeAssistant, *, key: str) -> None:
        self._tokens = hass.data.setdefault(TOKENS, {})
        self._key = key

    def __repr__(self) -> str:
        return f"HassTokenStore(key={self._key[:8]}...)"

    def load(self) -> Token | None:
        return self._tokens.get(self._key)

    def save(self, token: Token) -> None:
        self._tokens[self._key] = token

    def forget(self, token: Token) -> None:
        """The API refused `token`: drop it, unless a newer one already replaced it."""
        current = self._tokens.get(self._key)
        if current is not None and current.access_token == token.access_token:
            del self._tokens[self._key]
