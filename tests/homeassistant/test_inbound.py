"""Inbound SMS and delivery receipts: the webhook (GET query, form POST, JSON POST), de-dup,
reassembly, events, and registering the webhook URL with KPN (through the emulator)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from ha_common import ALICE, BOB, DOMAIN, WEBHOOK_ID, setup_entry
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import async_capture_events

from kpn_sms_notify.emulator import DEFAULT_VIRTUAL_NUMBER, Emulator
from kpn_sms_notify.inbound import DEFAULT_MAX_SKEW, compute_signature

INBOUND = "kpn_sms_notify_inbound"
DELIVERY = "kpn_sms_notify_delivery"
PATH = f"/api/webhook/{WEBHOOK_ID}"
SMS = {
    "msisdn": BOB,
    "to": ALICE,
    "messageId": "0A0000000123ABCD1",
    "text": "ACK 42",
    "type": "text",
    "keyword": "ACK",
    "message-timestamp": "2026-11-26 12:00:00",
}
DLR = {
    "msisdn": BOB,
    "to": "HomeAlert",
    "network-code": "20408",
    "messageId": "13000000AAAA0001",
    "price": "0.07500000",
    "status": "delivered",
    "scts": "2611261200",
    "err-code": "0",
    "message-timestamp": "2026-11-26 12:00:01",
}

# An account set to the Messages API sends its own shapes to the same webhook.
MESSAGES_SMS = {
    "to": ALICE,
    "from": BOB,
    "channel": "sms",
    "message_type": "text",
    "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
    "text": "ACK 43",
    "timestamp": "2026-11-26T12:00:00Z",
    "sms": {"num_messages": "1", "keyword": "ACK"},
    "usage": {"price": "0.0333", "currency": "EUR"},
}
MESSAGES_STATUS = {
    "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ac",
    "to": BOB,
    "from": "HomeAlert",
    "timestamp": "2026-11-26T12:00:05Z",
    "status": "rejected",
    "channel": "sms",
    "error": {"code": 1300, "reason": "Not part of the provider network"},
}

ClientFactory = Callable[[], Awaitable[TestClient]]


async def wait_for(events: list[Event], count: int, timeout: float = 10.0) -> None:
    """The emulator delivers from its own thread: give the loop time to receive."""
    async with asyncio.timeout(timeout):
        while len(events) < count:
            await asyncio.sleep(0.02)


@pytest.fixture
async def web(hass: HomeAssistant, emu: Emulator, hass_client_no_auth: ClientFactory) -> TestClient:
    """A loaded entry, and an HTTP client for Home Assistant on a real 127.0.0.1 port."""
    await setup_entry(hass, emu)
    return await hass_client_no_auth()


@pytest.mark.parametrize("how", ["get", "form", "json"])
async def test_inbound_sms_fires_an_event_whichever_way_it_arrives(
    hass: HomeAssistant, web: TestClient, how: str
) -> None:
    events = async_capture_events(hass, INBOUND)
    if how == "get":
        answer = await web.get(PATH, params=SMS)
    elif how == "form":
        answer = await web.post(PATH, data=SMS)
    else:
        answer = await web.post(PATH, json=SMS)
    assert answer.status == 200
    await hass.async_block_till_done()

    [event] = events
    assert event.data["msisdn"] == f"+{BOB}"  # E.164 with "+": a reply reaches the sender
    assert event.data["text"] == "ACK 42"
    assert event.data["keyword"] == "ACK"
    assert event.data["message_id"] == SMS["messageId"]
    assert event.data["complete"] is True
    assert event.data["config_entry_id"] == hass.config_entries.async_entries(DOMAIN)[0].entry_id


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/octet-stream"])
async def test_json_without_a_json_content_type_fires_the_event(
    hass: HomeAssistant, web: TestClient, content_type: str | None
) -> None:
    """Vonage's JSON POSTs may carry no Content-Type: the body says what it is."""
    events = async_capture_events(hass, INBOUND)
    body = json.dumps(SMS).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    # skip_auto_headers: aiohttp's client would otherwise label raw bytes itself.
    answer = await web.post(PATH, data=body, headers=headers, skip_auto_headers=["Content-Type"])
    assert answer.status == 200, await answer.text()
    await hass.async_block_till_done()
    [event] = events
    assert (event.data["text"], event.data["keyword"]) == ("ACK 42", "ACK")
    assert event.data["message_id"] == SMS["messageId"]


