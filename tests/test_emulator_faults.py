"""Emulator: fault knobs and the one-shot script (issue 2 item 9, issue 7 fault matrix)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
import pytest

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

SEND = "/communication/nexmo/sms/send"
TOKEN = "/oauth/client_credential/accesstoken?grant_type=client_credentials"
FORM = {"from": "KPNAlert", "to": "31612345678", "text": "Disk full"}
HTTP = httpx.Client(timeout=30, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0))


def send(
    url: str, auth: dict[str, str], /, client: httpx.Client = HTTP, **fields: str
) -> httpx.Response:
    return client.post(url + SEND, data={**FORM, **fields}, headers=auth)


def test_latency(emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]) -> None:
    emulator.configure(latency=0.3)
    start = time.perf_counter()
    assert send(emulator_url, emulator_auth).status_code == 200
    assert time.perf_counter() - start >= 0.3


def test_rate_limit_as_http_429(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    # Burst of 2, refill one per 2 s: more than 2 of six calls pass only if they take 4 s.
    emulator.configure(rate_limit=0.5, rate_limit_burst=2)
    answers = [send(emulator_url, emulator_auth) for _ in range(6)]
    limited = [a for a in answers if a.status_code == 429]
    assert len(limited) >= 3
    for answer in limited:
        assert int(answer.headers["Retry-After"]) >= 1
        assert "quota-limit" in answer.headers and "sunset" in answer.headers
        assert answer.json()["status"] == "429"
    accepted = len(answers) - len(limited)
    assert len(emulator.messages) == accepted == emulator.counters["accepted"]
    assert emulator.counters["http_429"] == len(limited)
    time.sleep(2.1)  # one more token
    assert send(emulator_url, emulator_auth).status_code == 200


def test_rate_limit_as_status_1(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(rate_limit=1, rate_limit_mode="status1")
    bodies = [send(emulator_url, emulator_auth).json() for _ in range(4)]
    throttled = [b["messages"][0] for b in bodies if b["messages"][0]["status"] == "1"]
    assert len(throttled) >= 2
    for msg in throttled:
        found = re.fullmatch(
            r"Throughput Rate Exceeded - please wait \[ (\d+) \] and retry", msg["error-text"]
        )
        assert found and 1 <= int(found.group(1)) <= 1000
        assert msg["to"] == FORM["to"]
    assert emulator.counters["status_1"] == len(throttled)
    assert len(emulator.messages) == 4 - len(throttled)


@pytest.mark.parametrize(
    ("mode", "status", "errorcode"),
    [
        ("quota500", 500, "policies.ratelimit.QuotaViolation"),
        ("spike500", 500, "policies.ratelimit.SpikeArrestViolation"),
        ("quota429", 429, "policies.ratelimit.QuotaViolation"),
        ("spike429", 429, "policies.ratelimit.SpikeArrestViolation"),
    ],
)
def test_rate_limit_as_apigee_fault(
    emulator: Emulator,
    emulator_url: str,
    emulator_auth: dict[str, str],
    mode: str,
    status: int,
    errorcode: str,
) -> None:
    """Stock Apigee answers a Quota or SpikeArrest violation with HTTP 500 (429 only with an
    org flag) and its fault body, without Retry-After; nothing reaches Vonage."""
    emulator.configure(rate_limit=1, rate_limit_mode=mode)
    answers = [send(emulator_url, emulator_auth) for _ in range(4)]
    limited = [a for a in answers if a.status_code != 200]
    assert len(limited) >= 2
    for answer in limited:
        assert answer.status_code == status
        fault = answer.json()["fault"]
        assert fault["detail"]["errorcode"] == errorcode
        if "Quota" in errorcode:
            assert fault["faultstring"] == (
                "Rate limit quota violation. Quota limit  exceeded. Identifier : _default"
            )
        else:
            assert fault["faultstring"] == "Spike arrest violation. Allowed rate : 1ps"
        assert "Retry-After" not in answer.headers and "quota-limit" in answer.headers
    assert len(emulator.messages) == len(answers) - len(limited)
    assert emulator.counters["throttle_faults"] == len(limited)
    assert emulator.counters["http_429"] == (len(limited) if status == 429 else 0)


def test_exhausted_quota_as_apigee_fault(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(quota_limit=1, quota_time_unit="hour", quota_mode="quota500")
    assert send(emulator_url, emulator_auth).status_code == 200
    over = send(emulator_url, emulator_auth)
    assert over.status_code == 500
    assert over.json()["fault"]["detail"]["errorcode"] == "policies.ratelimit.QuotaViolation"
    # No Retry-After: the quota-* headers say when the window resets.
    assert "Retry-After" not in over.headers
    assert over.headers["quota-used"] == over.headers["quota-limit"] == "1"
    assert over.headers["quota-reset-UTC"].endswith("Z")
    assert len(emulator.messages) == 1


@pytest.mark.parametrize("body", ["quota", "spike"])
def test_script_answers_an_apigee_ratelimit_fault(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], body: str
) -> None:
    emulator.configure(script=[{"http": 500, "body": body}])
    answer = send(emulator_url, emulator_auth)
    assert answer.status_code == 500
    assert answer.json()["fault"]["detail"]["errorcode"].startswith("policies.ratelimit.")
    assert emulator.messages == []
    assert send(emulator_url, emulator_auth).status_code == 200


def test_app_without_the_sms_product(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    """KPN issues a token to an app without the SMS product; the SMS API then answers
    Apigee's 401 InvalidAPICallAsNoApiProductMatchFound (the token itself is fine)."""
    emulator.configure(api_products=["phone-numbers-nexmo"])
    creds = {"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET}
    token = HTTP.post(emulator_url + TOKEN, data=creds).json()
    assert token["api_product_list_json"] == ["phone-numbers-nexmo"]
    assert token["api_product_list"] == "[phone-numbers-nexmo]"
    refused = send(emulator_url, emulator_auth)
    assert refused.status_code == 401
    assert refused.json() == {
        "fault": {
            "faultstring": "Invalid API call as no apiproduct match found",
            "detail": {"errorcode": "keymanagement.service.InvalidAPICallAsNoApiProductMatchFound"},
        }
    }
    register = HTTP.post(
        emulator_url + "/communication/nexmo/sms/register",
        headers=emulator_auth,
        data={"to": "31612345678", "callback_url": "https://example.com/in"},
    )
    assert register.status_code == 401
    numbers = HTTP.get(
        emulator_url + "/communication/nexmo/phone-numbers/account/numbers", headers=emulator_auth
    )
    assert numbers.status_code == 200  # that product the app has
    assert emulator.counters["product_refusals"] == 2
    assert emulator.counters["auth_failures"] == 0 and emulator.messages == []
    emulator.configure(api_products=["sms-nexmo"])
    assert send(emulator_url, emulator_auth).status_code == 200
    assert (
        HTTP.get(
            emulator_url + "/communication/nexmo/phone-numbers/account/numbers",
            headers=emulator_auth,
        ).status_code
        == 401
    )


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize("body", ["kpn", "apigee", "html", "empty", "malformed"])
def test_error_rate_bodies(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], status: int, body: str
) -> None:
    emulator.configure(error_rate=1.0, error_status=status, error_body=body)
    answer = send(emulator_url, emulator_auth)
    assert answer.status_code == status
    if body == "kpn":
        assert answer.json()["status"] == str(status)
    elif body == "apigee":
        assert "faultstring" in answer.json()["fault"]
    elif body == "html":
        assert answer.headers["content-type"].startswith("text/html")
        assert f"<title>{status} " in answer.text
    elif body == "empty":
        assert answer.content == b""
    else:
        with pytest.raises(json.JSONDecodeError):
            json.loads(answer.text)
    assert emulator.messages == []  # the error came before the send
    assert emulator.counters["http_errors"] == 1


