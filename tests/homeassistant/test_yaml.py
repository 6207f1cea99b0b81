"""The YAML notify platform: `notify: - platform: kpn_sms_notify`."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from ha_common import ALICE, BOB, DOMAIN, SENDER
from homeassistant.components.notify.legacy import NOTIFY_SERVICES
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.httpx_client import get_async_client
from homeassistant.setup import async_setup_component

from kpn_sms_notify.emulator import EMU_CLIENT_SECRET, Emulator
from kpn_sms_notify.numbers import mask_number


async def setup_yaml(hass: HomeAssistant, **platform: Any) -> None:
    assert await async_setup_component(
        hass, "notify", {"notify": [{"platform": DOMAIN, **platform}]}
    )
    await hass.async_block_till_done()


def texts(emu: Emulator) -> list[tuple[str, str]]:
    return sorted((m["to"], m["text"]) for m in emu.messages)


async def test_three_notifications_to_the_configured_recipients_make_one_token_request(
    hass: HomeAssistant, emu: Emulator, kpn_config: dict[str, Any]
) -> None:
    await setup_yaml(hass, name="kpn_sms", **kpn_config, recipients=["0612345678", "+31687654321"])
    assert hass.services.has_service("notify", "kpn_sms")
    assert emu.counters["token_requests"] == 1  # authenticated once, at setup

    for n in range(3):
        await hass.services.async_call(
            "notify", "kpn_sms", {"message": f"Disk full {n}", "title": "web1"}, blocking=True
        )

    assert texts(emu) == sorted(
        (to, f"web1\nDisk full {n}") for n in range(3) for to in (ALICE, BOB)
    )
    assert {m["from"] for m in emu.messages} == {SENDER}
    assert emu.counters["token_requests"] == 1  # the setup token was reused
    # ...over Home Assistant's shared httpx client, not one of its own.
    [service] = hass.data[NOTIFY_SERVICES][DOMAIN]
    assert service.client._http is get_async_client(hass)


async def test_target_overrides_recipients_and_data_options_reach_the_wire(
    hass: HomeAssistant, emu: Emulator, kpn_config: dict[str, Any]
) -> None:
    await setup_yaml(hass, **kpn_config, recipients=[ALICE])
    assert hass.services.has_service("notify", "kpn_sms")  # the default name

    await hass.services.async_call(
        "notify",
        "kpn_sms",
        {
            "message": "Привет " + "x" * 100,
            "target": ["+31687654321"],
            "data": {"sender": "Alarm", "unicode": True, "max_parts": 1, "overflow": "truncate"},
        },
        blocking=True,
    )

    [sent] = emu.messages
    assert sent["to"] == BOB  # the configured ALICE was not texted
    assert sent["from"] == "Alarm"
    assert sent["type"] == "unicode"
    assert sent["parts"] == 1  # max_parts 1: cut to one UCS-2 SMS, with a marker
    assert sent["text"].endswith("…") and len(sent["text"]) <= 70


async def test_data_flags_take_home_assistant_boolean_spellings(
    hass: HomeAssistant, emu: Emulator, kpn_config: dict[str, Any]
) -> None:
    """`unicode` and `status_report` read "off" / "yes" as Home Assistant's cv.boolean does."""
    await setup_yaml(hass, **kpn_config, recipients=[ALICE])
    await hass.services.async_call(
        "notify",
        "kpn_sms",
        {
            "message": "Привет",
            "data": {"unicode": "off", "status_report": "yes"},
        },
        blocking=True,
    )
    [sent] = emu.messages
    assert sent["type"] == "text"  # unicode "off" is "never": transliterated to GSM-7
    assert sent["status_report_req"] is True


async def test_recipients_mapping_gives_a_service_per_label(
    hass: HomeAssistant, emu: Emulator, kpn_config: dict[str, Any]
) -> None:
    await setup_yaml(
        hass,
        name="Family SMS",
        **kpn_config,
        recipients={"Alice": "0612345678", "bob": "+31687654321"},
    )
    for service in ("family_sms", "family_sms_alice", "family_sms_bob"):
        assert hass.services.has_service("notify", service), service

    await hass.services.async_call("notify", "family_sms_bob", {"message": "hi Bob"}, blocking=True)
    assert texts(emu) == [(BOB, "hi Bob")]

    await hass.services.async_call("notify", "family_sms", {"message": "hi all"}, blocking=True)
    assert texts(emu) == sorted([(BOB, "hi Bob"), (ALICE, "hi all"), (BOB, "hi all")])


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"client_id": None}, "client_id"),
        ({"sender": "Way Too Long Sender"}, "sender"),
        ({"base_url": "http://kpn.example.com"}, "base_url"),
        ({"recipient": ["0612345678"]}, "recipient"),  # a typo of `recipients`
        ({"recipients": ["0612345678", "0699"]}, "recipients"),
        ({"max_parts": 0}, "max_parts"),
    ],
)
async def test_bad_config_logs_one_error_naming_the_key_and_no_service_appears(
    hass: HomeAssistant,
    emu: Emulator,
    kpn_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    change: dict[str, Any],
    key: str,
) -> None:
    config = {**kpn_config, **change}
    config = {k: v for k, v in config.items() if v is not None}
    with caplog.at_level(logging.WARNING):
        await setup_yaml(hass, **config)

    assert not hass.services.has_service("notify", "kpn_sms")
    errors = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and "kpn_sms_notify" in r.getMessage()
    ]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert key in errors[0].getMessage()
    assert EMU_CLIENT_SECRET not in caplog.text
    assert "0699" not in caplog.text.replace("'0699'", "")  # only ever shown masked
    assert emu.counters["token_requests"] == 0  # rejected before any request


