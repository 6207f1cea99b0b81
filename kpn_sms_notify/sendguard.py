"""The send guard both clients share: per recipient, before each text, go or hold back.

A text is held back (reported `suppressed`, never failed, never retried) when its
recipient is past the storm cap (reason `storm`, see storm.py) or, unless urgent, when it
would go past the daily budget (reason `budget`, see budget.py). The guard also raises
notices for the admins (budget reached, once a day; balance low, once per crossing) and
keeps the counters hosts show. One lock makes every decision, so the cap and the budget are
exact under concurrency within one client (threads or tasks); nothing is shared between
processes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .budget import BalanceWatch, BudgetStore, SpendBudget
from .models import RecipientResult
from .numbers import mask_number
from .settings import Settings
from .storm import Digest, StormCap

_LOGGER = logging.getLogger("kpn_sms_notify.guard")

STORM = "storm"
BUDGET = "budget"
REASONS = (STORM, BUDGET)


@dataclass(frozen=True, slots=True)
class Ticket:
    """A text let through: what it holds of the budget until it is settled."""

    recipient: str
    parts: int
    estimate: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Notice:
    """A text for the admins."""

    text: str
    fields: dict[str, Any] = field(repr=False)  # send fields of the text that raised it


@dataclass(frozen=True, slots=True)
class GuardStats:
    """The guard's figures, for metrics, diagnostics and `--json`."""

    suppressed: dict[str, int]
    digests: int
    notices: int
    spent_today: Decimal
    budget: Decimal | None
    balance: Decimal | None
    low_balance_warnings: int

    def to_dict(self) -> dict[str, Any]:
        def money(value: Decimal | None) -> float | None:
            return None if value is None else float(value)

        return {
            "suppressed": dict(self.suppressed),
            "digests": self.digests,
            "notices": self.notices,
            "spent_today": money(self.spent_today),
            "budget": money(self.budget),
            "balance": money(self.balance),
            "low_balance_warnings": self.low_balance_warnings,
        }


def _money(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


class SendGuard:
    """Decides, per recipient, whether a text goes; see the module docstring. `clock` gives
    epoch seconds (tests pass their own); `store` keeps the day's spent figure."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        store: BudgetStore | None = None,
    ) -> None:
        self.clock = clock
        self.store = store
        self._lock = threading.Lock()
        self._storm = StormCap(cap=settings.storm_cap, window=settings.storm_window)
        self._budget = SpendBudget(_money(settings.daily_budget))
        self._balance = BalanceWatch(_money(settings.low_balance))
        self._admins = settings.admins
        self._notices: list[Notice] = []
        self._suppressed = dict.fromkeys(REASONS, 0)
        self._digests = 0
        self._notices_sent = 0
        if store is not None:
            self._budget.restore(store.load(), clock())

    @property
    def admins(self) -> tuple[str, ...]:
        return self._admins

    @property
    def balance_low(self) -> bool:
        """The last balance seen is below `low_balance` (hosts show a warning meanwhile)."""
        return self._balance.below

    # ------------------------------------------------------------ per text

    def check(
        self, recipient: str, *, text: str, parts: int, urgent: bool, fields: dict[str, Any]
    ) -> Ticket | RecipientResult:
        """A ticket to send, or the `suppressed` result of a text held back."""
        with self._lock:
            now = self.clock()
            estimate = self._budget.reserve(parts, urgent=urgent, now=now)
            if estimate is None:
                return self._hold_for_budget(recipient, fields)
            if not self._storm.admit(recipient, text, fields, now):
                self._budget.book(estimate, None, 0, now)  # not sent: release what it held
                return self._hold_for_storm(recipient)
            return Ticket(recipient, parts, estimate)

    def settle(self, ticket: Ticket, result: RecipientResult) -> None:
        """After the text went (or failed): book what it cost; watch the balance."""
        self.book(result, estimate=ticket.estimate)

    def book(self, result: RecipientResult, *, estimate: Decimal = Decimal(0)) -> None:
        """Book what a sent text cost (digests and notices too, which are not checked)."""
        with self._lock:
            now = self.clock()
            price = result.price
            self._budget.book(estimate, price, len(result.parts), now)
            if price is not None and self.store is not None:
                self.store.save(self._budget.to_dict())
            balance = result.remaining_balance
            if balance is not None and self._balance.saw(balance):
                threshold = self._balance.threshold
                _LOGGER.warning(
                    "KPN account balance is low: %s left (warning below %s); top it up",
                    balance,
                    threshold,
                )
                self._notices.append(
                    Notice(
                        f"KPN SMS: the account balance is low: {balance:.2f} left "
                        f"(warning below {threshold:.2f}). Top it up to keep alerts going.",
                        {},
                    )
                )

    # ------------------------------------------------------------ what is due

    def due_digests(self) -> list[Digest]:
        """Digests of storm windows that have ended, each to be sent once."""
        with self._lock:
            return self._storm.due(self.clock())

    def digest_sent(self) -> None:
        with self._lock:
            self._digests += 1

    def next_due(self) -> float | None:
        """Seconds until a digest falls due, or None when no text is held back."""
        with self._lock:
            if self._notices:
                return 0.0
            return self._storm.next_due(self.clock())

    def take_notices(self) -> list[Notice]:
        """Notices for the admins raised since the last call (dropped when there are none)."""
        with self._lock:
            notices, self._notices = self._notices, []
            if not self._admins:
                return []
            self._notices_sent += len(notices)
            return notices

    def stats(self) -> GuardStats:
        with self._lock:
            self._budget.roll(self.clock())
            return GuardStats(
                suppressed=dict(self._suppressed),
                digests=self._digests,
                notices=self._notices_sent,
                spent_today=self._budget.spent,
                budget=self._budget.limit,
                balance=self._balance.balance,
                low_balance_warnings=self._balance.warnings,
            )

    # ------------------------------------------------------------ holding back

    def _hold_for_budget(self, recipient: str, fields: dict[str, Any]) -> RecipientResult:
        self._suppressed[BUDGET] += 1
        budget = self._budget
        reason = (
            f"held back: the daily budget of {budget.limit:.2f} is spent "
            f"({budget.spent:.2f} today); only urgent texts go until midnight"
        )
        if not budget.noticed:
            budget.noticed = True
            if self.store is not None:
                self.store.save(budget.to_dict())
            _LOGGER.warning("daily budget of %.2f reached: only urgent texts go", budget.limit)
            self._notices.append(
                Notice(
                    f"KPN SMS: the daily budget of {budget.limit:.2f} is spent "
                    f"({budget.spent:.2f} today). Only urgent texts go until midnight.",
                    fields,
                )
            )
        _LOGGER.info("%s: suppressed (budget)", mask_number(recipient))
        return _suppressed(recipient, BUDGET, reason)

    def _hold_for_storm(self, recipient: str) -> RecipientResult:
        self._suppressed[STORM] += 1
        storm = self._storm
        window = _duration(storm.window)
        reason = (
            f"held back: {storm.cap} texts to this number in {window} already (storm_cap); "
            "a digest follows when the window ends"
        )
        _LOGGER.info("%s: suppressed (storm)", mask_number(recipient))
        return _suppressed(recipient, STORM, reason)


def _suppressed(recipient: str, why: str, reason: str) -> RecipientResult:
    return RecipientResult(
        recipient, False, reason=reason, suppressed=why, attempts=0, permanent=True
    )


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"