async def test_messages_api_shapes_fire_the_usual_events(
    hass: HomeAssistant, web: TestClient
) -> None:
    inbound = async_capture_events(hass, INBOUND)
    delivery = async_capture_events(hass, DELIVERY)
    for _ in range(2):  # a redelivery is answered 200 and fires nothing new
        assert (await web.post(PATH, json=MESSAGES_SMS)).status == 200
        assert (await web.post(PATH, json=MESSAGES_STATUS)).status == 200
    await hass.async_block_till_done()
    [text] = inbound
    assert text.data["msisdn"].lstrip("+") == BOB.lstrip("+")
    assert (text.data["text"], text.data["keyword"]) == ("ACK 43", "ACK")
    assert text.data["message_id"] == MESSAGES_SMS["message_uuid"]
    assert text.data["message_timestamp"] == "2026-11-26 12:00:00"
    assert text.data["complete"] is True
    [receipt] = delivery
    assert receipt.data["message_id"] == MESSAGES_STATUS["message_uuid"]
    assert (receipt.data["status"], receipt.data["outcome"]) == ("rejected", "failed")
    assert receipt.data["err_code"] == 1300
    assert receipt.data["error_meaning"] == "Not part of the provider network"
    other = await web.post(PATH, json={**MESSAGES_SMS, "channel": "whatsapp"})
    assert other.status == 400 and "channel" in await other.text()


async def test_redelivered_sms_fires_once(hass: HomeAssistant, web: TestClient) -> None:
    events = async_capture_events(hass, INBOUND)
    for _ in range(3):
        assert (await web.post(PATH, data=SMS)).status == 200  # KPN wants 200 every time
    await hass.async_block_till_done()
    assert len(events) == 1


async def test_concatenated_parts_are_joined_in_order(hass: HomeAssistant, web: TestClient) -> None:
    events = async_capture_events(hass, INBOUND)
    parts = ["first part, ", "second part, ", "third"]
    for n in (3, 1, 3, 2):  # out of order, with a redelivery
        part = {
            **SMS,
            "messageId": f"0A00000000000{n}",
            "text": parts[n - 1],
            "concat": "true",
            "concat-ref": "7F",
            "concat-total": "3",
            "concat-part": str(n),
        }
        assert (await web.post(PATH, json=part)).status == 200
        await hass.async_block_till_done()
        if n != 2:
            assert events == []  # nothing until the last missing part arrives
    [event] = events
    assert event.data["text"] == "first part, second part, third"
    assert event.data["message_ids"] == ["0A000000000001", "0A000000000002", "0A000000000003"]


@pytest.mark.parametrize("how", ["get", "form", "json"])
async def test_delivery_receipt_fires_a_delivery_event_once(
    hass: HomeAssistant, web: TestClient, how: str
) -> None:
    events = async_capture_events(hass, DELIVERY)
    for _ in range(2):
        if how == "get":
            answer = await web.get(PATH, params=DLR)
        elif how == "form":
            answer = await web.post(PATH, data=DLR)
        else:
            answer = await web.post(PATH, json=DLR)
        assert answer.status == 200
    await hass.async_block_till_done()
    [event] = events
    assert event.data["message_id"] == DLR["messageId"]
    assert event.data["status"] == "delivered"
    assert event.data["outcome"] == "delivered"
    assert event.data["err_code"] == 0
    assert event.data["msisdn"] == f"+{BOB}"