async def test_bad_number_error_masks_the_number(
    hass: HomeAssistant,
    emu: Emulator,
    kpn_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await setup_yaml(hass, **kpn_config, recipients=["0612345678", "06123456789999"])
    assert not hass.services.has_service("notify", "kpn_sms")
    assert "06123456789999" not in caplog.text
    assert "061*********99" in caplog.text


async def test_secret_is_never_echoed_in_config_errors(
    hass: HomeAssistant,
    emu: Emulator,
    kpn_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An all-digit secret from secrets.yaml arrives as an int: it is text, not an error.
    await setup_yaml(hass, **{**kpn_config, "client_secret": 987654321, "sender": "x y"})
    assert "987654321" not in caplog.text
    assert "sender" in caplog.text


async def test_bad_credentials_log_a_clear_line_and_give_no_service(
    hass: HomeAssistant,
    emu: Emulator,
    kpn_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await setup_yaml(
        hass, **{**kpn_config, "client_secret": "wrong-secret-123"}, recipients=[ALICE]
    )
    assert not hass.services.has_service("notify", "kpn_sms")
    assert "refused the credentials" in caplog.text
    assert "wrong-secret-123" not in caplog.text
    assert emu.counters["token_requests"] == 1
    assert emu.messages == []


async def test_unreachable_gateway_at_boot_still_gives_a_service_that_sends_later(
    hass: HomeAssistant,
    emu: Emulator,
    kpn_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    emu.configure(token_endpoint_down=True)
    await setup_yaml(hass, **kpn_config, recipients=[ALICE])
    assert hass.services.has_service("notify", "kpn_sms")
    assert "could not reach KPN" in caplog.text

    emu.configure(token_endpoint_down=False)
    await hass.services.async_call("notify", "kpn_sms", {"message": "back"}, blocking=True)
    assert texts(emu) == [(ALICE, "back")]


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        ({"message": "   "}, "empty"),
        ({"message": "hi", "target": ["0699"]}, "not a valid phone number"),
        ({"message": "hi", "target": [ALICE, "not-a-number"]}, "not a valid phone number"),
        ({"message": "hi", "data": {"colour": "red"}}, "data.colour: unknown key"),
        ({"message": "hi", "data": {"max_parts": 99}}, "data.max_parts"),
        ({"message": "hi", "data": {"sender": "Way Too Long Sender"}}, "sender"),
        ({"message": "hi", "data": {"status_report": "maybe"}}, "data.status_report"),
        ({"message": "hi", "data": {"unicode": "perhaps"}}, "data.unicode"),
        ({"message": "hi", "data": {"sender": ["A", "B"]}}, "data.sender"),
    ],
)
async def test_bad_input_raises_service_validation_error_and_sends_nothing(
    hass: HomeAssistant,
    emu: Emulator,
    kpn_config: dict[str, Any],
    call: dict[str, Any],
    fragment: str,
) -> None:
    await setup_yaml(hass, **kpn_config, recipients=[ALICE])
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call("notify", "kpn_sms", call, blocking=True)
    assert fragment in str(info.value)
    assert emu.messages == []


def test_service_data_keys_are_the_library_per_message_options() -> None:
    """`data` takes the library's per-message options (the title is the call's own field),
    checked by the same declaration."""
    from custom_components.kpn_sms_notify.send import DATA_SCHEMA

    from kpn_sms_notify.options import OPTIONS, Scope

    declared = {o.key for o in OPTIONS if o.scope is Scope.MESSAGE and o.key != "title"}
    assert {str(key) for key in DATA_SCHEMA.schema} == declared
    assert DATA_SCHEMA({"unicode": False, "max_parts": "2"}) == {"unicode": "never", "max_parts": 2}


async def test_partial_failure_tries_everyone_then_names_the_failed_numbers_masked(
    hass: HomeAssistant, emu: Emulator, kpn_config: dict[str, Any]
) -> None:
    emu.configure(forced_status={BOB: "29"})  # demo account: non-whitelisted destination
    await setup_yaml(hass, **kpn_config, recipients=[BOB, ALICE])

    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call("notify", "kpn_sms", {"message": "Disk full"}, blocking=True)

    message = str(info.value)
    assert "1 of 2" in message
    assert mask_number(BOB) in message
    assert BOB not in message and ALICE not in message
    assert texts(emu) == [(ALICE, "Disk full")]  # the other recipient still got it
