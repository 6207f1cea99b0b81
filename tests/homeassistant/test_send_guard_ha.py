"""The send guard in Home Assistant: a self-triggering automation is capped and its digest
goes out on HA's timer; `data.urgent` goes past the daily budget; a low balance raises a
repair issue; diagnostics show the figures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ha_common import ALICE, setup_entry
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from kpn_sms_notify.emulator import Emulator

T0 = 1_800_000_000.0
LOOPS = 40


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def texts_to(emu: Emulator, number: str) -> list[str]:
    return [m["text"] for m in emu.messages if m["to"] == number]


async def _tick(hass: HomeAssistant) -> None:
    """Let the integration's one-second timer run once, and what it started finish."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=2))
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_a_self_triggering_automation_is_capped_with_one_digest(
    hass: HomeAssistant, emu: Emulator, hass_client: ClientSessionGenerator
) -> None:
    entry = await setup_entry(hass, emu, recipients={"Alice": ALICE}, storm_cap=5)
    clock = Clock()
    entry.runtime_data.client.guard.clock = clock
    suppressed: list[Event[Any]] = []
    hass.bus.async_listen("kpn_sms_notify_suppressed", suppressed.append)
    # The classic storm: an automation whose action fires its own trigger.
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "alias": "loop",
                "mode": "queued",
                "max": LOOPS + 5,
                "triggers": [{"trigger": "event", "event_type": "kpn_loop"}],
                "conditions": [
                    {
                        "condition": "template",
                        "value_template": f"{{{{ trigger.event.data.n < {LOOPS} }}}}",
                    }
                ],
                "actions": [
                    {
                        "action": "notify.send_message",
                        "target": {"entity_id": "notify.kpn_sms_alice"},
                        "data": {"message": "Loop {{ trigger.event.data.n }}"},
                    },
                    {"event": "kpn_loop", "event_data": {"n": "{{ trigger.event.data.n + 1 }}"}},
                ],
            }
        },
    )
    hass.bus.async_fire("kpn_loop", {"n": 0})
    for _ in range(200):  # bounded: each round lets the queued runs go on
        await hass.async_block_till_done()
        if len(suppressed) >= LOOPS - 5:
            break
    assert texts_to(emu, ALICE) == [f"Loop {i}" for i in range(5)]
    assert len(suppressed) == LOOPS - 5  # every held-back text is said, none failed
    assert {e.data["reason"] for e in suppressed} == {"storm"}

    await _tick(hass)
    assert len(texts_to(emu, ALICE)) == 5  # the window has not ended
    clock.now = T0 + 600
    await _tick(hass)
    sent = texts_to(emu, ALICE)
    assert len(sent) == 6 and sent[-1].startswith(f"{LOOPS - 5} more alerts since ")
    assert sent[-1].endswith(f"last: Loop {LOOPS - 1}")
    await _tick(hass)
    assert len(texts_to(emu, ALICE)) == 6  # one digest

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    guard = diagnostics["guard"]
    assert guard["suppressed"] == {"storm": LOOPS - 5, "budget": 0} and guard["digests"] == 1
    assert diagnostics["client"]["suppressed"] == LOOPS - 5


async def test_data_urgent_goes_past_the_budget_and_a_low_balance_raises_an_issue(
    hass: HomeAssistant, emu: Emulator, issue_registry: ir.IssueRegistry
) -> None:
    emu.configure(balance="1.00", price_per_part="0.075")
    entry = await setup_entry(
        hass, emu, recipients={"Alice": ALICE}, daily_budget=0.1, low_balance=0.95, storm_cap=0
    )

    async def notify(message: str, **data: Any) -> None:
        await hass.services.async_call(
            "notify",
            "kpn_sms",
            {"message": message, "target": [ALICE], "data": data},
            blocking=True,
        )

    await notify("one")  # 0.075: the price is known from now on
    await notify("two")  # 0.15 would pass 0.10: held back
    await notify("three", urgent=True)
    assert texts_to(emu, ALICE) == ["one", "three"]
    stats = entry.runtime_data.client.guard.stats()
    assert stats.suppressed["budget"] == 1 and float(stats.spent_today) == 0.15

    await _tick(hass)
    issue = issue_registry.async_get_issue("kpn_sms_notify", f"low_balance_{entry.entry_id}")
    assert issue is not None and issue.translation_placeholders["balance"] == "0.85"