@pytest.mark.parametrize(
    ("send", "reason"),
    [
        (lambda web: web.post(PATH, data={**SMS, "messageId": ""}), "messageId"),
        (
            lambda web: web.post(PATH, data={k: v for k, v in SMS.items() if k != "msisdn"}),
            "msisdn",
        ),
        (lambda web: web.post(PATH, data={**DLR, "status": "<b>"}), "status"),
        (
            lambda web: web.post(
                PATH, data=b"{not json", headers={"Content-Type": "application/json"}
            ),
            "JSON",
        ),
        (lambda web: web.post(PATH, json=["a", "list"]), "JSON object"),
        (lambda web: web.post(PATH, data=b"x" * 70_000), "too large"),
    ],
)
async def test_bad_payloads_get_400_with_the_reason_and_no_event(
    hass: HomeAssistant, web: TestClient, send: Any, reason: str
) -> None:
    events = async_capture_events(hass, INBOUND) + async_capture_events(hass, DELIVERY)
    answer = await send(web)
    assert answer.status == 400
    assert reason in await answer.text()
    await hass.async_block_till_done()
    assert events == []


async def test_empty_get_answers_200_for_kpns_url_check(web: TestClient) -> None:
    assert (await web.get(PATH)).status == 200


async def test_signed_webhooks_are_checked(
    hass: HomeAssistant, emu: Emulator, hass_client_no_auth: ClientFactory
) -> None:
    await setup_entry(hass, emu, signature_secret="s3cret", signature_method="sha256")
    web = await hass_client_no_auth()
    events = async_capture_events(hass, INBOUND)

    assert (await web.post(PATH, data=SMS)).status == 401  # unsigned
    signed = {**SMS, "timestamp": str(int(time.time())), "nonce": "n1"}
    forged = {**signed, "sig": compute_signature(signed, "wrong", "sha256")}
    assert (await web.post(PATH, data=forged)).status == 401
    good = {**signed, "sig": compute_signature(signed, "s3cret", "sha256")}
    assert (await web.post(PATH, data=good)).status == 200
    await hass.async_block_till_done()
    assert len(events) == 1


async def test_signed_webhooks_have_a_replay_window(
    hass: HomeAssistant, emu: Emulator, hass_client_no_auth: ClientFactory
) -> None:
    """As in `kpn-sms serve`: a call stamped further than DEFAULT_MAX_SKEW from the clock
    is refused, and an accepted id is remembered that long (a replay fires no event)."""
    entry = await setup_entry(hass, emu, signature_secret="s3cret", signature_method="md5hash")
    web = await hass_client_no_auth()
    events = async_capture_events(hass, INBOUND)

    def signed(stamp: float, message_id: str) -> dict[str, str]:
        params = {**SMS, "messageId": message_id, "timestamp": str(int(stamp)), "nonce": "n"}
        return {**params, "sig": compute_signature(params, "s3cret")}

    now = time.time()
    for stamp in (now - DEFAULT_MAX_SKEW - 10, now + DEFAULT_MAX_SKEW + 10):
        assert (await web.post(PATH, data=signed(stamp, "stale"))).status == 401
    fresh = signed(now, "fresh")
    assert (await web.post(PATH, data=fresh)).status == 200
    assert (await web.post(PATH, data=fresh)).status == 200  # a replay: a duplicate
    await hass.async_block_till_done()
    assert [e.data["message_id"] for e in events] == ["fresh"]
    assert entry.runtime_data.assembler.seen_for == DEFAULT_MAX_SKEW


async def reachable_entry(
    hass: HomeAssistant, emu: Emulator, client_factory: ClientFactory, **extra: Any
) -> str:
    """Home Assistant served on 127.0.0.1 with that as its external URL, then an entry."""
    # Everything that adds HTTP views first: the test server freezes the router.
    for component in ("webhook", "notify"):
        assert await async_setup_component(hass, component, {})
    web = await client_factory()
    base = str(web.make_url("")).rstrip("/")
    await hass.config.async_update(external_url=base)
    await setup_entry(hass, emu, **extra)
    return base


