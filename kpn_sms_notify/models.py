"""Plain data returned by the clients. Wire names are mapped to these in protocol.py."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .errors import KpnSmsError
from .numbers import mask_number


@dataclass(frozen=True, slots=True)
class Token:
    """An OAuth2 access token. Its value never shows in repr() or str()."""

    access_token: str = field(repr=False)
    expires_at: float  # wall-clock epoch seconds, so a stored token survives a restart
    token_type: str = "Bearer"
    level: str | None = None  # "demo" or "prod" account tier

    def __str__(self) -> str:
        return f"Token(type={self.token_type}, expires_in={self.expires_in():.0f}s)"

    def expires_in(self, now: float | None = None) -> float:
        return self.expires_at - (time.time() if now is None else now)

    def is_fresh(self, margin: float, now: float | None = None) -> bool:
        """True while the token has more than `margin` seconds left."""
        return self.expires_in(now) > margin

    @property
    def authorization(self) -> str:
        # KPN documents "Bearer"; stock Apigee says "BearerToken", which servers don't accept back.
        return f"Bearer {self.access_token}"

    def to_dict(self) -> dict[str, Any]:
        """For a TokenStore; the caller keeps this as secret as the client_secret."""
        return {
            "access_token": self.access_token,
            "expires_at": self.expires_at,
            "token_type": self.token_type,
            "level": self.level,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Token:
        return cls(
            access_token=str(data["access_token"]),
            expires_at=float(data["expires_at"]),
            token_type=str(data.get("token_type") or "Bearer"),
            level=data.get("level"),
        )


@dataclass(frozen=True, slots=True)
class Quota:
    """The gateway's `quota-*` headers, when it sends them."""

    limit: int | None = None
    used: int | None = None
    interval: int | None = None
    time_unit: str | None = None
    reset_utc: str | None = None

    @property
    def remaining(self) -> int | None:
        if self.limit is None or self.used is None:
            return None
        return max(self.limit - self.used, 0)


@dataclass(frozen=True, slots=True)
class ApiHeaders:
    """The KPN response headers every answer carries."""

    quota: Quota | None = None
    sunset: str | None = None
    api_version: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class MessagePart:
    """One accepted SMS part: the API bills and reports per part."""

    message_id: str
    to: str
    price: Decimal | None = None
    remaining_balance: Decimal | None = None
    network: str | None = None
    client_ref: str | None = None


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """The outcome for one recipient: accepted with its parts, failed with the reason, or
    `suppressed`: held back by the send guard (the storm cap or the daily budget; the word
    says which), which is no failure and is not retried.

    A failure may still hold parts: a long text partly accepted (`partly_sent`). Those parts
    went out; the text is not sent again, as that would repeat them.
    """

    recipient: str
    ok: bool
    parts: tuple[MessagePart, ...] = ()
    status: str | None = None  # Vonage status, when the API gave one
    reason: str | None = None
    error: KpnSmsError | None = field(default=None, repr=False, compare=False)
    attempts: int = 1
    permanent: bool = False  # a failure that sending again will not fix
    truncated: bool = False
    suppressed: str | None = None  # "storm" or "budget": held back, not sent, not failed

    @property
    def masked(self) -> str:
        return mask_number(self.recipient)

    @property
    def outcome(self) -> str:
        """One word: `accepted`, `failed` or `suppressed`."""
        if self.ok:
            return "accepted"
        return "suppressed" if self.suppressed else "failed"

    @property
    def partly_sent(self) -> bool:
        """Not accepted as a whole, but some parts went out (their ids are in `parts`)."""
        return not self.ok and bool(self.parts)

    @property
    def message_ids(self) -> tuple[str, ...]:
        return tuple(p.message_id for p in self.parts)

    @property
    def price(self) -> Decimal | None:
        prices = [p.price for p in self.parts if p.price is not None]
        return sum(prices, Decimal(0)) if prices else None

    @property
    def remaining_balance(self) -> Decimal | None:
        balances = [p.remaining_balance for p in self.parts if p.remaining_balance is not None]
        return min(balances) if balances else None

    @property
    def network(self) -> str | None:
        return next((p.network for p in self.parts if p.network), None)

    def describe(self) -> str:
        """One line for logs and CLIs; the number is masked."""
        if self.ok:
            ids = ",".join(self.message_ids)
            return f"{self.masked}: accepted, {len(self.parts)} part(s), id {ids}"
        if self.suppressed:
            return f"{self.masked}: suppressed ({self.suppressed}): {self.reason}"
        if self.partly_sent:
            ids = ",".join(self.message_ids)
            return f"{self.masked}: failed: {self.reason} (sent part id {ids})"
        return f"{self.masked}: failed: {self.reason}"


@dataclass(frozen=True, slots=True)
class SendReport:
    """Results for one notification, in recipient order. `ok`: nothing failed (texts held
    back by the send guard are `suppressed`, not failed)."""

    results: tuple[RecipientResult, ...]
    text: str = field(default="", repr=False)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def accepted(self) -> tuple[RecipientResult, ...]:
        return tuple(r for r in self.results if r.ok)

    @property
    def failed(self) -> tuple[RecipientResult, ...]:
        return tuple(r for r in self.results if not r.ok and not r.suppressed)

    @property
    def suppressed(self) -> tuple[RecipientResult, ...]:
        return tuple(r for r in self.results if r.suppressed)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)
