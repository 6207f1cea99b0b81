"""Diagnostics: useful, and without secrets or full phone numbers."""

from __future__ import annotations

import json

from ha_common import ALICE, BOB, WEBHOOK_ID, setup_entry
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator
from kpn_sms_notify.numbers import mask_number


async def test_diagnostics_redact_secrets_and_mask_numbers(
    hass: HomeAssistant, emu: Emulator, hass_client: ClientSessionGenerator
) -> None:
    entry = await setup_entry(
        hass,
        emu,
        recipients={"Alice": ALICE},
        inbound_mode="register",
        inbound_number=BOB,
        signature_secret="sig-secret-xyz",
    )
    await hass.services.async_call(
        "notify", "kpn_sms", {"message": "x", "target": [BOB]}, blocking=True
    )
    token = (await entry.runtime_data.client.authenticate()).access_token  # the live token

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = json.dumps(diagnostics)

    for secret in (
        EMU_CLIENT_SECRET,
        EMU_CLIENT_ID,
        WEBHOOK_ID,
        "sig-secret-xyz",
        token,
        ALICE,
        BOB,
    ):
        assert secret not in text, secret
    data = diagnostics["entry"]["data"]
    assert data["client_secret"] == data["webhook_id"] == "**REDACTED**"
    assert data["inbound_number"] == mask_number(BOB)
    assert diagnostics["recipients"] == {"Alice": mask_number(ALICE)}
    assert diagnostics["client"]["token_requests"] == 1
    assert diagnostics["client"]["sent"] == 1
    assert diagnostics["client"]["quota"]["limit"] == 100000
    assert diagnostics["inbound"]["registration"].startswith("failed")  # no reachable URL
