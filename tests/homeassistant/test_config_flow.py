"""The UI: config flow (every error, then recovery), reauth, reconfigure, recipients."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest
from ha_common import ALICE, BOB, DOMAIN, SENDER, entry_data, setup_entry
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator
from kpn_sms_notify.homeassistant.token_store import TOKENS


def user_input(emu: Emulator, **change: Any) -> dict[str, Any]:
    return {
        "client_id": EMU_CLIENT_ID,
        "client_secret": EMU_CLIENT_SECRET,
        "sender": SENDER,
        "base_url": emu.url,
        "region": "NL",
        "inbound_mode": "none",
        **change,
    }


async def start(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return result


async def test_user_flow_tests_credentials_then_creates_the_entry(
    hass: HomeAssistant, emu: Emulator
) -> None:
    result = await start(hass)
    assert emu.counters["token_requests"] == 0
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        user_input(emu, sender=" HomeAlert ", inbound_mode="register", inbound_number="0612345678"),
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "KPN SMS"
    entry = result["result"]
    assert entry.unique_id == EMU_CLIENT_ID
    assert entry.data["sender"] == SENDER
    assert entry.data["inbound_number"] == f"+{ALICE}"  # normalised: E.164 with "+"
    assert len(entry.data["webhook_id"]) >= 32
    assert entry.state is ConfigEntryState.LOADED
    assert emu.counters["token_requests"] >= 1  # the flow logged in before creating


@pytest.mark.parametrize(
    ("change", "fix", "field", "error"),
    [
        ({"client_secret": "wrong"}, {}, "base", "invalid_auth"),
        ({"client_id": "someone-else"}, {}, "base", "invalid_auth"),
        ({"base_url": "http://127.0.0.1:1"}, {}, "base", "cannot_connect"),
        ({"base_url": "http://kpn.example.com"}, {}, "base_url", "invalid_base_url"),
        ({"sender": "Way Too Long Sender"}, {}, "sender", "invalid_sender"),
        ({"region": "XX"}, {}, "region", "invalid_region"),
        (
            {"inbound_mode": "register"},
            {"inbound_mode": "none"},
            "inbound_number",
            "number_required",
        ),
        (
            {"inbound_mode": "register", "inbound_number": "0699"},
            {"inbound_mode": "none"},
            "inbound_number",
            "invalid_number",
        ),
    ],
)
async def test_each_error_is_shown_then_the_user_recovers(
    hass: HomeAssistant,
    emu: Emulator,
    change: dict[str, Any],
    fix: dict[str, Any],
    field: str,
    error: str,
) -> None:
    result = await start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input(emu, **change)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    assert hass.config_entries.async_entries(DOMAIN) == []

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input(emu, **fix)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_gateway_down_shows_cannot_connect(hass: HomeAssistant, emu: Emulator) -> None:
    emu.configure(token_endpoint_down=True)
    result = await start(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(emu))
    assert result["errors"] == {"base": "cannot_connect"}


async def test_unexpected_error_shows_unknown_and_is_logged(
    hass: HomeAssistant, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    # A bug cannot be produced by the emulator: this is the one patched edge.
    result = await start(hass)
    with patch("kpn_sms_notify.client.KpnSms.authenticate", side_effect=RuntimeError("boom")):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(emu))
    assert result["errors"] == {"base": "unknown"}
    assert "boom" in caplog.text


async def test_one_entry_per_client_id(hass: HomeAssistant, emu: Emulator) -> None:
    await setup_entry(hass, emu)
    result = await start(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(emu))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_refused_credentials_at_setup_start_reauth_and_reauth_recovers(
    hass: HomeAssistant, emu: Emulator
) -> None:
    entry = await setup_entry(hass, emu, client_secret="old-secret")
    assert entry.state is ConfigEntryState.SETUP_ERROR
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["step_id"] == "reauth_confirm"

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"client_secret": "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"client_secret": EMU_CLIENT_SECRET}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data["client_secret"] == EMU_CLIENT_SECRET
    assert entry.state is ConfigEntryState.LOADED


async def test_unreachable_gateway_at_setup_retries_later(
    hass: HomeAssistant, emu: Emulator
) -> None:
    emu.configure(token_endpoint_down=True)
    entry = await setup_entry(hass, emu)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []  # no reauth


async def test_app_without_the_sms_product_is_shown_then_the_user_recovers(
    hass: HomeAssistant, emu: Emulator
) -> None:
    """KPN issues a token to an app without the SMS product: the flow checks the SMS API
    itself (a request that texts nobody) and says what to do."""
    emu.configure(api_products=["phone-numbers-nexmo"])
    result = await start(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(emu))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "missing_product"}
    assert hass.config_entries.async_entries(DOMAIN) == []
    assert emu.counters["product_refusals"] == 1 and emu.counters["token_requests"] == 1

    emu.configure(api_products=["sms-nexmo", "phone-numbers-nexmo"])  # added in the API Store
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(emu))
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert emu.messages == []  # the checks texted nobody


async def test_missing_sms_product_on_a_running_entry_starts_reauth(
    hass: HomeAssistant, emu: Emulator
) -> None:
    """The product is taken away after setup: the next text fails with what to do, the
    token is not renewed, and reauth starts; its form keeps saying so until it is fixed."""
    entry = await setup_entry(hass, emu, recipients={"Alice": ALICE, "Bob": BOB})
    assert entry.state is ConfigEntryState.LOADED
    emu.configure(api_products=["phone-numbers-nexmo"])
    with pytest.raises(HomeAssistantError, match="add the SMS product to this app"):
        await hass.services.async_call("notify", "kpn_sms", {"message": "x"}, blocking=True)
    await hass.async_block_till_done()
    assert emu.counters["token_requests"] == 1  # setup's token: no renewal per recipient
    assert emu.messages == []
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["step_id"] == "reauth_confirm"

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"client_secret": EMU_CLIENT_SECRET}
    )
    assert result["errors"] == {"base": "missing_product"}
    emu.configure(api_products=["sms-nexmo", "phone-numbers-nexmo"])
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"client_secret": EMU_CLIENT_SECRET}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "reauth_successful"
    await hass.services.async_call("notify", "kpn_sms", {"message": "x"}, blocking=True)
    assert sorted(m["to"] for m in emu.messages) == [ALICE, BOB]


async def test_throttled_token_endpoint_at_setup_retries_later(
    hass: HomeAssistant, emu: Emulator
) -> None:
    """Apigee's rate-limit fault (as stock Apigee sends it, HTTP 500) is a throttle: the
    entry is retried later, not failed and not sent to reauth."""
    emu.configure(script=[{"path": "token", "http": 500, "body": "quota"}])
    entry = await setup_entry(hass, emu)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []


async def test_reconfigure_changes_settings_after_testing_them(
    hass: HomeAssistant, emu: Emulator
) -> None:
    entry = await setup_entry(hass, emu)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"

    changed = user_input(emu, client_secret="", sender="NewSender", base_url="http://127.0.0.1:1")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], changed)
    assert result["errors"] == {"base": "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**changed, "base_url": emu.url}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["sender"] == "NewSender"
    assert entry.data["client_secret"] == EMU_CLIENT_SECRET  # blank kept the stored secret
    assert entry.data["webhook_id"] == entry_data(emu)["webhook_id"]
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_refuses_another_account(hass: HomeAssistant, emu: Emulator) -> None:
    entry = await setup_entry(hass, emu)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input(emu, client_id="another-account")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"


async def add_recipient(
    hass: HomeAssistant, entry_id: str, name: str, number: str
) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry_id, "recipient"), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": name, "number": number}
    )
    await hass.async_block_till_done()
    return result


async def test_recipient_subentries_become_entities(hass: HomeAssistant, emu: Emulator) -> None:
    entry = await setup_entry(hass, emu)
    result = await add_recipient(hass, entry.entry_id, "Alice", "06 1234 5678")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    [subentry] = entry.subentries.values()
    assert subentry.data == {"number": f"+{ALICE}"}
    assert hass.states.get("notify.kpn_sms_alice") is not None

    # The same number again is refused; a bad number is an error, then corrected.
    result = await add_recipient(hass, entry.entry_id, "Alice again", "+31612345678")
    assert result["reason"] == "already_configured"
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "recipient"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Bob", "number": "0699"}
    )
    assert result["errors"] == {"number": "invalid_number"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Bob", "number": "0687654321"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert hass.states.get("notify.kpn_sms_bob") is not None
    assert {s.data["number"] for s in entry.subentries.values()} == {f"+{ALICE}", f"+{BOB}"}


async def test_a_foreign_recipient_keeps_its_country(hass: HomeAssistant, emu: Emulator) -> None:
    # Issue 11: "+49 201 0000" was stored as "492010000", which reads as the Dutch
    # 0492 010000. The entry now holds it with "+", and the entity texts Germany.
    entry = await setup_entry(hass, emu)
    result = await add_recipient(hass, entry.entry_id, "Oma", "+49 201 0000")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    [subentry] = entry.subentries.values()
    assert subentry.data == {"number": "+492010000"}
    await hass.services.async_call(
        "notify",
        "send_message",
        {"entity_id": "notify.kpn_sms_oma", "message": "Hallo"},
        blocking=True,
    )
    assert [m["to"] for m in emu.messages] == ["492010000"]  # the wire has no "+"


async def test_a_number_stored_without_plus_is_still_taken(
    hass: HomeAssistant, emu: Emulator
) -> None:
    # Subentries of an older version hold bare digits: the same number with "+" is a duplicate.
    entry = await setup_entry(hass, emu, recipients={"Alice": ALICE})
    result = await add_recipient(hass, entry.entry_id, "Alice again", "06 1234 5678")
    assert result["reason"] == "already_configured"


async def test_recipient_subentry_reconfigure(hass: HomeAssistant, emu: Emulator) -> None:
    entry = await setup_entry(hass, emu, recipients={"Alice": ALICE})
    [subentry_id] = entry.subentries
    # (MockConfigEntry.start_subentry_reconfigure_flow changed its signature in 2026.)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "recipient"),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Alice mobile", "number": "0687654321"}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[subentry_id].data == {"number": f"+{BOB}"}
    assert entry.subentries[subentry_id].title == "Alice mobile"


async def test_one_token_serves_the_flow_the_setup_the_reloads_and_the_text(
    hass: HomeAssistant, emu: Emulator
) -> None:
    """Issue 16: the config flow's login serves the setup, and each reload (a recipient
    added) reuses that token until it expires: one token request, not four."""
    result = await start(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(emu))
    await hass.async_block_till_done()
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    for name, number in (("Alice", "0612345678"), ("Bob", "0687654321")):
        result = await add_recipient(hass, entry.entry_id, name, number)
        assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.state is ConfigEntryState.LOADED
    await hass.services.async_call(
        "notify",
        "send_message",
        {"entity_id": "notify.kpn_sms_alice", "message": "one token"},
        blocking=True,
    )
    assert [m["to"] for m in emu.messages] == [ALICE]
    assert emu.counters["token_requests"] == 1

    # The shared tokens are keyed by a hash: neither the secret nor the token is a key.
    [key] = hass.data[TOKENS]
    assert EMU_CLIENT_SECRET not in key and EMU_CLIENT_ID not in key


async def test_a_refused_token_is_forgotten_and_renewed_once(
    hass: HomeAssistant, emu: Emulator
) -> None:
    entry = await setup_entry(hass, emu, recipients={"Alice": ALICE})
    assert emu.counters["token_requests"] == 1
    emu.expire_tokens()  # KPN refuses the token the entry and the store hold
    await hass.services.async_call("notify", "kpn_sms", {"message": "renewed"}, blocking=True)
    assert [m["to"] for m in emu.messages] == [ALICE]
    assert emu.counters["token_requests"] == 2

    # The reload takes the renewed token, not the refused one.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await hass.services.async_call("notify", "kpn_sms", {"message": "again"}, blocking=True)
    assert len(emu.messages) == 2
    assert emu.counters["token_requests"] == 2


async def test_a_changed_secret_does_not_ride_on_the_cached_token(
    hass: HomeAssistant, emu: Emulator
) -> None:
    """The token is shared per gateway, client id and secret: a wrong secret is checked by
    the gateway even while a token of the right one is cached."""
    entry = await setup_entry(hass, emu)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input(emu, client_secret="wrong")
    )
    assert result["errors"] == {"base": "invalid_auth"}
    assert emu.counters["token_requests"] == 2
