"""Emulator: Vonage-direct POST /sms/json (issue 6), and Apprise's own vonage:// plugin
pointed at it the way bench/ does: by overriding NotifyVonage.notify_url."""

from __future__ import annotations

import apprise
import httpx
import pytest
from conftest import WebhookReceiver  # type: ignore[import-not-found]

from kpn_sms_notify.emulator import EMU_API_KEY, EMU_API_SECRET, Emulator

HTTP = httpx.Client(timeout=30, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0))
CREDS = {"api_key": EMU_API_KEY, "api_secret": EMU_API_SECRET}
SMS = {"from": "15551234567", "to": "31612345678", "text": "Disk full"}


def test_form_credentials(emulator: Emulator, emulator_url: str) -> None:
    answer = HTTP.post(emulator_url + "/sms/json", data={**CREDS, **SMS})
    assert answer.status_code == 200
    body = answer.json()
    assert body["message-count"] == "1"
    (msg,) = body["messages"]
    assert msg["status"] == "0" and msg["to"] == SMS["to"] and len(msg["message-id"]) == 16
    assert {"remaining-balance", "message-price", "network"} <= set(msg)
    (record,) = emulator.messages
    assert record["api"] == "vonage" and record["status_report_req"] is True  # Vonage's default
    assert emulator.counters["vonage_requests"] == 1 and emulator.counters["token_requests"] == 0


def test_query_and_json_credentials(emulator: Emulator, emulator_url: str) -> None:
    by_query = HTTP.post(emulator_url + "/sms/json", params=CREDS, data=SMS)
    by_json = HTTP.post(
        emulator_url + "/sms/json", json={**CREDS, **SMS, "status-report-req": False}
    )
    assert by_query.json()["messages"][0]["status"] == "0"
    assert by_json.json()["messages"][0]["status"] == "0"
    assert emulator.messages[1]["status_report_req"] is False


def test_basic_auth_credentials(emulator_url: str) -> None:
    """The Vonage SDK v4 sends key:secret as HTTP Basic auth."""
    good = HTTP.post(emulator_url + "/sms/json", data=SMS, auth=(EMU_API_KEY, EMU_API_SECRET))
    bad = HTTP.post(emulator_url + "/sms/json", data=SMS, auth=(EMU_API_KEY, "wrong"))
    garbled = HTTP.post(
        emulator_url + "/sms/json", data=SMS, headers={"Authorization": "Basic !!notbase64"}
    )
    assert good.json()["messages"][0]["status"] == "0"
    assert bad.json()["messages"][0]["status"] == "4"
    assert garbled.json()["messages"][0]["status"] == "2"


@pytest.mark.parametrize(
    ("creds", "status"),
    [
        ({}, "2"),
        ({"api_key": EMU_API_KEY}, "2"),
        ({"api_key": EMU_API_KEY, "api_secret": "wrong"}, "4"),
        ({"api_key": "other", "api_secret": EMU_API_SECRET}, "4"),
    ],
)
def test_bad_credentials_are_status_in_200(
    emulator: Emulator, emulator_url: str, creds: dict[str, str], status: str
) -> None:
    answer = HTTP.post(emulator_url + "/sms/json", data={**creds, **SMS})
    assert answer.status_code == 200
    assert answer.json()["messages"][0]["status"] == status
    assert emulator.messages == []


def test_same_validation_as_kpn(emulator_url: str) -> None:
    answer = HTTP.post(emulator_url + "/sms/json", data={**CREDS, **SMS, "to": "+31612345678"})
    assert answer.json()["messages"][0]["status"] == "34"


def test_rate_limit_and_latency_apply(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(rate_limit=1, rate_limit_mode="status1")
    statuses = [
        HTTP.post(emulator_url + "/sms/json", data={**CREDS, **SMS}).json()["messages"][0]["status"]
        for _ in range(3)
    ]
    assert "1" in statuses and statuses[0] == "0"


def test_dlr_to_callback(emulator: Emulator, emulator_url: str, receiver: WebhookReceiver) -> None:
    emulator.configure(dlr_delay=0)
    HTTP.post(emulator_url + "/sms/json", data={**CREDS, **SMS, "callback": receiver.url + "/dlr"})
    (req,) = receiver.wait_for(1, "/dlr")
    assert req["form"]["msisdn"] == SMS["to"]


def test_apprise_vonage_plugin_against_the_emulator(
    emulator: Emulator, emulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apprise.plugins.vonage import NotifyVonage

    # vonage:// has its endpoint as a class attribute; no URL argument changes it.
    monkeypatch.setattr(NotifyVonage, "notify_url", emulator_url + "/sms/json")
    monkeypatch.setattr(NotifyVonage, "request_rate_per_sec", 0)  # skip its 5.5 s pacing here
    notifier = apprise.Apprise()
    assert notifier.add(
        f"vonage://{EMU_API_KEY}:{EMU_API_SECRET}@15551234567/31612345678/31687654321"
    )
    assert bool(notifier.notify(body="Disk full on web1")) is True
    assert sorted(m["to"] for m in emulator.messages) == ["31612345678", "31687654321"]
    assert {m["from"] for m in emulator.messages} == {"15551234567"}
    assert emulator.messages[0]["ttl"] == 900000  # apprise's default ttl


def test_apprise_vonage_counts_a_refusal_as_success(
    emulator: Emulator, emulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gap issue 4 names: vonage:// only looks at the HTTP status."""
    from apprise.plugins.vonage import NotifyVonage

    monkeypatch.setattr(NotifyVonage, "notify_url", emulator_url + "/sms/json")
    monkeypatch.setattr(NotifyVonage, "request_rate_per_sec", 0)
    notifier = apprise.Apprise()
    notifier.add("vonage://wrongkey:wrongsecret@15551234567/31612345678")
    assert bool(notifier.notify(body="lost")) is True
    assert emulator.messages == [] and emulator.counters["rejected"] == 1
