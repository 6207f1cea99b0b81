"""Two-way texts: `kpn_sms_notify.ask` returns the reply, and an `alert` is acknowledged by an
`ACK <ref>` reply. The emulator plays the phone: its texts reach Home Assistant's webhook on a
real 127.0.0.1 port, as KPN delivers them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
import yaml
from aiohttp.test_utils import TestClient
from ha_common import ALICE, BOB, DOMAIN, setup_entry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
    async_mock_service,
)

from kpn_sms_notify.emulator import DEFAULT_VIRTUAL_NUMBER, Emulator
from kpn_sms_notify.numbers import mask_number

INBOUND = "kpn_sms_notify_inbound"
ACKNOWLEDGED = "kpn_sms_notify_acknowledged"
VIRTUAL = DEFAULT_VIRTUAL_NUMBER
DEADLINE = 10.0  # seconds: the longest any step below may take on a busy machine

ClientFactory = Callable[[], Awaitable[TestClient]]


async def until(check: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Poll `check` until it holds; fail naming `what` at the deadline."""
    try:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"not within {timeout} s: {what}")


@pytest.fixture
async def entry(
    hass: HomeAssistant, emu: Emulator, hass_client_no_auth: ClientFactory
) -> MockConfigEntry:
    """An entry with a virtual number pointed at Home Assistant (served on 127.0.0.1), and
    Alice as its recipient."""
    for component in ("webhook", "notify"):
        assert await async_setup_component(hass, component, {})
    web = await hass_client_no_auth()  # the test server freezes the router: views first
    await hass.config.async_update(external_url=str(web.make_url("")).rstrip("/"))
    entry = await setup_entry(
        hass,
        emu,
        {"Alice": ALICE},
        inbound_mode="number_update",
        inbound_number="+" + VIRTUAL,
    )
    await until(lambda: VIRTUAL in emu.webhooks["numbers"], "the webhook registered with KPN")
    return entry


def ask(hass: HomeAssistant, **data: Any) -> asyncio.Task[Any]:
    """The action called as a script calls it, running until it returns its response."""
    return hass.async_create_task(
        hass.services.async_call(DOMAIN, "ask", data, blocking=True, return_response=True)
    )


async def texted(emu: Emulator, count: int) -> list[dict[str, Any]]:
    await until(lambda: len(emu.messages) >= count, f"{count} text(s) sent")
    return emu.messages


async def test_ask_returns_the_reply(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry
) -> None:
    inbound = async_capture_events(hass, INBOUND)
    call = ask(
        hass, message="Garage open. Close it?", target="notify.kpn_sms_alice", options=["YES", "NO"]
    )
    [question] = await texted(emu, 1)
    assert question["to"] == ALICE
    assert question["from"] == VIRTUAL  # the number whose replies reach Home Assistant
    assert question["text"] == "Garage open. Close it?\nReply YES or NO"

    emu.inject_inbound(ALICE, " yes! ", to=VIRTUAL)
    response = await asyncio.wait_for(call, DEADLINE)

    assert response["answered"] is True
    assert response["reply"] == "YES"  # the option as the question spelled it
    assert response["text"] == " yes! "  # as typed
    assert response["from"] == mask_number("+" + ALICE)
    assert response["message_id"] == question["message_ids"][0]
    assert 0 <= response["seconds"] < DEADLINE
    assert inbound == []  # an answer is taken, not also fired as an inbound event
    assert len(entry.runtime_data.questions) == 0


@pytest.mark.parametrize(("default", "expected"), [(None, None), ("NO", "NO")])
async def test_ask_times_out_unanswered_with_the_default(
    hass: HomeAssistant,
    emu: Emulator,
    entry: MockConfigEntry,
    default: str | None,
    expected: str | None,
) -> None:
    extra = {} if default is None else {"default": default}
    response = await asyncio.wait_for(
        ask(
            hass,
            message="Still there?",
            target="+" + ALICE,
            options=["YES", "NO"],
            timeout={"seconds": 1},
            **extra,
        ),
        DEADLINE,
    )
    assert response["answered"] is False
    assert response["reply"] == expected
    assert response["text"] is None and response["from"] is None
    assert response["seconds"] >= 1
    assert len(emu.messages) == 1
    assert entry.runtime_data.questions.timed_out == 1
    assert len(entry.runtime_data.questions) == 0


