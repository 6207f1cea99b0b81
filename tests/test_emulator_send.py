"""Emulator: KPN /send: validation statuses, parts, ids, balance, headers (facts §2, §3)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

from kpn_sms_notify.emulator import Emulator

# One client for the module: httpx.post() builds an SSL context per call (~0.1 s).
HTTP = httpx.Client(timeout=30, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0))
SEND = "/communication/nexmo/sms/send"
TO = "31612345678"
OK = {"from": "KPNAlert", "to": TO, "text": "Disk full on web1"}
KPN_HEADERS = (
    "quota-limit",
    "quota-used",
    "quota-interval",
    "quota-time-unit",
    "quota-reset-UTC",
    "sunset",
    "api-version",
)


def send(url: str, auth: dict[str, str], /, **fields: Any) -> httpx.Response:
    data = {**OK, **fields}
    data = {k: v for k, v in data.items() if v is not None}
    return HTTP.post(url + SEND, data=data, headers=auth)


def test_accepted_answer(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    answer = send(emulator_url, emulator_auth, **{"client-ref": "alert-42"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["message-count"] == "1"  # a string, as Vonage sends it
    (msg,) = body["messages"]
    assert msg["to"] == TO and msg["status"] == "0" and msg["network"] == "20408"
    assert re.fullmatch(r"[0-9A-F]{16,18}", msg["message-id"])
    assert msg["message-price"] == "0.07500000"
    assert msg["remaining-balance"] == "9999.92500000"
    assert msg["client-ref"] == "alert-42"
    (record,) = emulator.messages
    assert record["to"] == TO and record["from"] == "KPNAlert" and record["text"] == OK["text"]
    assert record["message_ids"] == [msg["message-id"]] and record["client_ref"] == "alert-42"
    assert record["status_report_req"] is False  # KPN's spec: default false
    c = emulator.counters
    assert (c["send_requests"], c["accepted"], c["parts"], c["rejected"]) == (1, 1, 1, 0)


def test_headers_on_every_answer(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    answers = [
        send(emulator_url, emulator_auth),
        send(emulator_url, emulator_auth, to="abc"),
        HTTP.post(emulator_url + SEND, json=OK, headers=emulator_auth),
        HTTP.post(emulator_url + SEND, data=OK),
    ]
    assert [a.status_code for a in answers] == [200, 200, 400, 401]
    for answer in answers:
        for name in KPN_HEADERS:
            assert name in answer.headers, name
        assert answer.headers["sunset"] == "n/a"
    assert int(answers[1].headers["quota-used"]) > int(answers[0].headers["quota-used"])


def test_sunset_and_quota_knobs(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(
        sunset="2027-01-01",
        quota_limit=500,
        quota_interval=24,
        quota_time_unit="hour",
        api_version="v2",
    )
    h = send(emulator_url, emulator_auth).headers
    assert (
        h["sunset"],
        h["quota-limit"],
        h["quota-interval"],
        h["quota-time-unit"],
        h["api-version"],
    ) == ("2027-01-01", "500", "24", "hour", "v2")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", h["quota-reset-UTC"])


def test_quota_exhausted_is_429(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(quota_limit=2)
    assert [send(emulator_url, emulator_auth).status_code for _ in range(3)] == [200, 200, 429]
    last = send(emulator_url, emulator_auth)
    assert last.status_code == 429
    assert last.json()["status"] == "429"
    assert int(last.headers["Retry-After"]) >= 0
    assert last.headers["quota-used"] == "2"
    assert emulator.counters["accepted"] == 2


def test_ids_unique_and_balance_decreasing(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    ids, balances = [], []
    for _ in range(5):
        for msg in send(emulator_url, emulator_auth, text="x" * 200).json()["messages"]:
            ids.append(msg["message-id"])
            balances.append(Decimal(msg["remaining-balance"]))
    assert len(ids) == len(set(ids)) == 10
    assert balances == sorted(balances, reverse=True) and len(set(balances)) == 10
    assert balances[-1] == Decimal("10000") - 10 * Decimal("0.075")


def test_ids_stay_unique_across_reset(emulator: Emulator, emulator_url: str) -> None:
    from conftest import TOKEN_PATH  # type: ignore[import-not-found]

    from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET

    seen = set()
    for _ in range(2):
        tok = HTTP.post(
            emulator_url + TOKEN_PATH,
            data={"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET},
        ).json()["access_token"]
        seen.add(
            send(emulator_url, {"Authorization": f"Bearer {tok}"}).json()["messages"][0][
                "message-id"
            ]
        )
        emulator.reset()
    assert len(seen) == 2


def test_balance_runs_out_with_status_9(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(balance="0.1")
    assert send(emulator_url, emulator_auth).json()["messages"][0]["status"] == "0"
    msg = send(emulator_url, emulator_auth).json()["messages"][0]
    assert msg["status"] == "9" and msg["error-text"]


REFUSALS = [
    ({"from": None}, "2"),
    ({"from": ""}, "2"),
    ({"to": None}, "2"),
    ({"text": None}, "2"),
    ({"text": ""}, "2"),
    ({"to": "+31612345678"}, "34"),
    ({"to": "123456"}, "34"),
    ({"to": "3161234567890123"}, "34"),
    ({"to": "31 612345678"}, "34"),
    ({"from": "KPN Alert"}, "15"),
    ({"from": "KPN-Alert"}, "15"),
    ({"from": "ABCDEFGHIJKL"}, "15"),
    ({"from": "1234567890123456"}, "15"),
    ({"ttl": "19999"}, "16"),
    ({"ttl": "604800001"}, "16"),
    ({"ttl": "soon"}, "16"),
    ({"message-class": "4"}, "20"),
    ({"message-class": "x"}, "20"),
    ({"type": "mms"}, "3"),
    ({"callback": "http://example.com/dlr"}, "23"),
    ({"callback": "ftp://127.0.0.1/dlr"}, "23"),
    ({"callback": "not a url"}, "23"),
    ({"client-ref": "r" * 41}, "3"),
    ({"status-report-req": "maybe"}, "3"),
    ({"protocol-id": "300"}, "3"),
    ({"type": "binary", "body": "zz", "udh": "0500"}, "3"),
    ({"type": "binary", "body": "00" * 136, "udh": "06050415811581"}, "12"),
    ({"type": "binary", "body": "0011"}, "2"),
    ({"type": "vcard"}, "2"),
    ({"type": "wappush", "title": "t"}, "2"),
    ({"text": "a" * 3601}, "12"),
]


@pytest.mark.parametrize(("fields", "status"), REFUSALS)
def test_refusals_are_status_inside_http_200(
    emulator: Emulator,
    emulator_url: str,
    emulator_auth: dict[str, str],
    fields: dict[str, Any],
    status: str,
) -> None:
    answer = send(emulator_url, emulator_auth, **fields)
    assert answer.status_code == 200
    body = answer.json()
    assert body["message-count"] == "1"
    (msg,) = body["messages"]
    assert msg["status"] == status
    assert msg["error-text"]
    assert "message-id" not in msg
    assert emulator.messages == []
    assert emulator.counters["rejected"] == 1


ACCEPTED = [
    {"from": "ABCDEFGHIJK"},
    {"from": "123456789012345"},
    {"from": "KPN"},
    {"to": "1234567"},
    {"to": "123456789012345"},
    {"ttl": "20000"},
    {"ttl": "604800000"},
    {"message-class": "0"},
    {"message-class": "3"},
    {"type": "unicode", "text": "Привет"},
    {"callback": "https://example.com/dlr"},
    {"callback": "http://127.0.0.1:9/dlr"},
    {"client-ref": "r" * 40},
    {"status-report-req": "true"},
    {"status-report-req": "false"},
    {"type": "binary", "body": "00" * 133, "udh": "06050415811581", "text": None},
    {"type": "vcard", "vcard": "BEGIN:VCARD\nFN:Ops\nEND:VCARD", "text": None},
    {"type": "wappush", "title": "Runbook", "url": "https://example.com", "text": None},
]


@pytest.mark.parametrize("fields", ACCEPTED)
def test_valid_sends_are_accepted(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], fields: dict[str, Any]
) -> None:
    answer = send(emulator_url, emulator_auth, **fields)
    assert answer.status_code == 200
    assert answer.json()["messages"][0]["status"] == "0", answer.json()
    assert len(emulator.messages) == 1


def test_http_callback_off_loopback_allowed_only_by_knob(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(allow_http_callback_loopback=False)
    msg = send(emulator_url, emulator_auth, callback="http://127.0.0.1:9/dlr").json()["messages"][0]
    assert msg["status"] == "23"


@pytest.mark.parametrize(
    "content",
    [
        {"json": OK},
        {"files": {"text": (None, "hi")}, "data": {"from": "KPN"}},
        {"content": b"from=KPN&to=31612345678&text=hi"},
    ],
)
def test_form_encoding_only(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], content: dict[str, Any]
) -> None:
    answer = HTTP.post(emulator_url + SEND, headers=emulator_auth, **content)
    assert answer.status_code == 400
    body = answer.json()
    assert set(body) == {"transactionId", "status", "name", "message", "info"}
    assert body["status"] == "400"
    assert "x-www-form-urlencoded" in body["message"]
    assert emulator.messages == []


def test_whitelist_demo_mode(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(whitelist=["31600000001"])
    assert (
        send(emulator_url, emulator_auth, to="31600000001").json()["messages"][0]["status"] == "0"
    )
    refused = send(emulator_url, emulator_auth).json()["messages"][0]
    assert refused["status"] == "29"
    assert refused["to"] == TO


@pytest.mark.parametrize(
    "code", ["4", "5", "6", "7", "8", "9", "10", "11", "13", "14", "19", "22", "32", "33"]
)
def test_forced_status_per_number(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], code: str
) -> None:
    emulator.configure(forced_status={TO: code})
    msg = send(emulator_url, emulator_auth).json()["messages"][0]
    assert msg["status"] == code and msg["error-text"]
    other = send(emulator_url, emulator_auth, to="31687654321").json()["messages"][0]
    assert other["status"] == "0"


def test_non_gsm_text_policies(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    send(emulator_url, emulator_auth, text="ça va? 😀")
    record = emulator.messages[-1]
    assert (record["text"], record["encoding"]) == ("?a va? ?", "gsm7")
    emulator.configure(non_gsm_text="unicode")
    send(emulator_url, emulator_auth, text="ça va? 😀")
    assert emulator.messages[-1]["encoding"] == "ucs2"
    emulator.configure(non_gsm_text="reject")
    assert (
        send(emulator_url, emulator_auth, text="ça va? 😀").json()["messages"][0]["status"] == "6"
    )


def test_inbound_header_recorded(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    HTTP.post(emulator_url + SEND, data=OK, headers={**emulator_auth, "inbound": "yes"})
    assert emulator.messages[0]["inbound_header"] == "yes"


def test_unknown_path_and_method(emulator_url: str, emulator_auth: dict[str, str]) -> None:
    missing = HTTP.post(emulator_url + "/communication/nexmo/sms/nope", headers=emulator_auth)
    assert missing.status_code == 404 and missing.json()["status"] == "404"
    wrong = HTTP.get(emulator_url + SEND, headers=emulator_auth)
    assert wrong.status_code == 405 and wrong.json()["status"] == "405"


def test_max_messages_keeps_the_newest(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(max_messages=2)
    for i in range(4):
        send(emulator_url, emulator_auth, text=f"n{i}")
    assert [m["text"] for m in emulator.messages] == ["n2", "n3"]
    assert emulator.counters["accepted"] == 4
