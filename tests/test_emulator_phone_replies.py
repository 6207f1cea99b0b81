"""The emulator plays the phone: a reply sent with the control API or the inbox page arrives at
the inbound URL of the number it is sent to (number/update's moHttpUrl, else the account's
default), as KPN delivers it: its fields, the configured method, signed when configured."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from conftest import WebhookReceiver  # type: ignore[import-not-found]

from kpn_sms_notify import KpnSmsSync
from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator
from kpn_sms_notify.inbound.signatures import verify_signature

FIRST, SECOND, THIRD = "3197010000001", "3197010000002", "3197010000003"
PHONE = "31612345678"
SPEC = Path(__file__).resolve().parent / "reliability" / "specs" / "kpn-vonage-sms-openapi.yml"
DEFINITIONS: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))["definitions"]
INBOUND_SCHEMA = {**DEFINITIONS["InboundMessage"], "definitions": DEFINITIONS}
KPN_FIELDS = {"msisdn", "to", "messageId", "text", "type", "keyword", "message-timestamp"}


def point(emulator_url: str, urls: dict[str, str]) -> None:
    """Set each number's moHttpUrl with the project's client (number/update)."""
    with KpnSmsSync(EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=emulator_url) as sms:
        for number, url in urls.items():
            sms.update_number("NL", number, url)


def deliveries(receiver: WebhookReceiver, path: str, count: int) -> list[dict[str, Any]]:
    """The webhook calls with a payload (number/update's check is a bare GET)."""
    return [r for r in receiver.wait_for(count + 1, path) if r["params"]]  # + the check


def test_a_reply_arrives_at_the_url_of_the_number_it_is_sent_to(
    emulator: Emulator, emulator_url: str, receiver: WebhookReceiver, http: httpx.Client
) -> None:
    emulator.configure(
        virtual_numbers=[FIRST, SECOND, THIRD],
        default_inbound_url=receiver.url + "/account",
    )
    point(emulator_url, {FIRST: receiver.url + "/first", SECOND: receiver.url + "/second"})
    sent = {}
    for to, text in ((SECOND, "ACK 7K2"), (FIRST, "status"), (THIRD, "help")):
        answer = http.post(
            emulator_url + "/_emulator/inbound", json={"msisdn": PHONE, "text": text, "to": to}
        )
        assert answer.status_code == 200
        sent[to] = answer.json()
    (second,) = deliveries(receiver, "/second", 1)
    (first,) = deliveries(receiver, "/first", 1)
    (third,) = receiver.wait_for(1, "/account")  # the account's URL: no check GET
    for req, to, text in (
        (second, SECOND, "ACK 7K2"),
        (first, FIRST, "status"),
        (third, THIRD, "help"),
    ):
        payload = req["json"]
        assert req["method"] == "POST" and req["content_type"] == "application/json"
        jsonschema.validate(payload, INBOUND_SCHEMA)
        assert set(payload) == KPN_FIELDS
        assert (payload["msisdn"], payload["to"], payload["text"]) == (PHONE, to, text)
        assert payload["keyword"] == text.split()[0].upper()
        assert payload["messageId"] == sent[to]["parts"][0]["messageId"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", payload["message-timestamp"])
    assert emulator.wait_for(lambda e: e.counters.get("inbound_delivered", 0) == 3)


def test_a_reply_to_a_number_not_owned_goes_nowhere(
    emulator: Emulator, emulator_url: str, receiver: WebhookReceiver, http: httpx.Client
) -> None:
    emulator.configure(virtual_numbers=[FIRST], default_inbound_url=receiver.url + "/account")
    stray = http.post(
        emulator_url + "/_emulator/inbound", json={"msisdn": PHONE, "text": "hi", "to": SECOND}
    ).json()
    assert stray["url"] is None and stray["parts"][0]["state"] == "no_webhook"
    # A marker to an owned number after it: once it arrived, a wrong delivery would have too.
    http.post(
        emulator_url + "/_emulator/inbound", json={"msisdn": PHONE, "text": "marker", "to": FIRST}
    )
    assert [r["json"]["text"] for r in receiver.wait_for(1, "/account")] == ["marker"]
    assert emulator.wait_for(lambda e: e.counters.get("inbound_delivered", 0) == 1)
    assert emulator.counters["inbound_attempts"] == 1
    for bad in (
        {"msisdn": PHONE, "text": "x", "to": "+" + FIRST},
        {"msisdn": PHONE, "text": "x", "to": 3},
    ):
        refused = http.post(emulator_url + "/_emulator/inbound", json=bad)
        assert refused.status_code == 400 and "to must be" in refused.json()["error"]


@pytest.mark.parametrize(
    ("fmt", "method", "content_type"),
    [
        ("json", "POST", "application/json"),
        ("form", "POST", "application/x-www-form-urlencoded"),
        ("get", "GET", "application/octet-stream"),
    ],
)
@pytest.mark.parametrize("signature_method", ["md5hash", "sha256"])
def test_a_reply_comes_as_configured_and_signed(
    emulator: Emulator,
    emulator_url: str,
    receiver: WebhookReceiver,
    http: httpx.Client,
    fmt: str,
    method: str,
    content_type: str,
    signature_method: str,
) -> None:
    emulator.configure(
        virtual_numbers=[FIRST],
        inbound_format=fmt,
        signature_secret="s3cret-sig",
        signature_method=signature_method,
    )
    point(emulator_url, {FIRST: receiver.url + "/mo"})
    http.post(
        emulator_url + "/_emulator/inbound",
        json={"msisdn": PHONE, "text": "ack a=b&c", "to": FIRST},
    )
    (req,) = deliveries(receiver, "/mo", 1)
    assert req["method"] == method and req["content_type"] == content_type
    params = req["params"]
    assert set(params) == KPN_FIELDS | {"timestamp", "nonce", "sig"}
    assert (params["to"], params["msisdn"], params["text"]) == (FIRST, PHONE, "ack a=b&c")
    assert verify_signature(params, "s3cret-sig", signature_method, max_skew=300)
    assert not verify_signature({**params, "text": "ack"}, "s3cret-sig", signature_method)


def test_the_inbox_reply_goes_to_the_number_that_texted_the_phone(
    emulator: Emulator,
    emulator_url: str,
    emulator_auth: dict[str, str],
    receiver: WebhookReceiver,
    http: httpx.Client,
) -> None:
    emulator.configure(virtual_numbers=[FIRST, SECOND])
    point(emulator_url, {FIRST: receiver.url + "/first", SECOND: receiver.url + "/second"})
    send = emulator_url + "/communication/nexmo/sms/send"
    text = {"text": "Disk full. Reply ACK 7K2"}
    http.post(send, data={"from": SECOND, "to": PHONE, **text}, headers=emulator_auth)
    http.post(send, data={"from": "KPNAlert", "to": "31687654321", **text}, headers=emulator_auth)
    page = http.get(emulator_url + "/_emulator/").text
    forms = dict(
        re.findall(r'name="msisdn" value="(\d+)">(.*?)<input type="text"', page, re.DOTALL)
    )
    assert forms[PHONE] == f'<input type="hidden" name="to" value="{SECOND}">'
    assert forms["31687654321"] == ""  # a sender ID cannot be answered: the default number
    answer = http.post(
        emulator_url + "/_emulator/inbound",
        data={"msisdn": PHONE, "to": SECOND, "text": "ack 7k2"},
    )
    assert answer.status_code == 303
    (req,) = deliveries(receiver, "/second", 1)
    assert (req["json"]["to"], req["json"]["msisdn"], req["json"]["text"]) == (
        SECOND,
        PHONE,
        "ack 7k2",
    )
    assert [r["method"] for r in receiver.received("/first")] == ["GET"]  # its check only
    refused = http.post(
        emulator_url + "/_emulator/inbound", data={"msisdn": PHONE, "to": "x2", "text": "hi"}
    )
    assert (
        refused.status_code == 400
        and refused.text == "reply: inject_inbound: to must be digits, got 'x2'"
    )