async def test_two_questions_to_one_number_are_told_apart_by_the_reference(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry
) -> None:
    first = ask(
        hass, message="Close the garage?", target="notify.kpn_sms_alice", options=["YES", "NO"]
    )
    await texted(emu, 1)
    second = ask(hass, message="Lights off?", target="notify.kpn_sms_alice", options=["YES", "NO"])
    texts = await texted(emu, 2)
    assert texts[0]["text"] == "Close the garage?\nReply YES or NO"  # alone: no reference
    ref = entry.runtime_data.questions.references[1]
    assert texts[1]["text"] == f"Lights off?\nReply YES {ref} or NO {ref}"

    emu.inject_inbound(ALICE, f"yes {ref.lower()}", to=VIRTUAL)  # answers the second only
    answer2 = await asyncio.wait_for(second, DEADLINE)
    assert (answer2["reply"], answer2["reference"]) == ("YES", ref)
    assert not first.done()

    emu.inject_inbound(ALICE, "No", to=VIRTUAL)  # no reference: the one asked without one
    answer1 = await asyncio.wait_for(first, DEADLINE)
    assert answer1["answered"] is True and answer1["reply"] == "NO"


async def test_only_the_target_can_answer_and_other_replies_stay_events(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry
) -> None:
    inbound = async_capture_events(hass, INBOUND)
    call = ask(hass, message="Close it?", target="notify.kpn_sms_alice", options=["YES", "NO"])
    await texted(emu, 1)

    emu.inject_inbound(BOB, "YES", to=VIRTUAL)  # not the target
    emu.inject_inbound(ALICE, "maybe later", to=VIRTUAL)  # fits no option
    await until(lambda: len(inbound) == 2, "two inbound events")
    assert [(e.data["msisdn"], e.data["text"]) for e in inbound] == [
        ("+" + BOB, "YES"),
        ("+" + ALICE, "maybe later"),
    ]
    assert not call.done()

    emu.inject_inbound(ALICE, "no", to=VIRTUAL)
    response = await asyncio.wait_for(call, DEADLINE)
    assert response["reply"] == "NO" and response["from"] == mask_number("+" + ALICE)


async def test_without_options_any_text_answers(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry
) -> None:
    call = ask(hass, message="When are you home?", target="+" + ALICE)
    [question] = await texted(emu, 1)
    assert question["text"] == "When are you home?"
    emu.inject_inbound(ALICE, "around 6", to=VIRTUAL)
    response = await asyncio.wait_for(call, DEADLINE)
    assert (response["reply"], response["text"]) == ("around 6", "around 6")


async def test_unloading_the_entry_ends_waiting_questions_unanswered(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry
) -> None:
    call = ask(hass, message="Close it?", target="notify.kpn_sms_alice", timeout={"hours": 1})
    await texted(emu, 1)
    await until(lambda: len(entry.runtime_data.questions) == 1, "the question open")
    assert await hass.config_entries.async_unload(entry.entry_id)
    response = await asyncio.wait_for(call, DEADLINE)  # not the hour
    assert response["answered"] is False and response["reply"] is None


async def test_ask_is_refused_without_inbound(hass: HomeAssistant, emu: Emulator) -> None:
    await setup_entry(hass, emu, {"Alice": ALICE})  # sender "HomeAlert", no virtual number
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "ask",
            {"message": "Close it?", "target": "notify.kpn_sms_alice"},
            blocking=True,
            return_response=True,
        )
    assert caught.value.translation_key == "no_inbound"
    assert "HomeAlert" in str(caught.value) and "virtual number" in str(caught.value)
    assert emu.messages == []


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"target": "notify.nobody"}, "not a KPN SMS recipient"),
        ({"target": "12"}, "not a valid phone number"),
        ({"target": "+" + ALICE, "config_entry_id": "nope"}, "config_entry_id"),
    ],
)
async def test_ask_names_a_bad_target(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry, data: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN, "ask", {"message": "x", **data}, blocking=True, return_response=True
        )
    assert needle in str(caught.value)
    assert emu.messages == []


def readme_yaml(first_key: str, page: str = "README.md") -> dict[str, Any]:
    """The YAML example of `page` that starts with `first_key:` and uses this integration:
    what users copy is what runs."""
    text = (Path(__file__).parents[2] / page).read_text(encoding="utf-8")
    for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL):
        if block.startswith(f"{first_key}:") and "kpn_sms" in block:
            loaded: dict[str, Any] = yaml.safe_load(block)
            return loaded
    raise AssertionError(f"{page} has no YAML example starting with {first_key}:")


