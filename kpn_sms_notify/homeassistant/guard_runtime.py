"""The library's send guard inside Home Assistant: the day's spent figure in HA's storage,
a timer that sends each storm digest when its window ends, and a repair issue while the
account's balance is below `low_balance`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store

from kpn_sms_notify.client import KpnSms

from .const import DOMAIN

TICK = timedelta(seconds=1)  # the longest a due digest waits
_STORAGE_VERSION = 1


class HassBudgetStore:
    """A `BudgetStore` (kpn_sms_notify.budget) on HA's storage: loaded before the client is
    built, saved with a short delay (HA writes it, off the event loop)."""

    def __init__(self, store: Store[dict[str, Any]], data: dict[str, Any] | None) -> None:
        self._store = store
        self._data = data

    def load(self) -> dict[str, Any] | None:
        return self._data

    def save(self, data: dict[str, Any]) -> None:
        self._data = dict(data)
        self._store.async_delay_save(lambda: dict(self._data or {}), 1.0)


async def async_budget_store(hass: HomeAssistant, entry_id: str) -> HassBudgetStore:
    store: Store[dict[str, Any]] = Store(hass, _STORAGE_VERSION, f"{DOMAIN}.budget.{entry_id}")
    data = await store.async_load()
    return HassBudgetStore(store, data if isinstance(data, dict) else None)


def _issue_id(entry_id: str) -> str:
    return f"low_balance_{entry_id}"


def start_guard_timer(
    hass: HomeAssistant, client: KpnSms, *, entry_id: str, title: str
) -> Callable[[], None]:
    """Every second: send what the guard has due (digests, admin notices) and keep the
    low-balance repair issue in step with the balance. Returns the cancel callback."""
    shown = False

    @callback
    def tick(_now: datetime) -> None:
        nonlocal shown
        guard = client.guard
        if guard.next_due() == 0:
            hass.async_create_background_task(client.send_due(), f"{DOMAIN} digests")
        if guard.balance_low != shown:
            shown = guard.balance_low
            if shown:
                balance = guard.stats().balance  # the guard itself logs the warning
                ir.async_create_issue(
                    hass,
                    DOMAIN,
                    _issue_id(entry_id),
                    is_fixable=False,
                    severity=ir.IssueSeverity.WARNING,
                    translation_key="low_balance",
                    translation_placeholders={"title": title, "balance": f"{balance:.2f}"},
                )
            else:
                ir.async_delete_issue(hass, DOMAIN, _issue_id(entry_id))

    return async_track_time_interval(hass, tick, TICK, name=f"{DOMAIN} send guard")
