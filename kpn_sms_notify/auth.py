"""Authenticate once: one shared token, fetched on first need, renewed before it expires.

However many sends wait for a token at the same moment, one request fetches it (single
flight, behind a lock). A token the API rejects is renewed once, by whichever caller sees the
rejection first; the others then find the new token already there.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from .models import Token

_LOGGER = logging.getLogger(__name__)


class TokenStore(Protocol):
    """Where a host keeps the token between runs (Apprise's persistent store, say)."""

    def load(self) -> Token | None: ...

    def save(self, token: Token) -> None: ...


@runtime_checkable
class ForgettingTokenStore(TokenStore, Protocol):
    """A store that can also drop a token the API refused, so the next run does not load it
    again (the CLI's cache file)."""

    def forget(self, token: Token) -> None: ...


def _margin_for(margin: float, lifetime: float) -> float:
    # A margin larger than a short-lived token's life would renew on every call.
    return min(margin, max(lifetime, 0.0) / 4)


class _TokenCache:
    """The state both managers share; no locking or I/O here."""

    def __init__(self, margin: float, store: TokenStore | None) -> None:
        self.margin = margin
        self.store = store
        self.token: Token | None = None
        self.lifetime = 0.0
        self.requests = 0
        self._loaded = False

    def fresh(self) -> Token | None:
        if self.token is None and not self._loaded:
            self._loaded = True
            self._load()
        token = self.token
        if token is not None and token.is_fresh(_margin_for(self.margin, self.lifetime)):
            return token
        return None

    def _load(self) -> None:
        if self.store is None:
            return
        try:
            token = self.store.load()
        except Exception as err:  # a broken cache must never stop a notification
            _LOGGER.debug("token store: load failed (%s)", type(err).__name__)
            return
        if token is not None:
            self.token = token
            self.lifetime = max(token.expires_in(), 0.0)

    def set(self, token: Token) -> None:
        self.token = token
        self.lifetime = token.expires_in()
        self.requests += 1
        if self.store is not None:
            try:
                self.store.save(token)
            except Exception as err:
                _LOGGER.debug("token store: save failed (%s)", type(err).__name__)

    def drop(self, rejected: Token) -> None:
        if self.token is not None and self.token.access_token == rejected.access_token:
            self.token = None
            if isinstance(self.store, ForgettingTokenStore):
                try:
                    self.store.forget(rejected)
                except Exception as err:
                    _LOGGER.debug("token store: forget failed (%s)", type(err).__name__)


class AsyncTokenManager:
    def __init__(
        self,
        fetch: Callable[[], Awaitable[Token]],
        *,
        margin: float,
        store: TokenStore | None = None,
    ) -> None:
        self._fetch = fetch
        self._cache = _TokenCache(margin, store)
        self._lock = asyncio.Lock()

    @property
    def requests(self) -> int:
        """Token requests made by this manager."""
        return self._cache.requests

    async def get(self) -> Token:
        token = self._cache.fresh()
        if token is not None:
            return token
        async with self._lock:
            token = self._cache.fresh()  # another task may have fetched it meanwhile
            if token is None:
                token = await self._fetch()
                self._cache.set(token)
            return token

    async def renew(self, rejected: Token) -> Token:
        """The API refused `rejected`: drop it (unless already replaced) and get a new one."""
        self.drop(rejected)
        return await self.get()

    def drop(self, rejected: Token) -> None:
        """Forget `rejected` unless another caller already replaced it."""
        self._cache.drop(rejected)


class SyncTokenManager:
    def __init__(
        self, fetch: Callable[[], Token], *, margin: float, store: TokenStore | None = None
    ) -> None:
        self._fetch = fetch
        self._cache = _TokenCache(margin, store)
        self._lock = threading.Lock()

    @property
    def requests(self) -> int:
        return self._cache.requests

    def get(self) -> Token:
        token = self._cache.fresh()
        if token is not None:
            return token
        with self._lock:
            token = self._cache.fresh()
            if token is None:
                token = self._fetch()
                self._cache.set(token)
            return token

    def renew(self, rejected: Token) -> Token:
        self.drop(rejected)
        return self.get()

    def drop(self, rejected: Token) -> None:
        with self._lock:
            self._cache.drop(rejected)