ALERT_CONFIG = readme_yaml("alert")


async def test_the_readmes_garage_question_closes_the_garage_on_yes(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry
) -> None:
    closed = async_mock_service(hass, "cover", "close_cover")
    hass.states.async_set("cover.garage", "closed")
    assert await async_setup_component(hass, "automation", readme_yaml("automation"))
    hass.states.async_set("cover.garage", "open")
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=30, seconds=1))
    [question] = await texted(emu, 1)
    assert question["to"] == ALICE
    assert question["text"].endswith("Close it?\nReply YES or NO")

    emu.inject_inbound(ALICE, "yes", to=VIRTUAL)
    await until(lambda: len(closed) == 1, "cover.close_cover called")
    assert closed[0].data["entity_id"] == ["cover.garage"]


async def test_alert_is_acknowledged_by_ack_ref_and_stops_repeating(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry
) -> None:
    await until(lambda: hass.services.has_service("notify", "kpn_sms"), "notify.kpn_sms")
    assert await async_setup_component(hass, "alert", ALERT_CONFIG)
    hass.states.async_set("binary_sensor.garage_door", "on")
    [first] = await texted(emu, 1)
    [ref] = entry.runtime_data.acknowledgements.references
    assert first["to"] == ALICE and first["from"] == VIRTUAL
    assert first["text"] == f"Garage is open\nReply ACK {ref} to acknowledge."
    assert hass.states.get("alert.garage_door").state == "on"

    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=5, seconds=1))
    texts = await texted(emu, 2)  # it repeats, with the same reference
    assert texts[1]["text"] == first["text"]

    emu.inject_inbound(ALICE, f"ack {ref}", to=VIRTUAL)
    await until(lambda: hass.states.get("alert.garage_door").state == "off", "alert acknowledged")
    texts = await texted(emu, 3)
    assert texts[2]["to"] == ALICE
    assert texts[2]["text"] == f"Acknowledged {ref}: Garage is open"

    for minutes in (10, 15, 20):  # later repeats are due, and none is sent
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=minutes, seconds=2))
        await hass.async_block_till_done()
    assert len(emu.messages) == 3
    assert entry.runtime_data.acknowledgements.acknowledged == 1

    hass.states.async_set("binary_sensor.garage_door", "off")  # closed: the alert ends
    await hass.async_block_till_done()
    assert hass.states.get("alert.garage_door").state == "idle"


async def test_ack_alone_acknowledges_the_only_open_one_and_fires_an_event(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry
) -> None:
    acknowledged = async_capture_events(hass, ACKNOWLEDGED)
    inbound = async_capture_events(hass, INBOUND)
    await until(lambda: hass.services.has_service("notify", "kpn_sms"), "notify.kpn_sms")
    await hass.services.async_call(
        "notify",
        "kpn_sms",
        {"message": "Water leak", "data": {"ack": ["input_boolean.leak", "switch.valve"]}},
        blocking=True,
    )
    [ref] = entry.runtime_data.acknowledgements.references

    emu.inject_inbound(BOB, "ACK", to=VIRTUAL)  # not a recipient: an ordinary inbound text
    await until(lambda: len(inbound) == 1, "Bob's text as an inbound event")
    emu.inject_inbound(ALICE, "Ack.", to=VIRTUAL)
    await until(lambda: len(acknowledged) == 2, "two acknowledged events")
    assert sorted(
        (e.data["entity_id"], e.data["reference"], e.data["from"]) for e in acknowledged
    ) == [
        ("input_boolean.leak", ref, mask_number("+" + ALICE)),
        ("switch.valve", ref, mask_number("+" + ALICE)),
    ]
    await texted(emu, 2)  # the confirmation
    assert len(inbound) == 1


async def test_ack_needs_inbound(hass: HomeAssistant, emu: Emulator) -> None:
    await setup_entry(hass, emu, {"Alice": ALICE})
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            "notify", "kpn_sms", {"message": "x", "data": {"ack": "alert.x"}}, blocking=True
        )
    assert caught.value.translation_key == "no_inbound"
    assert emu.messages == []


