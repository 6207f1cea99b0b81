"""Emulator: the KPN OAuth token endpoint and bearer checks (facts §1)."""

from __future__ import annotations

import time

import httpx
import pytest

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

# One client for the module: httpx.post() builds an SSL context per call (~0.1 s).
HTTP = httpx.Client(timeout=30, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0))
TOKEN = "/oauth/client_credential/accesstoken"
SEND = "/communication/nexmo/sms/send"
CREDS = {"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET}
SMS = {"from": "KPNAlert", "to": "31612345678", "text": "hi"}


def fetch(url: str, **kw: object) -> httpx.Response:
    return HTTP.post(url + TOKEN, params={"grant_type": "client_credentials"}, **kw)  # type: ignore[arg-type]


def test_token_answer_is_all_strings(emulator_url: str, emulator: Emulator) -> None:
    answer = fetch(emulator_url, data=CREDS)
    assert answer.status_code == 200
    body = answer.json()
    assert all(isinstance(v, str) for k, v in body.items() if k != "api_product_list_json")
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == "3599"
    assert body["client_id"] == EMU_CLIENT_ID
    assert len(body["access_token"]) == 28
    issued_ms = int(body["issued_at"])
    assert abs(issued_ms / 1000 - time.time()) < 60
    assert body["refresh_token"] == "" and body["refresh_token_expires_in"] == "0"
    assert emulator.counters["token_requests"] == 1
    assert emulator.counters["tokens_issued"] == 1


def test_each_token_is_different(emulator_url: str) -> None:
    first = fetch(emulator_url, data=CREDS).json()["access_token"]
    second = fetch(emulator_url, data=CREDS).json()["access_token"]
    assert first != second


@pytest.mark.parametrize(
    "data",
    [
        {"client_id": EMU_CLIENT_ID, "client_secret": "wrong"},
        {"client_id": "someone-else", "client_secret": EMU_CLIENT_SECRET},
        {"client_id": EMU_CLIENT_ID},
        {"client_id": "", "client_secret": ""},
    ],
)
def test_bad_credentials_are_401_invalid_client(
    emulator_url: str, emulator: Emulator, data: dict[str, str]
) -> None:
    answer = fetch(emulator_url, data=data)
    assert answer.status_code == 401
    assert answer.json() == {"ErrorCode": "invalid_client", "Error": "ClientId is Invalid"}
    assert emulator.counters["token_failures"] == 1
    assert emulator.counters["tokens_issued"] == 0


def test_grant_type_is_required_in_the_query(emulator_url: str) -> None:
    missing = HTTP.post(emulator_url + TOKEN, data={**CREDS, "grant_type": "client_credentials"})
    assert missing.status_code == 400
    assert missing.json()["ErrorCode"] == "invalid_request"
    wrong = HTTP.post(emulator_url + TOKEN, params={"grant_type": "password"}, data=CREDS)
    assert wrong.status_code == 400
    assert wrong.json()["ErrorCode"] == "unsupported_grant_type"


def test_token_wants_a_form_body(emulator_url: str) -> None:
    as_json = fetch(emulator_url, json=CREDS)
    assert as_json.status_code == 400
    basic = fetch(emulator_url, auth=(EMU_CLIENT_ID, EMU_CLIENT_SECRET))
    assert basic.status_code in (400, 401)  # Basic auth is not documented by KPN


def test_token_get_is_405(emulator_url: str) -> None:
    answer = HTTP.get(emulator_url + TOKEN, params={"grant_type": "client_credentials"})
    assert answer.status_code == 405


def test_custom_credentials() -> None:
    with Emulator(client_id="alice", client_secret="s3cr3t") as emu:
        assert emu.url
        assert fetch(emu.url, data=CREDS).status_code == 401
        assert (
            fetch(emu.url, data={"client_id": "alice", "client_secret": "s3cr3t"}).status_code
            == 200
        )


def test_missing_and_unknown_bearer_get_the_apigee_fault(
    emulator_url: str, emulator: Emulator
) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}):
        answer = HTTP.post(emulator_url + SEND, data=SMS, headers=headers)
        assert answer.status_code == 401
        assert answer.json() == {
            "fault": {
                "faultstring": "Invalid Access Token",
                "detail": {"errorcode": "keymanagement.service.invalid_access_token"},
            }
        }
    assert emulator.counters["auth_failures"] == 3
    assert emulator.counters["accepted"] == 0


