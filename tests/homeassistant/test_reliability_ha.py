"""Issue 7 in Home Assistant: secrets never leak (YAML, UI, diagnostics, at DEBUG) and
gateway faults end as accepted texts or a clear error, nothing lost or doubled, and the
integration keeps working afterwards. Owned by the reliability suite (tests/reliability/)."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from typing import Any

import pytest
from ha_common import ALICE, BOB, DOMAIN, SENDER, setup_entry
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from kpn_sms_notify.emulator import Emulator
from kpn_sms_notify.numbers import mask_number

CLIENT_ID = "canary-ha-client-id"
SECRET = "S3CR3T-LEAK-CANARY-ha-4e4e4e"
WRONG = "S3CR3T-LEAK-CANARY-ha-wrong"
SIGNATURE = "S3CR3T-LEAK-CANARY-ha-sig"
CANARY = "S3CR3T-LEAK-CANARY"
CAROL = "31655512345"


@pytest.fixture
def canary(emu: Emulator, caplog: pytest.LogCaptureFixture) -> Emulator:
    """The emulator with distinctive credentials, and every logger at DEBUG."""
    emu.configure(client_id=CLIENT_ID, client_secret=SECRET)
    caplog.set_level(logging.DEBUG)
    return emu


def tokens(emu: Emulator) -> set[str]:
    with emu.state.lock:
        return set(emu.state.tokens) | set(emu.state.expired)


def assert_clean(text: str, emu: Emulator) -> None:
    issued = tokens(emu)
    assert issued, "no token was issued: the check would be empty"
    for token in issued:
        for piece in (token, token[:12], token[-12:]):
            assert piece not in text, f"access token leaked: ...{piece[-4:]}"
    found = text.find(CANARY)
    assert found < 0, f"secret leaked: {text[max(found - 80, 0) : found + 40]!r}"


def assert_masked(log: str, numbers: tuple[str, ...] = (ALICE, BOB)) -> None:
    for number in numbers:
        assert number not in log, f"unmasked {mask_number(number)} in the log"
        assert "0" + number[2:] not in log  # the national form
    assert any(mask_number(n) in log for n in numbers), "no masked number: check is empty"


def logged(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(repr(record.exc_info[1]))
    return "\n".join(parts)


# ------------------------------------------------------------------ secrets


async def test_yaml_platform_secrets(
    hass: HomeAssistant, canary: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    base = {
        "platform": DOMAIN,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "sender": SENDER,
        "base_url": canary.url,
    }
    assert await async_setup_component(
        hass,
        "notify",
        {
            "notify": [
                {**base, "name": "kpn_ok", "recipients": ["0612345678", "+31687654321"]},
                {**base, "name": "kpn_bad_config", "max_parts": "lots", "recipients": [ALICE]},
                {**base, "name": "kpn_wrong_secret", "client_secret": WRONG, "recipients": [ALICE]},
            ]
        },
    )
    await hass.async_block_till_done()
    assert hass.services.has_service("notify", "kpn_ok")
    assert not hass.services.has_service("notify", "kpn_bad_config")
    assert not hass.services.has_service("notify", "kpn_wrong_secret")
    errors: list[str] = []
    await hass.services.async_call("notify", "kpn_ok", {"message": "up"}, blocking=True)
    canary.configure(script=[{"http": 500}], forced_status={BOB: "29"})
    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call("notify", "kpn_ok", {"message": "faults"}, blocking=True)
    errors.append(f"{info.value} {info.value!r}")
    canary.configure(script=[], forced_status={})
    canary.expire_tokens()
    await hass.services.async_call("notify", "kpn_ok", {"message": "renewed"}, blocking=True)
    assert "max_parts" in caplog.text  # the bad config was reported...
    assert_clean(logged(caplog) + "\n".join(errors), canary)  # ...without the secret
    assert_masked(caplog.text)


async def test_ui_flow_entities_and_diagnostics_secrets(
    hass: HomeAssistant,
    canary: Emulator,
    caplog: pytest.LogCaptureFixture,
    hass_client: ClientSessionGenerator,
) -> None:
    shown: list[str] = []
    user = {
        "client_id": CLIENT_ID,
        "client_secret": WRONG,
        "sender": SENDER,
        "base_url": canary.url,
        "region": "NL",
        "inbound_mode": "none",
    }
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user)
    assert result["type"] is FlowResultType.FORM and result["errors"] == {"base": "invalid_auth"}
    shown.append(json.dumps(result, default=str))
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**user, "client_secret": SECRET}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    shown.append(repr(entry.as_dict()["title"]))
    await hass.services.async_call(
        "notify", "kpn_sms", {"message": "ad hoc", "target": [ALICE, BOB]}, blocking=True
    )
    canary.configure(forced_status={BOB: "7"})
    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call(
            "notify", "kpn_sms", {"message": "x", "target": [BOB]}, blocking=True
        )
    shown.append(f"{info.value} {info.value!r}")
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    shown.append(json.dumps(diagnostics, default=str))
    for state in hass.states.async_all():
        shown.append(repr(state.as_dict()))
    assert_clean(logged(caplog) + "\n".join(shown), canary)
    assert_masked(caplog.text)


async def test_diagnostics_with_every_secret_set(
    hass: HomeAssistant, canary: Emulator, hass_client: ClientSessionGenerator
) -> None:
    canary.configure(client_id=CLIENT_ID)
    entry = await setup_entry(
        hass,
        canary,
        recipients={"Alice": ALICE},
        client_id=CLIENT_ID,
        client_secret=SECRET,
        signature_secret=SIGNATURE,
    )
    await hass.services.async_call(
        "notify",
        "send_message",
        {"entity_id": "notify.kpn_sms_alice", "message": "x"},
        blocking=True,
    )
    text = json.dumps(await get_diagnostics_for_config_entry(hass, hass_client, entry), default=str)
    assert_clean(text, canary)
    assert ALICE not in text and mask_number(ALICE) in text


# ------------------------------------------------------------------ faults


def sent(emu: Emulator) -> Counter[str]:
    return Counter(m["to"] for m in emu.messages)


FAULTS: list[tuple[str, dict[str, Any], str | None]] = [
    # (id, knobs, regex of the HomeAssistantError, None when every text is accepted)
    ("503-retried", {"script": [{"http": 503, "count": 2}]}, None),
    ("429-burst", {"rate_limit": 1, "rate_limit_burst": 1}, None),
    ("status-1", {"script": [{"status": "1"}]}, None),
    # Apigee's rate-limit faults, as stock Apigee sends them (HTTP 500): throttles, retried.
    (
        "quota500-burst",
        {"rate_limit": 1, "rate_limit_burst": 1, "rate_limit_mode": "quota500"},
        None,
    ),
    ("500-spike-fault", {"script": [{"http": 500, "body": "spike"}]}, None),
    ("500", {"script": [{"http": 500}]}, r"316\*{6}\d\d"),
    ("dropped", {"script": [{"drop": True}]}, r"316\*{6}\d\d"),
    ("malformed-200", {"script": [{"bad_body": "malformed"}]}, r"316\*{6}\d\d"),
    # The token dies; the first renewal meets a token service that is down (503), the next
    # one works: retried within the budget, every text accepted once.
    ("token-expired-renewal-503", {"script": [{"http": 503, "path": "token"}]}, None),
]


@pytest.mark.parametrize(("knobs", "error"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
async def test_faults_through_the_entry_service(
    hass: HomeAssistant,
    emu: Emulator,
    knobs: dict[str, Any],
    error: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """All recipients are tried; a failure is one HomeAssistantError naming the masked
    numbers; nobody is texted twice; the next notification goes through."""
    await setup_entry(hass, emu, recipients={"Alice": ALICE, "Bob": BOB, "Carol": CAROL})
    if "token" in str(knobs):
        emu.expire_tokens()  # the setup token dies; its renewal meets the fault
    emu.configure(**knobs)
    numbers = [ALICE, BOB, CAROL]
    if error is None:
        await hass.services.async_call("notify", "kpn_sms", {"message": "fault"}, blocking=True)
        assert sent(emu) == Counter(numbers)
        if "token" in str(knobs):
            assert emu.counters["auth_failures"] >= 1 and emu.counters["token_failures"] == 1
    else:
        with pytest.raises(HomeAssistantError) as info:
            await hass.services.async_call("notify", "kpn_sms", {"message": "fault"}, blocking=True)
        message = str(info.value)
        assert "\n" not in message and re.search(error, message), message
        for number in numbers:
            assert number not in message
            assert sent(emu)[number] <= 1
    emu.configure(script=[], rate_limit=None, rate_limit_burst=None, token_endpoint_down=False)
    before = sent(emu)
    await hass.services.async_call("notify", "kpn_sms", {"message": "after"}, blocking=True)
    assert sent(emu) - before == Counter(numbers)
    assert "Traceback" not in caplog.text


def test_emulator_refuses_an_expired_token_on_this_aiohttp(emu: Emulator) -> None:
    """Home Assistant 2025.4 pins aiohttp 3.11, where an aiohttp Response is falsy (an
    empty MutableMapping): `bearer_problem(request) or quota_problem(state)` in the
    emulator's routes then lets an expired or made-up bearer through. Every HA test of
    token expiry or refusal depends on this answer being a 401."""
    import httpx

    with httpx.Client(timeout=30, trust_env=False) as http:
        for path in (
            "/communication/nexmo/sms/send",
            "/communication/nexmo/sms/register",
            "/communication/nexmo/phone-numbers/account/numbers",
        ):
            method = "GET" if "account" in path else "POST"
            answer = http.request(
                method,
                emu.url + path,
                headers={"Authorization": "Bearer made-up-token"},
                data={
                    "from": "KPN",
                    "to": ALICE,
                    "text": "x",
                    "callback_url": "https://example.org/in",
                }
                if method == "POST"
                else None,
            )
            assert answer.status_code == 401, (path, answer.status_code, answer.text[:80])
    assert emu.messages == []
