"""Notify entities per recipient, and the entry's `notify.<title>` service with `target`."""

from __future__ import annotations

import pytest
from ha_common import ALICE, BOB, DOMAIN, setup_entry
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.httpx_client import get_async_client

from kpn_sms_notify.emulator import Emulator
from kpn_sms_notify.numbers import mask_number

RECIPIENTS = {"Alice": ALICE, "Bob": BOB}


def texts(emu: Emulator) -> list[tuple[str, str]]:
    return sorted((m["to"], m["text"]) for m in emu.messages)


async def test_an_entity_per_recipient_sends_message_and_title(
    hass: HomeAssistant,
    emu: Emulator,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    entry = await setup_entry(hass, emu, recipients=RECIPIENTS)
    assert entry.state is ConfigEntryState.LOADED
    subentry_of = {s.title: s.subentry_id for s in entry.subentries.values()}
    for entity_id, label in (("notify.kpn_sms_alice", "Alice"), ("notify.kpn_sms_bob", "Bob")):
        registered = entity_registry.async_get(entity_id)
        assert registered is not None, entity_id
        assert registered.config_entry_id == entry.entry_id
        assert registered.unique_id.endswith(subentry_of[label])
        assert hass.states.get(entity_id).attributes["recipient"] == mask_number(
            f"+{RECIPIENTS[label]}"
        )  # E.164 with "+", also for entries stored without
        device = device_registry.async_get(registered.device_id)
        assert device.name == f"KPN SMS {label}"

    await hass.services.async_call(
        "notify",
        "send_message",
        {"entity_id": "notify.kpn_sms_alice", "message": "Door open", "title": "Home"},
        blocking=True,
    )

    assert texts(emu) == [(ALICE, "Home\nDoor open")]
    assert hass.states.get("notify.kpn_sms_alice").state not in ("unknown", "unavailable")
    assert emu.counters["token_requests"] == 1  # setup's token, reused
    assert entry.runtime_data.client._http is get_async_client(hass)  # HA's shared client


async def test_entity_failure_raises(hass: HomeAssistant, emu: Emulator) -> None:
    emu.configure(forced_status={BOB: "29"})
    await setup_entry(hass, emu, recipients=RECIPIENTS)
    with pytest.raises(HomeAssistantError, match=mask_number(BOB).replace("*", r"\*")):
        await hass.services.async_call(
            "notify",
            "send_message",
            {"entity_id": "notify.kpn_sms_bob", "message": "x"},
            blocking=True,
        )
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            "notify",
            "send_message",
            {"entity_id": "notify.kpn_sms_alice", "message": " "},
            blocking=True,
        )
    assert emu.messages == []


async def test_refused_token_during_a_send_starts_reauth(
    hass: HomeAssistant, emu: Emulator
) -> None:
    entry = await setup_entry(hass, emu, recipients=RECIPIENTS)
    # KPN rotated the secret: the token is refused (401) and so is the renewal.
    emu.configure(
        client_secret="rotated-by-kpn", forced_http={"/communication/nexmo/sms/send": 401}
    )

    with pytest.raises(HomeAssistantError, match="credentials"):
        await hass.services.async_call(
            "notify",
            "send_message",
            {"entity_id": "notify.kpn_sms_alice", "message": "x"},
            blocking=True,
        )
    await hass.async_block_till_done()

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]
    assert flows[0]["context"]["entry_id"] == entry.entry_id
    assert emu.messages == []


async def test_entry_service_with_target_and_default_recipients(
    hass: HomeAssistant, emu: Emulator
) -> None:
    await setup_entry(hass, emu, recipients=RECIPIENTS)
    assert hass.services.has_service("notify", "kpn_sms")

    await hass.services.async_call(
        "notify",
        "kpn_sms",
        {"message": "ad hoc", "title": "t", "target": ["+31 6 11111111", "0622222222"]},
        blocking=True,
    )
    assert texts(emu) == [("31611111111", "t\nad hoc"), ("31622222222", "t\nad hoc")]

    await hass.services.async_call("notify", "kpn_sms", {"message": "all"}, blocking=True)
    assert [t for t in texts(emu) if t[1] == "all"] == [(ALICE, "all"), (BOB, "all")]


async def test_entry_service_without_recipients_or_target_is_a_validation_error(
    hass: HomeAssistant, emu: Emulator
) -> None:
    await setup_entry(hass, emu)
    with pytest.raises(ServiceValidationError, match="recipients"):
        await hass.services.async_call("notify", "kpn_sms", {"message": "x"}, blocking=True)


async def test_entry_service_partial_failure(hass: HomeAssistant, emu: Emulator) -> None:
    emu.configure(forced_status={"31622222222": "9"})
    await setup_entry(hass, emu)
    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call(
            "notify",
            "kpn_sms",
            {"message": "x", "target": ["0611111111", "0622222222"]},
            blocking=True,
        )
    assert mask_number("31622222222") in str(info.value)
    assert "31622222222" not in str(info.value)
    assert texts(emu) == [("31611111111", "x")]


async def test_unload_removes_entities_and_service(hass: HomeAssistant, emu: Emulator) -> None:
    entry = await setup_entry(hass, emu, recipients=RECIPIENTS)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert not hass.services.has_service("notify", "kpn_sms")
    assert hass.states.get("notify.kpn_sms_alice").state == "unavailable"

    assert await hass.config_entries.async_setup(entry.entry_id)  # and back
    await hass.async_block_till_done()
    assert hass.services.has_service("notify", "kpn_sms")
    await hass.services.async_call("notify", "kpn_sms", {"message": "again"}, blocking=True)
    assert len(emu.messages) == 2