async def test_diagnostics_count_questions_and_acknowledgements(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry
) -> None:
    # The integration as Home Assistant loaded it (custom_components), not the package's copy.
    from custom_components.kpn_sms_notify.diagnostics import (
        async_get_config_entry_diagnostics,
    )

    call = ask(hass, message="Close it?", target="notify.kpn_sms_alice", options=["YES", "NO"])
    await texted(emu, 1)
    await hass.services.async_call(
        "notify", "kpn_sms", {"message": "Leak", "data": {"ack": "switch.valve"}}, blocking=True
    )
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    two_way = diagnostics["two_way"]
    assert two_way["questions"]["open"] == 1
    assert two_way["questions"]["questions"][0]["to"] == mask_number("+" + ALICE)
    assert two_way["acknowledgements"]["open"] == 1
    assert two_way["acknowledgements"]["notifications"][0]["recipients"] == [
        mask_number("+" + ALICE)
    ]
    assert ALICE not in str(diagnostics)
    emu.inject_inbound(ALICE, "yes", to=VIRTUAL)
    await asyncio.wait_for(call, DEADLINE)


async def test_an_ended_alert_is_no_longer_acknowledgeable(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry
) -> None:
    inbound = async_capture_events(hass, INBOUND)
    await until(lambda: hass.services.has_service("notify", "kpn_sms"), "notify.kpn_sms")
    assert await async_setup_component(hass, "alert", ALERT_CONFIG)
    hass.states.async_set("binary_sensor.garage_door", "on")
    await texted(emu, 1)
    hass.states.async_set("binary_sensor.garage_door", "off")  # closed before anyone replied
    await hass.async_block_till_done()
    assert hass.states.get("alert.garage_door").state == "idle"

    emu.inject_inbound(ALICE, "ACK", to=VIRTUAL)
    await until(lambda: len(inbound) == 1, "the ACK as an ordinary inbound event")
    assert len(entry.runtime_data.acknowledgements) == 0
    assert len(emu.messages) == 1  # no confirmation


async def test_home_assistant_stopping_ends_waiting_questions(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry
) -> None:
    call = ask(hass, message="Close it?", target="notify.kpn_sms_alice", timeout={"hours": 1})
    await texted(emu, 1)
    await until(lambda: len(entry.runtime_data.questions) == 1, "the question open")
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    response = await asyncio.wait_for(call, DEADLINE)
    assert response["answered"] is False
    assert entry.runtime_data.questions.cancelled == 1


async def test_an_ack_that_fits_none_is_answered_with_the_references(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry
) -> None:
    acknowledged = async_capture_events(hass, ACKNOWLEDGED)
    inbound = async_capture_events(hass, INBOUND)
    await until(lambda: hass.services.has_service("notify", "kpn_sms"), "notify.kpn_sms")
    for entity in ("switch.valve", "switch.pump"):
        await hass.services.async_call(
            "notify", "kpn_sms", {"message": entity, "data": {"ack": entity}}, blocking=True
        )
    valve, pump = entry.runtime_data.acknowledgements.references
    unknown = next(r for r in ("22", "23", "24") if r not in (valve, pump))

    emu.inject_inbound(ALICE, "ACK", to=VIRTUAL)  # which one?
    texts = await texted(emu, 3)
    choices = f"reply ACK {valve} (switch.valve) or ACK {pump} (switch.pump)"
    assert texts[2]["text"] == f"Several are open: {choices}"
    emu.inject_inbound(ALICE, f"ACK {unknown}", to=VIRTUAL)
    texts = await texted(emu, 4)
    assert texts[3]["text"] == f"Nothing open as {unknown}: {choices}"
    assert acknowledged == [] and inbound == []

    emu.inject_inbound(ALICE, f"ACK {pump}", to=VIRTUAL)
    await until(lambda: len(acknowledged) == 1, "the pump acknowledged")
    assert acknowledged[0].data["entity_id"] == "switch.pump"
    assert (await texted(emu, 5))[4]["text"] == f"Acknowledged {pump}: switch.pump"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"timeout": {"hours": 2}}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"options": ["YES", "?!"]}, "no letters or digits"),
    ],
)
async def test_ask_refuses_bad_fields_naming_them(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry, data: dict[str, Any], needle: str
) -> None:
    with pytest.raises(vol.Invalid) as caught:
        await hass.services.async_call(
            DOMAIN,
            "ask",
            {"message": "x", "target": "+" + ALICE, **data},
            blocking=True,
            return_response=True,
        )
    assert needle in str(caught.value)
    assert emu.messages == []