def test_error_after_send_is_ambiguous(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(error_rate=1.0, error_status=502, fault_after_send=True)
    assert send(emulator_url, emulator_auth).status_code == 502
    assert len(emulator.messages) == 1  # texted, though the caller saw a 502


def test_error_status_list_is_sampled(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(error_rate=1.0, error_status=[500, 503], seed=7)
    seen = {send(emulator_url, emulator_auth).status_code for _ in range(30)}
    assert seen == {500, 503}


def test_seed_makes_faults_reproducible(
    emulator_url: str, emulator: Emulator, emulator_auth: dict[str, str]
) -> None:
    runs = []
    for _ in range(2):
        emulator.configure(error_rate=0.5, seed=1234)
        runs.append([send(emulator_url, emulator_auth).status_code for _ in range(20)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 503}


def test_drop_connection(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        send(emulator_url, emulator_auth)
    assert emulator.messages == [] and emulator.counters["dropped"] == 1
    emulator.configure(drop_rate=0.0)
    assert send(emulator_url, emulator_auth).status_code == 200  # the server still works


def test_drop_after_send(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(drop_rate=1.0, fault_after_send=True)
    with pytest.raises(httpx.RemoteProtocolError):
        send(emulator_url, emulator_auth)
    assert len(emulator.messages) == 1


def test_slow_answer_beyond_client_timeout(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(slow_rate=1.0, slow_seconds=1.0)
    with httpx.Client(timeout=0.3, trust_env=False) as impatient, pytest.raises(httpx.ReadTimeout):
        send(emulator_url, emulator_auth, client=impatient)
    assert len(emulator.messages) == 1  # accepted: a retry would text twice
    assert emulator.counters["slow"] == 1
    emulator.configure(slow_rate=0.0)
    assert send(emulator_url, emulator_auth).status_code == 200


@pytest.mark.parametrize("kind", ["malformed", "html", "empty"])
def test_bad_body_on_200(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], kind: str
) -> None:
    emulator.configure(bad_body_rate=1.0, bad_body=kind)
    answer = send(emulator_url, emulator_auth)
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.text)
    assert len(emulator.messages) == 1


def test_script_then_normal(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(
        script=[{"http": 503, "count": 2}, {"status": "1"}, {"ok": True}, {"http": 429}]
    )
    codes = [send(emulator_url, emulator_auth) for _ in range(6)]
    assert [c.status_code for c in codes] == [503, 503, 200, 200, 429, 200]
    assert codes[2].json()["messages"][0]["status"] == "1"
    assert codes[4].headers["Retry-After"] == "1"
    assert len(emulator.messages) == 2
    assert emulator.snapshot()["script_left"] == 0


def test_script_drop_slow_and_bad_body(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(
        script=[{"drop": True}, {"slow": 0.5}, {"bad_body": "html"}, {"http": 500, "body": "html"}]
    )
    with pytest.raises(httpx.RemoteProtocolError):
        send(emulator_url, emulator_auth)
    start = time.perf_counter()
    assert send(emulator_url, emulator_auth).status_code == 200
    assert time.perf_counter() - start >= 0.5
    html = send(emulator_url, emulator_auth)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    proxy = send(emulator_url, emulator_auth)
    assert proxy.status_code == 500 and "<html>" in proxy.text
    assert len(emulator.messages) == 2  # slow and bad_body were accepted


def test_script_on_the_token_endpoint(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(script=[{"path": "token", "http": 503}, {"path": "token", "drop": True}])
    creds = {"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET}
    assert HTTP.post(emulator_url + TOKEN, data=creds).status_code == 503
    with pytest.raises(httpx.RemoteProtocolError):
        HTTP.post(emulator_url + TOKEN, data=creds)
    assert HTTP.post(emulator_url + TOKEN, data=creds).status_code == 200
    assert emulator.counters["token_failures"] == 2 and emulator.counters["token_requests"] == 3


def test_forced_http_per_path(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(forced_http={"/communication/nexmo/sms/register": 403})
    reg = HTTP.post(
        emulator_url + "/communication/nexmo/sms/register",
        headers=emulator_auth,
        data={"to": "31612345678", "callback_url": "https://example.com/in"},
    )
    assert reg.status_code == 403 and reg.json()["status"] == "403"
    assert send(emulator_url, emulator_auth).status_code == 200


def test_forced_status_zero_means_normal(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(forced_status={"31612345678": "0"})
    assert send(emulator_url, emulator_auth).json()["messages"][0]["status"] == "0"


async def test_peak_in_flight(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(latency=0.3)
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        answers = await asyncio.gather(
            *[
                client.post(
                    emulator_url + SEND,
                    data={**FORM, "to": f"316000000{i:02d}"},
                    headers=emulator_auth,
                )
                for i in range(20)
            ]
        )
    assert all(a.status_code == 200 for a in answers)
    c = emulator.counters
    assert c["peak_in_flight"] >= 10  # generous: all 20 overlap unless the machine stalls
    assert c["in_flight"] == 0
    assert c["accepted"] == 20 and c["send_requests"] == 20


@pytest.mark.parametrize(
    ("knobs", "fragment"),
    [
        ({"nope": 1}, "unknown emulator knob 'nope'"),
        ({"error_rate": 2}, "'error_rate'"),
        ({"latency": -1}, "'latency'"),
        ({"rate_limit_mode": "loud"}, "'rate_limit_mode'"),
        ({"quota_mode": "status1"}, "'quota_mode'"),
        ({"api_products": ["sms"]}, "'api_products'"),
        ({"api_products": "sms-nexmo"}, "'api_products'"),
        ({"script": [{"http": 500, "body": "teapot"}]}, "'script'[0]"),
        ({"error_status": 42}, "'error_status'"),
        ({"script": [{"http": 503, "drop": True}]}, "'script'[0]"),
        ({"script": [{"teapot": 1}]}, "'script'[0]"),
        ({"forced_http": {"/x": "503"}}, "'forced_http'"),
        ({"token_ttl": True}, "'token_ttl'"),
    ],
)
def test_bad_knobs_are_refused(emulator: Emulator, knobs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        emulator.configure(**knobs)


def test_secret_knob_values_are_masked_in_errors(emulator: Emulator) -> None:
    with pytest.raises(ValueError) as caught:
        emulator.configure(client_secret=12345678)
    assert "12345678" not in str(caught.value)
    assert emulator.snapshot()["knobs"]["client_secret"] == "***"
