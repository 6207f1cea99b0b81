"""Emulator: delivery receipts, inbound SMS with Vonage's retries, /register and
phone-numbers number/update with its GET check of moHttpUrl (facts §2.3, §2.5, §4)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from conftest import WebhookReceiver  # type: ignore[import-not-found]

from kpn_sms_notify.emulator import DEFAULT_VIRTUAL_NUMBER, Emulator
from kpn_sms_notify.emulator.webhooks import sign

SEND = "/communication/nexmo/sms/send"
REGISTER = "/communication/nexmo/sms/register"
UPDATE = "/communication/nexmo/phone-numbers/number/update"
TO = "31612345678"
HTTP = httpx.Client(timeout=30, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0))
# The committed copy of KPN's published spec: every checkout has it, so nothing skips.
SPEC = Path(__file__).resolve().parent / "reliability" / "specs" / "kpn-vonage-sms-openapi.yml"
DEFINITIONS: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))["definitions"]
FAST = {"webhook_retry_interval": 0.1, "dlr_delay": 0.0}


def schema(name: str) -> dict[str, Any]:
    return {**DEFINITIONS[name], "definitions": DEFINITIONS}


def send(url: str, auth: dict[str, str], /, **fields: str) -> dict[str, Any]:
    data = {"from": "KPNAlert", "to": TO, "text": "Disk full", **fields}
    body: dict[str, Any] = HTTP.post(url + SEND, data=data, headers=auth).json()
    return body


# delivery receipts ---------------------------------------------------------------------
def test_one_dlr_per_part(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    emulator.configure(**FAST)
    answer = send(
        emulator_url,
        emulator_auth,
        text="x" * 200,
        callback=receiver.url + "/dlr",
        **{"status-report-req": "true", "client-ref": "ref-1"},
    )
    ids = [m["message-id"] for m in answer["messages"]]
    got = receiver.wait_for(2, "/dlr")
    assert len(got) == 2
    for req in got:
        assert (
            req["method"] == "POST" and req["content_type"] == "application/x-www-form-urlencoded"
        )
        p = req["form"]
        jsonschema.validate(p, schema("DeliveryReceipt"))
        assert p["msisdn"] == TO and p["to"] == "KPNAlert" and p["network-code"] == "20408"
        assert p["status"] == "delivered" and p["err-code"] == "0" and p["price"] == "0.07500000"
        assert p["client-ref"] == "ref-1"
        assert re.fullmatch(r"\d{10}", p["scts"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", p["message-timestamp"])
    assert sorted(r["form"]["messageId"] for r in got) == sorted(ids)
    assert emulator.wait_for(lambda e: e.counters["dlr_delivered"] == 2)
    assert all(d["state"] == "delivered" for d in emulator.dlrs)


def test_no_dlr_without_request(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    emulator.configure(**FAST)
    send(
        emulator_url, emulator_auth, callback=receiver.url + "/dlr"
    )  # status-report-req defaults to false
    send(
        emulator_url, emulator_auth, **{"status-report-req": "true"}
    )  # no callback, no account default
    send(
        emulator_url, emulator_auth, callback=receiver.url + "/dlr", **{"status-report-req": "true"}
    )
    assert len(receiver.wait_for(1, "/dlr")) == 1
    assert emulator.wait_for(lambda e: e.counters["dlr_delivered"] == 1)
    assert len(receiver.received("/dlr")) == 1 and len(emulator.dlrs) == 1


def test_default_callback_knob(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    emulator.configure(default_callback=receiver.url + "/account-dlr", **FAST)
    send(emulator_url, emulator_auth, **{"status-report-req": "1"})
    assert len(receiver.wait_for(1, "/account-dlr")) == 1


@pytest.mark.parametrize(
    ("status", "err", "expected_err"),
    [
        ("failed", None, "99"),
        ("expired", None, "1"),
        ("rejected", "6", "6"),
        ("failed", "3", "3"),
        ("buffered", None, "0"),
    ],
)
def test_dlr_status_per_number(
    emulator: Emulator,
    emulator_url: str,
    emulator_auth: dict[str, str],
    receiver: WebhookReceiver,
    status: str,
    err: str | None,
    expected_err: str,
) -> None:
    emulator.configure(dlr_status={TO: status}, dlr_err_code={TO: err} if err else {}, **FAST)
    send(
        emulator_url, emulator_auth, callback=receiver.url + "/dlr", **{"status-report-req": "true"}
    )
    send(
        emulator_url,
        emulator_auth,
        to="31687654321",
        callback=receiver.url + "/dlr",
        **{"status-report-req": "true"},
    )
    got = {r["form"]["msisdn"]: r["form"] for r in receiver.wait_for(2, "/dlr")}
    assert (got[TO]["status"], got[TO]["err-code"]) == (status, expected_err)
    assert (got["31687654321"]["status"], got["31687654321"]["err-code"]) == ("delivered", "0")


@pytest.mark.parametrize("fmt", ["json", "get"])
def test_dlr_formats(
    emulator: Emulator,
    emulator_url: str,
    emulator_auth: dict[str, str],
    receiver: WebhookReceiver,
    fmt: str,
) -> None:
    emulator.configure(dlr_format=fmt, **FAST)
    send(
        emulator_url, emulator_auth, callback=receiver.url + "/dlr", **{"status-report-req": "true"}
    )
    (req,) = receiver.wait_for(1, "/dlr")
    if fmt == "json":
        assert req["method"] == "POST" and req["json"]["msisdn"] == TO
    else:
        assert req["method"] == "GET" and req["query"]["msisdn"] == TO


def test_dlr_retried_until_200(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    emulator.configure(**FAST)
    receiver.answers["/dlr"] = [500, 404]
    send(
        emulator_url, emulator_auth, callback=receiver.url + "/dlr", **{"status-report-req": "true"}
    )
    got = receiver.wait_for(3, "/dlr")
    assert len({r["form"]["messageId"] for r in got}) == 1  # the same receipt, three times
    assert emulator.wait_for(lambda e: e.dlrs[0]["state"] == "delivered")
    assert [a["status"] for a in emulator.dlrs[0]["attempts"]] == [500, 404, 200]
    assert emulator.counters["dlr_attempts"] == 3


def test_dlr_gives_up(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    emulator.configure(webhook_max_attempts=3, **FAST)
    receiver.answers["/dlr"] = [503] * 10
    send(
        emulator_url, emulator_auth, callback=receiver.url + "/dlr", **{"status-report-req": "true"}
    )
    assert emulator.wait_for(lambda e: e.dlrs[0]["state"] == "failed")
    assert len(receiver.received("/dlr")) == 3


def test_webhook_timeout_is_retried(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    emulator.configure(webhook_timeout=0.3, **FAST)
    receiver.delays["/slow"] = 0.6
    send(
        emulator_url,
        emulator_auth,
        callback=receiver.url + "/slow",
        **{"status-report-req": "true"},
    )
    assert emulator.wait_for(lambda e: len(e.dlrs[0]["attempts"]) >= 2)
    assert "error" in emulator.dlrs[0]["attempts"][0]


def test_retry_window_bounds_attempts(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    emulator.configure(dlr_retry_window=0.35, **FAST)  # room for 4 tries 0.1 s apart
    receiver.answers["/dlr"] = [500] * 50
    send(
        emulator_url, emulator_auth, callback=receiver.url + "/dlr", **{"status-report-req": "true"}
    )
    assert emulator.wait_for(lambda e: e.dlrs[0]["state"] == "failed")
    assert 2 <= len(emulator.dlrs[0]["attempts"]) <= 5


def test_non_loopback_webhooks_are_never_called(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(**FAST)
    assert (
        send(
            emulator_url,
            emulator_auth,
            callback="https://example.com/dlr",
            **{"status-report-req": "true"},
        )["messages"][0]["status"]
        == "0"
    )
    assert emulator.wait_for(lambda e: e.dlrs and e.dlrs[0]["state"] == "skipped")
    assert emulator.dlrs[0]["attempts"] == []


# inbound ---------------------------------------------------------------------------------
def register(url: str, auth: dict[str, str], to: str, callback: str) -> httpx.Response:
    return HTTP.post(url + REGISTER, data={"to": to, "callback_url": callback}, headers=auth)


def test_register_then_inbound(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    answer = register(emulator_url, emulator_auth, TO, receiver.url + "/inbound")
    assert answer.status_code == 200 and answer.json() == {
        "message": "Your callback url is registered."
    }
    assert emulator.webhooks["registered"] == {TO: receiver.url + "/inbound"}
    record = emulator.inject_inbound("31687654321", "ack thanks")
    (req,) = receiver.wait_for(1, "/inbound")
    p = req["json"]
    jsonschema.validate(p, schema("InboundMessage"))
    assert (p["msisdn"], p["to"], p["text"], p["type"], p["keyword"]) == (
        "31687654321",
        TO,
        "ack thanks",
        "text",
        "ACK",
    )
    assert p["messageId"] == record["parts"][0]["messageId"]
    assert "concat" not in p
    assert emulator.wait_for(lambda e: e.counters["inbound_delivered"] == 1)


def test_inbound_concatenated(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    register(emulator_url, emulator_auth, TO, receiver.url + "/inbound")
    text = "word " * 40  # 200 GSM characters: 2 parts
    emulator.inject_inbound("31687654321", text, TO)
    parts = sorted(
        (r["json"] for r in receiver.wait_for(2, "/inbound")), key=lambda p: int(p["concat-part"])
    )
    assert [p["concat-part"] for p in parts] == ["1", "2"]
    assert {p["concat-total"] for p in parts} == {"2"} and len(
        {p["concat-ref"] for p in parts}
    ) == 1
    assert {p["concat"] for p in parts} == {"true"}
    assert "".join(p["text"] for p in parts) == text
    assert len({p["messageId"] for p in parts}) == 2


def test_inbound_forced_parts_reversed_and_duplicated(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    register(emulator_url, emulator_auth, TO, receiver.url + "/inbound")
    emulator.inject_inbound(
        "31687654321", "abcdefghi", TO, concat_parts=3, duplicate=True, reverse_parts=True
    )
    got = [r["json"] for r in receiver.wait_for(6, "/inbound")]
    assert len(got) == 6
    assert sorted(p["text"] for p in got) == ["abc", "abc", "def", "def", "ghi", "ghi"]
    assert len({p["messageId"] for p in got}) == 3  # duplicates keep their messageId


def test_inbound_unicode(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    register(emulator_url, emulator_auth, TO, receiver.url + "/inbound")
    emulator.inject_inbound("31687654321", "Oké 👍", TO)
    (req,) = receiver.wait_for(1, "/inbound")
    assert req["json"]["type"] == "unicode" and req["json"]["text"] == "Oké 👍"


def test_inbound_retried_like_vonage(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    emulator.configure(inbound_format="form", **FAST)
    register(emulator_url, emulator_auth, TO, receiver.url + "/inbound")
    receiver.answers["/inbound"] = [500, 502]
    record = emulator.inject_inbound("31687654321", "hello", TO)
    got = receiver.wait_for(3, "/inbound")
    assert [r["form"]["messageId"] for r in got] == [record["parts"][0]["messageId"]] * 3
    assert emulator.wait_for(lambda e: e.inbound[0]["parts"][0]["state"] == "delivered")
    assert [a["status"] for a in emulator.inbound[0]["parts"][0]["attempts"]] == [500, 502, 200]


def test_inbound_204_counts_as_delivered(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    emulator.configure(**FAST)
    register(emulator_url, emulator_auth, TO, receiver.url + "/inbound")
    receiver.answers["/inbound"] = [204]
    emulator.inject_inbound("31687654321", "hello", TO)
    assert emulator.wait_for(lambda e: e.inbound[0]["parts"][0]["state"] == "delivered")
    assert len(receiver.received("/inbound")) == 1


def test_inbound_without_webhook(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    emulator.configure(**FAST)
    record = emulator.inject_inbound("31687654321", "anyone?")
    assert record["to"] == DEFAULT_VIRTUAL_NUMBER and record["url"] is None
    # A marker sent after it, to a number with a webhook: once the marker has arrived, a
    # (wrong) delivery of the first text would have been attempted too.
    register(emulator_url, emulator_auth, TO, receiver.url + "/inbound")
    emulator.inject_inbound("31687654321", "marker", TO)
    assert [r["json"]["text"] for r in receiver.wait_for(1, "/inbound")] == ["marker"]
    assert emulator.wait_for(lambda e: e.inbound[1]["parts"][0]["state"] == "delivered")
    assert emulator.inbound[0]["parts"][0]["state"] == "no_webhook"
    assert emulator.counters["inbound_attempts"] == 1  # the marker's only


def test_signed_webhooks(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    emulator.configure(signature_secret="sig-secret", **FAST)
    register(emulator_url, emulator_auth, TO, receiver.url + "/inbound")
    emulator.inject_inbound("31687654321", "a=b&c", TO)
    (req,) = receiver.wait_for(1, "/inbound")
    p = dict(req["json"])
    sig = p.pop("sig")
    assert p["timestamp"].isdigit() and p["nonce"]
    joined = "".join(f"&{k}={v.replace('&', '_').replace('=', '_')}" for k, v in sorted(p.items()))
    assert sig == hashlib.md5((joined + "sig-secret").encode()).hexdigest()


def test_signature_test_vector() -> None:
    # From Vonage's python SDK tests, quoted in facts §4.3.
    assert sign({"a": "1", "b": "2", "timestamp": "1461605396"}, "secret", "md5hash") == (
        "6af838ef94998832dbfc29020b564830"
    )


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"to": TO}, "callback_url"),
        ({"callback_url": "https://x.nl/"}, "to"),
        ({"to": "06-123", "callback_url": "https://x.nl/"}, "to"),
        ({"to": TO, "callback_url": "http://example.com/"}, "callback_url"),
    ],
)
def test_register_refusals(
    emulator_url: str, emulator_auth: dict[str, str], data: dict[str, str], fragment: str
) -> None:
    answer = HTTP.post(emulator_url + REGISTER, data=data, headers=emulator_auth)
    assert answer.status_code == 400
    assert answer.json()["status"] == "400" and fragment in answer.json()["message"]


# phone numbers: number/update -----------------------------------------------------------------
def update(url: str, auth: dict[str, str], **data: str) -> httpx.Response:
    return HTTP.post(
        url + UPDATE, data={"country": "NL", "msisdn": DEFAULT_VIRTUAL_NUMBER, **data}, headers=auth
    )


def test_number_update_checks_with_get(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    answer = update(emulator_url, emulator_auth, moHttpUrl=receiver.url + "/mo")
    assert answer.status_code == 200
    assert answer.json() == {"error-code": "200", "error-code-label": "success"}
    (check,) = receiver.received("/mo")
    assert check["method"] == "GET"
    assert emulator.webhooks["numbers"] == {DEFAULT_VIRTUAL_NUMBER: receiver.url + "/mo"}
    listing = HTTP.get(
        emulator_url + "/communication/nexmo/phone-numbers/account/numbers", headers=emulator_auth
    ).json()
    assert listing["count"] == 1 and listing["numbers"][0]["moHttpUrl"] == receiver.url + "/mo"
    emulator.inject_inbound("31687654321", "hi", DEFAULT_VIRTUAL_NUMBER)
    posted = [r for r in receiver.wait_for(2, "/mo") if r["method"] == "POST"]
    assert posted[0]["json"]["to"] == DEFAULT_VIRTUAL_NUMBER


def test_number_update_refused_when_get_fails(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    receiver.answers["/mo"] = [404]
    answer = update(emulator_url, emulator_auth, moHttpUrl=receiver.url + "/mo")
    assert answer.status_code == 420
    assert answer.json()["error-code"] == "420" and "404" in answer.json()["error-code-label"]
    assert emulator.webhooks["numbers"] == {}
    for url in ("http://127.0.0.1:9/closed", "https://example.com/mo", "not-a-url"):
        assert update(emulator_url, emulator_auth, moHttpUrl=url).status_code == 420


def test_number_update_clear_and_errors(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    assert update(emulator_url, emulator_auth, moHttpUrl=receiver.url + "/mo").status_code == 200
    assert update(emulator_url, emulator_auth, moHttpUrl="").status_code == 200
    assert emulator.webhooks["numbers"] == {}
    assert update(emulator_url, emulator_auth, msisdn="31600000000").status_code == 420  # not owned
    missing = HTTP.post(emulator_url + UPDATE, data={"country": "NL"}, headers=emulator_auth)
    assert missing.status_code == 400 and "msisdn" in missing.json()["message"]
    assert (
        HTTP.post(
            emulator_url + UPDATE, data={"country": "NL", "msisdn": DEFAULT_VIRTUAL_NUMBER}
        ).status_code
        == 401
    )


def test_numbers_listing_pages_and_patterns(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(virtual_numbers=[f"3197010000{i:03d}" for i in range(25)])
    base = emulator_url + "/communication/nexmo/phone-numbers/account/numbers"
    page2 = HTTP.get(base, params={"size": 10, "index": 2}, headers=emulator_auth).json()
    assert page2["count"] == 25 and page2["numbers"][0]["msisdn"] == "3197010000010"
    ends = HTTP.get(
        base, params={"pattern": "007", "search_pattern": 2}, headers=emulator_auth
    ).json()
    assert [n["msisdn"] for n in ends["numbers"]] == ["3197010000007"]
    assert HTTP.get(base, params={"size": 101}, headers=emulator_auth).status_code == 400