def test_token_expires_after_token_ttl() -> None:
    # 2 s: time enough for the first send on a loaded machine; then wait out the rest.
    with Emulator(token_ttl=2) as emu:
        assert emu.url
        body = fetch(emu.url, data=CREDS).json()
        fetched = time.monotonic()  # the token was issued before this
        assert body["expires_in"] == "2"
        auth = {"Authorization": f"Bearer {body['access_token']}"}
        assert (
            HTTP.post(emu.url + SEND, data=SMS, headers=auth).json()["messages"][0]["status"] == "0"
        )
        time.sleep(max(0.0, fetched + 2.1 - time.monotonic()))
        late = HTTP.post(emu.url + SEND, data=SMS, headers=auth)
        assert late.status_code == 401
        assert late.json()["fault"]["faultstring"] == "Access Token expired"
        assert (
            late.json()["fault"]["detail"]["errorcode"]
            == "keymanagement.service.access_token_expired"
        )
        assert emu.counters["accepted"] == 1


def test_expire_tokens_mid_run(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    assert HTTP.post(emulator_url + SEND, data=SMS, headers=emulator_auth).status_code == 200
    assert emulator.expire_tokens() == 1
    answer = HTTP.post(emulator_url + SEND, data=SMS, headers=emulator_auth)
    assert answer.status_code == 401
    assert answer.json()["fault"]["faultstring"] == "Access Token expired"
    fresh = fetch(emulator_url, data=CREDS).json()["access_token"]
    again = HTTP.post(emulator_url + SEND, data=SMS, headers={"Authorization": f"Bearer {fresh}"})
    assert again.status_code == 200


def test_token_ttl_is_configurable_at_run_time(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(token_ttl=120)
    assert fetch(emulator_url, data=CREDS).json()["expires_in"] == "120"


@pytest.mark.parametrize(
    ("knobs", "status"),
    [
        ({"token_endpoint_down": True}, 503),
        ({"token_endpoint_status": 500}, 500),
        ({"token_endpoint_status": 502}, 502),
    ],
)
def test_token_endpoint_down(
    emulator: Emulator, emulator_url: str, knobs: dict[str, object], status: int
) -> None:
    emulator.configure(**knobs)
    answer = fetch(emulator_url, data=CREDS)
    assert answer.status_code == status
    assert answer.json()["status"] == str(status)
    assert emulator.counters["token_failures"] == 1
    emulator.configure(token_endpoint_down=False, token_endpoint_status=None)
    assert fetch(emulator_url, data=CREDS).status_code == 200


def test_token_endpoint_status_401_is_invalid_client(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(token_endpoint_status=401)
    answer = fetch(emulator_url, data=CREDS)
    assert answer.status_code == 401
    assert answer.json()["ErrorCode"] == "invalid_client"


def test_auth_fault_status_knob(emulator: Emulator, emulator_url: str) -> None:
    # NODE-KPN saw the invalid-token fault arrive as HTTP 500 on some KPN APIs.
    emulator.configure(auth_fault_status=500)
    answer = HTTP.post(emulator_url + SEND, data=SMS, headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 500
    assert (
        answer.json()["fault"]["detail"]["errorcode"]
        == "keymanagement.service.invalid_access_token"
    )


def test_token_headers_present(emulator_url: str) -> None:
    answer = fetch(emulator_url, data=CREDS)
    for name in (
        "quota-limit",
        "quota-used",
        "quota-interval",
        "quota-time-unit",
        "quota-reset-UTC",
        "sunset",
        "api-version",
    ):
        assert name in answer.headers


def test_forced_and_scripted_401_on_the_token_path(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(script=[{"path": "token", "http": 401}])
    assert fetch(emulator_url, data=CREDS).json()["ErrorCode"] == "invalid_client"
    emulator.configure(forced_http={"/oauth/client_credential/accesstoken": 401})
    answer = fetch(emulator_url, data=CREDS)
    assert answer.status_code == 401 and answer.json()["ErrorCode"] == "invalid_client"
    assert emulator.counters["token_failures"] == 2
