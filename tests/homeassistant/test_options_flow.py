"""The entry's options (Configure in the UI): the storm and cost guard without YAML."""

from __future__ import annotations

from typing import Any

from ha_common import ALICE, setup_entry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from kpn_sms_notify.emulator import Emulator

ADMIN = "+31611112222"


def texts_to(emu: Emulator, number: str) -> list[str]:
    return [m["text"] for m in emu.messages if m["to"] == number]


async def _configure(hass: HomeAssistant, entry_id: str, values: dict[str, Any]) -> Any:
    form = await hass.config_entries.options.async_init(entry_id)
    assert form["type"] is FlowResultType.FORM and form["step_id"] == "init"
    return await hass.config_entries.options.async_configure(form["flow_id"], values)


async def test_options_set_the_guard_and_reload_the_entry(
    hass: HomeAssistant, emu: Emulator
) -> None:
    entry = await setup_entry(hass, emu, recipients={"Alice": ALICE})
    result = await _configure(
        hass,
        entry.entry_id,
        {"storm_cap": 2.0, "storm_window": 60.0, "daily_budget": 5.5, "admins": f" {ADMIN} ,"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options == {
        "storm_cap": 2,
        "storm_window": 60.0,
        "daily_budget": 5.5,
        "admins": [ADMIN],
    }
    guard = entry.runtime_data.client.guard  # the reloaded entry's client
    assert guard.admins == (ADMIN,)
    for n in range(3):
        await hass.services.async_call(
            "notify",
            "send_message",
            {"entity_id": "notify.kpn_sms_alice", "message": f"Loop {n}"},
            blocking=True,
        )
    assert texts_to(emu, ALICE) == ["Loop 0", "Loop 1"]  # the cap of 2 holds the third back
    assert guard.stats().suppressed["storm"] == 1

    form = await hass.config_entries.options.async_init(entry.entry_id)
    shown = {str(key): key.description for key in form["data_schema"].schema}
    assert shown["admins"] == {"suggested_value": ADMIN}  # the list reads back as text


async def test_a_bad_admin_number_is_refused_on_its_field_masked(
    hass: HomeAssistant, emu: Emulator
) -> None:
    entry = await setup_entry(hass, emu, recipients={"Alice": ALICE})
    result = await _configure(
        hass, entry.entry_id, {"storm_cap": 10, "admins": "+3161234567890123"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"admins": "invalid_option"}
    error = result["description_placeholders"]["error"]
    assert "admins" in error and "+3161234567890123" not in error
    assert entry.options == {}
