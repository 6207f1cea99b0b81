"""Money: the daily spend budget and the low-balance warning, from the `message-price` and
`remaining-balance` the gateway returns with each accepted part.

No I/O, no lock: `SendGuard` holds the lock and keeps the figures in a `BudgetStore`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol


class BudgetStore(Protocol):
    """Where a host keeps the day's spent figure between runs (serve's state_dir, HA's
    storage). `load` may return None (nothing kept yet)."""

    def load(self) -> dict[str, Any] | None: ...

    def save(self, data: dict[str, Any]) -> None: ...


def local_day(now: float) -> str:
    """The local calendar day of `now` (epoch seconds), as YYYY-MM-DD."""
    return time.strftime("%Y-%m-%d", time.localtime(now))


@dataclass(slots=True)
class SpendBudget:
    """Spending per local day. Before a text, `reserve()` holds its expected cost (its parts
    at the last price seen) so texts in flight count too; `book()` replaces that with what
    the gateway charged. `limit` None: no budget (spending is still counted)."""

    limit: Decimal | None
    day: str = ""
    spent: Decimal = Decimal(0)
    reserved: Decimal = Decimal(0)
    price: Decimal | None = None  # per part, as last charged
    noticed: bool = False  # today's "budget reached" notice was raised

    def roll(self, now: float) -> None:
        today = local_day(now)
        if today != self.day:
            self.day, self.spent, self.noticed = today, Decimal(0), False

    def reserve(self, parts: int, *, urgent: bool, now: float) -> Decimal | None:
        """The cost held for a text of `parts`, or None when it would go past the budget
        (urgent texts always go)."""
        self.roll(now)
        estimate = (self.price or Decimal(0)) * parts
        held = self.spent + self.reserved
        # Its price unknown (no text priced yet), a text goes only while the budget is not
        # used up: a budget of 0 stops every text that is not urgent.
        over = self.limit is not None and (
            held + estimate > self.limit or (not estimate and held >= self.limit)
        )
        if over and not urgent:
            return None
        self.reserved += estimate
        return estimate

    def book(self, estimate: Decimal, charged: Decimal | None, parts: int, now: float) -> None:
        self.reserved = max(Decimal(0), self.reserved - estimate)
        self.roll(now)
        if charged is not None:
            self.spent += charged
            if parts:
                self.price = charged / parts

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "spent": str(self.spent),
            "price": None if self.price is None else str(self.price),
            "noticed": self.noticed,
        }

    def restore(self, data: dict[str, Any] | None, now: float) -> None:
        """Take back a stored figure; a broken or old one is ignored."""
        self.roll(now)
        if not isinstance(data, dict) or data.get("day") != self.day:
            return
        try:
            self.spent = Decimal(str(data.get("spent", "0")))
            price = data.get("price")
            self.price = None if price is None else Decimal(str(price))
        except InvalidOperation:
            return
        self.noticed = bool(data.get("noticed"))


@dataclass(slots=True)
class BalanceWatch:
    """The account's balance and a warning once per crossing below `threshold`."""

    threshold: Decimal | None
    balance: Decimal | None = None
    below: bool = False
    warnings: int = 0

    def saw(self, balance: Decimal) -> bool:
        """Note a balance; True when it has just fallen below the threshold."""
        self.balance = balance
        if self.threshold is None:
            return False
        if balance >= self.threshold:
            self.below = False
            return False
        if self.below:
            return False
        self.below = True
        self.warnings += 1
        return True