@pytest.mark.parametrize("fmt", ["get", "form", "json"])
async def test_registered_with_kpn_then_replies_arrive_as_events(
    hass: HomeAssistant, emu: Emulator, hass_client_no_auth: ClientFactory, fmt: str
) -> None:
    emu.configure(inbound_format=fmt)
    base = await reachable_entry(
        hass, emu, hass_client_no_auth, inbound_mode="register", inbound_number="0612345678"
    )
    assert emu.webhooks["registered"] == {ALICE: f"{base}{PATH}"}

    events = async_capture_events(hass, INBOUND)
    emu.inject_inbound(BOB, "ACK thanks")
    emu.inject_inbound(BOB, "long reply " * 30, duplicate=True, reverse_parts=True)
    await wait_for(events, 2)
    # Every part (duplicates included) answered 200 means every event has been fired.
    async with asyncio.timeout(10):
        while not all(p["state"] == "delivered" for r in emu.inbound for p in r["parts"]):
            await asyncio.sleep(0.02)
    await hass.async_block_till_done()
    assert sum(len(r["parts"]) for r in emu.inbound) >= 5  # 1 + at least 2 parts, twice

    assert [e.data["text"] for e in events] == ["ACK thanks", "long reply " * 30]
    assert events[0].data["keyword"] == "ACK"
    assert events[1].data["total_parts"] >= 2
    assert {e.data["msisdn"] for e in events} == {f"+{BOB}"}


async def test_virtual_number_is_pointed_at_the_webhook(
    hass: HomeAssistant, emu: Emulator, hass_client_no_auth: ClientFactory
) -> None:
    base = await reachable_entry(
        hass,
        emu,
        hass_client_no_auth,
        inbound_mode="number_update",
        inbound_number="+" + DEFAULT_VIRTUAL_NUMBER,
    )
    # number/update GETs the URL first (our webhook answers 200) and then stores it.
    assert emu.webhooks["numbers"] == {DEFAULT_VIRTUAL_NUMBER: f"{base}{PATH}"}

    events = async_capture_events(hass, INBOUND)
    emu.inject_inbound(BOB, "hello number", to=DEFAULT_VIRTUAL_NUMBER)
    await wait_for(events, 1)
    assert events[0].data["to"] == f"+{DEFAULT_VIRTUAL_NUMBER}"


async def test_delivery_receipts_come_back_to_our_webhook(
    hass: HomeAssistant, emu: Emulator, hass_client_no_auth: ClientFactory
) -> None:
    emu.configure(dlr_status={BOB: "delivered"})
    await reachable_entry(
        hass, emu, hass_client_no_auth, inbound_mode="register", inbound_number=ALICE
    )
    events = async_capture_events(hass, DELIVERY)
    await hass.services.async_call(
        "notify",
        "kpn_sms",
        {"message": "track me", "target": [BOB], "data": {"status_report": True}},
        blocking=True,
    )
    [sent] = emu.messages
    assert sent["callback"].endswith(PATH)  # defaulted to our own webhook
    await wait_for(events, 1)
    assert events[0].data["message_id"] == sent["message_ids"][0]
    assert events[0].data["status"] == "delivered"


async def test_registration_failure_is_a_repair_issue_and_sending_still_works(
    hass: HomeAssistant, emu: Emulator, issue_registry: ir.IssueRegistry
) -> None:
    # No URL KPN could reach: Home Assistant has neither an external nor an internal URL.
    entry = await setup_entry(hass, emu, inbound_mode="register", inbound_number=ALICE)
    issue = issue_registry.async_get_issue(DOMAIN, f"webhook_registration_{entry.entry_id}")
    assert issue is not None and issue.translation_key == "webhook_registration_failed"
    await hass.services.async_call(
        "notify", "kpn_sms", {"message": "x", "target": [BOB]}, blocking=True
    )
    assert len(emu.messages) == 1