async def test_sensors_count_open_questions_and_acknowledgements(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry
) -> None:
    questions, acks = "sensor.kpn_sms_open_questions", "sensor.kpn_sms_open_acknowledgements"
    assert hass.states.get(questions).state == "0"
    assert hass.states.get(acks).state == "0"
    call = ask(hass, message="Close it?", target="notify.kpn_sms_alice", options=["YES", "NO"])
    await until(lambda: hass.states.get(questions).state == "1", "one open question")
    await hass.services.async_call(
        "notify", "kpn_sms", {"message": "Leak", "data": {"ack": "switch.valve"}}, blocking=True
    )
    assert hass.states.get(acks).state == "1"

    emu.inject_inbound(ALICE, "yes", to=VIRTUAL)
    await asyncio.wait_for(call, DEADLINE)
    emu.inject_inbound(ALICE, "ack", to=VIRTUAL)
    await until(lambda: hass.states.get(acks).state == "0", "no open acknowledgement")
    assert hass.states.get(questions).state == "0"
    assert hass.states.get(questions).attributes["answered"] == 1
    assert hass.states.get(acks).attributes["acknowledged"] == 1
    assert ALICE not in str(hass.states.get(questions).as_dict())
    await texted(emu, 3)  # the ACK's confirmation, before the entry goes

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert hass.states.get(questions).state == "unavailable"


@pytest.mark.parametrize("ack", ["garage", [], ["alert.ok", "no dots"]])
async def test_a_bad_ack_is_refused_naming_data_ack(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry, ack: Any
) -> None:
    await until(lambda: hass.services.has_service("notify", "kpn_sms"), "notify.kpn_sms")
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            "notify", "kpn_sms", {"message": "x", "data": {"ack": ack}}, blocking=True
        )
    assert "data.ack" in str(caught.value)
    assert emu.messages == []
    assert len(entry.runtime_data.acknowledgements) == 0


async def test_a_yaml_notify_platform_refuses_ack(
    hass: HomeAssistant, emu: Emulator, kpn_config: dict[str, Any]
) -> None:
    platform = {"platform": DOMAIN, "name": "yaml_sms", "recipients": [ALICE], **kpn_config}
    assert await async_setup_component(hass, "notify", {"notify": [platform]})
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            "notify", "yaml_sms", {"message": "x", "data": {"ack": "alert.x"}}, blocking=True
        )
    assert caught.value.translation_key == "ack_needs_entry"
    assert emu.messages == []


async def test_the_docs_script_gets_reply_yes(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry
) -> None:
    """docs/home-assistant.md's script: `answer.reply` is YES after the phone answers "yes"."""
    created = async_mock_service(hass, "persistent_notification", "create")
    config = readme_yaml("script", "docs/home-assistant.md")
    assert await async_setup_component(hass, "script", config)
    run = hass.async_create_task(hass.services.async_call("script", "ask_garage", blocking=True))
    [question] = await texted(emu, 1)
    assert question["text"] == "Close the garage?\nReply YES or NO"
    emu.inject_inbound(ALICE, "yes", to=VIRTUAL)
    await asyncio.wait_for(run, DEADLINE)
    [note] = created
    assert note.data["message"].startswith(f"{mask_number('+' + ALICE)} answered YES after ")


async def test_questions_waiting_at_once_are_capped(
    hass: HomeAssistant, emu: Emulator, entry: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custom_components.kpn_sms_notify import ask as ask_module

    monkeypatch.setattr(ask_module, "MAX_OPEN_QUESTIONS", 1)
    call = ask(hass, message="First?", target="+" + ALICE)
    await texted(emu, 1)
    with pytest.raises(ServiceValidationError, match="1 questions are already waiting"):
        await hass.services.async_call(
            DOMAIN,
            "ask",
            {"message": "Second?", "target": "+" + BOB},
            blocking=True,
            return_response=True,
        )
    assert len(emu.messages) == 1
    emu.inject_inbound(ALICE, "ok", to=VIRTUAL)
    assert (await asyncio.wait_for(call, DEADLINE))["answered"] is True
